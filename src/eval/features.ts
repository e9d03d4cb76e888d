/**
 * Feature extraction for evaluation: images → the standard preprocessing (Resize → CenterCrop →
 * ToTensor → Normalize, docs/common.md#image-loading, on the CPU with the Pillow-exact resize) → a network on the
 * GPU → float32 features [n, D] on the CPU.
 *
 * Overlap. The CPU decodes and preprocesses batch i + 1 while the GPU runs batch i: the GPU work of
 * a batch is submitted together with its readback, and the decode of the next batch starts before
 * the readback is awaited, so the event loop interleaves both. There is one readback (one sync)
 * per batch.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { recordNormalize } from "../image/gpu/normalize.ts";
import type { PackedImages } from "../image/gpu/packed.ts";
import { centerCrop } from "../image/crop.ts";
import type { RgbImage } from "../image/image.ts";
import { resizeShortSide } from "../image/resize.ts";
import { toNormalizedTensor } from "../image/to_tensor.ts";
import {
  type BadImagePolicy,
  readOrSkip,
  type SkippedRow,
  skippedWarning,
} from "../data/bad_images.ts";
import type { ImageDataset } from "../data/dataset.ts";
import type { FeatureExtractor } from "../models/feature_extractor.ts";
import { Progress } from "../util/progress.ts";

/** The standard evaluation preprocessing of docs/common.md#image-loading. */
export interface Preprocessing {
  /** Short side after the resize (`--resize`). */
  resize: number;
  /** Side of the centre crop (`--crop-size`). */
  cropSize: number;
}

/** `Resize(resize) → CenterCrop(cropSize)` on an 8-bit image (Pillow-exact). */
export function resizeAndCrop(img: RgbImage, p: Preprocessing): RgbImage {
  return centerCrop(resizeShortSide(img, p.resize), p.cropSize);
}

/**
 * The full standard transform into `out` at `offset` (HWC float32, `cropSize²·3` values), or into a
 * new array: Resize → CenterCrop → ToTensor → Normalize(ImageNet).
 */
export function preprocessImage(
  img: RgbImage,
  p: Preprocessing,
  out?: Float32Array,
  offset = 0,
): Float32Array {
  return toNormalizedTensor(resizeAndCrop(img, p), { layout: "HWC", out, offset });
}

/** Options of {@link extractFeatures}. */
export interface ExtractOptions {
  /** Images per forward pass (`--batch-size`). */
  batchSize: number;
  /** Resize / crop sizes. */
  preprocessing: Preprocessing;
  /** Dataset indices to use, in this order (default: all, in dataset order). */
  indices?: readonly number[];
  /** `fail` (default): a bad image is a DataError naming it; `skip`: warn and leave it out. */
  onBadImage?: BadImagePolicy;
  /** Label of the progress line on stderr; `false` silences it. Default: the dataset name. */
  progress?: string | false;
  /** Sink for warnings (default stderr). */
  warn?: (line: string) => void;
  /** Cap on images per network call (default: what fits one storage binding). */
  maxForwardBatch?: number;
}

/** Features of a dataset (or of a subset of it). */
export interface ExtractedFeatures {
  /** Row-major [rows, dim] float32. */
  features: Float32Array;
  /** Number of rows: the requested images less the skipped ones. */
  rows: number;
  /** Features per row (the model's feature dimension, e.g. 2048 for a ResNet-50 backbone). */
  dim: number;
  /** Dataset index of each row (differs from the requested order only by skipped images). */
  indices: Int32Array;
  /** Images left out under `onBadImage: "skip"`. */
  skipped: SkippedRow[];
}

/**
 * Runs `model` over normalised HWC images [n, size, size, 3] in chunks of `batchSize`, returning
 * float32 features [n, dim]. One readback per chunk.
 */
export async function featuresOfTensors(
  gpu: Gpu,
  model: FeatureExtractor,
  data: Float32Array,
  n: number,
  size: number,
  batchSize = n,
): Promise<Float32Array> {
  const per = size * size * 3;
  if (data.length !== n * per) {
    throw new RangeError(`featuresOfTensors: ${data.length} values are not [${n}, ${size}², 3]`);
  }
  const out = new Float32Array(n * model.dim);
  for (let r0 = 0; r0 < n; r0 += Math.max(1, batchSize)) {
    const rows = Math.min(Math.max(1, batchSize), n - r0);
    const feats = await forward(gpu, model, data.subarray(r0 * per, (r0 + rows) * per), rows, size);
    out.set(feats, r0 * model.dim);
  }
  return out;
}

/**
 * Features of already cropped 8-bit views (e.g. the synthetic transform views, all
 * `size × size`): ToTensor → Normalize, then the network.
 */
export function featuresOfViews(
  gpu: Gpu,
  model: FeatureExtractor,
  views: readonly RgbImage[],
  batchSize = views.length,
): Promise<Float32Array> {
  if (views.length === 0) return Promise.resolve(new Float32Array(0));
  const size = views[0].width;
  const per = size * size * 3;
  const data = new Float32Array(views.length * per);
  views.forEach((v, i) => {
    if (v.width !== size || v.height !== size) {
      throw new RangeError(
        `featuresOfViews: view ${i} is ${v.width}×${v.height}, expected ${size}×${size}`,
      );
    }
    toNormalizedTensor(v, { layout: "HWC", out: data, offset: i * per });
  });
  return featuresOfTensors(gpu, model, data, views.length, size, batchSize);
}

/**
 * Features of packed 8-bit views already on the GPU: the views of `batches`, in order (e.g. the
 * clean view, then the k transformed ones), all c×c, normalised on the GPU
 * ({@link recordNormalize}) and run through `model` in runs of `batchSize` (each capped to what
 * fits one storage binding, as {@link featuresOfViews}); nothing is read back. Returns
 * [views, dim] float32 features on the GPU (the caller releases them); equal to
 * {@link featuresOfViews} on the same images. Throws RangeError when the views differ in size.
 */
export function featuresOfPackedViews(
  gpu: Gpu,
  model: FeatureExtractor,
  batches: readonly PackedImages[],
  batchSize?: number,
): Tensor {
  const rows: [PackedImages, number][] = batches.flatMap((b) =>
    b.widths.map((_, v): [PackedImages, number] => [b, v])
  );
  const total = rows.length;
  const size = total > 0 ? rows[0][0].widths[rows[0][1]] : 0;
  rows.forEach(([b, v], i) => {
    if (b.widths[v] !== size || b.heights[v] !== size) {
      throw new RangeError(
        `featuresOfPackedViews: view ${i} is ${b.widths[v]}×${
          b.heights[v]
        }, expected ${size}×${size}`,
      );
    }
  });
  const dim = model.dim;
  const out = Tensor.empty(gpu, [total, dim], "f32", "view features");
  const step = Math.max(1, batchSize ?? total);
  const cap = maxForwardBatch(gpu, dim, size);
  try {
    for (let r0 = 0; r0 < total; r0 += step) {
      const end = Math.min(total, r0 + step);
      for (let a = r0; a < end; a += cap) {
        const n = Math.min(cap, end - a);
        const input = Tensor.empty(gpu, [n, size, size, 3], "f32", "eval input");
        try {
          // Runs of consecutive rows from one batch normalise in one dispatch.
          for (let i = a; i < a + n;) {
            const [b, v] = rows[i];
            let j = i + 1;
            while (j < a + n && rows[j][0] === b && rows[j][1] === v + (j - i)) j++;
            recordNormalize(gpu, b, v, j - i, input, i - a);
            i = j;
          }
          const feats = model.extract(input);
          try {
            checkOutput(model, feats, n);
            gpu.recorder.copy(feats, out, n * dim * 4, 0, a * dim * 4);
          } finally {
            feats.release();
          }
        } finally {
          input.release();
        }
      }
    }
  } catch (error) {
    out.release();
    throw error;
  }
  return out;
}

/**
 * Largest forward batch whose biggest activation fits one storage binding. A ResNet's largest
 * activations (stem and first stage) hold size²·stem·4 bytes per image, at most size²·dim/8 bytes
 * (BasicBlock nets: dim = 8·stem; Bottleneck nets: dim = 32·stem, so this is 4× conservative).
 */
export function maxForwardBatch(gpu: Gpu, dim: number, size: number): number {
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  const perImage = Math.max(size * size * 3 * 4, (size * size * dim) / 8);
  return Math.max(1, Math.floor(limit / perImage));
}

async function forward(
  gpu: Gpu,
  model: FeatureExtractor,
  data: Float32Array,
  rows: number,
  size: number,
  maxBatch?: number,
): Promise<Float32Array> {
  const per = size * size * 3;
  const cap = Math.min(maxBatch ?? Infinity, maxForwardBatch(gpu, model.dim, size));
  const outs: Tensor[] = [];
  try {
    // Sub-batches are recorded back to back and read together: still one sync.
    for (let r0 = 0; r0 < rows; r0 += cap) {
      const n = Math.min(cap, rows - r0);
      const input = Tensor.from(
        gpu,
        data.subarray(r0 * per, (r0 + n) * per),
        [n, size, size, 3],
        "eval input",
      );
      try {
        const out = model.extract(input);
        outs.push(out);
        checkOutput(model, out, n);
      } finally {
        input.release();
      }
    }
    const values = await gpu.recorder.read(outs);
    if (values.length === 1) return values[0] as Float32Array;
    const all = new Float32Array(rows * model.dim);
    let at = 0;
    for (const v of values) {
      all.set(v as Float32Array, at);
      at += v.length;
    }
    return all;
  } finally {
    for (const o of outs) o.release();
  }
}

function checkOutput(model: FeatureExtractor, out: Tensor, rows: number): void {
  if (out.shape.length !== 2 || out.shape[0] !== rows || out.shape[1] !== model.dim) {
    throw new Error(
      `model ${model.name} returned features [${out.shape}], expected [${rows}, ${model.dim}]`,
    );
  }
}

interface DecodedBatch {
  data: Float32Array;
  kept: number[];
  skipped: SkippedRow[];
}

/**
 * Image `index` of `dataset` under the bad-image rule (`readOrSkip`): the image, or, under
 * `skip`, the row that says why it was left out; under `fail`, a DataError naming the image.
 */
export async function imageOrSkipped(
  dataset: ImageDataset,
  index: number,
  policy: BadImagePolicy,
): Promise<RgbImage | SkippedRow> {
  let reason = "";
  const img = await readOrSkip(
    () => dataset.image(index),
    policy,
    (error) => reason = error.message,
    `image ${index} of ${dataset.name}`,
  );
  return img ?? { index, source: dataset.describe(index), reason };
}

async function decodeBatch(
  dataset: ImageDataset,
  indices: readonly number[],
  p: Preprocessing,
  policy: BadImagePolicy,
): Promise<DecodedBatch> {
  const per = p.cropSize * p.cropSize * 3;
  const images = await Promise.all(indices.map((index) => imageOrSkipped(dataset, index, policy)));
  const kept: number[] = [];
  const skipped: SkippedRow[] = [];
  const ok = images.filter((x) => !("reason" in x));
  const data = new Float32Array(ok.length * per);
  for (const [i, item] of images.entries()) {
    if ("reason" in item) {
      skipped.push(item);
    } else {
      preprocessImage(item, p, data, kept.length * per);
      kept.push(indices[i]);
    }
  }
  return { data, kept, skipped };
}

/**
 * Features of the images of `dataset` (all, or `options.indices` in that order) through the
 * standard preprocessing and `model`. CPU decoding of the next batch overlaps the GPU work of the
 * current one; progress (images/s, ETA) goes to stderr.
 *
 * @throws DataError for an undecodable image under `onBadImage: "fail"` (naming the file)
 * @example
 * ```ts
 * const { features, rows, dim } = await extractFeatures(gpu, model, dataset, {
 *   batchSize: 64, preprocessing: { resize: 224, cropSize: 224 },
 * });
 * ```
 */
export async function extractFeatures(
  gpu: Gpu,
  model: FeatureExtractor,
  dataset: ImageDataset,
  options: ExtractOptions,
): Promise<ExtractedFeatures> {
  const order = options.indices ?? Array.from({ length: dataset.length }, (_, i) => i);
  for (const i of order) {
    if (!Number.isInteger(i) || i < 0 || i >= dataset.length) {
      throw new RangeError(`extractFeatures: index ${i} outside [0, ${dataset.length})`);
    }
  }
  const bs = options.batchSize;
  if (!Number.isInteger(bs) || bs < 1) {
    throw new RangeError(`extractFeatures: batch size must be a positive integer, got ${bs}`);
  }
  const policy = options.onBadImage ?? "fail";
  const warn = options.warn ?? ((line: string) => console.error(line));
  const p = options.preprocessing;
  const dim = model.dim;
  const out = new Float32Array(order.length * dim);
  const kept: number[] = [];
  const skipped: SkippedRow[] = [];
  const progress = options.progress === false
    ? undefined
    : new Progress(options.progress ?? `features ${dataset.name}`, order.length, { unit: "img" });
  const batches = Math.ceil(order.length / bs);
  const slice = (b: number) => order.slice(b * bs, Math.min((b + 1) * bs, order.length));
  let next: Promise<DecodedBatch> | undefined = batches > 0
    ? decodeBatch(dataset, slice(0), p, policy)
    : undefined;
  for (let b = 0; b < batches; b++) {
    const batch: DecodedBatch = await next!;
    let pending: Promise<Float32Array> | undefined;
    if (batch.kept.length > 0) {
      pending = forward(
        gpu,
        model,
        batch.data,
        batch.kept.length,
        p.cropSize,
        options.maxForwardBatch,
      );
    }
    next = b + 1 < batches ? decodeBatch(dataset, slice(b + 1), p, policy) : undefined;
    // A failing decode of the next batch must not become an unhandled rejection while we wait.
    next?.catch(() => {});
    if (pending) out.set(await pending, kept.length * dim);
    kept.push(...batch.kept);
    for (const s of batch.skipped) {
      warn(skippedWarning(s.source, s.reason));
      skipped.push(s);
    }
    progress?.advance(batch.kept.length + batch.skipped.length);
  }
  progress?.done();
  return {
    features: kept.length === order.length ? out : out.slice(0, kept.length * dim),
    rows: kept.length,
    dim,
    indices: Int32Array.from(kept),
    skipped,
  };
}
