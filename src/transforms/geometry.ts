/**
 * Geometric transforms with torchvision 0.10–0.14 / Pillow semantics on 8-bit RGB images
 * (docs/synthetic.md#view-order): `rotate` and `affine` (nearest neighbour, black fill, same canvas) batched on the
 * GPU, plus `resizedCrop` on the CPU (a PIL crop with a rounded box, then Pillow's bilinear
 * resize). Flips are the exact CPU mirrors of `src/image/crop.ts`.
 *
 * Both rotate and affine end in Pillow's `Image.transform(size, AFFINE, coefficients, NEAREST)`:
 * output pixel (x, y) reads source pixel ⌊a·(x+½) + b·(y+½) + c, d·(x+½) + e·(y+½) + f⌋, or
 * black outside the source. Pillow evaluates it in one of three ways (Geometry.c), all
 * reproduced bit-exactly: pure scales (b = d = 0) step in double precision along separable
 * rows and columns (tabulated here on the CPU); other matrices whose corners map within ±32768
 * use 16.16 fixed point with integer steps (done on the GPU in i32); anything else steps in
 * double precision per pixel (done on the CPU: only for coordinates beyond ±32768).
 *
 * @module
 */
import source from "../../kernels/image_geometry.wgsl" with { type: "text" };
import { IMAGE_PRELUDE } from "../image/gpu/prelude.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import { cropBox } from "../image/crop.ts";
import { createImage, type RgbImage } from "../image/image.ts";
import { resize } from "../image/resize.ts";
import { packRgb, unpackRgbImages } from "../image/gpu/packed.ts";

/** The six coefficients (a, b, c, d, e, f) of Pillow's AFFINE transform (output → source). */
export type AffineCoefficients = [number, number, number, number, number, number];

/** torchvision `affine` arguments (degrees and pixels; a scalar shear is an x-shear). */
export interface AffineParams {
  /** Rotation in degrees. */
  angle: number;
  /** Horizontal and vertical translation in pixels (floats are not rounded). */
  translate: readonly number[];
  /** Overall scale (> 0). */
  scale: number;
  /** Shear in degrees: a scalar `sx` means `[sx, 0]`; a 1-element list means `[s, s]`. */
  shear: number | readonly number[];
}

/** Largest output of one GPU batch; more views are processed in several batches. */
export const MAX_BATCH_BYTES = 128 * 1024 * 1024;

/** The kernel file of the affine and deformation passes (this module's and deform.ts'). */
export const GEOMETRY_FILE = "image_geometry.wgsl";

/**
 * `struct Dims` of `kernels/image_geometry.wgsl`, shared by every entry point of the file (the
 * affine pass leaves `seed` at 0; the deformations hash their noise from it).
 */
export const GEOMETRY_DIMS = paramStruct(GEOMETRY_FILE, source, "Dims", {
  width: "u32",
  height: "u32",
  total: "u32",
  seed: "u32",
});

const WORKGROUP = 64;

/** Python's float `%`: the result has the divisor's sign. */
function pyMod(a: number, b: number): number {
  const m = a % b;
  if (m === 0) return b < 0 ? -0 : 0;
  return (m < 0) !== (b < 0) ? m + b : m;
}

/** Python's `round(x, 15)` (correctly rounded to 15 decimals). */
function round15(x: number): number {
  if (!Number.isFinite(x)) return x;
  return Number(x.toFixed(15));
}

/**
 * Pillow's `Image.rotate(angle)` (counter-clockwise, about (W/2, H/2), same canvas) as affine
 * coefficients, including its shortcuts: angle ≡ 0 is the identity, 180 an exact point
 * reflection, 90/270 exact transposes for square images (otherwise the general matrix with
 * cos/sin rounded to 15 decimals, as Pillow does).
 */
export function pillowRotateCoefficients(
  width: number,
  height: number,
  angle: number,
): AffineCoefficients {
  const a = pyMod(angle, 360);
  if (a === 0) return [1, 0, 0, 0, 1, 0];
  if (a === 180) return [-1, 0, width, 0, -1, height];
  if (width === height && a === 90) return [0, -1, width, 1, 0, 0];
  if (width === height && a === 270) return [0, 1, 0, -1, 0, height];
  const theta = -(a * (Math.PI / 180));
  const m: AffineCoefficients = [
    round15(Math.cos(theta)),
    round15(Math.sin(theta)),
    0,
    round15(-Math.sin(theta)),
    round15(Math.cos(theta)),
    0,
  ];
  const cx = width / 2;
  const cy = height / 2;
  m[2] = m[0] * -cx + m[1] * -cy + 0 + cx;
  m[5] = m[3] * -cx + m[4] * -cy + 0 + cy;
  return m;
}

/**
 * torchvision's `_get_inverse_affine_matrix` for a PIL image (centre (W/2, H/2)), the
 * coefficients `F.affine` hands to Pillow. Throws RangeError for a scale ≤ 0 or a malformed
 * translate/shear, as torchvision raises.
 */
export function torchvisionAffineCoefficients(
  width: number,
  height: number,
  params: AffineParams,
): AffineCoefficients {
  const { angle, translate, scale } = params;
  if (!(scale > 0)) throw new RangeError(`affine scale must be positive, got ${scale}`);
  if (translate.length !== 2) {
    throw new RangeError(`affine translate must have 2 values, got ${translate.length}`);
  }
  let shear: readonly number[] = typeof params.shear === "number"
    ? [params.shear, 0]
    : params.shear;
  if (shear.length === 1) shear = [shear[0], shear[0]];
  if (shear.length !== 2) throw new RangeError(`affine shear must have 1 or 2 values`);
  const deg = Math.PI / 180;
  const rot = angle * deg;
  const sx = shear[0] * deg;
  const sy = shear[1] * deg;
  const cx = width * 0.5;
  const cy = height * 0.5;
  const [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = -Math.cos(rot - sy) * Math.tan(sx) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = -Math.sin(rot - sy) * Math.tan(sx) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0].map((v) => v / scale) as AffineCoefficients;
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

/** Pillow's COORD: −1 for negative values (outside), else truncation. */
function coord(v: number): number {
  return v < 0 ? -1 : Math.trunc(v);
}

/** Pillow's FIX: a double to 16.16 fixed point, rounded half up. */
function fix16(v: number): number {
  return Math.floor(v * 65536 + 0.5) | 0;
}

/** Which of Pillow's three nearest-neighbour affine engines handles `m` on a w×h canvas. */
export function pillowAffinePath(
  m: AffineCoefficients,
  w: number,
  h: number,
): "scale" | "fixed" | "float" {
  if (m[1] === 0 && m[3] === 0) return "scale";
  const inRange = (x: number, y: number) =>
    Math.abs(x * m[0] + y * m[1] + m[2]) < 32768 && Math.abs(x * m[3] + y * m[4] + m[5]) < 32768;
  return inRange(0, 0) && inRange(w, h) && inRange(0, h) && inRange(w, 0) ? "fixed" : "float";
}

/** The source rows (y) and columns (x) of Pillow's pure-scale path; −1 marks outside. */
function scaleTables(m: AffineCoefficients, w: number, h: number): [Int32Array, Int32Array] {
  const rows = new Int32Array(h);
  const cols = new Int32Array(w);
  let xo = m[2] + m[0] * 0.5;
  for (let x = 0; x < w; x++, xo += m[0]) {
    const xi = coord(xo);
    cols[x] = xi >= 0 && xi < w ? xi : -1;
  }
  let yo = m[5] + m[4] * 0.5;
  for (let y = 0; y < h; y++, yo += m[4]) {
    const yi = coord(yo);
    rows[y] = yi >= 0 && yi < h ? yi : -1;
  }
  return [rows, cols];
}

/** The 16.16 coefficients of Pillow's fixed-point path: a, b, c, d, e, f. */
function fixedCoefficients(m: AffineCoefficients): number[] {
  return [
    fix16(m[0]),
    fix16(m[1]),
    fix16(m[2] + m[0] * 0.5 + m[1] * 0.5),
    fix16(m[3]),
    fix16(m[4]),
    fix16(m[5] + m[3] * 0.5 + m[4] * 0.5),
  ];
}

/**
 * Exact CPU emulation of Pillow's `transform(size, AFFINE, m, NEAREST)` on an RGB image with
 * black fill, with all three of Pillow's engines. A reference for the GPU path, and the engine
 * for the (practically unused) double-precision case.
 */
export function affineNearestCpu(img: RgbImage, m: AffineCoefficients): RgbImage {
  const { width: w, height: h } = img;
  const out = createImage(w, h);
  const s = img.data;
  const d = out.data;
  const put = (x: number, y: number, xi: number, yi: number) => {
    if (xi >= 0 && xi < w && yi >= 0 && yi < h) {
      const o = (y * w + x) * 3;
      const i = (yi * w + xi) * 3;
      d[o] = s[i];
      d[o + 1] = s[i + 1];
      d[o + 2] = s[i + 2];
    }
  };
  const path = pillowAffinePath(m, w, h);
  if (path === "scale") {
    const [rows, cols] = scaleTables(m, w, h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) put(x, y, cols[x], rows[y]);
  } else if (path === "fixed") {
    const [a0, a1, a2, a3, a4, a5] = fixedCoefficients(m);
    let xo = a2;
    let yo = a5;
    for (let y = 0; y < h; y++, xo = (xo + a1) | 0, yo = (yo + a4) | 0) {
      let xx = xo;
      let yy = yo;
      for (let x = 0; x < w; x++, xx = (xx + a0) | 0, yy = (yy + a3) | 0) {
        put(x, y, xx >> 16, yy >> 16);
      }
    }
  } else {
    let xo = m[2] + m[1] * 0.5 + m[0] * 0.5;
    let yo = m[5] + m[4] * 0.5 + m[3] * 0.5;
    for (let y = 0; y < h; y++, xo += m[1], yo += m[4]) {
      let xx = xo;
      let yy = yo;
      for (let x = 0; x < w; x++, xx += m[0], yy += m[3]) put(x, y, coord(xx), coord(yy));
    }
  }
  return out;
}

/** Views per GPU batch so that one batch's packed output stays within {@link MAX_BATCH_BYTES}. */
export function viewsPerBatch(width: number, height: number, bytesPerPixel = 4): number {
  return Math.max(1, Math.floor(MAX_BATCH_BYTES / Math.max(1, width * height * bytesPerPixel)));
}

/**
 * Records Pillow's nearest-neighbour AFFINE transform of one source image (already packed and
 * uploaded, `[H, W]` u32) for each coefficient set; returns the packed views `[views, H, W]`.
 * Every set must take Pillow's "scale" or "fixed" path ({@link pillowAffinePath}).
 */
export function recordAffineNearest(
  gpu: Gpu,
  src: Tensor,
  width: number,
  height: number,
  coefficients: readonly AffineCoefficients[],
): Tensor {
  const views = coefficients.length;
  const header = new Int32Array(Math.max(8, views * 8));
  const tables: Int32Array[] = [];
  let tableSize = 0;
  coefficients.forEach((m, v) => {
    const path = pillowAffinePath(m, width, height);
    if (path === "float") throw new RangeError(`view ${v}: coordinates beyond Pillow's ±32768`);
    if (path === "fixed") {
      header[v * 8] = 0;
      header.set(fixedCoefficients(m), v * 8 + 1);
    } else {
      const [rows, cols] = scaleTables(m, width, height);
      header[v * 8] = 1;
      header[v * 8 + 7] = tableSize;
      tables.push(rows, cols);
      tableSize += height + width;
    }
  });
  const table = new Int32Array(Math.max(1, tableSize));
  let offset = 0;
  for (const t of tables) {
    table.set(t, offset);
    offset += t.length;
  }
  const hdr = Tensor.from(gpu, header, [header.length], "affine views");
  const tab = Tensor.from(gpu, table, [table.length], "affine tables");
  const total = views * width * height;
  const out = Tensor.empty(gpu, [views, height, width], "u32", "affine output");
  const kernel = gpu.kernels.get({
    file: GEOMETRY_FILE,
    source,
    entryPoint: "affine_nearest",
    params: GEOMETRY_DIMS,
    prelude: IMAGE_PRELUDE,
  });
  gpu.recorder.dispatch(
    kernel,
    [src, hdr, tab, out],
    Math.ceil(total / WORKGROUP),
    GEOMETRY_DIMS.pack({ width, height, total, seed: 0 }),
  );
  hdr.release();
  tab.release();
  return out;
}

/**
 * Pillow's nearest-neighbour AFFINE transform of `img` for every coefficient set, bit-exact:
 * on the GPU with one upload of the source, batches of at most {@link MAX_BATCH_BYTES} output and
 * one readback per batch (views needing Pillow's double-precision engine run on the CPU). Returns one image per coefficient set, each the size of `img`.
 */
export async function affineNearestBatch(
  gpu: Gpu,
  img: RgbImage,
  coefficients: readonly AffineCoefficients[],
): Promise<RgbImage[]> {
  const { width: w, height: h } = img;
  if (w === 0 || h === 0) return coefficients.map(() => createImage(w, h));
  const out: RgbImage[] = new Array(coefficients.length);
  const onGpu: number[] = [];
  coefficients.forEach((m, i) => {
    if (pillowAffinePath(m, w, h) === "float") out[i] = affineNearestCpu(img, m);
    else onGpu.push(i);
  });
  if (onGpu.length === 0) return out;
  const src = Tensor.from(gpu, packRgb(img), [h, w], "affine source");
  const per = viewsPerBatch(w, h);
  try {
    for (let start = 0; start < onGpu.length; start += per) {
      const chunk = onGpu.slice(start, start + per);
      const views = recordAffineNearest(gpu, src, w, h, chunk.map((i) => coefficients[i]));
      const [packed] = await gpu.recorder.read([views]);
      views.release();
      const images = unpackRgbImages(packed as Uint32Array, w, h, chunk.length);
      chunk.forEach((i, j) => out[i] = images[j]);
    }
  } finally {
    src.release();
  }
  return out;
}

/** torchvision `rotate(img, angle)` for every angle (degrees, counter-clockwise), on the GPU. */
export function rotateBatch(
  gpu: Gpu,
  img: RgbImage,
  angles: readonly number[],
): Promise<RgbImage[]> {
  return affineNearestBatch(
    gpu,
    img,
    angles.map((a) => pillowRotateCoefficients(img.width, img.height, a)),
  );
}

/** torchvision `affine(img, angle, translate, scale, shear)` for every parameter set, on the GPU. */
export function affineBatch(
  gpu: Gpu,
  img: RgbImage,
  params: readonly AffineParams[],
): Promise<RgbImage[]> {
  return affineNearestBatch(
    gpu,
    img,
    params.map((p) => torchvisionAffineCoefficients(img.width, img.height, p)),
  );
}

/**
 * torchvision `resized_crop(img, top, left, height, width, size)` on a PIL image: PIL crop of
 * the box (left, top, left + width, top + height), each edge rounded half-to-even and the
 * outside zero-filled, then Pillow's bilinear (antialiased) resize to `size = [h, w]`.
 */
export function resizedCrop(
  img: RgbImage,
  top: number,
  left: number,
  height: number,
  width: number,
  size: readonly [number, number] | readonly number[],
): RgbImage {
  if (size.length !== 2) throw new RangeError(`resizedCrop size must be [h, w], got [${size}]`);
  return resize(cropBox(img, left, top, left + width, top + height), size[1], size[0]);
}
