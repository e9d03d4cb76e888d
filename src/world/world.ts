/**
 * The built-in synthetic world: seeded scenes of 7 object classes under the 10 Causal3DIdent
 * latents (see `world_render.ts` for the scene model, the latent ranges and the camera), rendered
 * on the GPU, and the dataset views the evaluation needs without any download:
 *
 * - {@link worldImageFolder}: an ImageFolder-like stream (classes = shapes) for pretraining and
 *   for the feature statistics;
 * - {@link worldGroups}: real-world-style groups — the same object under viewpoint rotation
 *   (COIL-like, 72 views 5° apart), under spotlight position change (ALOI-illumination-like: 8
 *   light positions × 3 cameras) and under spotlight hue change (ALOI-temperature-like: 12 hues);
 * - {@link worldLatents}: regress each of the 10 latents (Causal3DIdent-like, targetDim 10);
 * - {@link worldClassification}: object-class classification (7 classes);
 * - {@link worldKeypoints}: regress the projected image positions of 5 fixed points on the
 *   object, scaled to a 224-pixel frame like the landmark tasks (targetDim 10).
 *
 * Everything is a pure function of the seed: every scene draws from its own generator, seeded by
 * (seed, view, split, class or object), so a larger count keeps the earlier scenes unchanged. Latents
 * are drawn independently and uniformly in [-1, 1] (Causal3DIdent adds causal dependencies between
 * some of them; this world does not), except in the ImageFolder stream, whose scenes share a few
 * colour schemes and turn by at most ±45° (see {@link viewScenes}: so that colour cannot tell its
 * scenes apart for MoCo). Images are rendered lazily, a chunk at a time, and kept in
 * memory, so `image(i)` is cheap after the first call of its chunk; the images returned are the
 * cached ones, so copy one (`cloneImage`) before modifying it.
 *
 * @example
 * ```ts
 * const gpu = await openGpu();
 * const train = worldImageFolder(gpu, { seed: 0, perClass: 200, split: "train" });
 * const img = await train.image(0); // 64×64 RGB, a capsule (class 0)
 * const coil = worldGroups(gpu, "coil", { objects: 20 });
 * const views = await coil.images(0); // 72 turntable views of object 1
 * ```
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RgbImage } from "../image/image.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex, stableKey } from "../util/hash.ts";
import { Rng } from "../util/rng.ts";
import type { GroupedDataset, ImageGroup, SupervisedDataset, TargetKind } from "../data/dataset.ts";
import {
  DEFAULT_RESOLUTION,
  KEYPOINT_COUNT,
  LATENT_DIM,
  LATENT_NAMES,
  projectKeypoints,
  RENDERER_VERSION,
  type Scene,
  WORLD_CLASSES,
  WorldRenderer,
} from "./world_render.ts";

export {
  DEFAULT_RESOLUTION,
  KEYPOINT_COUNT,
  LATENT_DIM,
  LATENT_NAMES,
  projectKeypoints,
  RENDERER_VERSION,
  type Scene,
  WORLD_CLASSES,
  WorldRenderer,
};

/** A 32-bit seed derived from a base seed and labels (sha256, so labels never collide). */
export function deriveSeed(seed: number, ...labels: readonly (string | number)[]): number {
  return parseInt(sha256Hex(JSON.stringify([seed, ...labels])).slice(0, 8), 16) >>> 0;
}

/** Draws the 10 latents independently and uniformly in [-1, 1). */
export function sampleLatents(rng: Rng): Float64Array {
  const out = new Float64Array(LATENT_DIM);
  for (let i = 0; i < LATENT_DIM; i++) out[i] = rng.range(-1, 1);
  return out;
}

/** Wraps an angle latent into [-1, 1) (one full turn is 2 units). */
export function wrapAngle(latent: number): number {
  return latent - 2 * Math.floor((latent + 1) / 2);
}

/** Options shared by the per-image views. */
export interface WorldViewOptions {
  /** Base seed (default 0). */
  seed?: number;
  /** Split name; different splits draw different scenes (default `train`). */
  split?: string;
  /** Images per class (default 100). */
  perClass?: number;
  /** Image side in pixels (default 64). */
  resolution?: number;
  /** Scenes rendered per GPU batch when images are requested (default 256). */
  chunk?: number;
}

/** A rendered world view: a SupervisedDataset plus the scenes behind it. */
export interface WorldDataset extends SupervisedDataset {
  /** The view (`world`, `classification`, `latents`, `keypoints`). */
  readonly view: string;
  /** The split it was drawn for. */
  readonly split: string;
  /** Image side in pixels. */
  readonly resolution: number;
  /** One scene per image, in dataset order (class-major). */
  readonly scenes: readonly Scene[];
  /** Class index per image (as `Causal3DIdentDataset.classes`). */
  readonly classes: Int32Array;
  /** Class names by index: {@link WORLD_CLASSES}. */
  readonly classNames: readonly string[];
  /** Row-major [length, 10] latents. */
  readonly latents: Float64Array;
  /**
   * Relative file name of each image in the layout `scripts/make_world.ts` writes for this view
   * (e.g. `cube/00003.png`), in the order an ImageFolder reads them back.
   */
  readonly paths: readonly string[];
  /** Renders every image not rendered yet (optionally reporting each finished chunk). */
  renderAll(onChunk?: (done: number) => void): Promise<void>;
}

interface ViewSpec {
  view: string;
  kind: TargetKind;
  targetDim: number;
  target: (scene: Scene, resolution: number) => ArrayLike<number>;
  path: (cls: number, index: number, perClass: number) => string;
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`world: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

/** Causal3DIdent's file-name width: ceil(log10(count)) digits, at least 1 (docs/causal3dident.md#layout). */
export function causalPadWidth(count: number): number {
  // The digits of count − 1 are ceil(log10(count)) for count ≥ 2, without floating point.
  return Math.max(1, String(count - 1).length);
}

class RenderedView implements WorldDataset {
  readonly view: string;
  readonly name: string;
  readonly length: number;
  readonly contentKey: string;
  readonly kind: TargetKind;
  readonly targetDim: number;
  readonly numClasses?: number;
  readonly targets: Float64Array;
  readonly classes: Int32Array;
  readonly classNames: readonly string[] = WORLD_CLASSES;
  readonly latents: Float64Array;
  readonly paths: readonly string[];
  readonly #renderer: WorldRenderer;
  readonly #chunk: number;
  readonly #chunks = new Map<number, Promise<RgbImage[]>>();

  constructor(
    gpu: Gpu,
    spec: ViewSpec,
    readonly seed: number,
    readonly split: string,
    perClass: number,
    readonly resolution: number,
    chunk: number,
    readonly scenes: readonly Scene[],
  ) {
    this.view = spec.view;
    this.name = `world-${spec.view}-${split}`;
    this.length = scenes.length;
    this.kind = spec.kind;
    this.targetDim = spec.targetDim;
    if (spec.kind === "classification") this.numClasses = WORLD_CLASSES.length;
    this.contentKey = stableKey({
      world: RENDERER_VERSION,
      view: spec.view,
      seed,
      split,
      perClass,
      resolution,
    });
    this.classes = Int32Array.from(scenes, (s) => s.cls);
    this.latents = new Float64Array(scenes.length * LATENT_DIM);
    this.targets = new Float64Array(scenes.length * spec.targetDim);
    scenes.forEach((s, i) => {
      this.latents.set(s.latents, i * LATENT_DIM);
      this.targets.set(spec.target(s, resolution), i * spec.targetDim);
    });
    this.paths = scenes.map((s, i) => spec.path(s.cls, i % perClass, perClass));
    this.#renderer = new WorldRenderer(gpu, { width: resolution, height: resolution });
    this.#chunk = chunk;
  }

  image(index: number): Promise<RgbImage> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      return Promise.reject(
        new RangeError(`${this.name}: index ${index} outside 0..${this.length - 1}`),
      );
    }
    const c = Math.floor(index / this.#chunk);
    return this.#renderChunk(c).then((images) => images[index - c * this.#chunk]);
  }

  describe(index: number): string {
    const s = this.scenes[index];
    const latents = Array.from(s.latents, (v) => v.toFixed(3)).join(", ");
    return `${this.name}#${index} (${WORLD_CLASSES[s.cls]}; latents ${latents})`;
  }

  async renderAll(onChunk?: (done: number) => void): Promise<void> {
    for (let c = 0; c * this.#chunk < this.length; c++) {
      await this.#renderChunk(c);
      onChunk?.(Math.min((c + 1) * this.#chunk, this.length));
    }
  }

  #renderChunk(c: number): Promise<RgbImage[]> {
    let pending = this.#chunks.get(c);
    if (!pending) {
      const scenes = this.scenes.slice(c * this.#chunk, (c + 1) * this.#chunk);
      pending = this.#renderer.render(scenes);
      this.#chunks.set(c, pending);
      pending.catch(() => this.#chunks.delete(c));
    }
    return pending;
  }
}

/**
 * Scenes of a class-balanced view: `perClass` per class, class-major. The `world` stream (what
 * the demo pretrains on and probes classes with) draws its colours from
 * {@link WORLD_COLOUR_SCHEMES} shared schemes and its rotations from ±{@link WORLD_POSE_RANGE};
 * every other view draws all 10 latents uniformly over [-1, 1].
 */
export function viewScenes(
  view: string,
  seed: number,
  split: string,
  perClass: number,
): Scene[] {
  const stream = view === "world";
  const schemes = stream ? colourSchemes(seed) : [];
  const scenes: Scene[] = [];
  for (let cls = 0; cls < WORLD_CLASSES.length; cls++) {
    const rng = new Rng(deriveSeed(seed, view, split, cls));
    for (let i = 0; i < perClass; i++) {
      const latents = sampleLatents(rng);
      if (stream) {
        latents.set(schemes[rng.int(schemes.length)], HUE_LATENTS[0]);
        for (const r of ROTATION_LATENTS) latents[r] *= WORLD_POSE_RANGE;
      }
      scenes.push({ cls, latents });
    }
  }
  return scenes;
}

/** Indices of the hue latents (object, spotlight, background): consecutive. */
const HUE_LATENTS = [7, 8, 9] as const;
/** Indices of the rotation latents (α, β, γ). */
const ROTATION_LATENTS = [3, 4, 5] as const;

/**
 * Number of colour schemes (object, spotlight and background hue together) that the `world`
 * stream's scenes share. Each scene takes one at random, so every scheme is worn by every class.
 * With a hue pair of its own, any scene could be told from every other by colour alone: MoCo's
 * instance discrimination then learns colour, and crop-only views (ventral) match each other by
 * background hue, never needing shape (models/README.md has the measurements). Hues stay
 * uniform over the scenes' schemes.
 */
export const WORLD_COLOUR_SCHEMES = 8;

/**
 * Rotation latents of the `world` stream are drawn from ±this (±45° about each axis) instead of
 * ±1 (a full turn): a class's scenes then look alike enough that its shape, not its pose, is what
 * they share. The latent's meaning (angle = π·latent) is unchanged; the latent, group and
 * keypoint views still draw full turns.
 */
export const WORLD_POSE_RANGE = 0.25;

function colourSchemes(seed: number): Float64Array[] {
  const rng = new Rng(deriveSeed(seed, "colour-schemes"));
  return Array.from(
    { length: WORLD_COLOUR_SCHEMES },
    () => Float64Array.from(HUE_LATENTS, () => rng.range(-1, 1)),
  );
}

function buildView(gpu: Gpu, spec: ViewSpec, options: WorldViewOptions): WorldDataset {
  const seed = options.seed ?? 0;
  const split = options.split ?? "train";
  const perClass = options.perClass ?? 100;
  const resolution = options.resolution ?? DEFAULT_RESOLUTION;
  const chunk = options.chunk ?? 256;
  checkCount("perClass", perClass, 1);
  checkCount("resolution", resolution, 1);
  checkCount("chunk", chunk, 1);
  if (!Number.isInteger(seed)) throw new RangeError(`world: seed must be an integer, got ${seed}`);
  const scenes = viewScenes(spec.view, seed, split, perClass);
  return new RenderedView(gpu, spec, seed, split, perClass, resolution, chunk, scenes);
}

const classTarget = (s: Scene): number[] => [s.cls];
/** `<class>/<index>.png`, the index zero-padded to 5 digits (more if needed, so names sort). */
const classPath = (cls: number, i: number, perClass: number): string =>
  `${WORLD_CLASSES[cls]}/${String(i).padStart(Math.max(5, String(perClass - 1).length), "0")}.png`;

/**
 * The `world` ImageFolder-like stream: `perClass` images of each of the 7 classes, class-major,
 * target = class index (the index of its folder in an ImageFolder of {@link WORLD_CLASSES}).
 */
export function worldImageFolder(gpu: Gpu, options: WorldViewOptions = {}): WorldDataset {
  return buildView(gpu, {
    view: "world",
    kind: "classification",
    targetDim: 1,
    target: classTarget,
    path: classPath,
  }, options);
}

/** The downstream object-class classification task (7 classes; its own scenes, not the stream's). */
export function worldClassification(gpu: Gpu, options: WorldViewOptions = {}): WorldDataset {
  return buildView(gpu, {
    view: "classification",
    kind: "classification",
    targetDim: 1,
    target: classTarget,
    path: classPath,
  }, options);
}

/**
 * The extrinsic task: targets are the 10 latents (row-major [n, 10], docs/causal3dident.md#targets order), images in
 * Causal3DIdent's order (class-major; paths `images_<c>/<zero-padded index>.png`).
 */
export function worldLatents(gpu: Gpu, options: WorldViewOptions = {}): WorldDataset {
  return buildView(gpu, {
    view: "latents",
    kind: "regression",
    targetDim: LATENT_DIM,
    target: (s) => s.latents,
    path: (cls, i, n) => `images_${cls}/${String(i).padStart(causalPadWidth(n), "0")}.png`,
  }, options);
}

/**
 * The keypoint task: targets are the 5 projected keypoints [x₀, y₀, …, x₄, y₄] in pixels of a
 * 224-pixel frame (`projectKeypoints`), x right, y down, origin top-left; occlusion ignored.
 */
export function worldKeypoints(gpu: Gpu, options: WorldViewOptions = {}): WorldDataset {
  return buildView(gpu, {
    view: "keypoints",
    kind: "regression",
    targetDim: 2 * KEYPOINT_COUNT,
    target: (s, resolution) => projectKeypoints(s, resolution),
    path: classPath,
  }, options);
}

/** The three real-world-style group families. */
export type WorldGroupKind = "coil" | "illumination" | "temperature";

/** The group families, in a stable order. */
export const WORLD_GROUP_KINDS: readonly WorldGroupKind[] = ["coil", "illumination", "temperature"];

/** ALOI's 12 colour temperatures (the `i<T>` file suffixes). */
export const ALOI_TEMPERATURES: readonly number[] = [
  110,
  120,
  130,
  140,
  150,
  160,
  170,
  180,
  190,
  210,
  230,
  250,
];

/** Options of {@link worldGroups}. */
export interface WorldGroupOptions {
  /** Base seed (default 0). */
  seed?: number;
  /** Number of objects (default 100, COIL100's count). */
  objects?: number;
  /** Image side in pixels (default 64). */
  resolution?: number;
}

/** Real-world-style groups of the world: GroupedDataset plus the scenes and a renderer. */
export interface WorldGroupedDataset extends GroupedDataset {
  /** Which family. */
  readonly kind: WorldGroupKind;
  /** Image side in pixels. */
  readonly resolution: number;
  /** The scenes of each group, aligned with `groups[g].paths`. */
  readonly scenes: readonly (readonly Scene[])[];
  /**
   * The views of group `g`, rendered in one GPU batch (the last few groups are kept, so asking
   * again, or for single views of the group through {@link read}, does not render again).
   */
  images(g: number): Promise<RgbImage[]>;
  /**
   * The image behind one of the `paths` (a drop-in for `loadImage` where evaluation code reads
   * group members by path); its whole group is rendered once. DataError for an unknown path.
   */
  read(path: string): Promise<RgbImage>;
}

/** Rendered groups kept by {@link worldGroups}' datasets. */
const GROUP_CACHE = 4;

/** The base scene of object `o` (0-based) of a group family. */
function baseObject(seed: number, kind: WorldGroupKind, o: number): Scene {
  const rng = new Rng(deriveSeed(seed, "groups", kind, o));
  const cls = rng.int(WORLD_CLASSES.length);
  return { cls, latents: sampleLatents(rng) };
}

function withLatents(base: Scene, changes: Record<number, number>): Scene {
  const latents = Float64Array.from(base.latents);
  for (const [k, v] of Object.entries(changes)) latents[Number(k)] = v;
  return { cls: base.cls, latents };
}

interface View {
  path: string;
  scene: Scene;
}

function coilViews(base: Scene, n: number): View[] {
  // A turntable: the object sits at the centre with γ = 0, so β turns it about the vertical axis;
  // 72 views 5° apart (β latent steps of 1/36 of a half turn).
  const views: View[] = [];
  for (let k = 0; k < 72; k++) {
    views.push({
      path: `COIL100/obj${n}__${5 * k}.png`,
      scene: withLatents(base, { 0: 0, 1: 0, 5: 0, 4: wrapAngle(base.latents[4] + k / 36) }),
    });
  }
  return views;
}

function illuminationViews(base: Scene, n: number, camera: number): View[] {
  // Cameras 1..3 look from -15°, 0°, +15° around the vertical axis; lights 1..8 sweep the
  // spotlight angle evenly over its whole range.
  const views: View[] = [];
  for (let light = 1; light <= 8; light++) {
    views.push({
      path: `ALOI/illumination/${n}/${n}_l${light}c${camera}.png`,
      scene: withLatents(base, {
        5: 0,
        4: wrapAngle(base.latents[4] + (camera - 2) / 12),
        6: -1 + (2 * (light - 1)) / 7,
      }),
    });
  }
  return views;
}

function temperatureViews(base: Scene, n: number): View[] {
  // The spotlight hue sweeps hues 0.1 … 0.9 with the temperature index (ends not equal).
  return ALOI_TEMPERATURES.map((t) => ({
    path: `ALOI/temperature/${n}/${n}_i${t}.png`,
    scene: withLatents(base, { 8: -0.8 + (1.6 * (t - 110)) / 140 }),
  }));
}

function sortViews(views: View[]): View[] {
  // The loaders list files sorted by path (code points): keep that order inside a group.
  return views.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Real-world-style groups of `objects` random objects. Group order and membership follow the
 * loaders of docs/realworld.md#datasets for the layout `scripts/make_world.ts` writes:
 *
 * - `coil`: group g = object g + 1 (`COIL100/obj{N}__{angle}.png`, angles 0, 5, …, 355; the object
 *   centred, turned about the vertical axis);
 * - `illumination`: 3·objects groups, object = g mod objects + 1, camera = g div objects + 1
 *   (`ALOI/illumination/{N}/{N}_l{1..8}c{camera}.png`; only the spotlight position changes) — with
 *   1000 objects exactly ALOI's rule;
 * - `temperature`: group g = object g + 1 (`ALOI/temperature/{N}/{N}_i{T}.png`, the 12 ALOI
 *   temperatures; only the spotlight hue changes).
 *
 * `groups[g].paths` are relative to the folder make_world writes to; `root` is `world:<key>`.
 */
export function worldGroups(
  gpu: Gpu,
  kind: WorldGroupKind,
  options: WorldGroupOptions = {},
): WorldGroupedDataset {
  const seed = options.seed ?? 0;
  const objects = options.objects ?? 100;
  const resolution = options.resolution ?? DEFAULT_RESOLUTION;
  checkCount("objects", objects, 1);
  checkCount("resolution", resolution, 1);
  if (!WORLD_GROUP_KINDS.includes(kind)) {
    throw new RangeError(`world: group kind '${kind}' is not one of ${WORLD_GROUP_KINDS}`);
  }
  const bases = Array.from({ length: objects }, (_, o) => baseObject(seed, kind, o));
  const viewLists: View[][] = [];
  if (kind === "illumination") {
    for (let camera = 1; camera <= 3; camera++) {
      for (let o = 0; o < objects; o++) {
        viewLists.push(sortViews(illuminationViews(bases[o], o + 1, camera)));
      }
    }
  } else {
    for (let o = 0; o < objects; o++) {
      const views = kind === "coil"
        ? coilViews(bases[o], o + 1)
        : temperatureViews(bases[o], o + 1);
      viewLists.push(sortViews(views));
    }
  }
  const groups: ImageGroup[] = viewLists.map((views, g) => ({
    name: kind === "illumination"
      ? `${(g % objects) + 1}_c${Math.floor(g / objects) + 1}`
      : kind === "coil"
      ? `obj${g + 1}`
      : `${g + 1}`,
    paths: views.map((v) => v.path),
  }));
  const contentKey = stableKey({
    world: RENDERER_VERSION,
    groups: kind,
    seed,
    objects,
    resolution,
  });
  const renderer = new WorldRenderer(gpu, { width: resolution, height: resolution });
  const scenes = viewLists.map((views) => views.map((v) => v.scene));
  const name =
    { coil: "COIL100", illumination: "ALOI-illumination", temperature: "ALOI-temperature" }[
      kind
    ];
  const where = new Map<string, [number, number]>();
  groups.forEach((g, gi) => g.paths.forEach((p, vi) => where.set(p, [gi, vi])));
  const cache = new Map<number, Promise<RgbImage[]>>();
  const images = (g: number): Promise<RgbImage[]> => {
    if (!Number.isInteger(g) || g < 0 || g >= groups.length) {
      return Promise.reject(
        new RangeError(`world groups: group ${g} outside 0..${groups.length - 1}`),
      );
    }
    let pending = cache.get(g);
    if (pending) {
      cache.delete(g); // re-insert as most recent
    } else {
      pending = renderer.render(scenes[g]);
      pending.catch(() => cache.delete(g));
    }
    cache.set(g, pending);
    while (cache.size > GROUP_CACHE) cache.delete(cache.keys().next().value!);
    return pending;
  };
  return {
    name,
    root: `world:${contentKey}`,
    kind,
    resolution,
    groups,
    scenes,
    contentKey,
    images,
    read(path: string): Promise<RgbImage> {
      const at = where.get(path);
      if (!at) return Promise.reject(new DataError(`${path} is not an image of ${name}`));
      return images(at[0]).then((views) => views[at[1]]);
    },
  };
}
