/**
 * The per-view dispatcher of the synthetic-invariance evaluation (docs/synthetic.md#view-order steps 1–2): applies
 * one family's op to the full-resolution image for every parameter set, then Resize(r) +
 * CenterCrop(c) — except `resized_crop`, which yields c×c directly.
 *
 * GPU-side families (rotation, translation, scale, shear, brightness, contrast, saturation, hue,
 * blur, sharpness) upload the image once, record every view's op, then the Pillow-exact
 * Resize(r) + CenterCrop(c) on the GPU too (src/image/gpu/resize.ts, byte-equal to the CPU pair):
 * {@link syntheticViewsOnGpu} leaves the c×c views there (synthetic invariance normalises and
 * embeds them without a readback), {@link syntheticViews} reads them back once per image (op
 * outputs chunked to ≤ 128 MB each).
 * `cpuResize: true` reads the full-resolution views back and resizes on the CPU instead (the
 * reference path). deform reads its views back and resizes on the CPU (its batch recorder is
 * private to deform.ts); the cheap or inherently serial families (flips, grayscale, invert,
 * equalize, posterize, resized_crop) run on the CPU.
 *
 * Faithful vs intended (docs/quirks.md#q9, docs/quirks.md#q10, docs/quirks.md#q11, docs/quirks.md#q14). By default the evident intent is reproduced;
 * `faithful: true` reproduces what the original Python did. Each fix has its own switch, which
 * defaults to `!faithful`:
 * - `translationAfterResize` (item 9): translation is applied to the Resize(r) image before the
 *   centre crop (faithful: to the full-resolution image, before the resize);
 * - `zeroShearForTranslateScale` (item 10): the translation and scale grids' spurious 1° shear
 *   becomes 0;
 * - `resizedCropOnResized` (item 11): the resized_crop boxes (in r-scale pixels) are cut from the
 *   Resize(r) image (faithful: from the original-resolution image);
 * - deform (item 14): the seeded grid elastic model, or (faithful) the albumentations
 *   approximation; see `deform.ts`.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { centerCrop, hflip, vflip } from "../image/crop.ts";
import type { RgbImage } from "../image/image.ts";
import { resizeShortSide, shortSideSize } from "../image/resize.ts";
import { UsageError } from "../util/errors.ts";
import {
  adjustHueBatch,
  type ColorOp,
  enhanceBatch,
  type EnhanceKind,
  equalize,
  gaussianBlurBatch,
  gaussianKernel1d,
  invert,
  posterize,
  recordColorOps,
  recordGaussianBlur,
  toGrayscale,
} from "./color.ts";
import { deformBatch } from "./deform.ts";
import {
  affineBatch,
  type AffineCoefficients,
  affineNearestCpu,
  type AffineParams,
  MAX_BATCH_BYTES,
  pillowAffinePath,
  pillowRotateCoefficients,
  recordAffineNearest,
  resizedCrop,
  rotateBatch,
  torchvisionAffineCoefficients,
} from "./geometry.ts";
import { centerCropWindow, type CropWindow } from "../image/crop.ts";
import {
  allocImages,
  type PackedImages,
  packRgb,
  readImages,
  uploadImages,
} from "../image/gpu/packed.ts";
import { recordResizeCrop } from "../image/gpu/resize.ts";
import type { SyntheticFamily, SyntheticParams } from "./synthetic_grid.ts";

/** How views are made; sizes as `--resize` / `--crop-size`. */
export interface ViewOptions {
  /** Short side of the resize before the centre crop (default 256). */
  resize?: number;
  /** Side of the square centre crop, the view size (default 224). */
  cropSize?: number;
  /** Reproduce the original's behaviour instead of its intent (default false; see the module). */
  faithful?: boolean;
  /** Seed of the deform family's random fields (default 0). */
  seed?: number;
  /** docs/quirks.md#q9: translate the resized image, before the crop (default `!faithful`). */
  translationAfterResize?: boolean;
  /** docs/quirks.md#q10: shear 0 instead of 1° for translation and scale (default `!faithful`). */
  zeroShearForTranslateScale?: boolean;
  /** docs/quirks.md#q11: cut resized_crop boxes from the Resize(r) image (default `!faithful`). */
  resizedCropOnResized?: boolean;
  /**
   * Read the GPU families' full-resolution views back and do Resize + CenterCrop on the CPU (the
   * reference path; same bytes, slower) instead of on the GPU (default false).
   */
  cpuResize?: boolean;
  /**
   * Most bytes of one GPU chunk's largest buffer, and of views awaiting one readback, on the
   * GPU-resize path (default 128 MiB).
   */
  chunkBytes?: number;
}

function num(p: SyntheticParams, key: string, family: string, i: number): number {
  const v = p[key];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new UsageError(`${family} view ${i}: parameter '${key}' must be a number, got ${v}`);
  }
  return v;
}

function pair(p: SyntheticParams, key: string, family: string, i: number): [number, number] {
  const v = p[key];
  if (!Array.isArray(v) || v.length !== 2 || !v.every(Number.isFinite)) {
    throw new UsageError(`${family} view ${i}: parameter '${key}' must be a pair, got ${v}`);
  }
  return [v[0], v[1]];
}

function flag(p: SyntheticParams, family: string, i: number): boolean {
  const v = p.aug;
  if (typeof v !== "boolean") {
    throw new UsageError(`${family} view ${i}: parameter 'aug' must be true or false, got ${v}`);
  }
  return v;
}

function affineParams(
  p: SyntheticParams,
  family: string,
  i: number,
  zeroShear: boolean,
): AffineParams {
  const shear = p.shear;
  let s: number | number[];
  if (typeof shear === "number") s = shear;
  else if (Array.isArray(shear)) s = pair(p, "shear", family, i);
  else throw new UsageError(`${family} view ${i}: parameter 'shear' is missing`);
  return {
    angle: num(p, "angle", family, i),
    translate: pair(p, "translate", family, i),
    scale: num(p, "scale", family, i),
    shear: zeroShear ? 0 : s,
  };
}

/** Applies a CPU op to the views whose `aug` flag is set; the others stay the original. */
function flagged(
  img: RgbImage,
  family: string,
  params: readonly SyntheticParams[],
  op: (img: RgbImage) => RgbImage,
): RgbImage[] {
  let done: RgbImage | undefined;
  return params.map((p, i) => (flag(p, family, i) ? (done ??= op(img)) : img));
}

/**
 * {@link syntheticViews} with the views left on the GPU: a packed batch of `params.length`
 * c×c views (src/image/gpu/packed.ts; the caller releases its tensor), byte-equal to what
 * {@link syntheticViews} returns. The GPU families record op, resize and crop without any
 * readback; the CPU families upload their views once. Throws like {@link syntheticViews}.
 */
export async function syntheticViewsOnGpu(
  gpu: Gpu,
  img: RgbImage,
  family: SyntheticFamily,
  params: readonly SyntheticParams[],
  options: ViewOptions = {},
): Promise<PackedImages> {
  const r = options.resize ?? 256;
  const c = options.cropSize ?? 224;
  const faithful = options.faithful ?? false;
  const gpuSide = !options.cpuResize && GPU_FINISHED.has(family) && params.length > 0 &&
    Number.isInteger(r) && r >= 1 && Number.isInteger(c) && c >= 1;
  if (!gpuSide) return uploadImages(gpu, await syntheticViews(gpu, img, family, params, options));
  const chunkBytes = options.chunkBytes ?? MAX_BATCH_BYTES;
  if (!(chunkBytes > 0)) throw new RangeError(`chunkBytes must be > 0, got ${chunkBytes}`);
  return gpuFinishedViews(gpu, img, family, params, {
    r,
    c,
    translationAfterResize: options.translationAfterResize ?? !faithful,
    zeroShear: options.zeroShearForTranslateScale ?? !faithful,
    chunkBytes,
  });
}

/**
 * The `params.length` views of `img` for one synthetic family: each op on the full-resolution
 * image, then Resize(r) + CenterCrop(c), except `resized_crop` (c×c directly, or the `size` in its
 * parameters). Parameter sets come from {@link syntheticGrid} (keys as the original's). Returns
 * c×c RGB images in parameter order. Throws UsageError for a parameter set the family cannot
 * use.
 *
 * @example
 * ```ts
 * const params = syntheticGrid("rotation", 256);
 * const views = await syntheticViews(gpu, image, "rotation", params); // 256 images of 224×224
 * ```
 */
export async function syntheticViews(
  gpu: Gpu,
  img: RgbImage,
  family: SyntheticFamily,
  params: readonly SyntheticParams[],
  options: ViewOptions = {},
): Promise<RgbImage[]> {
  const r = options.resize ?? 256;
  const c = options.cropSize ?? 224;
  for (const [v, option] of [[r, "resize"], [c, "cropSize"]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new UsageError(`${option}: must be a positive integer, got ${v}`);
    }
  }
  const faithful = options.faithful ?? false;
  const translationAfterResize = options.translationAfterResize ?? !faithful;
  const zeroShear = options.zeroShearForTranslateScale ?? !faithful;
  const cropOnResized = options.resizedCropOnResized ?? !faithful;
  if (params.length === 0) return [];
  if (!options.cpuResize && GPU_FINISHED.has(family)) {
    const chunkBytes = options.chunkBytes ?? MAX_BATCH_BYTES;
    if (!(chunkBytes > 0)) throw new RangeError(`chunkBytes must be > 0, got ${chunkBytes}`);
    const views = gpuFinishedViews(gpu, img, family, params, {
      r,
      c,
      translationAfterResize,
      zeroShear,
      chunkBytes,
    });
    try {
      return (await readImages(gpu, [views]))[0];
    } finally {
      views.tensor.release();
    }
  }

  // Resize(r) + CenterCrop(c), computed once per distinct intermediate image.
  const finished = new Map<RgbImage, RgbImage>();
  const finish = (views: RgbImage[]): RgbImage[] =>
    views.map((v) => {
      let out = finished.get(v);
      if (!out) {
        out = centerCrop(resizeShortSide(v, r), c);
        finished.set(v, out);
      }
      return out;
    });
  const numbers = (key: string) => params.map((p, i) => num(p, key, family, i));

  switch (family) {
    case "rotation":
      return finish(await rotateBatch(gpu, img, numbers("angle")));
    case "translation": {
      const affine = params.map((p, i) => affineParams(p, family, i, zeroShear));
      if (!translationAfterResize) return finish(await affineBatch(gpu, img, affine));
      const resized = resizeShortSide(img, r);
      return (await affineBatch(gpu, resized, affine)).map((v) => centerCrop(v, c));
    }
    case "scale":
      return finish(
        await affineBatch(gpu, img, params.map((p, i) => affineParams(p, family, i, zeroShear))),
      );
    case "shear":
      return finish(
        await affineBatch(gpu, img, params.map((p, i) => affineParams(p, family, i, false))),
      );
    case "resized_crop": {
      const src = cropOnResized ? resizeShortSide(img, r) : img;
      return params.map((p, i) =>
        resizedCrop(
          src,
          num(p, "top", family, i),
          num(p, "left", family, i),
          num(p, "height", family, i),
          num(p, "width", family, i),
          p.size === undefined ? [c, c] : pair(p, "size", family, i),
        )
      );
    }
    case "h_flip":
      return finish(flagged(img, family, params, hflip));
    case "v_flip":
      return finish(flagged(img, family, params, vflip));
    case "grayscale":
      return finish(flagged(img, family, params, toGrayscale));
    case "invert":
      return finish(flagged(img, family, params, invert));
    case "equalize":
      return finish(flagged(img, family, params, equalize));
    case "posterize":
      return finish(params.map((p, i) => posterize(img, num(p, "bits", family, i))));
    case "deform": {
      const deform = params.map((p, i) => ({
        sigma: num(p, "sigma", family, i),
        points: faithful ? undefined : num(p, "points", family, i),
      }));
      return finish(await deformBatch(gpu, img, deform, { faithful, seed: options.seed ?? 0 }));
    }
    case "brightness":
      return finish(await enhanceBatch(gpu, img, "brightness", numbers("brightness_factor")));
    case "contrast":
      return finish(await enhanceBatch(gpu, img, "contrast", numbers("contrast_factor")));
    case "saturation":
      return finish(await enhanceBatch(gpu, img, "color", numbers("saturation_factor")));
    case "sharpness":
      return finish(await enhanceBatch(gpu, img, "sharpness", numbers("sharpness_factor")));
    case "hue":
      return finish(await adjustHueBatch(gpu, img, numbers("hue_factor")));
    case "blur":
      return finish(await blurViews(gpu, img, params));
    default:
      throw new UsageError(`unknown --transform '${family}'`);
  }
}

/** Families whose Resize + CenterCrop run on the GPU right behind their op. */
const GPU_FINISHED: ReadonlySet<SyntheticFamily> = new Set<SyntheticFamily>([
  "rotation",
  "translation",
  "scale",
  "shear",
  "brightness",
  "contrast",
  "saturation",
  "sharpness",
  "hue",
  "blur",
]);

const ENHANCE_KINDS: Partial<Record<SyntheticFamily, [EnhanceKind, string]>> = {
  brightness: ["brightness", "brightness_factor"],
  contrast: ["contrast", "contrast_factor"],
  saturation: ["color", "saturation_factor"],
  sharpness: ["sharpness", "sharpness_factor"],
};

/** Where the views of a W×H op output end up: the resize target and the window kept. */
interface Finish {
  resizeTo: readonly [number, number];
  window: CropWindow;
}

/** Resize(r) (short side) + CenterCrop(c) of a `width × height` image. */
function shortSideFinish(width: number, height: number, r: number, c: number): Finish {
  const [rw, rh] = shortSideSize(width, height, r);
  return { resizeTo: [rw, rh], window: centerCropWindow(rw, rh, c) };
}

/** Records the op of views [a, b) from the uploaded source; returns their packed [b − a, H, W]. */
type RecordViews = (src: PackedImages, a: number, b: number) => Tensor;

/**
 * Records `count` views of `img` (op by `record`, then the GPU Resize + crop of `finish`) into
 * `out` ([views, c, c] packed), view j into slot `slots[j]`; nothing is read back. Op outputs
 * are recorded in chunks whose largest buffer stays within `chunkBytes`.
 */
function viewsOnGpu(
  gpu: Gpu,
  img: RgbImage,
  count: number,
  record: RecordViews,
  finish: Finish,
  chunkBytes: number,
  out: Tensor,
  slots: readonly number[],
  bytesPerPixel = 4,
): void {
  const { width: w, height: h } = img;
  const { resizeTo, window } = finish;
  if (count === 0) return;
  // Upscaling small images makes the row pass (≤ h × min(resized width, window width)) and the
  // windows larger than the op output.
  const rowPass = h * Math.min(resizeTo[0], window.width);
  const perViewBytes = Math.max(
    w * h * bytesPerPixel,
    4 * rowPass,
    4 * window.width * window.height,
  );
  const per = Math.max(1, Math.floor(chunkBytes / perViewBytes));
  const viewBytes = 4 * window.width * window.height;
  const src = uploadImages(gpu, [img]);
  try {
    for (let a = 0; a < count; a += per) {
      const b = Math.min(count, a + per);
      const full = record(src, a, b);
      let views: Tensor;
      try {
        views = recordResizeCrop(gpu, full, b - a, w, h, resizeTo[0], resizeTo[1], window);
      } finally {
        full.release();
      }
      for (let j = a; j < b; j++) {
        gpu.recorder.copy(views, out, viewBytes, (j - a) * viewBytes, slots[j] * viewBytes);
      }
      views.release();
    }
  } finally {
    src.tensor.release();
  }
}

/** The affine views into `out` (slot i = view i): Pillow's GPU engines, its float one on the CPU. */
function affineViews(
  gpu: Gpu,
  img: RgbImage,
  coefficients: readonly AffineCoefficients[],
  finish: Finish,
  finishCpu: (view: RgbImage) => RgbImage,
  chunkBytes: number,
  out: Tensor,
): void {
  const onGpu: number[] = [];
  const viewBytes = 4 * finish.window.width * finish.window.height;
  coefficients.forEach((m, i) => {
    if (pillowAffinePath(m, img.width, img.height) === "float") {
      gpu.recorder.upload(out.buffer, i * viewBytes, packRgb(finishCpu(affineNearestCpu(img, m))));
    } else onGpu.push(i);
  });
  viewsOnGpu(
    gpu,
    img,
    onGpu.length,
    (src, a, b) =>
      recordAffineNearest(
        gpu,
        src.tensor,
        img.width,
        img.height,
        onGpu.slice(a, b).map((i) => coefficients[i]),
      ),
    finish,
    chunkBytes,
    out,
    onGpu,
  );
}

/** How the GPU-finished views are resized, cropped and chunked (see `syntheticViewsOnGpu`). */
interface FinishOptions {
  r: number;
  c: number;
  translationAfterResize: boolean;
  zeroShear: boolean;
  chunkBytes: number;
}

function gpuFinishedViews(
  gpu: Gpu,
  img: RgbImage,
  family: SyntheticFamily,
  params: readonly SyntheticParams[],
  o: FinishOptions,
): PackedImages {
  const { c } = o;
  const count = params.length;
  const out = allocImages(gpu, new Array(count).fill(c), new Array(count).fill(c), "views");
  try {
    recordGpuFinished(gpu, img, family, params, o, out.tensor);
  } catch (error) {
    out.tensor.release();
    throw error;
  }
  return out;
}

function recordGpuFinished(
  gpu: Gpu,
  img: RgbImage,
  family: SyntheticFamily,
  params: readonly SyntheticParams[],
  o: FinishOptions,
  out: Tensor,
): void {
  const { r, c, chunkBytes: budget } = o;
  const { width: w, height: h } = img;
  const numbers = (key: string) => params.map((p, i) => num(p, key, family, i));
  const standard = shortSideFinish(w, h, r, c);
  const cpuFinish = (v: RgbImage) => centerCrop(resizeShortSide(v, r), c);
  const all = params.map((_, i) => i);
  const enhance = ENHANCE_KINDS[family];
  if (enhance) {
    const ops: ColorOp[] = numbers(enhance[1]).map((factor) => ({ kind: enhance[0], factor }));
    return viewsOnGpu(gpu, img, ops.length, colorRecorder(gpu, ops), standard, budget, out, all);
  }
  switch (family) {
    case "rotation": {
      const m = numbers("angle").map((a) => pillowRotateCoefficients(w, h, a));
      return affineViews(gpu, img, m, standard, cpuFinish, budget, out);
    }
    case "translation":
    case "scale":
    case "shear": {
      const zero = family !== "shear" && o.zeroShear;
      const affine = params.map((p, i) => affineParams(p, family, i, zero));
      if (family === "translation" && o.translationAfterResize) {
        // Translate the Resize(r) image; then only the centre crop remains.
        const resized = resizeShortSide(img, r);
        const { width: rw, height: rh } = resized;
        const m = affine.map((p) => torchvisionAffineCoefficients(rw, rh, p));
        const cropOnly = { resizeTo: [rw, rh] as const, window: centerCropWindow(rw, rh, c) };
        return affineViews(gpu, resized, m, cropOnly, (v) => centerCrop(v, c), budget, out);
      }
      const m = affine.map((p) => torchvisionAffineCoefficients(w, h, p));
      return affineViews(gpu, img, m, standard, cpuFinish, budget, out);
    }
    case "hue": {
      const ops: ColorOp[] = numbers("hue_factor").map((hue) => ({ kind: "hue", hue }));
      return viewsOnGpu(gpu, img, ops.length, colorRecorder(gpu, ops), standard, budget, out, all);
    }
    case "blur": {
      const sizes = numbers("kernel_size");
      const sigmas = numbers("sigma");
      sizes.forEach((k, i) => gaussianKernel1d(k, sigmas[i]));
      for (const k of new Set(sizes)) {
        const idx = sizes.flatMap((s, i) => (s === k ? [i] : []));
        const record: RecordViews = (src, a, b) =>
          recordGaussianBlur(gpu, src, idx.slice(a, b).map((i) => sigmas[i]), k, zeros(b - a))
            .tensor;
        // 16 bytes of float temporaries per pixel beside the 4-byte output.
        viewsOnGpu(gpu, img, idx.length, record, standard, budget, out, idx, 20);
      }
      return;
    }
    default:
      throw new UsageError(`family: '${family}' has no GPU pipeline`);
  }
}

function zeros(n: number): number[] {
  return new Array(n).fill(0);
}

function colorRecorder(gpu: Gpu, ops: readonly ColorOp[]): RecordViews {
  return (src, a, b) => recordColorOps(gpu, src, ops.slice(a, b), zeros(b - a)).tensor;
}

/** gaussian_blur views, one GPU batch per distinct kernel size (the grid has just one). */
async function blurViews(
  gpu: Gpu,
  img: RgbImage,
  params: readonly SyntheticParams[],
): Promise<RgbImage[]> {
  const sizes = params.map((p, i) => num(p, "kernel_size", "blur", i));
  const sigmas = params.map((p, i) => num(p, "sigma", "blur", i));
  const out: RgbImage[] = new Array(params.length);
  for (const k of new Set(sizes)) {
    const idx = sizes.flatMap((s, i) => (s === k ? [i] : []));
    const views = await gaussianBlurBatch(gpu, img, idx.map((i) => sigmas[i]), k);
    idx.forEach((i, j) => out[i] = views[j]);
  }
  return out;
}
