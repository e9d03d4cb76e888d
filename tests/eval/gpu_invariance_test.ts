import { extractFeatures, featuresOfTensors, preprocessImage } from "../../src/eval/features.ts";
import { GpuWhitener } from "../../src/eval/gpu_whitening.ts";
import { covarianceF64 } from "../../src/eval/statistics.ts";
import { realworldInvariance } from "../../src/eval/realworld_invariance.ts";
import { syntheticInvariance } from "../../src/eval/synthetic_invariance.ts";
import { groupMetrics, Whitener } from "../../src/eval/whitening.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import type { RgbImage } from "../../src/image/image.ts";
import { syntheticViews, syntheticViewsOnGpu } from "../../src/transforms/functional.ts";
import { syntheticGrid } from "../../src/transforms/synthetic_grid.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { fakeExtractor } from "./fake_extractor.ts";
import { memoryDataset, randomImage } from "./helpers.ts";

/**
 * A fake 6×6 → 5 model, 40 random images, and the CPU and GPU whiteners of the model's
 * statistics over them (the GPU one in several blocks of L⁻¹'s rows).
 */
async function whitenedFakeModel(gpu: Gpu, name: string) {
  const rng = testRng(name);
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
  const onGpu = new GpuWhitener(gpu, cpu, 2 * dim * 4);
  return { rng, size, dim, model, p, ds, cpu, onGpu };
}

Deno.test({
  name:
    "syntheticInvariance() with views left on the GPU equals CPU views exactly, and GpuWhitener's GPU metrics within 1e-5",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const { size, model, p, ds, cpu, onGpu } = await whitenedFakeModel(gpu, "gpu invariance");
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

Deno.test({
  name:
    "realworldInvariance() with views on the GPU equals the CPU preprocessing exactly (CPU whitener), and GpuWhitener's GPU group metrics within 1e-5",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const { rng, size, dim, model, p, cpu, onGpu } = await whitenedFakeModel(
      gpu,
      "gpu realworld invariance",
    );
    const files = new Map<string, RgbImage>();
    const groups = [3, 1, 5, 2].map((n, g) => ({
      name: `obj${g + 1}`,
      paths: Array.from({ length: n }, (_, i) => {
        const path = `/x/obj${g + 1}__${i}.png`;
        files.set(path, randomImage(rng, 7 + rng.int(6), 7 + rng.int(6)));
        return path;
      }),
    }));
    const ds = { name: "TOY", root: "/x", groups, contentKey: "toy" };
    const read = (path: string) => Promise.resolve(files.get(path)!);
    try {
      for (const excludeDiagonal of [false, true]) {
        const base = { preprocessing: p, batchSize: 2, progress: false as const, read };
        const a = await realworldInvariance(gpu, model, ds, {
          ...base,
          whitener: cpu,
          excludeDiagonal,
          warn: () => {},
        });
        const b = await realworldInvariance(gpu, model, ds, {
          ...base,
          whitener: onGpu,
          excludeDiagonal,
          warn: () => {},
        });
        for (const [gi, g] of groups.entries()) {
          // The CPU preprocessing and metrics, as before the views stayed on the GPU.
          const n = g.paths.length;
          const data = new Float32Array(n * size * size * 3);
          g.paths.forEach((path, i) =>
            preprocessImage(files.get(path)!, p, data, i * size * size * 3)
          );
          const feats = await featuresOfTensors(gpu, model, data, n, size, 2);
          const ref = groupMetrics(cpu.whiten(feats, n), n, dim, { excludeDiagonal });
          const what = `${excludeDiagonal ? "off-diagonal" : "all"} group ${gi}`;
          assert(a.groupSizes[gi] === n && b.groupSizes[gi] === n, `${what} size`);
          assert(Object.is(a.similarity[gi], ref.similarity), `${what} S exact`);
          assert(Object.is(a.distance[gi], ref.distance), `${what} L exact`);
          if (n === 1 && excludeDiagonal) assert(Number.isNaN(b.similarity[gi]), `${what} S NaN`);
          else {
            const s = ref.similarity;
            assert(Math.abs(b.similarity[gi] - s) <= 1e-5, `${what} S ${b.similarity[gi]} vs ${s}`);
          }
          if (n === 1) assert(Number.isNaN(b.distance[gi]), `${what} one view: NaN distance`);
          else {
            const l = ref.distance;
            assert(Math.abs(b.distance[gi] - l) <= 1e-5 * (1 + l), `${what} L ${b.distance[gi]}`);
          }
        }
      }
    } finally {
      onGpu.release();
      model.release();
    }
  },
});
