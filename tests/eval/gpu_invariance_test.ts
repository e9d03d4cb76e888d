import { extractFeatures } from "../../src/eval/features.ts";
import { GpuWhitener } from "../../src/eval/gpu_whitening.ts";
import { covarianceF64 } from "../../src/eval/statistics.ts";
import { syntheticInvariance } from "../../src/eval/synthetic_invariance.ts";
import { Whitener } from "../../src/eval/whitening.ts";
import type { RgbImage } from "../../src/image/image.ts";
import { syntheticViews, syntheticViewsOnGpu } from "../../src/transforms/functional.ts";
import { syntheticGrid } from "../../src/transforms/synthetic_grid.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { fakeExtractor } from "./fake_extractor.ts";
import { memoryDataset, randomImage } from "./helpers.ts";

Deno.test({
  name:
    "syntheticInvariance() with views left on the GPU equals CPU views exactly, and GpuWhitener's GPU metrics within 1e-5",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const rng = testRng("gpu invariance");
    const size = 6, dim = 5;
    const model = fakeExtractor(gpu, size, dim, rng.int(10000));
    const p = { resize: 7, cropSize: size };
    const pool = Array.from({ length: 40 }, () => randomImage(rng, 8 + rng.int(5), 8 + rng.int(5)));
    const ds = memoryDataset(pool);
    const f = await extractFeatures(gpu, model, ds, {
      batchSize: 40,
      preprocessing: p,
      progress: false,
    });
    const stats = covarianceF64(f.features, f.rows, dim);
    const cpu = Whitener.fromCovariance(stats.mean, stats.cov);
    const onGpu = new GpuWhitener(gpu, cpu, 2 * dim * 4); // several blocks of L⁻¹'s rows
    const indices = [3, 1, 4, 1, 5];
    try {
      for (const family of ["rotation", "brightness", "h_flip"] as const) {
        const grid = syntheticGrid(family, family === "h_flip" ? 2 : 4);
        const opts = { resize: p.resize, cropSize: size };
        const cpuViews = (img: RgbImage) => syntheticViews(gpu, img, family, grid, opts);
        const gpuViews = (img: RgbImage) => syntheticViewsOnGpu(gpu, img, family, grid, opts);
        const base = { indices, preprocessing: p, batchSize: 3, progress: false as const };
        const a = await syntheticInvariance(gpu, model, ds, {
          ...base,
          views: cpuViews,
          whitener: cpu,
        });
        const b = await syntheticInvariance(gpu, model, ds, {
          ...base,
          views: gpuViews,
          whitener: cpu,
        });
        const c = await syntheticInvariance(gpu, model, ds, {
          ...base,
          views: gpuViews,
          whitener: onGpu,
        });
        for (let i = 0; i < a.similarityPerImage.length; i++) {
          const [sa, da] = [a.similarityPerImage[i], a.distancePerImage[i]];
          assert(sa === b.similarityPerImage[i] && da === b.distancePerImage[i], `${family} exact`);
          assert(Math.abs(c.similarityPerImage[i] - sa) <= 1e-5, `${family} S ${i}`);
          assert(Math.abs(c.distancePerImage[i] - da) <= 1e-5 * (1 + da), `${family} L ${i}`);
        }
      }
    } finally {
      onGpu.release();
      model.release();
    }
  },
});
