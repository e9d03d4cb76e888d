/**
 * torchvision `ToTensor` + `Normalize` for 8-bit RGB images, bit-exact with torch's float32
 * arithmetic: `x = f32(v / 255)`, then `f32(f32(x − mean_c) / std_c)` with mean and std first
 * rounded to float32 (torch.as_tensor of the Python floats). Every output depends only on (v, c),
 * so it is a 3 × 256 lookup table.
 *
 * Layouts: "CHW" (PyTorch's [3, H, W]) or "HWC" ([H, W, 3], the GPU activations' NHWC order).
 *
 * @module
 */
import type { RgbImage } from "./image.ts";

/** ImageNet channel means (torchvision's standard normalisation). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations. */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Channel order of the output tensor. */
export type TensorLayout = "CHW" | "HWC";

/** Options of {@link toNormalizedTensor}. */
export interface NormalizeOptions {
  /** Output layout (default "CHW"). */
  layout?: TensorLayout;
  /** Per-channel mean (default ImageNet). */
  mean?: ArrayLike<number>;
  /** Per-channel std (default ImageNet). */
  std?: ArrayLike<number>;
  /** Write into this array (e.g. one slot of a batch) instead of allocating. */
  out?: Float32Array;
  /** Element offset into `out` (default 0). */
  offset?: number;
}

/**
 * The 768-entry table `lut[c * 256 + v]` = normalised value of byte v in channel c, computed
 * with torch's float32 rounding. Throws RangeError unless mean and std have 3 finite entries and
 * std has no zero.
 */
export function normalizationTable(mean: ArrayLike<number>, std: ArrayLike<number>): Float32Array {
  if (mean.length !== 3 || std.length !== 3) {
    throw new RangeError(`mean and std need 3 channels, got ${mean.length} and ${std.length}`);
  }
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    if (!Number.isFinite(m) || !Number.isFinite(s) || s === 0) {
      throw new RangeError(`bad normalisation for channel ${c}: mean ${mean[c]}, std ${std[c]}`);
    }
    for (let v = 0; v < 256; v++) {
      // Each step rounded to float32, as torch does: div(255), sub_(mean), div_(std).
      const x = Math.fround(v / 255);
      lut[c * 256 + v] = Math.fround(Math.fround(x - m) / s);
    }
  }
  return lut;
}

let imagenetTable: Float32Array | undefined;

function tableFor(mean: ArrayLike<number>, std: ArrayLike<number>): Float32Array {
  if (mean === IMAGENET_MEAN && std === IMAGENET_STD) {
    imagenetTable ??= normalizationTable(IMAGENET_MEAN, IMAGENET_STD);
    return imagenetTable;
  }
  return normalizationTable(mean, std);
}

/**
 * `Normalize(mean, std)(ToTensor()(img))` as float32, in `layout` ("CHW" → [3, H, W], "HWC" →
 * [H, W, 3]). With `out`, writes `3·H·W` values at `offset` and returns `out`; otherwise returns
 * a new array. Throws RangeError if `out` is too short.
 */
export function toNormalizedTensor(img: RgbImage, options: NormalizeOptions = {}): Float32Array {
  const layout = options.layout ?? "CHW";
  const lut = tableFor(options.mean ?? IMAGENET_MEAN, options.std ?? IMAGENET_STD);
  const n = img.width * img.height;
  const offset = options.offset ?? 0;
  const out = options.out ?? new Float32Array(3 * n);
  if (!Number.isInteger(offset) || offset < 0 || offset + 3 * n > out.length) {
    throw new RangeError(
      `output array of length ${out.length} cannot hold ${3 * n} values at offset ${offset}`,
    );
  }
  const d = img.data;
  if (layout === "HWC") {
    for (let i = 0, o = offset; i < 3 * n; i += 3, o += 3) {
      out[o] = lut[d[i]];
      out[o + 1] = lut[256 + d[i + 1]];
      out[o + 2] = lut[512 + d[i + 2]];
    }
  } else {
    for (let i = 0; i < n; i++) {
      out[offset + i] = lut[d[3 * i]];
      out[offset + n + i] = lut[256 + d[3 * i + 1]];
      out[offset + 2 * n + i] = lut[512 + d[3 * i + 2]];
    }
  }
  return out;
}

/** Plain `ToTensor()`: `v / 255` as float32, in `layout` (default "CHW"). */
export function toTensor(img: RgbImage, layout: TensorLayout = "CHW"): Float32Array {
  return toNormalizedTensor(img, { layout, mean: [0, 0, 0], std: [1, 1, 1] });
}
