/**
 * Crops and flips of 8-bit RGB images with PIL / torchvision semantics (docs/common.md#image-loading).
 *
 * @module
 */
import { createImage, type RgbImage, roundHalfEven } from "./image.ts";

/** Copies `src` rows into a zero-filled w×h image placed so that src pixel (0,0) lands at (dx,dy). */
function place(src: RgbImage, w: number, h: number, dx: number, dy: number): RgbImage {
  const out = createImage(w, h);
  const x0 = Math.max(0, dx);
  const x1 = Math.min(w, dx + src.width);
  const y0 = Math.max(0, dy);
  const y1 = Math.min(h, dy + src.height);
  if (x1 <= x0 || y1 <= y0) return out;
  const len = (x1 - x0) * 3;
  for (let y = y0; y < y1; y++) {
    const s = ((y - dy) * src.width + (x0 - dx)) * 3;
    out.data.set(src.data.subarray(s, s + len), (y * w + x0) * 3);
  }
  return out;
}

/**
 * PIL `Image.crop((left, top, right, bottom))`: each coordinate is rounded on its own with
 * Python's `round` (half to even), the result is `(right − left) × (bottom − top)` and pixels
 * outside the source are 0. Coordinates may be fractional or outside the image (torchvision's
 * `resized_crop` and the 300W face crop rely on this). Throws RangeError, as Pillow raises
 * ValueError, when right < left or bottom < top before rounding, or a coordinate is not finite.
 */
export function cropBox(
  img: RgbImage,
  left: number,
  top: number,
  right: number,
  bottom: number,
): RgbImage {
  for (const v of [left, top, right, bottom]) {
    if (!Number.isFinite(v)) throw new RangeError(`crop box coordinates must be finite, got ${v}`);
  }
  if (right < left) throw new RangeError(`crop box right ${right} is less than left ${left}`);
  if (bottom < top) throw new RangeError(`crop box bottom ${bottom} is less than top ${top}`);
  const x0 = roundHalfEven(left);
  const y0 = roundHalfEven(top);
  const w = Math.max(0, roundHalfEven(right) - x0);
  const h = Math.max(0, roundHalfEven(bottom) - y0);
  return place(img, w, h, -x0, -y0);
}

/** A window of a resized image: origin in resized pixels (outside = zero padding) and size. */
export interface CropWindow {
  /** x of the window's left edge in the resized image, pixels (negative: padding on the left). */
  left: number;
  /** y of the window's top edge in the resized image, pixels (negative: padding on top). */
  top: number;
  /** Window width, pixels. */
  width: number;
  /** Window height, pixels. */
  height: number;
}

/**
 * The window torchvision `CenterCrop((cropHeight, cropWidth))` cuts from a `width × height`
 * image, padding included (negative origin where the crop is larger than the image). If the
 * image is smaller than the crop in a dimension it is first zero-padded by `(c − s) // 2` before
 * and `(c − s + 1) // 2` after; then `top = round((H − cropHeight) / 2)`,
 * `left = round((W − cropWidth) / 2)` with Python's round (half to even).
 */
export function centerCropWindow(
  width: number,
  height: number,
  cropHeight: number,
  cropWidth: number = cropHeight,
): CropWindow {
  if (
    !Number.isInteger(cropHeight) || !Number.isInteger(cropWidth) || cropHeight < 1 ||
    cropWidth < 1
  ) {
    throw new RangeError(`crop size must be positive integers, got ${cropHeight}x${cropWidth}`);
  }
  let w = width;
  let h = height;
  let padLeft = 0;
  let padTop = 0;
  if (cropWidth > w) {
    padLeft = Math.floor((cropWidth - w) / 2);
    w += padLeft + Math.floor((cropWidth - w + 1) / 2);
  }
  if (cropHeight > h) {
    padTop = Math.floor((cropHeight - h) / 2);
    h += padTop + Math.floor((cropHeight - h + 1) / 2);
  }
  return {
    left: roundHalfEven((w - cropWidth) / 2) - padLeft,
    top: roundHalfEven((h - cropHeight) / 2) - padTop,
    width: cropWidth,
    height: cropHeight,
  };
}

/**
 * torchvision `CenterCrop((cropHeight, cropWidth))` on a PIL image, cutting
 * {@link centerCropWindow} (zero where the window reaches past the image). Always a new image.
 */
export function centerCrop(
  img: RgbImage,
  cropHeight: number,
  cropWidth: number = cropHeight,
): RgbImage {
  const win = centerCropWindow(img.width, img.height, cropHeight, cropWidth);
  return place(img, win.width, win.height, -win.left, -win.top);
}

/** Mirror left ↔ right (PIL `FLIP_LEFT_RIGHT`, torchvision `hflip`). */
export function hflip(img: RgbImage): RgbImage {
  const { width: w, height: h } = img;
  const out = createImage(w, h);
  const s = img.data;
  const d = out.data;
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const i = row + x * 3;
      const j = row + (w - 1 - x) * 3;
      d[j] = s[i];
      d[j + 1] = s[i + 1];
      d[j + 2] = s[i + 2];
    }
  }
  return out;
}

/** Mirror top ↔ bottom (PIL `FLIP_TOP_BOTTOM`, torchvision `vflip`). */
export function vflip(img: RgbImage): RgbImage {
  const { width: w, height: h } = img;
  const out = createImage(w, h);
  const rowBytes = w * 3;
  for (let y = 0; y < h; y++) {
    out.data.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), (h - 1 - y) * rowBytes);
  }
  return out;
}
