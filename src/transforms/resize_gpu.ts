/**
 * Pillow-exact BILINEAR resize fused with a crop window, on the GPU, for batches of same-size
 * views already there (packed one u32 per pixel, r | g << 8 | b << 16, as the geometry and
 * colour kernels write them). Byte-for-byte equal to `resize` from src/image/resize.ts
 * followed by `centerCrop`: the host computes Pillow's fixed-point coefficients with the
 * CPU code ({@link resizeCoefficients}) and the kernels evaluate the same integer sums.
 *
 * The synthetic views (functional.ts) use {@link recordShortSideCenterCrop}: Resize(r) +
 * CenterCrop(c) of every op output, recorded behind the ops so one readback brings back only the
 * c×c views. Only the source rows and resized columns the window needs are resampled.
 *
 * @module
 */
import source from "../../kernels/image_resize.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { centerCropWindow, type CropWindow } from "../image/crop.ts";
import type { RgbImage } from "../image/image.ts";
import { resizeCoefficients, shortSideSize } from "../image/resize.ts";
import { packRgb, unpackRgbImages } from "./geometry.ts";

const FILE = "image_resize.wgsl";
const WORKGROUP = 64;
/** llvmpipe stops a shader loop after 65 535 iterations; a pixel's taps must stay below. */
const MAX_TAPS = 65535;
/** Most workgroups per grid dimension WebGPU guarantees. */
const MAX_GRID = 65535;

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
  for (const [v, what] of [[srcWidth, "source width"], [srcHeight, "source height"]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be ≥ 1, got ${v}`);
  }
  for (const [v, what] of [[outWidth, "width"], [outHeight, "height"]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`resize ${what} must be ≥ 1, got ${v}`);
  }
  const { left, top, width: cw, height: ch } = window;
  if (![left, top, cw, ch].every(Number.isInteger) || cw < 1 || ch < 1) {
    throw new RangeError(`bad crop window ${JSON.stringify(window)}`);
  }
  if (!Number.isInteger(views) || views < 0) throw new RangeError(`bad view count ${views}`);
  // Rows and views are grid dimensions (at most 65 535 workgroups each).
  if (views > MAX_GRID || ch > MAX_GRID || srcHeight > MAX_GRID || cw > MAX_GRID * WORKGROUP) {
    throw new RangeError(
      `GPU resize: ${views} views of ${cw}x${ch} from ${srcWidth}x${srcHeight} exceed the grid; ` +
        `at most ${MAX_GRID} views and rows per call`,
    );
  }
  if (src.size < views * srcWidth * srcHeight) {
    throw new RangeError(`source holds ${src.size} pixels, fewer than ${views} views need`);
  }
  const out = Tensor.empty(gpu, [views, ch, cw], "u32", "resize crop out");
  if (views === 0) return out;

  // The resized columns and rows inside the window, and the source rows those rows read.
  const colFirst = Math.max(0, left);
  const cols = Math.max(0, Math.min(outWidth, left + cw) - colFirst);
  const rowStart = Math.max(0, top);
  const rowEnd = Math.min(outHeight, top + ch);
  const horiz = resizeCoefficients(srcWidth, outWidth);
  const vert = resizeCoefficients(srcHeight, outHeight);
  if (horiz.ksize > MAX_TAPS || vert.ksize > MAX_TAPS) {
    throw new RangeError(
      `GPU resize ${srcWidth}x${srcHeight} -> ${outWidth}x${outHeight}: too many taps per pixel`,
    );
  }
  let rowFirst = 0;
  let rows = 0;
  if (rowEnd > rowStart && cols > 0) {
    rowFirst = vert.bounds[2 * rowStart];
    const last = 2 * (rowEnd - 1);
    rows = vert.bounds[last] + vert.bounds[last + 1] - rowFirst;
  }
  const params = (ksizeH: number, ksizeV: number) =>
    new Int32Array([
      views,
      srcWidth,
      srcHeight,
      ksizeH,
      ksizeV,
      rowFirst,
      rows,
      colFirst,
      cols,
      left,
      top,
      cw,
      ch,
      outWidth,
      outHeight,
      0,
    ]);
  const kernel = (entryPoint: string) => gpu.kernels.get({ file: FILE, source, entryPoint });
  const vb = Tensor.from(gpu, vert.bounds, undefined, "resize v bounds");
  const vw = Tensor.from(gpu, vert.weights, undefined, "resize v weights");
  const tmp = Tensor.empty(gpu, [Math.max(1, views * rows * cols)], "u32", "resize rows");
  if (rows > 0) {
    const hb = Tensor.from(gpu, horiz.bounds, undefined, "resize h bounds");
    const hw = Tensor.from(gpu, horiz.weights, undefined, "resize h weights");
    gpu.recorder.dispatch(
      kernel("resize_h"),
      [hb, hw, src, tmp],
      [Math.ceil(cols / WORKGROUP), rows, views],
      params(horiz.ksize, vert.ksize),
    );
    hb.release();
    hw.release();
  }
  gpu.recorder.dispatch(
    kernel("resize_v"),
    [vb, vw, tmp, out],
    [Math.ceil(cw / WORKGROUP), ch, views],
    params(horiz.ksize, vert.ksize),
  );
  vb.release();
  vw.release();
  tmp.release();
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
 * `resize` (src/image/resize.ts) of every image (all of one size) to `width × height` on the GPU, optionally
 * keeping only `window` of the result; one upload and one readback. Bit-exact with the CPU
 * resize (and crop). Returns new images in input order.
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
