/**
 * The synthetic-invariance rows of `deno task bench views` (issue 17): the whole per-image
 * evaluation (views made on the GPU, normalised, embedded, whitened, reduced to metrics) in views/s
 * against plain feature extraction in img/s on the same model and the same batches (k + 1 images:
 * the clean view and the k views, as the evaluation batches them), timed in the same process,
 * interleaved run by run so that a load change hits both sides alike. The target is a ratio
 * ≥ 0.9: the transforms and metrics cost at most 10 %.
 *
 * "Plain feature extraction" uploads already normalised float32 images and reads the features
 * back (`featuresOfTensors`), one call per batch: the network's cost and one sync, nothing else.
 * A view counts once whether it is the clean view or a transformed one (the network sees k + 1
 * images per evaluated image).
 *
 * @module
 */
import type { ImageDataset } from "../../src/data/dataset.ts";
import { featuresOfTensors } from "../../src/eval/features.ts";
import { GpuWhitener, type RowWhitener } from "../../src/eval/gpu_whitening.ts";
import { syntheticInvariance } from "../../src/eval/synthetic_invariance.ts";
import { Whitener } from "../../src/eval/whitening.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { createImage, type RgbImage } from "../../src/image/image.ts";
import { toNormalizedTensor } from "../../src/image/to_tensor.ts";
import { ResNetFeatureExtractor } from "../../src/models/feature_extractor.ts";
import { ResNet } from "../../src/models/resnet.ts";
import { syntheticViewsOnGpu } from "../../src/transforms/functional.ts";
import {
  type SyntheticFamily,
  syntheticGrid,
  type SyntheticParams,
} from "../../src/transforms/synthetic_grid.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, row } from "./harness.ts";

/** One size of the comparison. */
export interface InvarianceCase {
  /** Row name prefix, e.g. `demo`. */
  label: string;
  /** ResNet-18's stem width (64: torchvision's; the demo's built-in models use 16). */
  baseWidth: number;
  /** Source image size (the evaluation resizes it: Resize(resize) + CenterCrop(cropSize)). */
  width: number;
  height: number;
  resize: number;
  cropSize: number;
  /** Families and their view counts k (the demo's grid: 16, fewer for the fixed families). */
  families: readonly { family: SyntheticFamily; k: number }[];
  /** Evaluated images per family. */
  images: number;
  /** Timed runs of each side (median reported), after one untimed warm-up of each. */
  runs: number;
  /** Whiten on the GPU (`--whiten gpu`, the default here) or in float64 on the CPU. */
  whiten?: "gpu" | "cpu";
}

/** A photo-like image: smooth gradients with some noise. */
function photo(rng: Rng, w: number, h: number): RgbImage {
  const img = createImage(w, h);
  const d = img.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 3 * (y * w + x);
      d[o] = 128 + 100 * Math.sin((x * 500) / w / 37);
      d[o + 1] = 128 + 100 * Math.cos((y * 375) / h / 23);
      d[o + 2] = (x + y + rng.int(32)) & 255;
    }
  }
  return img;
}

/** Median of `values`. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Times synthetic invariance and plain feature extraction for `c` on `gpu`, returning the row
 * (views/s, peer: plain extraction img/s) and a one-line summary.
 */
export async function invarianceRows(
  gpu: Gpu,
  c: InvarianceCase,
): Promise<{ rows: BenchRow[]; line: string }> {
  const rng = new Rng(17);
  const net = ResNet.create(
    gpu,
    { arch: "resnet18", baseWidth: c.baseWidth, head: "none" },
    new Rng(1),
  );
  const model = new ResNetFeatureExtractor("bench", net, "backbone", "bench", []);
  const d = model.dim;
  const eye = new Float64Array(d * d);
  for (let i = 0; i < d; i++) eye[i * d + i] = 1;
  const cpuWhitener = Whitener.fromCovariance(new Float64Array(d), eye);
  const gpuWhitener = new GpuWhitener(gpu, cpuWhitener);
  const whitener: RowWhitener = c.whiten === "cpu" ? cpuWhitener : gpuWhitener;
  const pool = Array.from({ length: c.images }, () => photo(rng, c.width, c.height));
  const dataset: ImageDataset = {
    name: "bench",
    length: pool.length,
    contentKey: "bench",
    image: (i) => Promise.resolve(pool[i]),
    describe: (i) => `bench${i}`,
  };
  const indices = pool.map((_, i) => i);
  const opts = { resize: c.resize, cropSize: c.cropSize };
  const grids: [SyntheticFamily, SyntheticParams[]][] = c.families.map((f) => [
    f.family,
    syntheticGrid(f.family, f.k, opts),
  ]);
  // The network's input for the plain side: the same number of batches of the same sizes.
  const per = c.cropSize * c.cropSize * 3;
  const batches = grids.map(([, g]) => {
    const data = new Float32Array((g.length + 1) * per);
    for (let v = 0; v <= g.length; v++) {
      toNormalizedTensor(photo(rng, c.cropSize, c.cropSize), {
        layout: "HWC",
        out: data,
        offset: v * per,
      });
    }
    return { data, n: g.length + 1 };
  });
  const views = c.images * batches.reduce((s, b) => s + b.n, 0);

  const invariance = async () => {
    for (const [family, grid] of grids) {
      await syntheticInvariance(gpu, model, dataset, {
        indices,
        views: (img) => syntheticViewsOnGpu(gpu, img, family, grid, opts),
        preprocessing: opts,
        whitener,
        progress: false,
      });
    }
  };
  const plain = async () => {
    for (let i = 0; i < c.images; i++) {
      for (const b of batches) await featuresOfTensors(gpu, model, b.data, b.n, c.cropSize, b.n);
    }
  };
  try {
    await invariance();
    await plain();
    const ti: number[] = [];
    const tp: number[] = [];
    for (let r = 0; r < c.runs; r++) {
      let t0 = performance.now();
      await invariance();
      ti.push(performance.now() - t0);
      t0 = performance.now();
      await plain();
      tp.push(performance.now() - t0);
    }
    // Paired runs share the load of their moment: the median of their ratios is the steadier one.
    const paired = median(ti.map((t, r) => tp[r] / t));
    const invRate = views / (median(ti) / 1000);
    const plainRate = views / (median(tp) / 1000);
    const k = Math.max(...c.families.map((f) => f.k));
    const name = `invariance ${c.label} r18/${c.baseWidth} ${c.cropSize}px k${k} ${
      c.whiten ?? "gpu"
    }-whiten`;
    return {
      rows: [row(name, "views/s", invRate, "plain feature extraction img/s", plainRate)],
      line: `${name}: ${invRate.toFixed(1)} views/s vs plain extraction ${
        plainRate.toFixed(1)
      } img/s = ${(invRate / plainRate).toFixed(2)}×, paired runs ${
        paired.toFixed(2)
      }× (${views} views in ${c.families.length} families, median of ${c.runs}: ${
        median(ti).toFixed(0)
      } ms vs ${median(tp).toFixed(0)} ms)`,
    };
  } finally {
    gpuWhitener.release();
    model.release();
  }
}
