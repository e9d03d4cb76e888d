/**
 * Synthetic invariance (docs/synthetic.md): for each sampled image, the features of k parametric views are
 * compared with the clean view's, in the space whitened by the feature statistics: cosine
 * similarity and Mahalanobis distance per (image, view), then NaN-skipping means over images give
 * the per-view curves S_k and L_k, and their plain means the two summary numbers the original
 * prints.
 *
 * The views come from a caller-supplied function (the transform family's grid applied by
 * `src/transforms/functional.ts`), so this module is independent of how they are made. The clean
 * view and the k views of one image run through the network together (chunked by `batchSize`):
 * views made on the GPU stay there, normalised and embedded without a readback, and with a
 * {@link GpuWhitener} only the metric sums come back, those of up to 32 images in one readback;
 * the next image is decoded while the current one is on the GPU.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { RgbImage } from "../image/image.ts";
import type { ImageDataset } from "../data/dataset.ts";
import { DataError } from "../util/errors.ts";
import { NumpyLegacyRandom } from "../util/mt19937.ts";
import { Progress } from "../util/progress.ts";
import { type BadImagePolicy, type SkippedRow, skippedWarning } from "../data/bad_images.ts";
import type { FeatureExtractor } from "../models/feature_extractor.ts";
import { type PackedImages, uploadImages } from "../image/gpu/packed.ts";
import {
  featuresOfPackedViews,
  imageOrSkipped,
  type Preprocessing,
  resizeAndCrop,
} from "./features.ts";
import { mean, nanMeanColumns, viewMetrics } from "./whitening.ts";
import { GpuWhitener, type RowWhitener } from "./gpu_whitening.ts";

/**
 * The evaluated image indices: `np.random.seed(seed); np.random.choice(n, size)` (numpy legacy,
 * with replacement), bit-exact (docs/synthetic.md#sampling).
 */
export function sampleImageIndices(n: number, size: number, seed = 0): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`cannot sample from ${n} images`);
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`bad sample size ${size}`);
  return new NumpyLegacyRandom(seed).choice(n, size);
}

/**
 * Makes the k transformed, cropped views of one original-resolution image: CPU images, or a
 * packed batch already on the GPU (`syntheticViewsOnGpu`), which the evaluation takes over and
 * releases.
 */
export type ViewFn = (img: RgbImage, index: number) => Promise<RgbImage[] | PackedImages>;

/** Options of {@link syntheticInvariance}. */
export interface SyntheticInvarianceOptions {
  /** Dataset indices of the evaluated images (duplicates allowed, as the original). */
  indices: readonly number[];
  /** The view maker (k views per image, each cropSize × cropSize). */
  views: ViewFn;
  /** Preprocessing of the clean view (Resize(r) → CenterCrop(c)). */
  preprocessing: Preprocessing;
  /** Whitening statistics. */
  whitener: RowWhitener;
  /** Images per forward pass (default: clean + all views at once). */
  batchSize?: number;
  /** `fail` (default) or `skip` undecodable images. */
  onBadImage?: BadImagePolicy;
  /** Progress label (default "synthetic"); false silences it. */
  progress?: string | false;
  /** Warning sink (default stderr). */
  warn?: (line: string) => void;
}

/** Result of {@link syntheticInvariance}. */
export interface SyntheticInvarianceResult {
  /** Views per image. */
  k: number;
  /** Images evaluated (rows of the per-image matrices). */
  images: number;
  /** [images, k] float32 similarity (the original's S). */
  similarityPerImage: Float32Array;
  /** [images, k] float32 distance (the original's L). */
  distancePerImage: Float32Array;
  /** [k] nanmean over images of S. */
  similarity: Float64Array;
  /** [k] nanmean over images of L. */
  distance: Float64Array;
  /** Plain means over k of the two curves (the printed summary). */
  summary: { distance: number; similarity: number };
  /** Images left out under `onBadImage: "skip"`. */
  skipped: SkippedRow[];
}

/** Images whose metric sums one readback collects (GPU whitener). */
const READ_EVERY = 32;

/**
 * Runs the synthetic invariance evaluation of `model` on `dataset`.
 *
 * @throws DataError when a view function returns a different number of views than for the first
 *   image, or (policy `fail`) an image cannot be decoded
 * @example
 * ```ts
 * const grid = syntheticGrid("rotation", 256);
 * const r = await syntheticInvariance(gpu, model, folder, {
 *   indices: sampleImageIndices(folder.length, 1000),
 *   views: (img) => syntheticViews(gpu, img, "rotation", grid),
 *   preprocessing: { resize: 256, cropSize: 224 },
 *   whitener: Whitener.fromCovariance(stats.mean, stats.cov),
 * });
 * console.log(r.summary.distance, r.summary.similarity);
 * ```
 */
export async function syntheticInvariance(
  gpu: Gpu,
  model: FeatureExtractor,
  dataset: ImageDataset,
  options: SyntheticInvarianceOptions,
): Promise<SyntheticInvarianceResult> {
  const { indices, whitener } = options;
  const d = model.dim;
  if (whitener.dim !== d) {
    throw new DataError(
      `the statistics have dimension ${whitener.dim} but model ${model.name} gives ${d} features`,
    );
  }
  const warn = options.warn ?? ((l: string) => console.error(l));
  const policy = options.onBadImage ?? "fail";
  const progress = options.progress === false
    ? undefined
    : new Progress(options.progress ?? "synthetic", indices.length, { unit: "img" });
  const sims: Float64Array[] = [];
  const dists: Float64Array[] = [];
  const skipped: SkippedRow[] = [];
  let k = -1;
  const load = (index: number) => imageOrSkipped(dataset, index, policy);
  let next: Promise<RgbImage | SkippedRow> | undefined = indices.length > 0
    ? load(indices[0])
    : undefined;
  // With the GPU whitener each image's metric sums stay on the GPU and are read back together,
  // every READ_EVERY images: one sync per batch of images instead of one per image.
  const pending: Tensor[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    try {
      const values = await gpu.recorder.read(pending);
      for (const v of values) {
        const m = GpuWhitener.viewMetricsFromSums(v, k);
        sims.push(m.similarity);
        dists.push(m.distance);
      }
    } finally {
      for (const t of pending) t.release();
      pending.length = 0;
    }
  };
  for (let i = 0; i < indices.length; i++) {
    const item = await next!;
    next = i + 1 < indices.length ? load(indices[i + 1]) : undefined;
    next?.catch(() => {});
    if ("reason" in item) {
      warn(skippedWarning(item.source, item.reason));
      skipped.push(item);
      progress?.advance();
      continue;
    }
    const made = await options.views(item, indices[i]);
    // Views stay on the GPU from rendering to features (and to the metrics with a GpuWhitener).
    const views = Array.isArray(made) ? uploadImages(gpu, made) : made;
    const clean = uploadImages(gpu, [resizeAndCrop(item, options.preprocessing)]);
    let m;
    try {
      const n = views.widths.length;
      if (k < 0) k = n;
      if (n !== k || k === 0) {
        throw new DataError(
          `the transform produced ${n} views for image ${indices[i]}, expected ${k} ` +
            `(the view function must make one view per grid entry, for every image)`,
        );
      }
      const feats = featuresOfPackedViews(gpu, model, [clean, views], options.batchSize ?? k + 1);
      try {
        if (whitener instanceof GpuWhitener) {
          pending.push(whitener.recordViewSums(feats, k));
        } else {
          const [rows] = await gpu.recorder.read([feats]);
          m = viewMetrics(await whitener.whiten(rows, k + 1), k, d);
        }
      } finally {
        feats.release();
      }
    } finally {
      views.tensor.release();
      clean.tensor.release();
    }
    if (m) {
      sims.push(m.similarity);
      dists.push(m.distance);
    } else if (pending.length >= READ_EVERY) {
      await flush();
    }
    progress?.advance();
  }
  await flush();
  progress?.done();
  const rows = sims.length;
  const kk = Math.max(k, 0);
  const similarityPerImage = new Float32Array(rows * kk);
  const distancePerImage = new Float32Array(rows * kk);
  for (let r = 0; r < rows; r++) {
    similarityPerImage.set(sims[r], r * kk);
    distancePerImage.set(dists[r], r * kk);
  }
  const similarity = nanMeanColumns(similarityPerImage, rows, kk);
  const distance = nanMeanColumns(distancePerImage, rows, kk);
  return {
    k: kk,
    images: rows,
    similarityPerImage,
    distancePerImage,
    similarity,
    distance,
    summary: { distance: mean(distance), similarity: mean(similarity) },
    skipped,
  };
}
