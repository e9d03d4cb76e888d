/**
 * Real-world invariance (docs/realworld.md#procedure): for each group of views of one object or scene (lighting,
 * viewpoint, colour temperature, exposure, blur, stereo …), the mean pairwise cosine similarity
 * and the mean pairwise Mahalanobis distance of the whitened features. A group runs through the
 * network as one batch (chunked by `batchSize` when large).
 *
 * The views stay on the GPU from the resized image to the metrics: each image is decoded and
 * resized / cropped on the CPU (Pillow-exact, as feature extraction), the group's 8-bit crops are
 * uploaded packed, normalised and embedded on the GPU ({@link featuresOfPackedViews}), and with a
 * {@link GpuWhitener} centred, whitened and reduced there too, so a group reads back only its two
 * metrics (with the CPU `Whitener`: its features, once). The next group is decoded while the
 * current one is on the GPU.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { loadImage } from "../image/decode.ts";
import type { RgbImage } from "../image/image.ts";
import type { GroupedDataset } from "../data/dataset.ts";
import { DataError } from "../util/errors.ts";
import { Progress } from "../util/progress.ts";
import {
  type BadImagePolicy,
  readOrSkip,
  type SkippedRow,
  skippedWarning,
} from "../data/bad_images.ts";
import type { FeatureExtractor } from "../models/feature_extractor.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { uploadImages } from "../image/gpu/packed.ts";
import { featuresOfPackedViews, type Preprocessing, resizeAndCrop } from "./features.ts";
import { groupMetrics, mean } from "./whitening.ts";
import { GpuWhitener, type RowWhitener } from "./gpu_whitening.ts";

/** Options of {@link realworldInvariance}. */
export interface RealworldInvarianceOptions {
  /** Resize / crop (docs/realworld.md#flags: 224 / 224). */
  preprocessing: Preprocessing;
  /** Whitening statistics (ImageNet val, docs/quirks.md#q26b). */
  whitener: RowWhitener;
  /** Largest forward batch (default 256). */
  batchSize?: number;
  /** Leave self-similarities out of S (intended alternative; default false = the original). */
  excludeDiagonal?: boolean;
  /** `fail` (default) or `skip` undecodable images. */
  onBadImage?: BadImagePolicy;
  /** Progress label (default "groups"); false silences it. */
  progress?: string | false;
  /** Image reader (default `loadImage`). */
  read?: (path: string) => Promise<RgbImage>;
  /** Warning sink (default stderr). */
  warn?: (line: string) => void;
}

/** Result of {@link realworldInvariance}. */
export interface RealworldInvarianceResult {
  /** [groups] mean pairwise similarity. */
  similarity: Float64Array;
  /** [groups] mean pairwise distance (NaN for one-view groups). */
  distance: Float64Array;
  /** Views per group actually used. */
  groupSizes: Int32Array;
  /** Plain means over groups (NaN if any group is NaN, as the original). */
  summary: { distance: number; similarity: number };
  /** Images left out under `onBadImage: "skip"` (their groups use the remaining views). */
  skipped: SkippedRow[];
}

/**
 * Runs the real-world invariance evaluation of `model` over the groups of `dataset`.
 *
 * @throws DataError for an empty group (the original crashes there) or an undecodable image
 *   under the `fail` policy
 * @example
 * ```ts
 * const ds = await loadRealWorld("COIL100", "../data/");
 * const r = await realworldInvariance(gpu, model, ds, {
 *   preprocessing: { resize: 224, cropSize: 224 },
 *   whitener: Whitener.fromCovariance(stats.mean, stats.cov),
 * });
 * console.log(`${model.name}: ${r.summary.distance}, ${r.summary.similarity}`);
 * ```
 */
export async function realworldInvariance(
  gpu: Gpu,
  model: FeatureExtractor,
  dataset: GroupedDataset,
  options: RealworldInvarianceOptions,
): Promise<RealworldInvarianceResult> {
  const d = model.dim;
  if (options.whitener.dim !== d) {
    throw new DataError(
      `the statistics have dimension ${options.whitener.dim} but model ${model.name} gives ${d}`,
    );
  }
  const read = options.read ?? loadImage;
  const policy = options.onBadImage ?? "fail";
  const warn = options.warn ?? ((l: string) => console.error(l));
  const p = options.preprocessing;
  const whitener = options.whitener;
  const metricOptions = { excludeDiagonal: options.excludeDiagonal };
  const groups = dataset.groups;
  const similarity = new Float64Array(groups.length);
  const distance = new Float64Array(groups.length);
  const groupSizes = new Int32Array(groups.length);
  const skipped: SkippedRow[] = [];
  const progress = options.progress === false
    ? undefined
    : new Progress(options.progress ?? `groups ${dataset.name}`, groups.length, { unit: "grp" });

  const decodeGroup = async (g: number) => {
    const paths = groups[g].paths;
    const images = await Promise.all(
      paths.map((path, i) =>
        readOrSkip(() => read(path), policy, (error) => {
          skipped.push({ index: i, source: path, reason: error.message });
          warn(skippedWarning(path, error.message));
        })
      ),
    );
    return images.filter((x): x is RgbImage => x !== undefined).map((img) => resizeAndCrop(img, p));
  };

  // Records the group's whitening and metrics and starts their one readback.
  const metricsOf = async (feats: Tensor, n: number) => {
    if (whitener instanceof GpuWhitener) return whitener.groupMetricsOf(feats, n, metricOptions);
    const [rows] = await gpu.recorder.read([feats]);
    return groupMetrics(await whitener.whiten(rows, n), n, d, metricOptions);
  };

  let next = groups.length > 0 ? decodeGroup(0) : undefined;
  for (let g = 0; g < groups.length; g++) {
    const crops = await next!;
    const n = crops.length;
    if (n === 0) {
      throw new DataError(
        `group ${g} (${groups[g].name}) of ${dataset.name} under ${dataset.root} has no images`,
      );
    }
    const views = uploadImages(gpu, crops);
    let m;
    try {
      const feats = featuresOfPackedViews(gpu, model, [views], options.batchSize ?? 256);
      try {
        const pending = metricsOf(feats, n);
        next = g + 1 < groups.length ? decodeGroup(g + 1) : undefined;
        next?.catch(() => {});
        m = await pending;
      } finally {
        feats.release();
      }
    } finally {
      views.tensor.release();
    }
    similarity[g] = m.similarity;
    distance[g] = m.distance;
    groupSizes[g] = n;
    progress?.advance();
  }
  progress?.done();
  const single = groups.filter((_, g) => groupSizes[g] < 2 && Number.isNaN(distance[g]));
  if (single.length > 0) {
    // The original's behaviour, kept: a group of one view has no pair to average, so its
    // distance is NaN and so is the plain mean over groups. Say why instead of a bare NaN.
    const names = single.slice(0, 5).map((s) => s.name).join(", ");
    warn(
      `warning: distance is NaN for ${single.length} group(s) of ${dataset.name} with a single ` +
        `view (${names}${single.length > 5 ? ", …" : ""}): no pair to average, so the mean over ` +
        `groups is NaN as well, as in the original`,
    );
  }
  return {
    similarity,
    distance,
    groupSizes,
    summary: { distance: mean(distance), similarity: mean(similarity) },
    skipped,
  };
}
