/**
 * The synthetic world: determinism, each latent's effect measured on rendered pixels, the CPU
 * camera against the GPU renderer, the dataset views and the group families, and a raw-pixel
 * linear probe that separates the classes.
 */
import {
  deriveSeed,
  LATENT_DIM,
  projectKeypoints,
  sampleLatents,
  type Scene,
  viewScenes,
  WORLD_CLASSES,
  WORLD_COLOUR_SCHEMES,
  WORLD_POSE_RANGE,
  worldClassification,
  worldGroups,
  worldImageFolder,
  worldKeypoints,
  worldLatents,
  WorldRenderer,
  wrapAngle,
} from "../../src/world/world.ts";
import {
  CAMERA,
  objectPosition,
  projectPoint,
  rotationMatrix,
} from "../../src/world/world_render.ts";
import type { RgbImage } from "../../src/image/image.ts";
import { LogisticRegression } from "../../src/linalg/logistic.ts";
import { StandardScaler } from "../../src/linalg/standard_scaler.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

const CAPSULE = WORLD_CLASSES.indexOf("capsule");
const SPHERE = WORLD_CLASSES.indexOf("sphere");

function scene(cls: number, values: Partial<Record<number, number>>, rng?: Rng): Scene {
  const latents = rng ? sampleLatents(rng).map((v) => 0.3 * v) : new Float64Array(LATENT_DIM);
  for (const [k, v] of Object.entries(values)) latents[Number(k)] = v as number;
  return { cls, latents };
}

function withBackground(s: Scene, latent: number): Scene {
  const latents = Float64Array.from(s.latents);
  latents[9] = latent;
  return { cls: s.cls, latents };
}

/** Object pixels (the object mask) and its geometry, found without knowing the background colour. */
interface Mask {
  image: RgbImage;
  inside: Uint8Array;
  area: number;
  cx: number;
  cy: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * Renders `s` under two opposite background hues: pixels equal in both are the object (the object
 * never depends on the background); anti-aliased rim pixels are excluded.
 */
async function objectMask(renderer: WorldRenderer, s: Scene): Promise<Mask> {
  const b = s.latents[9];
  const [a, c] = await renderer.render([withBackground(s, b), withBackground(s, wrapAngle(b + 1))]);
  const n = a.width * a.height;
  const inside = new Uint8Array(n);
  let area = 0, sx = 0, sy = 0;
  let top = Infinity, bottom = -Infinity, left = Infinity, right = -Infinity;
  for (let i = 0; i < n; i++) {
    const same = a.data[3 * i] === c.data[3 * i] && a.data[3 * i + 1] === c.data[3 * i + 1] &&
      a.data[3 * i + 2] === c.data[3 * i + 2];
    if (!same) continue;
    inside[i] = 1;
    const x = i % a.width, y = Math.floor(i / a.width);
    area++;
    sx += x + 0.5;
    sy += y + 0.5;
    top = Math.min(top, y);
    bottom = Math.max(bottom, y + 1);
    left = Math.min(left, x);
    right = Math.max(right, x + 1);
  }
  assert(area > 20, `object mask has only ${area} pixels`);
  return { image: a, inside, area, cx: sx / area, cy: sy / area, top, bottom, left, right };
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const o = 3 * (y * img.width + x);
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

function corners(img: RgbImage): number[] {
  const w = img.width - 1, h = img.height - 1;
  return [...pixel(img, 0, 0), ...pixel(img, w, 0), ...pixel(img, 0, h), ...pixel(img, w, h)];
}

/** Mean colour over the object mask. */
function meanObjectColour(m: Mask, img = m.image): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < m.inside.length; i++) {
    if (m.inside[i]) { for (let c = 0; c < 3; c++) sum[c] += img.data[3 * i + c]; }
  }
  return sum.map((v) => v / m.area);
}

function assertSameStrings(actual: readonly string[], expected: readonly string[]): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  assert(a === e, `got ${a.slice(0, 200)}, expected ${e.slice(0, 200)}`);
}

function sameBytes(a: RgbImage, b: RgbImage): boolean {
  return a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]);
}

Deno.test(
  "world views are a pure function of the seed: same seed, same bytes",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("world determinism").int(1 << 30);
    const a = worldImageFolder(gpu, { seed, perClass: 2, resolution: 24, chunk: 5 });
    const b = worldImageFolder(gpu, { seed, perClass: 2, resolution: 24, chunk: 64 });
    const c = worldImageFolder(gpu, { seed: seed + 1, perClass: 2, resolution: 24 });
    assert(a.contentKey === b.contentKey && a.contentKey !== c.contentKey, "content keys");
    await a.renderAll();
    for (let i = 0; i < a.length; i++) {
      const [x, y, z] = [await a.image(i), await b.image(i), await c.image(i)];
      assert(sameBytes(x, y), `image ${i} differs between two builds of seed ${seed}`);
      assert(!sameBytes(x, z), `image ${i} is the same for seeds ${seed} and ${seed + 1}`);
    }
    // A scene renders the same alone as in the middle of a batch.
    const renderer = new WorldRenderer(gpu, { width: 24 });
    const [, inBatch] = await renderer.render([a.scenes[0], a.scenes[5], a.scenes[9]]);
    const [alone] = await renderer.render([a.scenes[5]]);
    assert(sameBytes(inBatch, alone), "a scene's pixels depend on its batch");
    // More images per class keep the earlier scenes (the stream only grows).
    const bigger = worldImageFolder(gpu, { seed, perClass: 4, resolution: 24 });
    for (let cls = 0; cls < WORLD_CLASSES.length; cls++) {
      for (let j = 0; j < 2; j++) {
        assertArrayEqual(bigger.scenes[cls * 4 + j].latents, a.scenes[cls * 2 + j].latents);
      }
    }
    assert(deriveSeed(seed, "a") !== deriveSeed(seed, "b"), "deriveSeed ignores its labels");
  },
);

Deno.test(
  "world renders analytic silhouettes: sphere disk, cube square, torus ring",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("world silhouettes");
    const res = 64;
    const renderer = new WorldRenderer(gpu, { width: res });
    const pxPerUnit = res / 2 / CAMERA.tanHalf; // image-plane units → pixels
    const appearance = { 6: rng.range(-1, 1), 7: rng.range(-1, 1), 8: rng.range(-1, 1) };
    const centred = { 0: 0, 1: 0, 2: 0, 9: rng.range(-1, 1), ...appearance };

    // Sphere of radius 0.62 at distance 6: a disk of radius tan(asin(0.62 / 6)) in the image plane.
    const sphere = await objectMask(renderer, scene(SPHERE, { ...centred, 3: 0, 4: 0, 5: 0 }));
    const radius = (0.62 / Math.sqrt(36 - 0.62 ** 2)) * pxPerUnit;
    let disk = 0; // pixel centres inside the disk
    for (let y = 0; y < res; y++) {
      for (let x = 0; x < res; x++) if (Math.hypot(x + 0.5 - 32, y + 0.5 - 32) < radius) disk++;
    }
    assert(Math.abs(sphere.area - disk) < 0.02 * disk, `sphere area ${sphere.area} vs ${disk}`);
    assert(Math.abs(sphere.cx - 32) < 0.3 && Math.abs(sphere.cy - 32) < 0.3, "sphere not centred");

    // Axis-aligned cube (a box of half side 0.42 rounded by 0.06): the silhouette is traced by
    // the rounded front edges, lateral 0.48 at the depth of their centre line, 6 − 0.42.
    const cube = await objectMask(
      renderer,
      scene(WORLD_CLASSES.indexOf("cube"), { ...centred, 3: 0, 4: 0, 5: 0 }),
    );
    const side = 2 * (0.48 / (6 - 0.42)) * pxPerUnit;
    for (
      const [what, v] of [["width", cube.right - cube.left], ["height", cube.bottom - cube.top]]
    ) {
      assert(Math.abs((v as number) - side) <= 1.5, `cube ${what} ${v} px vs ${side.toFixed(2)}`);
    }
    // Pixel centres inside the square (the rounded corners and edges lose a few more).
    let across = 0;
    for (let k = 0; k < res; k++) if (Math.abs(k + 0.5 - res / 2) < side / 2) across++;
    const square = across ** 2;
    assert(Math.abs(cube.area - square) < 0.03 * square, `cube area ${cube.area} vs ${square}`);

    // Torus (ring radius 0.52, tube 0.2) turned to face the camera: the hole shows the background.
    const torus = await objectMask(
      renderer,
      scene(WORLD_CLASSES.indexOf("torus"), { ...centred, 3: 0.5, 4: 0, 5: 0 }),
    );
    const at = (x: number, y: number): number => torus.inside[Math.floor(y) * res + Math.floor(x)];
    assert(at(32, 32) === 0 && at(31, 31) === 0, "torus hole is filled");
    const ring = (0.52 / 6) * pxPerUnit;
    for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
      assert(at(32 + dx * ring, 32 + dy * ring) === 1, `torus ring missing at (${dx}, ${dy})`);
    }
    // The outer rim is traced where rays graze the tube at its equator, depth ≈ 6.
    const outer = 2 * (0.72 / 6) * pxPerUnit;
    assert(
      Math.abs(torus.right - torus.left - outer) <= 2,
      `torus width ${torus.right - torus.left}`,
    );
  },
);

Deno.test(
  "world objects at the centre of the position box stay inside the frame in every pose, and stay in view at its corners",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("world frame margin");
    const res = 48;
    const renderer = new WorldRenderer(gpu, { width: res });
    const centred: Scene[] = [];
    const corners: Scene[] = [];
    for (let cls = 0; cls < WORLD_CLASSES.length; cls++) {
      for (let rep = 0; rep < 12; rep++) {
        const latents = sampleLatents(rng);
        for (let k = 0; k < 3; k++) latents[k] = 0;
        centred.push({ cls, latents });
      }
      for (let corner = 0; corner < 8; corner++) {
        const latents = sampleLatents(rng);
        for (let k = 0; k < 3; k++) latents[k] = corner & (1 << k) ? 1 : -1;
        corners.push({ cls, latents });
      }
    }
    // Pixels that change with the background hue are background: at the centre every border
    // pixel must be one (the bounding sphere of radius 0.9 at depth 6 fits the 18° frame).
    const a = await renderer.render(centred);
    const b = await renderer.render(
      centred.map((s) => withBackground(s, wrapAngle(s.latents[9] + 1))),
    );
    centred.forEach((s, i) => {
      for (let t = 0; t < res; t++) {
        for (const [x, y] of [[t, 0], [t, res - 1], [0, t], [res - 1, t]]) {
          const pa = pixel(a[i], x, y), pb = pixel(b[i], x, y);
          assert(
            pa.some((v, c) => v !== pb[c]),
            `${WORLD_CLASSES[s.cls]} at latents ${
              Array.from(s.latents).map((v) => v.toFixed(2))
            } touches the border at (${x}, ${y})`,
          );
        }
      }
    });
    // At the corners the object is large enough to reach the border, but its centre stays in
    // the frame and most of it is visible.
    for (const s of corners) {
      const m = await objectMask(renderer, s);
      const [cx, cy] = projectPoint(objectPosition(s.latents), res, res);
      assert(cx > 0 && cx < res && cy > 0 && cy < res, `centre (${cx}, ${cy}) out of the frame`);
      assert(m.area > 0.04 * res * res, `${WORLD_CLASSES[s.cls]} covers only ${m.area} px`);
    }
  },
);

Deno.test("world latents x, y, z move the object right, up and nearer", GPU_TEST, async () => {
  const gpu = await testGpu();
  const rng = testRng("world position latents");
  const res = 64;
  const renderer = new WorldRenderer(gpu, { width: res });
  const base = scene(rng.int(WORLD_CLASSES.length), { 0: 0, 1: 0, 2: 0 }, rng);
  const at = (k: number, v: number): Scene => {
    const latents = Float64Array.from(base.latents);
    latents[k] = v;
    return { cls: base.cls, latents };
  };
  const expectedShift = (k: number): number => {
    const lo = projectPoint(objectPosition(at(k, -0.8).latents), res, res);
    const hi = projectPoint(objectPosition(at(k, 0.8).latents), res, res);
    return k === 0 ? hi[0] - lo[0] : hi[1] - lo[1];
  };
  const left = await objectMask(renderer, at(0, -0.8));
  const right = await objectMask(renderer, at(0, 0.8));
  const dx = right.cx - left.cx;
  assert(expectedShift(0) > 8, "the x range should span several pixels");
  assert(
    Math.abs(dx - expectedShift(0)) < 0.2 * expectedShift(0),
    `x: centroid moved ${dx.toFixed(2)} px, projection says ${expectedShift(0).toFixed(2)}`,
  );
  const down = await objectMask(renderer, at(1, -0.8));
  const up = await objectMask(renderer, at(1, 0.8));
  const dy = up.cy - down.cy;
  assert(expectedShift(1) < -8, "increasing y must decrease the row (move up)");
  assert(
    Math.abs(dy - expectedShift(1)) < 0.2 * Math.abs(expectedShift(1)),
    `y: centroid moved ${dy.toFixed(2)} px, projection says ${expectedShift(1).toFixed(2)}`,
  );
  const far = await objectMask(renderer, at(2, -0.8));
  const near = await objectMask(renderer, at(2, 0.8));
  const ratio = near.area / far.area;
  // Apparent area scales with (depth_far / depth_near)² = (6.48 / 5.52)² ≈ 1.38.
  assert(ratio > 1.2 && ratio < 1.6, `z: area ratio ${ratio.toFixed(3)}`);
});

Deno.test(
  "world rotation latents turn an upright capsule as R = Rz(γ)·Ry(β)·Rx(α)",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("world rotation latents");
    const renderer = new WorldRenderer(gpu, { width: 64 });
    const hues = { 7: rng.range(-1, 1), 8: rng.range(-1, 1), 9: rng.range(-1, 1), 6: 0 };
    const aspect = async (a: number, b: number, g: number): Promise<number> => {
      const m = await objectMask(renderer, scene(CAPSULE, { ...hues, 3: a, 4: b, 5: g }));
      return (m.bottom - m.top) / (m.right - m.left);
    };
    const upright = await aspect(0, 0, 0);
    const rolled = await aspect(0, 0, 0.5); // 90° about the viewing axis: lying along x
    const pitched = await aspect(0.5, 0, 0); // 90° about x: pointing at the camera
    const turned = await aspect(0.5, 0.5, 0); // then 90° about y: lying along x again
    const note = ` (h/w upright ${upright.toFixed(2)}, γ ${rolled.toFixed(2)}, α ${
      pitched.toFixed(2)
    }, α+β ${turned.toFixed(2)})`;
    assert(upright > 1.8, "upright capsule should be tall" + note);
    assert(rolled < 1 / 1.8, "γ = 90° should lay it flat" + note);
    assert(pitched > 0.75 && pitched < 1.33, "α = 90° should show it end-on (round)" + note);
    assert(turned < 1 / 1.8, "α = β = 90° should lay it along x" + note);
    // The rotation matrix is orthonormal for any latents.
    const r = rotationMatrix(sampleLatents(rng));
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const dot = r[3 * i] * r[3 * j] + r[3 * i + 1] * r[3 * j + 1] + r[3 * i + 2] * r[3 * j + 2];
        assert(Math.abs(dot - (i === j ? 1 : 0)) < 1e-12, "rotation matrix not orthonormal");
      }
    }
  },
);

Deno.test(
  "world spotlight angle moves the lit side of the object to the right",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("world spotlight position");
    const renderer = new WorldRenderer(gpu, { width: 64 });
    const lit = async (angle: number): Promise<number> => {
      const s = scene(SPHERE, { 0: 0, 1: 0, 2: 0, 6: angle, 8: rng.range(-1, 1) }, rng);
      const m = await objectMask(renderer, s);
      // Brightness-weighted centroid relative to the mask's own centroid.
      let sum = 0, sx = 0;
      for (let i = 0; i < m.inside.length; i++) {
        if (!m.inside[i]) continue;
        const v = m.image.data[3 * i] + m.image.data[3 * i + 1] + m.image.data[3 * i + 2];
        sum += v;
        sx += v * ((i % 64) + 0.5);
      }
      return sx / sum - m.cx;
    };
    const fromLeft = await lit(-0.9);
    const fromRight = await lit(0.9);
    assert(
      fromLeft < -0.5 && fromRight > 0.5,
      `brightness centroid offsets ${fromLeft.toFixed(2)} (light left), ${
        fromRight.toFixed(2)
      } (light right)`,
    );
  },
);

Deno.test(
  "world hues: object hue and spotlight hue tint the object, background hue only the background",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("world hues");
    const renderer = new WorldRenderer(gpu, { width: 48 });
    const geometry = scene(SPHERE, { 0: 0, 1: 0, 2: 0, 6: 0 }, rng);
    const mask = await objectMask(renderer, geometry);
    const variant = (changes: Record<number, number>): Scene => {
      const latents = Float64Array.from(geometry.latents);
      for (const [k, v] of Object.entries(changes)) latents[Number(k)] = v;
      return { cls: SPHERE, latents };
    };
    const centreX = Math.floor(mask.cx), centreY = Math.floor(mask.cy);
    assert(mask.inside[centreY * 48 + centreX] === 1, "sphere centre pixel is not on the object");

    // Object hue: red (h = 0) vs green (h = 1/3) under a yellow light (equal red and green).
    const [red, green] = await renderer.render([
      variant({ 7: -1, 8: -2 / 3 }),
      variant({ 7: -1 / 3, 8: -2 / 3 }),
    ]);
    const [rr, rg] = meanObjectColour(mask, red);
    const [gr, gg] = meanObjectColour(mask, green);
    assert(
      rr > rg + 20 && gg > gr + 20,
      `object hue: red ${[rr, rg]}, green ${[gr, gg]}`,
    );
    assertArrayEqual(corners(red), corners(green), "object hue changed the background");

    // Spotlight hue: red light (h = 0) vs green light (h = 1/3) on a yellow object.
    const [redLight, greenLight] = await renderer.render([
      variant({ 7: -2 / 3, 8: -1 }),
      variant({ 7: -2 / 3, 8: -1 / 3 }),
    ]);
    const a = meanObjectColour(mask, redLight);
    const b = meanObjectColour(mask, greenLight);
    assert(a[0] - a[1] > 15 && b[1] - b[0] > 15, `spotlight hue: ${a} vs ${b}`);
    assertArrayEqual(
      corners(redLight),
      corners(greenLight),
      "spotlight hue changed the background",
    );

    // Background hue: red vs blue corners; the object's centre pixel is untouched.
    const [bgRed, bgBlue] = await renderer.render([variant({ 9: -1 }), variant({ 9: 1 / 3 })]);
    const cr = corners(bgRed), cb = corners(bgBlue);
    for (let k = 0; k < 4; k++) {
      assert(
        cr[3 * k] > cr[3 * k + 2] + 20,
        `red background corner ${k}: ${cr.slice(3 * k, 3 * k + 3)}`,
      );
      assert(
        cb[3 * k + 2] > cb[3 * k] + 20,
        `blue background corner ${k}: ${cb.slice(3 * k, 3 * k + 3)}`,
      );
    }
    assertArrayEqual(
      pixel(bgRed, centreX, centreY),
      pixel(bgBlue, centreX, centreY),
      "background hue changed the object's centre pixel",
    );
  },
);

Deno.test(
  "projectKeypoints() uses the renderer's camera: sphere poles sit on the silhouette",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("world keypoints camera");
    const res = 64;
    const renderer = new WorldRenderer(gpu, { width: res });
    for (let trial = 0; trial < 3; trial++) {
      const s = scene(SPHERE, {
        0: rng.range(-1, 1),
        1: rng.range(-1, 1),
        2: rng.range(-1, 1),
        3: 0,
        4: 0,
        5: 0,
      }, rng);
      const m = await objectMask(renderer, s);
      const [cx, cy] = projectPoint(objectPosition(s.latents), res, res);
      const note = ` (trial ${trial})`;
      assert(Math.hypot(m.cx - cx, m.cy - cy) < 1, `sphere centroid vs projection${note}`);
      const kp = Array.from(projectKeypoints(s, res), (v) => (v * res) / 224);
      // Keypoint 0 is the north pole, keypoint 2 the +x point of the equator.
      assert(Math.abs(kp[1] - m.top) < 1.5, `top pole ${kp[1]} vs mask top ${m.top}${note}`);
      assert(Math.abs(kp[4] - m.right) < 1.5, `+x point ${kp[4]} vs mask right ${m.right}${note}`);
    }
    // Every keypoint of every class is in the frame at the centre of the position box. At its
    // corners a keypoint (at most r = 0.84 from the object's centre: a cube corner, the teapot's
    // spout) lies within the cone that grazes a sphere of radius r at lateral offset a = 0.15
    // and depth d = 6 − 0.4, so at most tan(atan(a/d) + asin(r/√(a² + d²))) off-axis.
    const [a, d, r] = [CAMERA.xyScale, CAMERA.z - CAMERA.zScale, 0.84];
    const reach = Math.tan(Math.atan(a / d) + Math.asin(r / Math.hypot(a, d))) / CAMERA.tanHalf;
    const past = 112 * (reach - 1); // pixels of the 224 frame past the border
    for (let cls = 0; cls < WORLD_CLASSES.length; cls++) {
      for (let corner = 0; corner < 9; corner++) {
        const latents = sampleLatents(rng);
        for (let k = 0; k < 3; k++) latents[k] = corner === 8 ? 0 : corner & (1 << k) ? 1 : -1;
        const kp = projectKeypoints({ cls, latents }, res);
        const [lo, hi] = corner === 8 ? [0, 224] : [-past, 224 + past];
        for (const v of kp) {
          assert(v > lo && v < hi, `class ${cls} keypoint ${v} outside [${lo}, ${hi}]`);
        }
      }
    }
  },
);

Deno.test(
  "world views: classification, latents and keypoints targets, names and order",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("world views").int(1000);
    const lat = worldLatents(gpu, { seed, perClass: 11, resolution: 16, split: "test" });
    assert(lat.length === 77 && lat.kind === "regression" && lat.targetDim === 10, "latents shape");
    assertArrayEqual(lat.targets, lat.latents, "latent targets");
    for (let i = 0; i < lat.length; i++) {
      const cls = Math.floor(i / 11);
      assert(lat.classes[i] === cls, `latents: image ${i} has class ${lat.classes[i]}`);
      assert(lat.paths[i] === `images_${cls}/${String(i % 11).padStart(2, "0")}.png`, lat.paths[i]);
    }
    for (const v of lat.latents) assert(v >= -1 && v < 1, `latent ${v} outside [-1, 1)`);

    const kp = worldKeypoints(gpu, { seed, perClass: 3, resolution: 16 });
    assert(kp.targetDim === 10 && kp.kind === "regression", "keypoints shape");
    kp.scenes.forEach((s, i) =>
      assertArrayEqual(kp.targets.subarray(10 * i, 10 * i + 10), projectKeypoints(s, 16))
    );
    assert(kp.paths[3] === "cone/00000.png", `keypoint path ${kp.paths[3]}`);

    const cls = worldClassification(gpu, { seed, perClass: 2, resolution: 16 });
    const stream = worldImageFolder(gpu, { seed, perClass: 2, resolution: 16 });
    assert(cls.numClasses === 7 && cls.kind === "classification", "classification shape");
    assertArrayEqual(cls.targets, Float64Array.from(cls.classes), "class targets");
    assert(cls.paths[13] === "torus/00001.png", `class path ${cls.paths[13]}`);
    assert(
      cls.scenes[0].latents[0] !== stream.scenes[0].latents[0],
      "classification and stream share scenes",
    );
    const img = await cls.image(13);
    assert(img.width === 16 && img.height === 16 && img.data.length === 768, "image size");
    assert(cls.describe(13).includes("torus"), cls.describe(13));
    await assertRejects(() => cls.image(14), /outside/);
    let threw = false;
    try {
      worldImageFolder(gpu, { perClass: 0 });
    } catch (e) {
      threw = /perClass/.test((e as Error).message);
    }
    assert(threw, "perClass 0 must be refused");
    const renderer = new WorldRenderer(gpu, { width: 8 });
    await assertRejects(
      () => renderer.render([{ cls: 7, latents: new Float64Array(10) }]),
      /class 7/,
    );
    await assertRejects(
      () => renderer.render([{ cls: 0, latents: new Float64Array(10).fill(NaN) }]),
      /position_x is NaN/,
    );
  },
);

Deno.test(
  "worldGroups(): COIL turntable, ALOI illumination and temperature groups vary one factor",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("world groups").int(1000);
    const onlyChanges = (scenes: readonly Scene[], allowed: number[]): void => {
      for (const s of scenes) {
        assert(s.cls === scenes[0].cls, "class changes inside a group");
        for (let k = 0; k < LATENT_DIM; k++) {
          if (!allowed.includes(k)) {
            assert(s.latents[k] === scenes[0].latents[k], `latent ${k} changes inside a group`);
          }
        }
      }
    };

    const coil = worldGroups(gpu, "coil", { seed, objects: 3, resolution: 24 });
    assert(coil.name === "COIL100" && coil.groups.length === 3, "COIL group count");
    coil.groups.forEach((g, gi) => {
      assert(g.name === `obj${gi + 1}` && g.paths.length === 72, `COIL group ${gi}`);
      const expected = Array.from({ length: 72 }, (_, k) => `COIL100/obj${gi + 1}__${5 * k}.png`)
        .sort();
      assertSameStrings(g.paths, expected);
      onlyChanges(coil.scenes[gi], [4]);
      for (const s of coil.scenes[gi]) {
        assert(s.latents[0] === 0 && s.latents[1] === 0 && s.latents[5] === 0, "COIL not centred");
      }
      // Views are 5° apart: β latents cover 72 distinct multiples of 1/36 (mod a full turn).
      const steps = new Set(
        coil.scenes[gi].map((s) =>
          Math.round(wrapAngle(s.latents[4] - coil.scenes[gi][0].latents[4]) * 36 + 72) % 72
        ),
      );
      assert(steps.size === 72, `COIL object ${gi + 1} has ${steps.size} distinct angles`);
    });
    const views = await coil.images(1);
    assert(views.length === 72, "COIL images");
    assert(!sameBytes(views[0], views[18]), "turning the object did not change the image");
    assertArrayEqual(corners(views[0]), corners(views[18]), "turning changed the background");
    // read(path) is a loadImage stand-in: the view behind that file name.
    const path = "COIL100/obj2__90.png";
    const byPath = await coil.read(path);
    assert(sameBytes(byPath, views[coil.groups[1].paths.indexOf(path)]), "read(path) vs images(g)");
    assert(!sameBytes(byPath, views[0]), "read(path) returned the first view");
    await assertRejects(() => coil.read("COIL100/obj9__0.png"), /is not an image of COIL100/);

    const ill = worldGroups(gpu, "illumination", { seed, objects: 2, resolution: 24 });
    assert(ill.groups.length === 6, "illumination group count");
    ill.groups.forEach((g, gi) => {
      const obj = (gi % 2) + 1, cam = Math.floor(gi / 2) + 1;
      assert(g.name === `${obj}_c${cam}`, `illumination group name ${g.name}`);
      assertSameStrings(
        g.paths,
        Array.from(
          { length: 8 },
          (_, l) => `ALOI/illumination/${obj}/${obj}_l${l + 1}c${cam}.png`,
        ),
      );
      onlyChanges(ill.scenes[gi], [6]);
      const lights = ill.scenes[gi].map((s) => s.latents[6]);
      assert(lights[0] === -1 && lights[7] === 1, `light sweep ${lights}`);
    });
    // The same object seen by another camera is turned, not another object.
    assert(ill.scenes[0][0].cls === ill.scenes[2][0].cls, "cameras see different objects");
    assert(ill.scenes[0][0].latents[4] !== ill.scenes[2][0].latents[4], "cameras do not differ");

    const temp = worldGroups(gpu, "temperature", { seed, objects: 2, resolution: 24 });
    assert(temp.groups.length === 2 && temp.groups[1].paths.length === 12, "temperature groups");
    assert(temp.groups[1].paths[11] === "ALOI/temperature/2/2_i250.png", temp.groups[1].paths[11]);
    onlyChanges(temp.scenes[1], [8]);
    const tempViews = await temp.images(0);
    assert(!sameBytes(tempViews[0], tempViews[11]), "spotlight hue did not change the image");
    assertArrayEqual(corners(tempViews[0]), corners(tempViews[11]), "light hue changed background");
    await assertRejects(() => temp.images(2), /outside/);
  },
);

Deno.test(
  "world classes are linearly separable from raw pixels of held-out renders",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("world linear probe");
    const res = 32;
    const renderer = new WorldRenderer(gpu, { width: res });
    // Object centred at a fixed distance; rotation, light position and all three hues random.
    // (With random positions too, a raw-pixel probe on a few hundred images gets ≈ 0.2 only.)
    const draw = async (perClass: number) => {
      const scenes: Scene[] = [];
      for (let i = 0; i < 7 * perClass; i++) {
        const latents = sampleLatents(rng);
        latents[0] = latents[1] = latents[2] = 0;
        scenes.push({ cls: i % 7, latents });
      }
      const images = await renderer.render(scenes);
      const d = res * res * 3;
      const data = new Float64Array(scenes.length * d);
      images.forEach((img, i) => data.set(img.data, i * d));
      return { x: { rows: scenes.length, cols: d, data }, y: scenes.map((s) => s.cls) };
    };
    const train = await draw(40);
    const test = await draw(30);
    const { scaler, z } = StandardScaler.fitTransform(train.x);
    const probe = new LogisticRegression({ C: 0.01 }).fit(z, train.y);
    const acc = probe.score(scaler.transform(test.x), test.y);
    // Chance is 1/7 ≈ 0.14; measured ≈ 0.44–0.48 over several seeds.
    assert(acc > 0.3, `held-out accuracy ${acc.toFixed(3)} is too close to chance`);
  },
);

Deno.test("the world stream shares colour schemes between classes and narrows poses; other views draw every latent freely", () => {
  const seed = testRng("world stream").int(1000);
  const perClass = 200;
  const stream = viewScenes("world", seed, "train", perClass);
  const hues = (s: Scene) => Array.from(s.latents).slice(7, 10).join(",");
  const schemes = new Map<string, Set<number>>();
  for (const s of stream) {
    const key = hues(s);
    if (!schemes.has(key)) schemes.set(key, new Set());
    schemes.get(key)!.add(s.cls);
    for (const r of [3, 4, 5]) {
      assert(Math.abs(s.latents[r]) <= WORLD_POSE_RANGE, `rotation latent ${s.latents[r]}`);
    }
  }
  assert(schemes.size === WORLD_COLOUR_SCHEMES, `${schemes.size} colour schemes`);
  // 200 scenes per class over 8 schemes: every scheme is worn by every class.
  for (const [k, classes] of schemes) assert(classes.size === WORLD_CLASSES.length, `scheme ${k}`);
  // the val split wears the same schemes
  for (const s of viewScenes("world", seed, "val", 20)) {
    assert(schemes.has(hues(s)), `val scheme ${hues(s)}`);
  }
  // the rotations still cover their narrowed range, not a corner of it
  const alphas = stream.map((s) => s.latents[3]);
  assert(
    Math.max(...alphas) > 0.9 * WORLD_POSE_RANGE && Math.min(...alphas) < -0.9 * WORLD_POSE_RANGE,
    "stream rotations span their range",
  );

  const latents = viewScenes("latents", seed, "train", perClass);
  assert(new Set(latents.map(hues)).size === latents.length, "latent view hues are per scene");
  const turns = latents.map((s) => Math.abs(s.latents[4]));
  assert(Math.max(...turns) > 0.9, "latent view rotations span full turns");
});
