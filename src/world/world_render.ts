/**
 * The built-in synthetic world's scene model and GPU renderer: 7 object classes, the 10
 * Causal3DIdent latent factors (docs/causal3dident.md#targets order), the camera, and a batched sphere tracer
 * (`kernels/render.wgsl`) that renders a whole batch of scenes in one dispatch and reads the
 * pixels back with one sync.
 *
 * Latents (every one in [-1, 1]; a scene is a pure function of its class and latents):
 *
 * | index | latent | world quantity |
 * | --- | --- | --- |
 * | 0 | object x | x = 0.15·l₀ (increasing moves the object **right** in the image) |
 * | 1 | object y | y = 0.15·l₁ (increasing moves the object **up** in the image) |
 * | 2 | object z | z = 0.4·l₂ (increasing moves it **towards the camera**: it looks bigger) |
 * | 3, 4, 5 | rotation α, β, γ | angles π·l about x, y, z; R = R_z(γ)·R_y(β)·R_x(α) |
 * | 6 | spotlight position | angle θ = (π/2)·l₆ on a circle of radius 4 at height 1.5: light at (4 sin θ, 1.5, 4 cos θ); increasing lights the object from further **right** |
 * | 7 | object hue | h = (l₇ + 1)/2 ∈ [0, 1]; albedo = HSV(h, 0.45, 0.9) |
 * | 8 | spotlight hue | h = (l₈ + 1)/2; light colour = HSV(h, 0.4, 1) |
 * | 9 | background hue | h = (l₉ + 1)/2; background = HSV(h, 0.3, 0.5), slightly darker at the bottom |
 *
 * The camera is a pinhole at (0, 0, 6) looking down −z with an 18° vertical field of view, so an
 * object fills half to four fifths of the frame: small objects (version 1 had a 27° view, a
 * quarter to half of the frame) left too little shape after MoCo's random crops, and a supervised
 * narrow ResNet-18 reached only 0.70 class accuracy on them (0.96 on this version). Every object
 * fits in a sphere of radius 0.9 around its position: at the centre of the position box it stays
 * inside the frame in every pose; at the corners of the box its farthest parts can reach past
 * the border (keypoints by up to 6 % of the frame). Colours are linear RGB inside the shader and
 * stored with gamma 1/2.2; the saturations are muted (see {@link OBJECT_SATURATION}).
 *
 * Rendering is deterministic on a given adapter (the same scene gives the same bytes, whatever
 * batch it is in); another GPU or driver may round a few pixel values differently.
 *
 * @module
 */
import source from "../../kernels/render.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import type { RgbImage } from "../image/image.ts";

/** `struct RenderParams` of `kernels/render.wgsl`: the batch's frame and the camera. */
const RENDER_PARAMS = paramStruct("render.wgsl", source, "RenderParams", {
  width: "u32",
  height: "u32",
  count: "u32",
  max_steps: "u32",
  tan_half: "f32",
  cam_z: "f32",
  bound: "f32",
  _pad: "f32",
});

/**
 * The object classes, in class-index order. The order is alphabetical on purpose: an ImageFolder
 * written with these folder names gets the same class indices back.
 */
export const WORLD_CLASSES: readonly string[] = [
  "capsule",
  "cone",
  "cube",
  "cylinder",
  "sphere",
  "teapot",
  "torus",
];

/** Names of the 10 latents, in Causal3DIdent's order (docs/causal3dident.md#targets). */
export const LATENT_NAMES: readonly string[] = [
  "position_x",
  "position_y",
  "position_z",
  "rotation_alpha",
  "rotation_beta",
  "rotation_gamma",
  "spotlight_position",
  "object_hue",
  "spotlight_hue",
  "background_hue",
];

/** Number of latent factors per scene. */
export const LATENT_DIM = 10;

/**
 * Version of the scene model and shader. Bump it whenever a change alters rendered pixels, so
 * content keys (and the files make_world skips) are invalidated.
 */
export const RENDERER_VERSION = 4;

/** Default image side in pixels. */
export const DEFAULT_RESOLUTION = 64;

/** One scene: an object class index into {@link WORLD_CLASSES} and its 10 latents. */
export interface Scene {
  /** Object class, 0 ≤ cls < 7. */
  readonly cls: number;
  /** The 10 latents (see the module table). */
  readonly latents: ArrayLike<number>;
}

/** Camera and scale constants shared by the shader and the CPU projection. */
export const CAMERA = {
  /** Camera position on the z axis. */
  z: 6,
  /** tan of half the vertical field of view (18°). */
  tanHalf: Math.tan((9 * Math.PI) / 180),
  /** Radius of the sphere around the object position that contains every class. */
  bound: 0.9,
  /** World units per unit of the x / y position latents. */
  xyScale: 0.15,
  /** World units per unit of the z position latent. */
  zScale: 0.4,
} as const;

/** Five fixed points per class in object coordinates (before rotation and translation). */
const KEYPOINTS: readonly (readonly [number, number, number][])[] = [
  // capsule: caps, and three points round the waist
  [[0, 0.72, 0], [0, -0.72, 0], [0.3, 0, 0], [0, 0, 0.3], [-0.21, 0.42, -0.21]],
  // cone: apex, base rim front/right/left-back
  [[0, 0.55, 0], [0, -0.55, 0.55], [0.55, -0.55, 0], [-0.39, -0.55, -0.39], [0, -0.55, 0]],
  // cube: four corners and a face centre
  [[0.48, 0.48, 0.48], [-0.48, 0.48, -0.48], [0.48, -0.48, -0.48], [-0.48, -0.48, 0.48], [
    0,
    0.48,
    0,
  ]],
  // cylinder: cap centres and three rim points
  [[0, 0.55, 0], [0, -0.55, 0], [0.42, 0.55, 0], [0, -0.55, 0.42], [-0.3, 0, -0.3]],
  // sphere: poles and three points on the equator
  [[0, 0.62, 0], [0, -0.62, 0], [0.62, 0, 0], [0, 0, 0.62], [-0.44, 0, -0.44]],
  // teapot: spout tip, handle, knob, bottom, front of the body
  [[0.78, 0.26, 0], [-0.78, 0.02, 0], [0, 0.54, 0], [0, -0.4, 0], [0, 0, 0.52]],
  // torus: four points on the ring and the top of the tube
  [[0.72, 0, 0], [-0.72, 0, 0], [0, 0, 0.72], [0, 0, -0.72], [0.52, 0.2, 0]],
];

/** Number of keypoints per object. */
export const KEYPOINT_COUNT = 5;

/** Checks a scene and throws a RangeError naming what is wrong. */
export function checkScene(scene: Scene, where = "scene"): void {
  if (!Number.isInteger(scene.cls) || scene.cls < 0 || scene.cls >= WORLD_CLASSES.length) {
    throw new RangeError(`${where}: class ${scene.cls} is not in 0..${WORLD_CLASSES.length - 1}`);
  }
  if (scene.latents.length !== LATENT_DIM) {
    throw new RangeError(`${where}: expected ${LATENT_DIM} latents, got ${scene.latents.length}`);
  }
  for (let i = 0; i < LATENT_DIM; i++) {
    if (!Number.isFinite(scene.latents[i])) {
      throw new RangeError(`${where}: latent ${LATENT_NAMES[i]} is ${scene.latents[i]}`);
    }
  }
}

/** R = R_z(γ)·R_y(β)·R_x(α) for the rotation latents, row-major 3×3. */
export function rotationMatrix(latents: ArrayLike<number>): Float64Array {
  const a = Math.PI * latents[3];
  const b = Math.PI * latents[4];
  const g = Math.PI * latents[5];
  const [ca, sa, cb, sb, cg, sg] = [
    Math.cos(a),
    Math.sin(a),
    Math.cos(b),
    Math.sin(b),
    Math.cos(g),
    Math.sin(g),
  ];
  // Rz·Ry·Rx written out.
  return new Float64Array([
    cg * cb,
    cg * sb * sa - sg * ca,
    cg * sb * ca + sg * sa,
    sg * cb,
    sg * sb * sa + cg * ca,
    sg * sb * ca - cg * sa,
    -sb,
    cb * sa,
    cb * ca,
  ]);
}

/** The object's world position for the position latents. */
export function objectPosition(latents: ArrayLike<number>): [number, number, number] {
  return [CAMERA.xyScale * latents[0], CAMERA.xyScale * latents[1], CAMERA.zScale * latents[2]];
}

/** The spotlight's world position for latent 6. */
export function spotlightPosition(latents: ArrayLike<number>): [number, number, number] {
  const theta = (Math.PI / 2) * latents[6];
  return [4 * Math.sin(theta), 1.5, 4 * Math.cos(theta)];
}

/** HSV (all in [0, 1]) to display RGB in [0, 1]. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const hh = ((h % 1) + 1) % 1 * 6;
  const i = Math.floor(hh);
  const f = hh - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (i) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

function linear(rgb: [number, number, number]): [number, number, number] {
  return [rgb[0] ** 2.2, rgb[1] ** 2.2, rgb[2] ** 2.2];
}

/** Hue in [0, 1] of a hue latent in [-1, 1]. */
export function hueOf(latent: number): number {
  return (latent + 1) / 2;
}

/**
 * Saturations of the three hues. Muted on purpose: with fully saturated colours the hues are the
 * easiest way to tell two scenes apart, and MoCo's instance discrimination learns them instead of
 * shape (see models/README.md); at these values the hue latents are still regressable.
 */
export const OBJECT_SATURATION = 0.45;
/** Saturation of the spotlight colour (see {@link OBJECT_SATURATION}). */
export const SPOTLIGHT_SATURATION = 0.4;
/** Saturation of the background colour (see {@link OBJECT_SATURATION}). */
export const BACKGROUND_SATURATION = 0.3;

/** Floats per scene in the shader's scene buffer (8 vec4). */
export const SCENE_FLOATS = 32;

/** Writes the shader's 8-vec4 record of `scene` into `out` at `offset` (see render.wgsl). */
export function encodeScene(scene: Scene, out: Float32Array, offset: number): void {
  const l = scene.latents;
  const pos = objectPosition(l);
  const r = rotationMatrix(l);
  out.set([...pos, scene.cls], offset);
  // Rows of Rᵀ = columns of R.
  for (let row = 0; row < 3; row++) {
    out.set([r[row], r[3 + row], r[6 + row], 0], offset + 4 + 4 * row);
  }
  out.set([...linear(hsvToRgb(hueOf(l[7]), OBJECT_SATURATION, 0.9)), 0], offset + 16);
  out.set([...spotlightPosition(l), 0], offset + 20);
  out.set([...linear(hsvToRgb(hueOf(l[8]), SPOTLIGHT_SATURATION, 1)), 0], offset + 24);
  out.set([...linear(hsvToRgb(hueOf(l[9]), BACKGROUND_SATURATION, 0.5)), 0], offset + 28);
}

/**
 * Projects a world point to continuous pixel coordinates of a `width`×`height` render (pixel
 * (px, py) covers [px, px + 1) × [py, py + 1); y grows downwards), exactly as the shader's camera.
 */
export function projectPoint(
  point: readonly [number, number, number],
  width: number,
  height: number,
): [number, number] {
  const depth = CAMERA.z - point[2];
  const u = point[0] / depth;
  const v = point[1] / depth;
  const aspect = width / height;
  return [
    ((u / (CAMERA.tanHalf * aspect) + 1) / 2) * width,
    ((1 - v / CAMERA.tanHalf) / 2) * height,
  ];
}

/**
 * The 5 keypoints of `scene` projected into a `resolution`² render and scaled to a 224-pixel
 * frame like the landmark tasks (docs/downstream.md#datasets: target = pixel coordinate · 224 / side):
 * [x₀, y₀, x₁, y₁, …, x₄, y₄], x to the right and y downwards, origin at the top-left corner.
 * Occlusion is ignored: a point behind the object still has its projected position.
 */
export function projectKeypoints(scene: Scene, resolution = DEFAULT_RESOLUTION): Float64Array {
  const r = rotationMatrix(scene.latents);
  const pos = objectPosition(scene.latents);
  const out = new Float64Array(2 * KEYPOINT_COUNT);
  KEYPOINTS[scene.cls].forEach(([x, y, z], k) => {
    const world: [number, number, number] = [
      r[0] * x + r[1] * y + r[2] * z + pos[0],
      r[3] * x + r[4] * y + r[5] * z + pos[1],
      r[6] * x + r[7] * y + r[8] * z + pos[2],
    ];
    const [px, py] = projectPoint(world, resolution, resolution);
    out[2 * k] = (px * 224) / resolution;
    out[2 * k + 1] = (py * 224) / resolution;
  });
  return out;
}

/** Options of {@link WorldRenderer}. */
export interface WorldRendererOptions {
  /** Image width in pixels (default 64). */
  width?: number;
  /** Image height in pixels (default 64). */
  height?: number;
  /** Sphere-tracing steps per ray (default 64; llvmpipe stops loops after 65 535). */
  maxSteps?: number;
}

/** Pixels per dispatch; larger requests are split, still with one readback. */
const MAX_PIXELS_PER_DISPATCH = 1 << 22;
const WORKGROUP = 64;

/**
 * Renders batches of scenes on the GPU.
 *
 * @example
 * ```ts
 * const renderer = new WorldRenderer(gpu, { width: 64, height: 64 });
 * const [img] = await renderer.render([{ cls: 4, latents: new Float64Array(10) }]);
 * ```
 */
export class WorldRenderer {
  /** Image width. */
  readonly width: number;
  /** Image height. */
  readonly height: number;
  /** Sphere-tracing steps per ray. */
  readonly maxSteps: number;

  /** A renderer on `gpu` (64 × 64 pixels and 64 steps per ray unless `options` say otherwise). */
  constructor(readonly gpu: Gpu, options: WorldRendererOptions = {}) {
    this.width = options.width ?? DEFAULT_RESOLUTION;
    this.height = options.height ?? this.width;
    this.maxSteps = options.maxSteps ?? 64;
    for (const [name, v] of [["width", this.width], ["height", this.height]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 4096) {
        throw new RangeError(`WorldRenderer: ${name} must be an integer in 1..4096, got ${v}`);
      }
    }
    if (!Number.isInteger(this.maxSteps) || this.maxSteps < 1 || this.maxSteps > 60000) {
      throw new RangeError(`WorldRenderer: maxSteps must be in 1..60000, got ${this.maxSteps}`);
    }
  }

  /** Renders every scene (one submit, one sync) and returns one RGB image per scene. */
  async render(scenes: readonly Scene[]): Promise<RgbImage[]> {
    const packed = await this.renderPacked(scenes);
    const per = this.width * this.height;
    return scenes.map((_, s) => {
      const data = new Uint8Array(per * 3);
      for (let i = 0, o = s * per; i < per; i++) {
        const v = packed[o + i];
        data[3 * i] = v & 0xff;
        data[3 * i + 1] = (v >>> 8) & 0xff;
        data[3 * i + 2] = (v >>> 16) & 0xff;
      }
      return { width: this.width, height: this.height, data };
    });
  }

  /** Renders every scene and returns the packed pixels (r | g << 8 | b << 16), scene-major. */
  async renderPacked(scenes: readonly Scene[]): Promise<Uint32Array> {
    scenes.forEach((s, i) => checkScene(s, `scene ${i}`));
    if (scenes.length === 0) return new Uint32Array(0);
    const gpu = this.gpu;
    const kernel = gpu.kernels.get({
      file: "render.wgsl",
      source,
      entryPoint: "render",
      params: RENDER_PARAMS,
    });
    const per = this.width * this.height;
    const chunk = Math.max(1, Math.floor(MAX_PIXELS_PER_DISPATCH / per));
    const outputs: Tensor[] = [];
    const inputs: Tensor[] = [];
    for (let first = 0; first < scenes.length; first += chunk) {
      const count = Math.min(chunk, scenes.length - first);
      const encoded = new Float32Array(count * SCENE_FLOATS);
      for (let i = 0; i < count; i++) encodeScene(scenes[first + i], encoded, i * SCENE_FLOATS);
      const sceneTensor = Tensor.from(gpu, encoded, undefined, "world scenes");
      const out = Tensor.empty(gpu, [count * per], "u32", "world pixels");
      const params = RENDER_PARAMS.pack({
        width: this.width,
        height: this.height,
        count,
        max_steps: this.maxSteps,
        tan_half: CAMERA.tanHalf,
        cam_z: CAMERA.z,
        bound: CAMERA.bound,
      });
      gpu.recorder.dispatch(
        kernel,
        [sceneTensor, out],
        Math.ceil((count * per) / WORKGROUP),
        params,
      );
      inputs.push(sceneTensor);
      outputs.push(out);
    }
    try {
      const parts = await gpu.recorder.read(outputs);
      if (parts.length === 1) return parts[0] as Uint32Array;
      const all = new Uint32Array(scenes.length * per);
      let o = 0;
      for (const part of parts) {
        all.set(part as Uint32Array, o);
        o += part.length;
      }
      return all;
    } finally {
      for (const t of [...inputs, ...outputs]) t.release();
    }
  }
}
