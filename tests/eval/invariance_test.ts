import { extractFeatures, resizeAndCrop } from "../../src/eval/features.ts";
import { covarianceF64 } from "../../src/eval/statistics.ts";
import { Whitener } from "../../src/eval/whitening.ts";
import { sampleImageIndices, syntheticInvariance } from "../../src/eval/synthetic_invariance.ts";
import { realworldInvariance } from "../../src/eval/realworld_invariance.ts";
import { hflip } from "../../src/image/crop.ts";
import type { RgbImage } from "../../src/image/image.ts";
import { cholesky } from "../../src/linalg/cholesky.ts";
import { choleskySolve } from "../../src/linalg/triangular.ts";
import { toNormalizedTensor } from "../../src/image/to_tensor.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { type FakeExtractor, fakeExtractor } from "./fake_extractor.ts";
import { memoryDataset, randomImage } from "./helpers.ts";

const sampling: { seed: number; n: number; size: number; indices: number[] }[] = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/eval/sampling.json", import.meta.url)),
);

Deno.test("sampleImageIndices() equals numpy's seed(s); choice(n, size) for several cases", () => {
  for (const c of sampling) {
    assertArrayEqual(sampleImageIndices(c.n, c.size, c.seed), c.indices, `seed ${c.seed} n ${c.n}`);
  }
  assertArrayEqual(
    sampleImageIndices(50000, 10),
    [2732, 43567, 42613, 45891, 21243, 30403, 32103, 41993, 20757, 46884],
    "docs/synthetic.md#sampling",
  );
});

/** Statistics of the fake model over random images, and an independent metric reference. */
async function setup(gpu: Gpu, name: string) {
  const rng = testRng(name);
  const size = 6, dim = 4;
  const model = fakeExtractor(gpu, size, dim, rng.int(10000));
  const p = { resize: 7, cropSize: size };
  const pool = Array.from({ length: 40 }, () => randomImage(rng, 8 + rng.int(5), 8 + rng.int(5)));
  const f = await extractFeatures(gpu, model, memoryDataset(pool), {
    batchSize: 40,
    preprocessing: p,
    progress: false,
  });
  const stats = covarianceF64(f.features, f.rows, dim);
  const whitener = Whitener.fromCovariance(stats.mean, stats.cov);
  const l = cholesky(stats.cov, dim);
  // uᵀΣ⁻¹v with a Cholesky solve (independent of the whitening path).
  const quad = (u: Float64Array, v: Float64Array) => {
    const s = choleskySolve(l, dim, v);
    return u.reduce((acc, x, i) => acc + x * s[i], 0);
  };
  const feat = (m: FakeExtractor, img: RgbImage) => {
    const f64 = m.reference(toNormalizedTensor(img, { layout: "HWC" }));
    return f64.map((x) => Math.fround(x));
  };
  return { rng, size, dim, model, p, whitener, stats, quad, feat };
}

Deno.test({
  name: "syntheticInvariance() per-view similarity/distance match the Σ⁻¹ formulas; identity view",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const { rng, dim, model, p, whitener, stats, quad, feat } = await setup(gpu, "synthetic");
    const images = Array.from(
      { length: 5 },
      () => randomImage(rng, 9 + rng.int(4), 8 + rng.int(4)),
    );
    const ds = memoryDataset(images, new Set([2]));
    const views = (img: RgbImage) => {
      const c = resizeAndCrop(img, p);
      return Promise.resolve([c, hflip(c), resizeAndCrop(hflip(img), p)]);
    };
    const indices = [4, 2, 0, 0];
    const r = await syntheticInvariance(gpu, model, ds, {
      indices,
      views,
      preprocessing: p,
      whitener,
      onBadImage: "skip",
      batchSize: 2,
      progress: false,
      warn: () => {},
    });
    assert(r.k === 3 && r.images === 3 && r.skipped.length === 1, `k ${r.k} images ${r.images}`);
    const kept = [4, 0, 0];
    const sims = new Float64Array(3), dists = new Float64Array(3);
    kept.forEach((idx, row) => {
      const clean = feat(model, resizeAndCrop(images[idx], p));
      const vs = [
        resizeAndCrop(images[idx], p),
        hflip(resizeAndCrop(images[idx], p)),
        resizeAndCrop(hflip(images[idx]), p),
      ];
      vs.forEach((v, j) => {
        const fv = feat(model, v);
        const u = clean.map((x, i) => stats.mean[i] - x);
        const w = fv.map((x, i) => stats.mean[i] - x);
        const diff = clean.map((x, i) => x - fv[i]);
        const s = quad(u, w) / Math.sqrt(quad(u, u) * quad(w, w));
        const dd = Math.sqrt(Math.max(0, quad(diff, diff)));
        const gs = r.similarityPerImage[row * 3 + j], gd = r.distancePerImage[row * 3 + j];
        // Features differ from the reference by GPU f32 rounding only.
        assert(Math.abs(gs - s) <= 2e-3, `S[${row},${j}] ${gs} vs ${s}`);
        assert(Math.abs(gd - dd) <= 2e-3 * (1 + dd), `L[${row},${j}] ${gd} vs ${dd}`);
        sims[j] += gs / 3;
        dists[j] += gd / 3;
      });
      assert(r.similarityPerImage[row * 3] === 1 && r.distancePerImage[row * 3] === 0, "identity");
    });
    for (let j = 0; j < 3; j++) {
      assert(Math.abs(r.similarity[j] - sims[j]) < 1e-6, "nanmean S");
      assert(Math.abs(r.distance[j] - dists[j]) < 1e-5, "nanmean L");
    }
    const meanS = (r.similarity[0] + r.similarity[1] + r.similarity[2]) / 3;
    assert(Math.abs(r.summary.similarity - meanS) < 1e-12, "summary");
    assert(dim === whitener.dim, "dim");
    model.release();
  },
});

Deno.test({
  name: "realworldInvariance() pairwise metrics per group match the Σ⁻¹ formulas (diagonal in S)",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const { rng, model, p, whitener, stats, quad, feat } = await setup(gpu, "realworld");
    const files = new Map<string, RgbImage>();
    const groups = [3, 1, 4].map((n, g) => ({
      name: `obj${g + 1}`,
      paths: Array.from({ length: n }, (_, i) => {
        const path = `/x/obj${g + 1}__${i}.png`;
        files.set(path, randomImage(rng, 8 + rng.int(3), 8 + rng.int(3)));
        return path;
      }),
    }));
    const ds = { name: "TOY", root: "/x", groups, contentKey: "toy" };
    const r = await realworldInvariance(gpu, model, ds, {
      preprocessing: p,
      whitener,
      batchSize: 3,
      progress: false,
      read: (path) => Promise.resolve(files.get(path)!),
    });
    assertArrayEqual(r.groupSizes, [3, 1, 4], "sizes");
    groups.forEach((g, gi) => {
      const fs = g.paths.map((path) => feat(model, resizeAndCrop(files.get(path)!, p)));
      const n = fs.length;
      let s = 0, d = 0;
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          const u = fs[a].map((x, i) => stats.mean[i] - x);
          const v = fs[b].map((x, i) => stats.mean[i] - x);
          s += quad(u, v) / Math.sqrt(quad(u, u) * quad(v, v));
          if (a < b) {
            const diff = fs[a].map((x, i) => x - fs[b][i]);
            d += Math.sqrt(quad(diff, diff));
          }
        }
      }
      s /= n * n;
      d = n > 1 ? d / (n * (n - 1) / 2) : NaN;
      assert(Math.abs(r.similarity[gi] - s) <= 2e-3, `S[${gi}] ${r.similarity[gi]} vs ${s}`);
      if (n === 1) assert(Number.isNaN(r.distance[gi]), "one view: NaN distance");
      else {assert(
          Math.abs(r.distance[gi] - d) <= 2e-3 * (1 + d),
          `L[${gi}] ${r.distance[gi]} vs ${d}`,
        );}
    });
    assert(Number.isNaN(r.summary.distance), "plain mean over groups is NaN with a 1-view group");
    model.release();
  },
});
