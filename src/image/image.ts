/**
 * The in-memory image type of the CPU pipeline: 8-bit RGB, rows top to bottom, pixels
 * interleaved (HWC), as Pillow's "RGB" mode after `convert("RGB")`.
 *
 * @module
 */

/** An 8-bit RGB image. `data` has `width * height * 3` bytes: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  /** Width in pixels (may be 0 only for the result of an empty crop). */
  width: number;
  /** Height in pixels (may be 0 only for the result of an empty crop). */
  height: number;
  /** HWC RGB bytes, row-major, no padding. */
  data: Uint8Array;
}

/**
 * A new image, zero-filled (black) unless `data` is given.
 * Throws RangeError on negative / non-integer sizes or a `data` of the wrong length.
 */
export function createImage(width: number, height: number, data?: Uint8Array): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`image size must be non-negative integers, got ${width}x${height}`);
  }
  const size = width * height * 3;
  if (data === undefined) return { width, height, data: new Uint8Array(size) };
  if (data.length !== size) {
    throw new RangeError(
      `image data has ${data.length} bytes, ${width}x${height} RGB needs ${size}`,
    );
  }
  return { width, height, data };
}

/** A deep copy. */
export function cloneImage(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/** An RGB image from one grey byte per pixel (Pillow's L → RGB: the value replicated). */
export function greyToRgb(width: number, height: number, grey: Uint8Array): RgbImage {
  const out = createImage(width, height);
  const d = out.data;
  for (let i = 0, n = width * height; i < n; i++) {
    const v = grey[i];
    d[3 * i] = v;
    d[3 * i + 1] = v;
    d[3 * i + 2] = v;
  }
  return out;
}

/** Whether two images have the same size and bytes. */
export function imagesEqual(a: RgbImage, b: RgbImage): boolean {
  if (a.width !== b.width || a.height !== b.height || a.data.length !== b.data.length) {
    return false;
  }
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/**
 * Python's built-in `round(x)` for a float: to the nearest integer, ties to even
 * (`round(2.5) == 2`, `round(-0.5) == 0`). Used wherever the original code rounds with Python.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f; // exact for |x| < 2^52
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
