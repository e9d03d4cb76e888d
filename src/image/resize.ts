/**
 * Pillow-exact bilinear resizing of 8-bit RGB images (Pillow 8–9 `Image.resize(size,
 * Image.BILINEAR)`, i.e. torchvision's `Resize` on PIL images), and torchvision's `Resize(int)`
 * size rule.
 *
 * Pillow resamples with a separable convolution, not with 4-tap interpolation:
 * - per output pixel `xx` the source centre is `in0 + (xx + 0.5)·scale` with
 *   `scale = inSize / outSize`; the triangle filter (support 1) is widened by
 *   `filterScale = max(scale, 1)`, so down-sampling averages over `2·scale` source pixels
 *   (antialiasing);
 * - the taps cover source pixels `[trunc(centre − support + 0.5), trunc(centre + support + 0.5))`
 *   clamped to the image; each weight is `tri((x − centre + 0.5) / filterScale)` and the weights
 *   are divided by their sum;
 * - weights become fixed point with 22 fractional bits (`PRECISION_BITS = 32 − 8 − 2`), rounded
 *   half away from zero; a pixel is `(2^21 + Σ w·v) >> 22`, clipped to 0..255;
 * - the horizontal pass runs first (only over the source rows the vertical pass will read), then
 *   the vertical pass on that 8-bit intermediate; a pass whose size is unchanged is skipped, and
 *   an unchanged size overall returns a copy.
 *
 * @module
 */
import { createImage, type RgbImage } from "./image.ts";

/** Fixed-point fractional bits of Pillow's 8-bit resampling (Resample.c). */
export const PRECISION_BITS = 22;

/** Per-output-pixel tap ranges and fixed-point weights along one axis. */
export interface AxisCoefficients {
  /** Taps per output pixel (the stride of `weights`). */
  ksize: number;
  /** First source index of output pixel i: `bounds[2i]`; tap count: `bounds[2i + 1]`. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel (unused taps are 0). */
  weights: Int32Array;
}

function triangle(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

/**
 * Pillow's per-axis resampling coefficients for the bilinear (triangle) filter
 * (precompute_coeffs + normalize_coeffs_8bpc): for each of the `outSize` output pixels, the first
 * source index, the tap count and `ksize` fixed-point weights ({@link PRECISION_BITS} fractional
 * bits). {@link resize} uses them; the GPU resize uploads them so both compute the same integers.
 */
export function resizeCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const in0 = 0;
  const in1 = inSize;
  const scale = (in1 - in0) / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = 1 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterScale;
  const one = 1 << PRECISION_BITS;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      let w = x < xmax ? k[x] : 0;
      if (x < xmax && ww !== 0) w /= ww;
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * one) : Math.trunc(0.5 + w * one);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

/** Fixed-point accumulator → uint8, as Pillow's clip8. */
function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/**
 * Resizes to `width × height` with Pillow's BILINEAR filter (antialiased when shrinking),
 * bit-exact with Pillow 8–9 for RGB images. Returns a new image (a copy when the size is
 * unchanged). Throws RangeError for a non-positive target or an empty source.
 */
export function resize(img: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize target must be positive integers, got ${width}x${height}`);
  }
  if (img.width < 1 || img.height < 1) {
    throw new RangeError(`cannot resize an empty ${img.width}x${img.height} image`);
  }
  const needH = width !== img.width;
  const needV = height !== img.height;
  if (!needH && !needV) return { width, height, data: img.data.slice() };

  const vert = resizeCoefficients(img.height, height);
  let src = img;
  if (needH) {
    // Only the source rows the vertical pass reads.
    const first = vert.bounds[0];
    const last = vert.bounds[2 * height - 2] + vert.bounds[2 * height - 1];
    const horiz = resizeCoefficients(img.width, width);
    src = horizontalPass(img, horiz, width, first, last);
    for (let i = 0; i < height; i++) vert.bounds[2 * i] -= first;
  }
  if (!needV) return src;
  return verticalPass(src, vert, height);
}

function horizontalPass(
  img: RgbImage,
  c: AxisCoefficients,
  width: number,
  firstRow: number,
  lastRow: number,
): RgbImage {
  const out = createImage(width, lastRow - firstRow);
  const s = img.data;
  const d = out.data;
  const { ksize, bounds, weights } = c;
  const half = 1 << (PRECISION_BITS - 1);
  let o = 0;
  for (let y = firstRow; y < lastRow; y++) {
    const row = y * img.width;
    for (let xx = 0; xx < width; xx++) {
      const xmin = bounds[2 * xx];
      const n = bounds[2 * xx + 1];
      const kb = xx * ksize;
      let r = half, g = half, b = half;
      for (let x = 0, p = (row + xmin) * 3; x < n; x++, p += 3) {
        const w = weights[kb + x];
        r += s[p] * w;
        g += s[p + 1] * w;
        b += s[p + 2] * w;
      }
      d[o++] = clip8(r);
      d[o++] = clip8(g);
      d[o++] = clip8(b);
    }
  }
  return out;
}

function verticalPass(img: RgbImage, c: AxisCoefficients, height: number): RgbImage {
  const width = img.width;
  const out = createImage(width, height);
  const s = img.data;
  const d = out.data;
  const { ksize, bounds, weights } = c;
  const half = 1 << (PRECISION_BITS - 1);
  const rowBytes = width * 3;
  // Row-wise accumulation (contiguous reads); the integer sums equal those of Pillow's loop and
  // stay below 2^31 (weights sum to about 2^22, samples ≤ 255), so int32 is exact.
  const acc = new Int32Array(rowBytes);
  for (let yy = 0; yy < height; yy++) {
    const n = bounds[2 * yy + 1];
    const kb = yy * ksize;
    let base = bounds[2 * yy] * rowBytes;
    acc.fill(half);
    for (let y = 0; y < n; y++, base += rowBytes) {
      const w = weights[kb + y];
      for (let i = 0; i < rowBytes; i++) acc[i] += s[base + i] * w;
    }
    const o = yy * rowBytes;
    for (let i = 0; i < rowBytes; i++) d[o + i] = clip8(acc[i]);
  }
  return out;
}

/**
 * torchvision `Resize(s)` output size for an int `s`: the short side becomes `s` and the long
 * side `trunc(s · long / short)` (float64 division, truncated), aspect kept. Returns
 * `[width, height]`; the input size when its short side is already `s`.
 */
export function shortSideSize(width: number, height: number, size: number): [number, number] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`resize size must be a positive integer, got ${size}`);
  }
  if (width <= height) {
    return width === size ? [width, height] : [size, Math.trunc(size * height / width)];
  }
  return height === size ? [width, height] : [Math.trunc(size * width / height), size];
}

/**
 * torchvision `Resize(s)` with an int `s` on a PIL image (bilinear, antialiased): the short side
 * becomes `s`, the long side `trunc(s · long / short)`. When the short side already equals `s`
 * the input object itself is returned, unchanged (as torchvision does).
 */
export function resizeShortSide(img: RgbImage, size: number): RgbImage {
  const [w, h] = shortSideSize(img.width, img.height, size);
  if (w === img.width && h === img.height) return img;
  return resize(img, w, h);
}
