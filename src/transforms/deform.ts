/**
 * The synthetic `deform` family (docs/synthetic.md#transform-grids, docs/synthetic.md#view-order, docs/quirks.md#q14) on the GPU, in two models.
 *
 * **Default — seeded grid elastic deformation (the evident intent).** Each view draws a
 * `points × points` grid of control displacements, each component N(0, σ²) pixels at the image's
 * own resolution. Control point (i, j) sits at pixel (j·(W−1)/(points−1), i·(H−1)/(points−1)),
 * so the grid spans the image corner to corner; the displacement of every pixel is the
 * Catmull-Rom (cubic, interpolating) blend of its 4×4 nearest control points, the edge points
 * repeated. Output pixel (x, y) is the bilinear sample of the source at (x + dx, y + dy), with
 * OpenCV's reflect-101 border (mirror without repeating the edge pixel), rounded half up. So σ is
 * the displacement scale and `points` its spatial frequency, as in the `elasticdeform` package's
 * `deform_random_grid(X, sigma, points)` that the original's parameter names follow.
 *
 * **Faithful — albumentations 1.0.3 `ElasticTransform(alpha=1, sigma=σ, alpha_affine=50,
 * approximate=True)`, approximated.** Per view: (1) a random affine warp: the three points
 * c+q, (c₀+q, c₁−q), c−q with c = (H div 2, W div 2) read as (x, y) (albumentations' quirk) and
 * q = min(H, W) div 3 move by U(−50, 50) per coordinate; the image is warped by the affine map
 * through them (bilinear, reflect-101) and rounded to uint8; (2) an elastic field dx, dy =
 * (U[0, 1)·2 − 1) per pixel, each smoothed by a 17×17 Gaussian of σ (OpenCV's kernel,
 * reflect-101), times alpha = 1; (3) the warped image is resampled at (x + dx, y + dy), bilinear,
 * reflect-101. `points` is ignored, as in the original. What differs from the original:
 * its randomness is Python's unseeded `random`/numpy (ours is seeded, so views are reproducible);
 * OpenCV resamples with 1/32-pixel coordinate quantisation and 15-bit fixed-point weights (ours
 * is float32 with round-half-up); the uniform noise comes from a counter-based hash instead of
 * numpy's MT19937. The visible effect is the same: a ±50 px affine warp whose strength does not
 * depend on σ, plus a sub-pixel wobble.
 *
 * Randomness: view `i` of a call (its index in `params`) uses a stream derived from
 * `(seed, i)`, so the same seed and parameter list give the same bytes, whatever the batching.
 * Callers wanting different fields for different images pass different seeds.
 *
 * @module
 */
import source from "../../kernels/image_geometry.wgsl" with { type: "text" };
import { IMAGE_PRELUDE } from "../image/gpu/prelude.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { createImage, type RgbImage } from "../image/image.ts";
import { Rng } from "../util/rng.ts";
import { UsageError } from "../util/errors.ts";
import { packRgb, unpackRgbImages } from "../image/gpu/packed.ts";
import { GEOMETRY_DIMS, GEOMETRY_FILE, MAX_BATCH_BYTES } from "./geometry.ts";

/** One deform view: σ (pixels) and the control-grid size (ignored by the faithful model). */
export interface DeformParams {
  /** Default model: displacement std in pixels; faithful: the Gaussian smoothing σ. */
  sigma: number;
  /** Default model: control points per axis (≥ 2). */
  points?: number;
}

/** Which model and which random stream. */
export interface DeformOptions {
  /** Use the approximation of the original's albumentations transform (default false). */
  faithful?: boolean;
  /** Seed of the random streams (default 0). */
  seed?: number;
}

/** Taps of the faithful model's Gaussian (albumentations' fixed 17×17). */
export const ELASTIC_TAPS = 17;
/** Maximum random shift of each of the three affine anchor points (albumentations' 50 px). */
export const ALPHA_AFFINE = 50;
/** Floats per view in the faithful model's parameter block: 17 taps, 6 coefficients, 1 key. */
const KERNEL_STRIDE = 24;
const WORKGROUP = 64;

/** The random stream of view `view` under `seed`. */
export function viewRng(seed: number, view: number): Rng {
  let h = (Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(view + 1, 0xc2b2ae35)) >>>
    0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return new Rng(h ^ (h >>> 15));
}

function checkParams(params: readonly DeformParams[], faithful: boolean): void {
  params.forEach((p, i) => {
    if (!(Number.isFinite(p.sigma) && p.sigma > 0)) {
      throw new UsageError(`deform view ${i}: sigma must be a positive number, got ${p.sigma}`);
    }
    if (!faithful) {
      const n = p.points;
      if (n === undefined || !Number.isInteger(n) || n < 2) {
        throw new UsageError(`deform view ${i}: points must be an integer ≥ 2, got ${n}`);
      }
    }
  });
}

/**
 * The default model's control grid of view `view`: `points²` (dx, dy) pairs in pixels, row-major
 * (grid row = y), each component N(0, σ²).
 */
export function controlGrid(
  points: number,
  sigma: number,
  seed: number,
  view: number,
): Float32Array {
  const rng = viewRng(seed, view);
  const out = new Float32Array(points * points * 2);
  for (let i = 0; i < out.length; i++) out[i] = sigma * rng.normal();
  return out;
}

/** OpenCV `getGaussianKernel(ksize, σ)` for σ > 0: exp(−(i − (k−1)/2)² / 2σ²), summing to 1. */
export function opencvGaussianKernel(ksize: number, sigma: number): Float64Array {
  const out = new Float64Array(ksize);
  const scale = -0.5 / (sigma * sigma);
  let sum = 0;
  for (let i = 0; i < ksize; i++) {
    const x = i - (ksize - 1) / 2;
    out[i] = Math.exp(scale * x * x);
    sum += out[i];
  }
  for (let i = 0; i < ksize; i++) out[i] /= sum;
  return out;
}

/**
 * The faithful model's random affine for view `view` of a W×H image, as the inverse map
 * (destination pixel → source position): [a, b, c, d, e, f] with
 * src = (a·x + b·y + c, d·x + e·y + f).
 */
export function faithfulAffine(
  width: number,
  height: number,
  seed: number,
  view: number,
): [number, number, number, number, number, number] {
  const rng = viewRng(seed, view);
  const f = Math.fround;
  const c0 = f(Math.floor(height / 2));
  const c1 = f(Math.floor(width / 2));
  const q = Math.floor(Math.min(height, width) / 3);
  const src = [[c0 + q, c1 + q], [c0 + q, c1 - q], [c0 - q, c1 - q]].map((p) => p.map(f));
  const dst = src.map((p) => p.map((v) => f(v + f(rng.range(-ALPHA_AFFINE, ALPHA_AFFINE)))));
  // Forward map M (src → dst) through the three point pairs, then its inverse.
  const [[x0, y0], [x1, y1], [x2, y2]] = src;
  const det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
  const solve = (u0: number, u1: number, u2: number): [number, number, number] => {
    const a = ((u1 - u0) * (y2 - y0) - (u2 - u0) * (y1 - y0)) / det;
    const b = ((x1 - x0) * (u2 - u0) - (x2 - x0) * (u1 - u0)) / det;
    return [a, b, u0 - a * x0 - b * y0];
  };
  if (det === 0) return [1, 0, 0, 0, 1, 0]; // images under 3 px: the anchors coincide
  const [ma, mb, mc] = solve(dst[0][0], dst[1][0], dst[2][0]);
  const [md, me, mf] = solve(dst[0][1], dst[1][1], dst[2][1]);
  const inv = ma * me - mb * md;
  if (Math.abs(inv) < 1e-12) return [1, 0, 0, 0, 1, 0];
  const ia = me / inv;
  const ib = -mb / inv;
  const id = -md / inv;
  const ie = ma / inv;
  return [ia, ib, -(ia * mc + ib * mf), id, ie, -(id * mc + ie * mf)];
}

/** The faithful model's per-view block: 17 Gaussian taps, the inverse affine, the view key. */
function faithfulBlock(
  params: readonly DeformParams[],
  first: number,
  width: number,
  height: number,
  seed: number,
): Float32Array {
  const block = new Float32Array(params.length * KERNEL_STRIDE);
  params.forEach((p, i) => {
    const view = first + i;
    block.set(opencvGaussianKernel(ELASTIC_TAPS, p.sigma), i * KERNEL_STRIDE);
    block.set(faithfulAffine(width, height, seed, view), i * KERNEL_STRIDE + ELASTIC_TAPS);
    block[i * KERNEL_STRIDE + 23] = view;
  });
  return block;
}

/** Views per batch so that a batch's output and temporaries stay within the byte budget. */
function batchSize(width: number, height: number, faithful: boolean): number {
  const perView = width * height * (faithful ? 4 + 8 : 4);
  return Math.max(1, Math.floor(MAX_BATCH_BYTES / Math.max(1, perView)));
}

function dims(width: number, height: number, views: number, seed: number): Uint8Array {
  return GEOMETRY_DIMS.pack({ width, height, total: views * width * height, seed: seed >>> 0 });
}

/**
 * Records one batch of views; returns the output tensor (packed RGB `[views, H, W]` u32, or the
 * displacement field `[views, H, W, 2]` f32 when `field` is set).
 */
function recordBatch(
  gpu: Gpu,
  src: Tensor | undefined,
  width: number,
  height: number,
  params: readonly DeformParams[],
  first: number,
  options: Required<DeformOptions>,
  field: boolean,
): Tensor {
  const views = params.length;
  const total = views * width * height;
  const groups = Math.ceil(total / WORKGROUP);
  const u = dims(width, height, views, options.seed);
  const kernel = (entryPoint: string) =>
    gpu.kernels.get({
      file: GEOMETRY_FILE,
      source,
      entryPoint,
      prelude: IMAGE_PRELUDE,
      params: GEOMETRY_DIMS,
    });
  const out = field
    ? Tensor.empty(gpu, [views, height, width, 2], "f32", "deform field")
    : Tensor.empty(gpu, [views, height, width], "u32", "deform views");
  if (!options.faithful) {
    const info = new Uint32Array(views * 4);
    const grids: Float32Array[] = [];
    let offset = 0;
    params.forEach((p, i) => {
      const n = p.points as number;
      info[i * 4] = offset;
      info[i * 4 + 1] = n;
      grids.push(controlGrid(n, p.sigma, options.seed, first + i));
      offset += n * n;
    });
    const ctrl = new Float32Array(offset * 2);
    let at = 0;
    for (const g of grids) {
      ctrl.set(g, at);
      at += g.length;
    }
    const infoT = Tensor.from(gpu, info, [info.length], "deform grid info");
    const ctrlT = Tensor.from(gpu, ctrl, [ctrl.length], "deform control points");
    if (field) {
      gpu.recorder.dispatch(kernel("deform_grid_field"), [out, infoT, ctrlT], groups, u);
    } else {
      gpu.recorder.dispatch(kernel("deform_grid"), [src!, infoT, ctrlT, out], groups, u);
    }
    infoT.release();
    ctrlT.release();
    return out;
  }
  const block = Tensor.from(
    gpu,
    faithfulBlock(params, first, width, height, options.seed),
    [views * KERNEL_STRIDE],
    "deform kernels",
  );
  const rows = Tensor.empty(gpu, [views, height, width, 2], "f32", "deform noise rows");
  gpu.recorder.dispatch(kernel("noise_rows"), [block, rows], groups, u);
  if (field) {
    gpu.recorder.dispatch(kernel("faithful_field_only"), [block, rows, out], groups, u);
  } else {
    gpu.recorder.dispatch(kernel("deform_faithful"), [src!, block, rows, out], groups, u);
  }
  block.release();
  rows.release();
  return out;
}

function resolve(options: DeformOptions): Required<DeformOptions> {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new UsageError(`deform seed must be an integer, got ${seed}`);
  return { faithful: options.faithful ?? false, seed };
}

/**
 * Deforms `img` once per parameter set (see the module documentation for both models), on the
 * GPU in batches of at most {@link MAX_BATCH_BYTES} with one readback each. Returns images the
 * size of `img`. Throws UsageError for σ ≤ 0 or (default model) points < 2.
 */
export async function deformBatch(
  gpu: Gpu,
  img: RgbImage,
  params: readonly DeformParams[],
  options: DeformOptions = {},
): Promise<RgbImage[]> {
  const opts = resolve(options);
  checkParams(params, opts.faithful);
  const { width: w, height: h } = img;
  if (w === 0 || h === 0) return params.map(() => createImage(w, h));
  const src = Tensor.from(gpu, packRgb(img), [h, w], "deform source");
  const per = batchSize(w, h, opts.faithful);
  const out: RgbImage[] = [];
  try {
    for (let start = 0; start < params.length; start += per) {
      const part = params.slice(start, start + per);
      const views = recordBatch(gpu, src, w, h, part, start, opts, false);
      const [packed] = await gpu.recorder.read([views]);
      views.release();
      out.push(...unpackRgbImages(packed as Uint32Array, w, h, part.length));
    }
  } finally {
    src.release();
  }
  return out;
}

/**
 * The displacement fields (dx, dy per pixel) the GPU uses for these views of a W×H image:
 * `[views, H, W, 2]` float32. For the faithful model this is the elastic part only (the random
 * affine is {@link faithfulAffine}). For tests and diagnostics.
 */
export async function deformFields(
  gpu: Gpu,
  width: number,
  height: number,
  params: readonly DeformParams[],
  options: DeformOptions = {},
): Promise<Float32Array> {
  const opts = resolve(options);
  checkParams(params, opts.faithful);
  const out = new Float32Array(params.length * width * height * 2);
  if (out.length === 0) return out;
  const per = Math.max(1, Math.floor(batchSize(width, height, opts.faithful) / 2));
  for (let start = 0; start < params.length; start += per) {
    const part = params.slice(start, start + per);
    const t = recordBatch(gpu, undefined, width, height, part, start, opts, true);
    const [data] = await gpu.recorder.read([t]);
    t.release();
    out.set(data as Float32Array, start * width * height * 2);
  }
  return out;
}
