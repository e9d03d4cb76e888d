/**
 * The MoCo v2 augmentation policies of the pretraining script (docs/pretraining.md#augmentation-policies), seeded and batched on
 * the GPU, producing the query and key views of every image:
 *
 * | policy    | pipeline (per view, independent draws)                                          |
 * |-----------|---------------------------------------------------------------------------------|
 * | `default` | RandomResizedCrop(224, 0.2–1) → ColorJitter(.4,.4,.4,.1) p .8 → Grayscale p .2 → GaussianBlur σ∈[.1,2] p .5 → HFlip p .5 |
 * | `ventral` | RandomResizedCrop → HFlip (spatial only)                                         |
 * | `dorsal`  | ColorJitter p .8 → Grayscale p .2 → GaussianBlur p .5 on the full image → Resize(224) → CenterCrop(224) (appearance only) |
 *
 * then ToTensor + Normalize(ImageNet) into NHWC float32. Every op has the Pillow / torchvision
 * semantics of the original: torchvision's RandomResizedCrop sampling (10 tries, log-ratio,
 * central fallback), Pillow's antialiased bilinear resize (fixed point), the ImageEnhance blends
 * and HSV hue shift in a random order (color.ts), Pillow's luma, Pillow's extended-box
 * GaussianBlur (MoCo's `ImageFilter.GaussianBlur(radius=σ)`), and a mirror.
 *
 * The randomness is split from the pixels: {@link drawAugmentParams} draws one view's parameters
 * from an {@link Rng} (in torchvision's draw order, float32 where torch draws float32), and
 * {@link renderViews} / {@link applyAugmentParams} apply fixed parameters. The horizontal flip is
 * applied while resizing: every later op is per-pixel or mirror-symmetric (the box blur), so
 * the result equals flipping last.
 *
 * @module
 */
import source from "../../kernels/augment.wgsl" with { type: "text" };
import { IMAGE_PRELUDE } from "../image/gpu/prelude.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import type { RgbImage } from "../image/image.ts";
import { roundHalfEven } from "../image/image.ts";
import { shortSideSize } from "../image/resize.ts";
import { recordNormalize } from "../image/gpu/normalize.ts";
import {
  allocImages,
  type PackedImages,
  pixelGridX,
  readImages,
  uploadImages,
} from "../image/gpu/packed.ts";
import { recordResize, type ResizeView } from "../image/gpu/resize.ts";
import type { Rng } from "../util/rng.ts";
import { boxBlurParams, type ColorOp, recordColorChain } from "./color.ts";

const FILE = "augment.wgsl";

/** `struct BlurParams` of `kernels/augment.wgsl` (one extended-box pass). */
const BLUR = paramStruct(FILE, source, "BlurParams", {
  n_views: "u32",
  axis: "u32",
  _pad0: "u32",
  _pad1: "u32",
});

/**
 * The augmentation policies of `main_moco.py --model` (docs/pretraining.md#augmentation-policies):
 * `default` is MoCo v2's full pipeline, `ventral` only its spatial part (random resized crop,
 * h-flip), `dorsal` only its appearance part (colour jitter, greyscale, blur, then a centre crop).
 * The policy also names the checkpoint.
 */
export type AugmentPolicy = "default" | "ventral" | "dorsal";

/** The policies, in `--help` order, for flag validation. */
export const AUGMENT_POLICIES: readonly AugmentPolicy[] = ["default", "ventral", "dorsal"];

/** Whether `name` is one of the three policies. */
export function isAugmentPolicy(name: string): name is AugmentPolicy {
  return (AUGMENT_POLICIES as readonly string[]).includes(name);
}

/** Options of the policies. */
export interface AugmentOptions {
  /** Output side (default 224). */
  size?: number;
  /** RandomResizedCrop area range (default [0.2, 1]). */
  scale?: [number, number];
}

/** A crop box in source pixels (torchvision's i, j, h, w). */
export interface CropBox {
  /** Row of the box's top edge (torchvision's i). */
  top: number;
  /** Column of the box's left edge (j). */
  left: number;
  /** Box height (h). */
  height: number;
  /** Box width (w). */
  width: number;
}

/** ColorJitter's draw: the order of the four ops (0 brightness, 1 contrast, 2 saturation, 3 hue). */
export interface JitterParams {
  /** A permutation of 0–3: the order in which the four ops are applied. */
  order: number[];
  /** Brightness factor, U[0.6, 1.4] (1 = unchanged). */
  brightness: number;
  /** Contrast factor, U[0.6, 1.4] (1 = unchanged). */
  contrast: number;
  /** Saturation factor, U[0.6, 1.4] (1 = unchanged, 0 = grey). */
  saturation: number;
  /** Hue shift as a fraction of the colour wheel, U[−0.1, 0.1]. */
  hue: number;
}

/** Every random choice of one view. */
export interface ViewParams {
  /** RandomResizedCrop box; null means Resize(size) + CenterCrop(size) after the colour ops. */
  crop: CropBox | null;
  /** ColorJitter factors and order, or null when RandomApply skipped it. */
  jitter: JitterParams | null;
  /** RandomGrayscale fired. */
  grayscale: boolean;
  /** Pillow GaussianBlur radius σ, or null when RandomApply skipped it. */
  blur: number | null;
  /** RandomHorizontalFlip fired. */
  flip: boolean;
}

const RATIO: [number, number] = [3 / 4, 4 / 3];

/** A float32 uniform draw in [lo, hi), as `torch.empty(1).uniform_(lo, hi)`. */
function uniform32(rng: Rng, lo: number, hi: number): number {
  return Math.fround(
    Math.fround(lo) + Math.fround(Math.fround(hi - lo) * Math.fround(rng.uniform())),
  );
}

/**
 * torchvision's `RandomResizedCrop.get_params` for a `width × height` image: up to 10 tries of
 * area ~ U(scale)·A and log-aspect ~ U(ln 3/4, ln 4/3), w = round(√(t·a)), h = round(√(t/a))
 * (half to even), accepted if it fits, with top/left uniform; else the central fallback crop
 * clamped to the ratio range.
 */
export function randomResizedCropBox(
  rng: Rng,
  width: number,
  height: number,
  scale: readonly [number, number] = [0.2, 1],
): CropBox {
  const area = width * height;
  const logLo = Math.fround(Math.log(Math.fround(RATIO[0])));
  const logHi = Math.fround(Math.log(Math.fround(RATIO[1])));
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * uniform32(rng, scale[0], scale[1]);
    const aspect = Math.fround(Math.exp(uniform32(rng, logLo, logHi)));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...RATIO)) {
    h = roundHalfEven(w / Math.min(...RATIO));
  } else if (inRatio > Math.max(...RATIO)) {
    w = roundHalfEven(h * Math.max(...RATIO));
  }
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/** ColorJitter(0.4, 0.4, 0.4, 0.1).get_params: a permutation, then b, c, s ~ U[.6,1.4], h ~ U[−.1,.1]. */
function drawJitter(rng: Rng): JitterParams {
  const order = rng.shuffle([0, 1, 2, 3]);
  return {
    order,
    brightness: uniform32(rng, 0.6, 1.4),
    contrast: uniform32(rng, 0.6, 1.4),
    saturation: uniform32(rng, 0.6, 1.4),
    hue: uniform32(rng, -0.1, 0.1),
  };
}

/**
 * Draws one view's parameters for `policy` on a `width × height` image, in the order the
 * torchvision Compose draws them (crop, jitter gate + params, grayscale, blur gate + σ, flip).
 */
export function drawAugmentParams(
  policy: AugmentPolicy,
  rng: Rng,
  width: number,
  height: number,
  options: AugmentOptions = {},
): ViewParams {
  if (!isAugmentPolicy(policy)) {
    throw new RangeError(`unknown augmentation policy "${policy}" (default, ventral, dorsal)`);
  }
  const scale = options.scale ?? [0.2, 1];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) {
    throw new RangeError(`crop scale must satisfy 0 < lo <= hi <= 1, got [${scale}]`);
  }
  const p: ViewParams = { crop: null, jitter: null, grayscale: false, blur: null, flip: false };
  if (policy !== "dorsal") p.crop = randomResizedCropBox(rng, width, height, scale);
  if (policy !== "ventral") {
    if (rng.uniform() < 0.8) p.jitter = drawJitter(rng);
    p.grayscale = rng.uniform() < 0.2;
    if (rng.uniform() < 0.5) p.blur = rng.range(0.1, 2.0);
  }
  if (policy !== "dorsal") p.flip = rng.uniform() < 0.5;
  return p;
}

/**
 * Records Pillow's `GaussianBlur(σ)` per view (σ, or null = unchanged) on a packed batch whose
 * views are used in order; returns a new batch (the caller releases it).
 */
export function recordPillowBlur(
  gpu: Gpu,
  src: PackedImages,
  sigmas: readonly (number | null)[],
): PackedImages {
  const out = allocImages(gpu, src.widths, src.heights, "box blur");
  gpu.recorder.copy(src.tensor, out.tensor, out.tensor.byteSize);
  blurInPlace(gpu, out, sigmas);
  return out;
}

/**
 * Blurs the views of `batch` that have a σ, in place: six extended-box passes (three along x,
 * three along y) ping-ponging through a scratch batch; views without a σ are not touched.
 */
function blurInPlace(gpu: Gpu, batch: PackedImages, sigmas: readonly (number | null)[]): void {
  const chosen = sigmas.flatMap((s, v) => (s === null ? [] : [[v, s] as const]));
  if (chosen.length === 0) return;
  const table = new Uint32Array(8 * chosen.length);
  chosen.forEach(([v, s], i) => {
    const p = boxBlurParams(s);
    const w = batch.widths[v];
    const h = batch.heights[v];
    table.set([batch.offsets[v], w, h, 1, p.radius, p.ww, p.fw, 0], 8 * i);
  });
  const views = Tensor.from(gpu, table, undefined, "blur views");
  const scratch = Tensor.empty(gpu, [batch.tensor.size], "u32", "box blur scratch");
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "box_blur",
    params: BLUR,
    prelude: IMAGE_PRELUDE,
  });
  const maxPixels = Math.max(...chosen.map(([v]) => batch.widths[v] * batch.heights[v]));
  for (let pass = 0; pass < 6; pass++) {
    const [from, to] = pass % 2 === 0 ? [batch.tensor, scratch] : [scratch, batch.tensor];
    gpu.recorder.dispatch(
      kernel,
      [views, from, to],
      [pixelGridX(maxPixels), chosen.length, 1],
      BLUR.pack({ n_views: chosen.length, axis: pass < 3 ? 0 : 1 }),
    );
  }
  views.release();
  scratch.release();
}

const JITTER_KINDS = ["brightness", "contrast", "color", "hue"] as const;

function jitterOp(p: ViewParams, step: number): ColorOp {
  if (!p.jitter) return { kind: "copy" };
  const id = p.jitter.order[step];
  const kind = JITTER_KINDS[id];
  if (kind === "hue") return { kind, hue: p.jitter.hue };
  const factor = id === 0
    ? p.jitter.brightness
    : id === 1
    ? p.jitter.contrast
    : p.jitter.saturation;
  return { kind, factor };
}

function checkJitter(j: JitterParams): void {
  const sorted = [...j.order].sort();
  if (j.order.length !== 4 || sorted.some((v, i) => v !== i)) {
    throw new RangeError(`jitter order must be a permutation of 0..3, got [${j.order}]`);
  }
}

/** ColorJitter's ops in their drawn order, then RandomGrayscale, as one chain. */
function appearanceChain(p: ViewParams): ColorOp[] {
  const chain: ColorOp[] = p.jitter ? [0, 1, 2, 3].map((s) => jitterOp(p, s)) : [];
  if (p.grayscale) chain.push({ kind: "grayscale" });
  return chain;
}

/**
 * Records the colour stage on `src` (one output per view, view v from source `sources[v]`):
 * jitter + grayscale in one chained pass, then the blur in place on the views that have one.
 */
function recordAppearance(
  gpu: Gpu,
  src: PackedImages,
  views: readonly ViewParams[],
  sources: readonly number[],
): PackedImages {
  const out = recordColorChain(gpu, src, views.map(appearanceChain), sources);
  blurInPlace(gpu, out, views.map((v) => v.blur));
  return out;
}

function checkView(p: ViewParams, img: RgbImage, size: number): void {
  if (p.crop) {
    const { top, left, height, width } = p.crop;
    const ok = [top, left, height, width].every(Number.isInteger) && top >= 0 && left >= 0 &&
      height > 0 && width > 0 && top + height <= img.height && left + width <= img.width;
    if (!ok) {
      throw new RangeError(
        `crop box ${JSON.stringify(p.crop)} does not fit a ${img.width}x${img.height} image`,
      );
    }
  }
  if (p.jitter) checkJitter(p.jitter);
  if (p.blur !== null && !(p.blur >= 0 && Number.isFinite(p.blur))) {
    throw new RangeError(`blur radius must be finite and >= 0, got ${p.blur}`);
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`output size must be a positive integer, got ${size}`);
  }
}

/**
 * Records the uint8 views for fixed parameters: view v is image `sources[v]` under `views[v]`.
 * All views must share the same mode: all with a crop (default, ventral) or all without
 * (dorsal). Returns size × size packed images (the caller releases them).
 */
export function recordViews(
  gpu: Gpu,
  src: PackedImages,
  images: readonly RgbImage[],
  views: readonly ViewParams[],
  sources: readonly number[],
  size: number,
): PackedImages {
  if (views.length === 0) throw new RangeError("no views to render");
  if (views.length !== sources.length) {
    throw new RangeError(`${views.length} views but ${sources.length} source indices`);
  }
  views.forEach((p, v) => checkView(p, images[sources[v]], size));
  const cropFirst = views[0].crop !== null;
  if (views.some((p) => (p.crop !== null) !== cropFirst)) {
    throw new RangeError("views with and without a crop box cannot share one batch");
  }
  if (cropFirst) {
    // RandomResizedCrop: the box resized to size × size; the flip is applied while resizing.
    const plans = views.map((p, v): ResizeView => ({
      source: sources[v],
      box: p.crop!,
      width: size,
      height: size,
      flip: p.flip,
    }));
    const resized = recordResize(gpu, src, plans);
    const out = recordAppearance(gpu, resized, views, views.map((_, i) => i));
    resized.tensor.release();
    return out;
  }
  // Resize(size) + CenterCrop(size) of the full-resolution colour stage.
  const full = recordAppearance(gpu, src, views, sources);
  const plans = views.map((p, v): ResizeView => {
    const img = images[sources[v]];
    const [rw, rh] = shortSideSize(img.width, img.height, size);
    return {
      source: v,
      width: rw,
      height: rh,
      window: {
        left: roundHalfEven((rw - size) / 2),
        top: roundHalfEven((rh - size) / 2),
        width: size,
        height: size,
      },
      flip: p.flip,
    };
  });
  const out = recordResize(gpu, full, plans);
  full.tensor.release();
  return out;
}

/**
 * The uint8 result (before ToTensor) of fixed parameters: view v is image `sources[v]` under
 * `views[v]`, `size × size`. One upload and one readback.
 */
export async function renderViews(
  gpu: Gpu,
  images: readonly RgbImage[],
  views: readonly ViewParams[],
  sources: readonly number[],
  size = 224,
): Promise<RgbImage[]> {
  checkImages(images);
  const src = uploadImages(gpu, images);
  try {
    const out = recordViews(gpu, src, images, views, sources, size);
    try {
      return (await readImages(gpu, [out]))[0];
    } finally {
      out.tensor.release();
    }
  } finally {
    src.tensor.release();
  }
}

function checkImages(images: readonly RgbImage[]): void {
  images.forEach((img, i) => {
    if (!(img.width >= 1 && img.height >= 1)) {
      throw new RangeError(`image ${i} is empty (${img.width}x${img.height})`);
    }
    if (img.data.length !== img.width * img.height * 3) {
      throw new RangeError(
        `image ${i} has ${img.data.length} bytes for ${img.width}x${img.height}`,
      );
    }
  });
}

/**
 * Splits images into runs whose GPU buffers (sources, resize rows, full-resolution colour stage,
 * views, normalised output) each stay within `limit` bytes, the storage binding limit.
 */
function planChunks(
  images: readonly RgbImage[],
  q: readonly ViewParams[],
  k: readonly ViewParams[],
  size: number,
  limit: number,
): [number, number][] {
  const chunks: [number, number][] = [];
  let start = 0;
  let used = [0, 0, 0, 0];
  for (let i = 0; i < images.length; i++) {
    const { width: w, height: h } = images[i];
    const rows = (q[i].crop?.height ?? h) + (k[i].crop?.height ?? h);
    const full = q[i].crop ? 0 : 2 * w * h * 4;
    const cost = [w * h * 4, rows * size * 4, full, 2 * size * size * 4 + size * size * 12];
    if (cost.some((c) => c > limit)) {
      throw new RangeError(
        `image ${i} (${w}x${h}) needs more than the GPU's ${limit}-byte storage binding limit`,
      );
    }
    if (used.some((u, j) => u + cost[j] > limit)) {
      chunks.push([start, i]);
      start = i;
      used = [0, 0, 0, 0];
    }
    used = used.map((u, j) => u + cost[j]);
  }
  chunks.push([start, images.length]);
  return chunks;
}

/**
 * Applies fixed parameters: `q[i]` and `k[i]` are the views of `images[i]`. Returns NHWC float32
 * tensors [N, size, size, 3], normalised with the ImageNet mean/std (the caller releases them).
 * Large batches are rendered in runs that respect the storage binding limit. Records everything
 * into the current encoder; nothing is read back.
 */
export function applyAugmentParams(
  gpu: Gpu,
  images: readonly RgbImage[],
  q: readonly ViewParams[],
  k: readonly ViewParams[],
  size = 224,
  options: { bindingLimit?: number } = {},
): { q: Tensor; k: Tensor } {
  checkImages(images);
  if (q.length !== images.length || k.length !== images.length) {
    throw new RangeError(`need one q and one k view per image (${images.length})`);
  }
  const limit = options.bindingLimit ?? gpu.device.limits.maxStorageBufferBindingSize;
  const n = images.length;
  const out = {
    q: Tensor.empty(gpu, [n, size, size, 3], "f32", "augmented q"),
    k: Tensor.empty(gpu, [n, size, size, 3], "f32", "augmented k"),
  };
  for (const [a, b] of planChunks(images, q, k, size, limit)) {
    const part = images.slice(a, b);
    const m = b - a;
    const src = uploadImages(gpu, part);
    const views = [...q.slice(a, b), ...k.slice(a, b)];
    const rendered = recordViews(gpu, src, part, views, views.map((_, v) => v % m), size);
    recordNormalize(gpu, rendered, 0, m, out.q, a);
    recordNormalize(gpu, rendered, m, m, out.k, a);
    rendered.tensor.release();
    src.tensor.release();
  }
  return out;
}

/**
 * MoCo's TwoCropsTransform over a batch: for each image, draws the query then the key view's
 * parameters from `rng` (so a run is reproducible from the seed) and renders both on the GPU.
 * Returns NHWC float32 [N, size, size, 3] tensors `q` and `k` (ImageNet-normalised, ready for the
 * ResNet; the caller releases them). Nothing is read back.
 */
export function augmentBatch(
  gpu: Gpu,
  images: readonly RgbImage[],
  policy: AugmentPolicy,
  rng: Rng,
  options: AugmentOptions = {},
): Promise<{ q: Tensor; k: Tensor }> {
  if (!isAugmentPolicy(policy)) {
    return Promise.reject(
      new RangeError(`unknown augmentation policy "${policy}" (default, ventral, dorsal)`),
    );
  }
  if (images.length === 0) return Promise.reject(new RangeError("augmentBatch: no images"));
  try {
    checkImages(images);
    const q: ViewParams[] = [];
    const k: ViewParams[] = [];
    for (const img of images) {
      q.push(drawAugmentParams(policy, rng, img.width, img.height, options));
      k.push(drawAugmentParams(policy, rng, img.width, img.height, options));
    }
    return Promise.resolve(applyAugmentParams(gpu, images, q, k, options.size ?? 224));
  } catch (error) {
    return Promise.reject(error);
  }
}
