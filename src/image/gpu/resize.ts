/**
 * The one GPU resize: Pillow-exact BILINEAR resampling (antialiased when shrinking) of packed
 * views, fused with a crop box before and a window after, optionally mirrored. Byte-for-byte
 * equal to `resize` from src/image/resize.ts (after `cropBox`, followed by `centerCrop` or a
 * mirror): the host takes Pillow's fixed-point taps from {@link resizeCoefficients}, the one
 * source of resize coefficients, and kernels/image_resize.wgsl evaluates the same integer sums.
 *
 * {@link recordResize} serves every caller: the MoCo augmentations (RandomResizedCrop boxes and
 * flips, src/transforms/augment.ts), the synthetic views' Resize(r) + CenterCrop(c)
 * ({@link recordShortSideCenterCrop}, src/transforms/functional.ts) and {@link resizeImagesGpu}.
 * Only the source rows and resized columns a window needs are resampled.
 *
 * @module
 */
import source from "../../../kernels/image_resize.wgsl" with { type: "text" };
import { IMAGE_PRELUDE } from "./prelude.ts";
import type { Gpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { paramStruct } from "../../gpu/uniforms.ts";
import { centerCropWindow, type CropWindow } from "../crop.ts";
import type { RgbImage } from "../image.ts";
import { type AxisCoefficients, resizeCoefficients, shortSideSize } from "../resize.ts";
import {
  allocImages,
  type PackedImages,
  packRgb,
  uniformImages,
  unpackRgbImages,
} from "./packed.ts";

const FILE = "image_resize.wgsl";

/** `struct ResizeParams` of `kernels/image_resize.wgsl` (both passes). */
const PARAMS = paramStruct(FILE, source, "ResizeParams", {
  views: "u32",
  _pad0: "u32",
  _pad1: "u32",
  _pad2: "u32",
});
const WORKGROUP = 64;
/** llvmpipe stops a shader loop after 65 535 iterations; a pixel's taps must stay below. */
const MAX_TAPS = 65535;
/** Most workgroups per grid dimension WebGPU guarantees. */
const MAX_GRID = 65535;

/** A crop box in source pixels. */
export interface ResizeBox {
  /** Column of the box's left edge. */
  left: number;
  /** Row of the box's top edge. */
  top: number;
  /** Box width. */
  width: number;
  /** Box height. */
  height: number;
}

/** One output view of {@link recordResize}. */
export interface ResizeView {
  /** Index of the view of the source batch to read. */
  source: number;
  /** Part of the source view to resize (default: all of it; must lie inside). */
  box?: ResizeBox;
  /** Resized width of the box. */
  width: number;
  /** Resized height of the box. */
  height: number;
  /** Part of the resized image to keep, zero outside it (default: all of it). */
  window?: CropWindow;
  /** Mirror the window left-right (default false). */
  flip?: boolean;
}

/** One axis' taps cut to a window: `size` (first, count) pairs, then `size × ksize` weights. */
interface WindowTaps {
  ksize: number;
  data: Int32Array;
  /** Smallest first tap and end of the taps over the window (0, 0 when none is inside). */
  lo: number;
  hi: number;
}

/** Cuts `c` (for a resized length `out`) to the window [start, start + size). */
function windowTaps(c: AxisCoefficients, out: number, start: number, size: number): WindowTaps {
  const { ksize, bounds, weights } = c;
  const data = new Int32Array(size * (2 + ksize));
  let lo = Infinity;
  let hi = 0;
  for (let i = 0; i < size; i++) {
    const at = start + i;
    if (at < 0 || at >= out) continue; // zero taps: the kernel writes 0 (CenterCrop's padding)
    const first = bounds[2 * at];
    const count = bounds[2 * at + 1];
    data[2 * i] = first;
    data[2 * i + 1] = count;
    data.set(weights.subarray(at * ksize, (at + 1) * ksize), 2 * size + i * ksize);
    lo = Math.min(lo, first);
    hi = Math.max(hi, first + count);
  }
  return lo === Infinity ? { ksize, data, lo: 0, hi: 0 } : { ksize, data, lo, hi };
}

function checkSize(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be ≥ 1, got ${v}`);
}

/**
 * Records Pillow's BILINEAR resize of each view's box of `src` to its `width × height`, keeping
 * its window (mirrored when `flip`). Returns a new packed batch of the windows in view order (the
 * caller releases it); `src` is only read. Throws RangeError for bad sizes, a box outside its
 * source, a grid beyond 65 535 views or rows, or a shrink needing more than 65 535 taps.
 */
export function recordResize(
  gpu: Gpu,
  src: PackedImages,
  views: readonly ResizeView[],
  label = "resized views",
): PackedImages {
  const windows = views.map((v) =>
    v.window ?? { left: 0, top: 0, width: v.width, height: v.height }
  );
  const dst = allocImages(gpu, windows.map((w) => w.width), windows.map((w) => w.height), label);
  try {
    recordResizeInto(gpu, src, views, windows, dst);
  } catch (error) {
    dst.tensor.release();
    throw error;
  }
  return dst;
}

/** {@link recordResize} into `dst`, a batch laid out for the windows. */
function recordResizeInto(
  gpu: Gpu,
  src: PackedImages,
  views: readonly ResizeView[],
  windows: readonly CropWindow[],
  dst: PackedImages,
): void {
  const n = views.length;
  if (n === 0) return;
  if (n > MAX_GRID) throw new RangeError(`GPU resize: ${n} views exceed ${MAX_GRID} per call`);
  // Coefficients are shared by the views that cut the same axis the same way.
  const coef: number[] = [];
  const blocks = new Map<string, { offset: number; taps: WindowTaps }>();
  // The vertical taps index the intermediate, which starts at the window's first source row
  // (`lo`): their first rows are stored relative to it.
  const axis = (inSize: number, out: number, start: number, size: number, vertical: boolean) => {
    const key = `${vertical ? "v" : "h"}${inSize}:${out}:${start}:${size}`;
    let block = blocks.get(key);
    if (!block) {
      const taps = windowTaps(resizeCoefficients(inSize, out), out, start, size);
      if (taps.ksize > MAX_TAPS) {
        throw new RangeError(`GPU resize ${inSize} -> ${out}: too many taps per pixel`);
      }
      if (vertical) {
        for (let r = 0; r < size; r++) if (taps.data[2 * r + 1] > 0) taps.data[2 * r] -= taps.lo;
      }
      block = { offset: coef.length, taps };
      for (const x of taps.data) coef.push(x);
      blocks.set(key, block);
    }
    return block;
  };
  const hTable = new Uint32Array(12 * n);
  const vTable = new Uint32Array(8 * n);
  let interTotal = 0;
  let maxRows = 0;
  let maxWidth = 0;
  let maxHeight = 0;
  views.forEach((v, i) => {
    const s = v.source;
    if (!Number.isInteger(s) || s < 0 || s >= src.widths.length) {
      throw new RangeError(`source view ${s} is not in a batch of ${src.widths.length}`);
    }
    const sw = src.widths[s];
    const sh = src.heights[s];
    const box = v.box ?? { left: 0, top: 0, width: sw, height: sh };
    checkSize(v.width, "resize width");
    checkSize(v.height, "resize height");
    const win = windows[i];
    if (
      ![win.left, win.top, win.width, win.height].every(Number.isInteger) || win.width < 1 ||
      win.height < 1
    ) {
      throw new RangeError(`bad crop window ${JSON.stringify(win)}`);
    }
    const fits = [box.left, box.top, box.width, box.height].every(Number.isInteger) &&
      box.left >= 0 && box.top >= 0 && box.width >= 1 && box.height >= 1 &&
      box.left + box.width <= sw && box.top + box.height <= sh;
    if (!fits) {
      throw new RangeError(`crop box ${JSON.stringify(box)} does not fit a ${sw}x${sh} view`);
    }
    if (win.height > MAX_GRID || box.height > MAX_GRID || win.width > MAX_GRID * WORKGROUP) {
      throw new RangeError(
        `GPU resize: a ${win.width}x${win.height} window of ${box.width}x${box.height} exceeds ` +
          `the grid; at most ${MAX_GRID} rows per view`,
      );
    }
    const h = axis(box.width, v.width, win.left, win.width, false);
    const vert = axis(box.height, v.height, win.top, win.height, true);
    const rows = vert.taps.hi - vert.taps.lo;
    hTable.set([
      src.offsets[s],
      sw,
      box.left,
      box.top + vert.taps.lo,
      rows,
      win.width,
      interTotal,
      h.offset,
      h.taps.ksize,
    ], 12 * i);
    vTable.set([
      interTotal,
      win.width,
      win.height,
      dst.offsets[i],
      vert.offset,
      vert.taps.ksize,
      v.flip ? 1 : 0,
    ], 8 * i);
    interTotal += rows * win.width;
    maxRows = Math.max(maxRows, rows);
    maxWidth = Math.max(maxWidth, win.width);
    maxHeight = Math.max(maxHeight, win.height);
  });
  const coefT = Tensor.from(gpu, Int32Array.from(coef), undefined, "resize taps");
  const hT = Tensor.from(gpu, hTable, undefined, "resize h views");
  const vT = Tensor.from(gpu, vTable, undefined, "resize v views");
  const inter = Tensor.empty(gpu, [Math.max(1, interTotal)], "u32", "resize rows");
  const params = PARAMS.pack({ views: n });
  const kernel = (entryPoint: string) =>
    gpu.kernels.get({ file: FILE, source, entryPoint, prelude: IMAGE_PRELUDE, params: PARAMS });
  const blocksX = Math.ceil(maxWidth / WORKGROUP);
  if (maxRows > 0) {
    gpu.recorder.dispatch(kernel("resize_h"), [hT, coefT, src.tensor, inter], [
      blocksX,
      maxRows,
      n,
    ], params);
  }
  gpu.recorder.dispatch(kernel("resize_v"), [vT, coefT, inter, dst.tensor], [
    blocksX,
    maxHeight,
    n,
  ], params);
  for (const t of [coefT, hT, vT, inter]) t.release();
}

/**
 * Records Pillow's BILINEAR resize of `views` packed `srcWidth × srcHeight` views in `src`
 * (`[views, srcHeight, srcWidth]` u32, view after view) to `outWidth × outHeight`, keeping only
 * `window` of each resized view (zero outside the resized image). Returns the packed windows
 * `[views, window.height, window.width]` u32, a new tensor the caller releases; `src` is only
 * read. Throws RangeError for non-positive sizes or a shrink factor beyond what one shader loop
 * can sum (more than 65 535 taps).
 */
export function recordResizeCrop(
  gpu: Gpu,
  src: Tensor,
  views: number,
  srcWidth: number,
  srcHeight: number,
  outWidth: number,
  outHeight: number,
  window: CropWindow,
): Tensor {
  checkSize(srcWidth, "source width");
  checkSize(srcHeight, "source height");
  checkSize(outWidth, "resize width");
  checkSize(outHeight, "resize height");
  const { left, top, width: cw, height: ch } = window;
  if (![left, top, cw, ch].every(Number.isInteger) || cw < 1 || ch < 1) {
    throw new RangeError(`bad crop window ${JSON.stringify(window)}`);
  }
  if (!Number.isInteger(views) || views < 0) throw new RangeError(`bad view count ${views}`);
  if (src.size < views * srcWidth * srcHeight) {
    throw new RangeError(`source holds ${src.size} pixels, fewer than ${views} views need`);
  }
  const batch = uniformImages(src, srcWidth, srcHeight, views);
  const plan = batch.widths.map((_, v): ResizeView => ({
    source: v,
    width: outWidth,
    height: outHeight,
    window,
  }));
  const out = Tensor.empty(gpu, [views, ch, cw], "u32", "resize crop out");
  try {
    recordResizeInto(gpu, batch, plan, plan.map(() => window), uniformImages(out, cw, ch, views));
  } catch (error) {
    out.release();
    throw error;
  }
  return out;
}

/**
 * Records torchvision `Resize(r)` (int: short side r, Pillow BILINEAR) + `CenterCrop(c)` of
 * `views` packed `width × height` views; returns `[views, c, c]` packed u32 (caller releases).
 */
export function recordShortSideCenterCrop(
  gpu: Gpu,
  src: Tensor,
  views: number,
  width: number,
  height: number,
  resizeTo: number,
  cropSize: number,
): Tensor {
  const [rw, rh] = shortSideSize(width, height, resizeTo);
  return recordResizeCrop(
    gpu,
    src,
    views,
    width,
    height,
    rw,
    rh,
    centerCropWindow(rw, rh, cropSize),
  );
}

/**
 * `resize` (src/image/resize.ts) of every image (all of one size) to `width × height` on the
 * GPU, optionally keeping only `window` of the result; one upload and one readback. Bit-exact
 * with the CPU resize (and crop). Returns new images in input order.
 */
export async function resizeImagesGpu(
  gpu: Gpu,
  images: readonly RgbImage[],
  width: number,
  height: number,
  window: CropWindow = { left: 0, top: 0, width, height },
): Promise<RgbImage[]> {
  if (images.length === 0) return [];
  const { width: w, height: h } = images[0];
  if (images.some((img) => img.width !== w || img.height !== h)) {
    throw new RangeError("resizeImagesGpu: all images must have the same size");
  }
  const packed = new Uint32Array(Math.max(1, images.length * w * h));
  images.forEach((img, i) => packed.set(packRgb(img), i * w * h));
  const src = Tensor.from(gpu, packed, undefined, "resize source");
  try {
    const out = recordResizeCrop(gpu, src, images.length, w, h, width, height, window);
    const [data] = await gpu.recorder.read([out]);
    out.release();
    return unpackRgbImages(data as Uint32Array, window.width, window.height, images.length);
  } finally {
    src.release();
  }
}
