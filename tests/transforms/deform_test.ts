import { createImage, imagesEqual, type RgbImage } from "../../src/image/image.ts";
import {
  controlGrid,
  deformBatch,
  deformFields,
  ELASTIC_TAPS,
  faithfulAffine,
  opencvGaussianKernel,
} from "../../src/transforms/deform.ts";
import { assert, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { fixtureInput } from "./geometry_fixtures.ts";

function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  let p = i % period;
  if (p < 0) p += period;
  return p >= n ? period - p : p;
}

/** Float64 bilinear sample with reflect-101 borders (channel c). */
function bilinear(img: RgbImage, x: number, y: number, c: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const tx = x - x0;
  const ty = y - y0;
  const at = (xx: number, yy: number) =>
    img.data[
      (reflect101(yy, img.height) * img.width + reflect101(xx, img.width)) * 3 + c
    ];
  const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * tx;
  const bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * tx;
  return top + (bottom - top) * ty;
}

function catmullRom(t: number): number[] {
  const t2 = t * t;
  const t3 = t2 * t;
  return [
    0.5 * (-t3 + 2 * t2 - t),
    0.5 * (3 * t3 - 5 * t2 + 2),
    0.5 * (-3 * t3 + 4 * t2 + t),
    0.5 * (t3 - t2),
  ];
}

/** Float64 reference of the default model for one view. */
function gridDeformReference(
  img: RgbImage,
  points: number,
  sigma: number,
  seed: number,
  view: number,
): RgbImage {
  const ctrl = controlGrid(points, sigma, seed, view);
  const { width: w, height: h } = img;
  const out = createImage(w, h);
  const clampIdx = (i: number) => Math.min(points - 1, Math.max(0, i));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const gx = w > 1 ? x * (points - 1) / (w - 1) : 0;
      const gy = h > 1 ? y * (points - 1) / (h - 1) : 0;
      const fx = Math.floor(gx);
      const fy = Math.floor(gy);
      const wx = catmullRom(gx - fx);
      const wy = catmullRom(gy - fy);
      let dx = 0;
      let dy = 0;
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const k = (clampIdx(fy - 1 + a) * points + clampIdx(fx - 1 + b)) * 2;
          dx += wy[a] * wx[b] * ctrl[k];
          dy += wy[a] * wx[b] * ctrl[k + 1];
        }
      }
      for (let c = 0; c < 3; c++) {
        const v = Math.floor(bilinear(img, x + dx, y + dy, c) + 0.5);
        out.data[(y * w + x) * 3 + c] = Math.min(255, Math.max(0, v));
      }
    }
  }
  return out;
}

function randomImage(width: number, height: number, name: string): RgbImage {
  const rng = testRng(name);
  const img = createImage(width, height);
  // Smooth-ish content so bilinear sampling has something to interpolate.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        img.data[(y * width + x) * 3 + c] = Math.floor(
          127 + 100 * Math.sin(x / (3 + c) + y / 5) + rng.range(-20, 20),
        );
      }
    }
  }
  return img;
}

/** Pixels whose channels differ by more than `tol`, and the largest channel difference. */
function compare(a: RgbImage, b: RgbImage, tol: number): { bad: number; max: number } {
  let bad = 0;
  let max = 0;
  for (let i = 0; i < a.data.length; i += 3) {
    let d = 0;
    for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(a.data[i + c] - b.data[i + c]));
    if (d > tol) bad++;
    max = Math.max(max, d);
  }
  return { bad, max };
}

Deno.test({
  name: "deformBatch() default model matches the float64 Catmull-Rom grid + bilinear reference",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const rng = testRng("deform default reference");
    const img = randomImage(40 + rng.int(20), 30 + rng.int(20), "deform default image");
    const seed = rng.int(1 << 30);
    const params = [2, 3, 5, 9].map((points, i) => ({ points, sigma: [3, 10, 21, 50][i] }));
    const out = await deformBatch(gpu, img, params, { seed });
    params.forEach((p, v) => {
      const ref = gridDeformReference(img, p.points, p.sigma, seed, v);
      const { bad, max } = compare(out[v], ref, 0);
      // float32 vs float64 coordinates: only pixels whose value sits at a .5 rounding edge, or
      // whose sample position lies on a pixel edge, may differ, and by 1 only (smooth content).
      assert(bad <= 0.02 * img.width * img.height, `view ${v}: ${bad} pixels differ`);
      assert(max <= 2, `view ${v}: max difference ${max}`);
    });
  },
});

Deno.test({
  name: "deformBatch() is reproducible: same seed same bytes, another seed other bytes",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const img = await fixtureInput("photo_50x37");
    for (const faithful of [false, true]) {
      const params = [{ points: 4, sigma: 10 }, { points: 2, sigma: 32 }];
      const a = await deformBatch(gpu, img, params, { seed: 7, faithful });
      const b = await deformBatch(gpu, img, params, { seed: 7, faithful });
      const c = await deformBatch(gpu, img, params, { seed: 8, faithful });
      for (let v = 0; v < params.length; v++) {
        assert(imagesEqual(a[v], b[v]), `faithful=${faithful} view ${v}: same seed differs`);
        assert(!imagesEqual(a[v], c[v]), `faithful=${faithful} view ${v}: seeds 7 and 8 agree`);
        assert(!imagesEqual(a[v], img), `faithful=${faithful} view ${v}: not deformed`);
      }
      assert(!imagesEqual(a[0], a[1]), `faithful=${faithful}: views 0 and 1 are identical`);
      // A view's stream depends on its index in the call, not on the other views.
      const alone = await deformBatch(gpu, img, params.slice(0, 1), { seed: 7, faithful });
      assert(imagesEqual(alone[0], a[0]), `faithful=${faithful}: view 0 depends on the batch`);
    }
  },
});

Deno.test({
  name: "deformFields() default model: nodes carry the control grid and σ scales the field",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const points = 3;
    const w = 17; // control points at x = 0, 8, 16 and y = 0, 4, 8
    const h = 9;
    const seed = testRng("deform nodes").int(1 << 30);
    const small = await deformFields(gpu, w, h, [{ points, sigma: 3 }], { seed });
    const large = await deformFields(gpu, w, h, [{ points, sigma: 30 }], { seed });
    const ctrl = controlGrid(points, 3, seed, 0);
    for (let i = 0; i < points; i++) {
      for (let j = 0; j < points; j++) {
        const p = ((i * 4) * w + j * 8) * 2;
        const k = (i * points + j) * 2;
        assert(
          Math.abs(small[p] - ctrl[k]) < 1e-4 && Math.abs(small[p + 1] - ctrl[k + 1]) < 1e-4,
          `node (${i}, ${j}): field ${small[p]},${small[p + 1]} vs control ${ctrl[k]},${
            ctrl[k + 1]
          }`,
        );
      }
    }
    for (let i = 0; i < small.length; i++) {
      assert(
        Math.abs(large[i] - 10 * small[i]) <= 1e-4 * (1 + Math.abs(large[i])),
        `σ x10 at ${i}`,
      );
    }
    // Over many views the control displacements have standard deviation σ (N(0, σ²)).
    const sigma = 12;
    let sum = 0;
    let sq = 0;
    let n = 0;
    for (let v = 0; v < 200; v++) {
      for (const d of controlGrid(5, sigma, seed, v)) {
        sum += d;
        sq += d * d;
        n++;
      }
    }
    const std = Math.sqrt(sq / n - (sum / n) ** 2);
    assert(Math.abs(std / sigma - 1) < 0.05, `control std ${std} for σ ${sigma} (n ${n})`);
  },
});

Deno.test({
  name: "deformFields() faithful model: smoothed uniform noise with OpenCV's Gaussian statistics",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    // Large enough that the σ = 8 field (correlated over ~11 px) gives ~1 000 independent
    // samples: at 96×64 a fresh seed sometimes landed 28 % off the theory.
    const w = 384;
    const h = 256;
    const seed = testRng("deform faithful field").int(1 << 30);
    const sigmas = [1.5, 3, 8];
    const field = await deformFields(gpu, w, h, sigmas.map((sigma) => ({ sigma })), {
      faithful: true,
      seed,
    });
    const stds: number[] = [];
    sigmas.forEach((sigma, v) => {
      // Interior pixels (no border reflection): var = (1/3)·(Σ g²)² for U(−1, 1) noise.
      const g = opencvGaussianKernel(ELASTIC_TAPS, sigma);
      const g2 = g.reduce((s, x) => s + x * x, 0);
      const expected = Math.sqrt(1 / 3) * g2;
      let sq = 0;
      let n = 0;
      for (let y = 8; y < h - 8; y++) {
        for (let x = 8; x < w - 8; x++) {
          const p = ((v * h + y) * w + x) * 2;
          sq += field[p] ** 2 + field[p + 1] ** 2;
          n += 2;
        }
      }
      const std = Math.sqrt(sq / n);
      stds.push(std);
      // Neighbouring values are correlated over ~σ pixels, so the estimate is loose: ±20 %.
      assert(
        Math.abs(std / expected - 1) < 0.2,
        `σ ${sigma}: field std ${std}, theory ${expected}`,
      );
      assert(field.every(Number.isFinite), "finite field");
    });
    assert(stds[0] > stds[1] && stds[1] > stds[2], `std must fall as σ grows: ${stds}`);
  },
});

Deno.test({
  name: "deformBatch() faithful model = random affine warp then elastic remap (float64 reference)",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const img = randomImage(48, 36, "deform faithful image");
    const seed = testRng("deform faithful seed").int(1 << 30);
    const params = [{ sigma: 4 }, { sigma: 21 }];
    const out = await deformBatch(gpu, img, params, { faithful: true, seed });
    const field = await deformFields(gpu, img.width, img.height, params, { faithful: true, seed });
    const { width: w, height: h } = img;
    params.forEach((_, v) => {
      const m = faithfulAffine(w, h, seed, v);
      const warped = createImage(w, h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const sx = m[0] * x + m[1] * y + m[2];
          const sy = m[3] * x + m[4] * y + m[5];
          for (let c = 0; c < 3; c++) {
            warped.data[(y * w + x) * 3 + c] = Math.min(
              255,
              Math.floor(bilinear(img, sx, sy, c) + 0.5),
            );
          }
        }
      }
      const ref = createImage(w, h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const p = ((v * h + y) * w + x) * 2;
          for (let c = 0; c < 3; c++) {
            const val = bilinear(warped, x + field[p], y + field[p + 1], c);
            ref.data[(y * w + x) * 3 + c] = Math.min(255, Math.floor(val + 0.5));
          }
        }
      }
      const { bad, max } = compare(out[v], ref, 0);
      assert(bad <= 0.03 * w * h, `view ${v}: ${bad} pixels differ from the reference`);
      assert(max <= 2, `view ${v}: max difference ${max}`);
    });
    // The affine anchors move by at most 50 px: the map is far from the identity but bounded.
    const m = faithfulAffine(500, 375, seed, 0);
    const corner = [m[0] * 499 + m[1] * 374 + m[2] - 499, m[3] * 499 + m[4] * 374 + m[5] - 374];
    assert(corner.every((d) => Math.abs(d) < 400), `corner displacement ${corner}`);
  },
});

Deno.test({
  name: "deformBatch() rejects σ ≤ 0 and fewer than 2 grid points; handles empty images",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const img = createImage(4, 3);
    await assertRejects(() => deformBatch(gpu, img, [{ sigma: 0, points: 3 }]), /sigma/);
    await assertRejects(() => deformBatch(gpu, img, [{ sigma: 5, points: 1 }]), /points/);
    await assertRejects(() => deformBatch(gpu, img, [{ sigma: 5 }]), /points/);
    const ok = await deformBatch(gpu, img, [{ sigma: 5 }], { faithful: true });
    assert(ok.length === 1 && ok[0].width === 4, "faithful ignores points");
    const empty = await deformBatch(gpu, createImage(0, 2), [{ sigma: 5, points: 2 }]);
    assert(empty[0].width === 0 && empty[0].height === 2, "empty image");
    const one = await deformBatch(gpu, createImage(1, 1, new Uint8Array([9, 8, 7])), [
      { sigma: 5, points: 2 },
    ], { seed: 3 });
    assert(one[0].data.join() === "9,8,7", "a 1x1 image reflects onto itself");
  },
});
