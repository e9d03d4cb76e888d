/**
 * The 18 synthetic transform families of the synthetic-invariance evaluation and their exact
 * parameter grids (docs/synthetic.md#sampling, docs/synthetic.md#transform-grids): the same values, in the same order and under the same keys as
 * the original's `ManualTransform`, including torch's float32 `linspace` rounding.
 *
 * Each grid is a list of parameter sets, one per view. Keys are the original's keyword names
 * (`angle`, `translate`, `scale`, `shear`, `top`, `left`, `height`, `width`, `size`, `aug`,
 * `num_output_channels`, `points`, `sigma`, `brightness_factor`, `contrast_factor`,
 * `saturation_factor`, `hue_factor`, `kernel_size`, `sharpness_factor`, `bits`), so a grid can
 * be compared with (and reported like) the Python lists. Pairs (`translate`, `shear`, `size`)
 * are two-element arrays.
 *
 * Grid lengths follow the original: k for the linspace families; floor(√k)² for translation and
 * shear; floor(k^¼)⁴ for resized_crop; fixed lists for the flag families (2), posterize (7) and
 * deform (256), which a smaller k truncates and a larger k cannot serve (a UsageError naming
 * `k`, which the scripts restate as `--k`; the original would crash with an IndexError).
 *
 * @module
 */
import { UsageError } from "../util/errors.ts";

/** A synthetic transform family, as named by `--transform`. */
export type SyntheticFamily =
  | "rotation"
  | "translation"
  | "scale"
  | "shear"
  | "resized_crop"
  | "h_flip"
  | "v_flip"
  | "deform"
  | "grayscale"
  | "brightness"
  | "contrast"
  | "saturation"
  | "hue"
  | "blur"
  | "sharpness"
  | "invert"
  | "equalize"
  | "posterize";

/** Every family, in the order of the table in docs/synthetic.md#transform-grids. */
export const SYNTHETIC_FAMILIES: readonly SyntheticFamily[] = Object.freeze([
  "rotation",
  "translation",
  "scale",
  "shear",
  "resized_crop",
  "h_flip",
  "v_flip",
  "deform",
  "grayscale",
  "brightness",
  "contrast",
  "saturation",
  "hue",
  "blur",
  "sharpness",
  "invert",
  "equalize",
  "posterize",
]);

/** Whether `name` is one of the 18 family names. */
export function isSyntheticFamily(name: string): name is SyntheticFamily {
  return (SYNTHETIC_FAMILIES as readonly string[]).includes(name);
}

/** One view's parameters, keyed by the original's keyword names. */
export type SyntheticParams = Record<string, number | boolean | number[]>;

/** Sizes the grids depend on: `--resize` (r, default 256) and `--crop-size` (c, default 224). */
export interface GridOptions {
  /** `--resize`, the short side before the centre crop (default 256). */
  resize?: number;
  /** `--crop-size`, the final view size (default 224). */
  cropSize?: number;
}

/** The default number of views when `--k` is not given (docs/synthetic.md#sampling). */
export function defaultK(family: SyntheticFamily): number {
  switch (family) {
    case "h_flip":
    case "v_flip":
    case "grayscale":
    case "invert":
    case "equalize":
      return 2;
    case "posterize":
      return 7;
    default:
      return 256;
  }
}

// ---------------------------------------------------------------------------------------------
// float32 arithmetic as torch's CPU linspace kernel does it

const f32 = Math.fround;
const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** The adjacent float32 towards +∞ (`up`) or −∞ of a finite float32 value. */
function nextFloat32(x: number, up: boolean): number {
  if (x === 0) return up ? 1.401298464324817e-45 : -1.401298464324817e-45;
  scratchF[0] = x;
  scratchU[0] += (x > 0) === up ? 1 : -1;
  return scratchF[0];
}

/** float32 fused multiply-add: round32(a·b + c) with a single rounding (a, b, c float32). */
function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24 + 24 significant bits fit in a double
  const s = p + c;
  const bb = s - p;
  const err = (p - (s - bb)) + (c - bb); // s + err == p + c exactly (TwoSum)
  const r = f32(s);
  if (err === 0 || r === s) return r;
  // Double rounding can only go wrong when s sits exactly halfway between two float32 values.
  const other = nextFloat32(r, r < s);
  if (Math.abs(s - r) !== Math.abs(other - s)) return r;
  const hi = Math.max(r, other);
  const lo = Math.min(r, other);
  return err > 0 ? hi : lo;
}

/**
 * `torch.linspace(start, end, steps)` in float32, as the x86-64 AVX2 CPU kernel of torch 1.13
 * computes it (checked element by element against Debian's build): step = (end − start)/(n − 1)
 * in float32; blocks of 16 elements are vectorised as `base + lane·step` with the block base
 * `start + step·idx` (first half) or `end − step·(n − 1 − idx)` (second half, chosen by the
 * block's first index) computed with a fused multiply-add; the tail is scalar, fused, per
 * element. The results differ from a plain formula by at most one float32 ulp.
 */
export function linspaceF32(start: number, end: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`bad linspace steps ${steps}`);
  const s = f32(start);
  const e = f32(end);
  if (steps === 0) return [];
  if (steps === 1) return [s];
  const step = f32(f32(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const scalar = (i: number): number =>
    i < half ? fma32(step, i, s) : fma32(-step, steps - 1 - i, e);
  const out = new Array<number>(steps);
  const lanes = 8;
  let i = 0;
  for (; i + 2 * lanes <= steps; i += 2 * lanes) {
    for (let block = 0; block < 2; block++) {
      const idx = i + block * lanes;
      const base = scalar(idx);
      for (let l = 0; l < lanes; l++) out[idx + l] = f32(base + f32(l * step));
    }
  }
  for (; i < steps; i++) out[i] = scalar(i);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The grids

function checkSize(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`${option}: must be a positive integer, got ${value}`);
  }
  return value;
}

/** A fixed-length list truncated to k, or a UsageError when k asks for more. */
function fixed(family: SyntheticFamily, list: SyntheticParams[], k: number): SyntheticParams[] {
  if (k > list.length) {
    throw new UsageError(
      `k: ${k} is too large for family: "${family}", whose grid has only ${list.length} entries`,
    );
  }
  return list.slice(0, k);
}

/** itertools.product(a, b) with the first factor varying slowest. */
function product2(a: readonly number[], b: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const x of a) for (const y of b) out.push([x, y]);
  return out;
}

/**
 * The parameter sets of `family` for `k` views (docs/synthetic.md#transform-grids), exactly as the original builds them:
 * values are float32 results stored as doubles, pairs are `[a, b]` arrays, and the order is
 * Python's (itertools.product with the first factor slowest). Throws UsageError naming the
 * option (`family` for an unknown family; `k`, `resize` or `cropSize` for a non-positive value;
 * `k` for a k beyond a fixed-length list), which the scripts restate as `--transform`, `--k`,
 * `--resize` and `--crop-size`.
 *
 * @example
 * ```ts
 * syntheticGrid("rotation", 256)[1]; // { angle: 1.40625 }
 * syntheticGrid("translation", 256)[136]; // { translate: [0, 0], angle: 0, scale: 1, shear: 1 }
 * ```
 */
export function syntheticGrid(
  family: SyntheticFamily,
  k: number,
  options: GridOptions = {},
): SyntheticParams[] {
  if (!isSyntheticFamily(family)) throw new UsageError(`family: unknown transform '${family}'`);
  checkSize(k, "k");
  const resize = checkSize(options.resize ?? 256, "resize");
  const crop = checkSize(options.cropSize ?? 224, "cropSize");
  const sqrtK = Math.floor(Math.sqrt(k));
  switch (family) {
    case "rotation":
      return linspaceF32(0, 360, k + 1).slice(0, k).map((angle) => ({ angle }));
    case "translation": {
      const space = (1 - crop / resize) / 2;
      const a = linspaceF32(-space, space, sqrtK + 1).slice(0, sqrtK).map((v) => f32(v * resize));
      return product2(a, a).map(([x, y]) => ({ translate: [x, y], angle: 0, scale: 1, shear: 1 }));
    }
    case "scale":
      return linspaceF32(0.25, 2, k).map((scale) => ({
        scale,
        translate: [0, 0],
        angle: 0,
        shear: 1,
      }));
    case "shear": {
      const a = linspaceF32(-160, 160, sqrtK + 1).slice(0, sqrtK);
      return product2(a, a).map(([x, y]) => ({
        shear: [x, y],
        translate: [0, 0],
        angle: 0,
        scale: 1,
      }));
    }
    case "resized_crop": {
      const n = Math.floor(Math.sqrt(Math.sqrt(k)));
      const offsets = linspaceF32(0, 0.25, n).map((v) => f32(v * resize));
      const sizes = linspaceF32(0.75, 0.25, n).map((v) => f32(v * resize));
      const out: SyntheticParams[] = [];
      for (const top of offsets) {
        for (const left of offsets) {
          for (const height of sizes) {
            for (const width of sizes) out.push({ top, left, height, width, size: [crop, crop] });
          }
        }
      }
      return out;
    }
    case "h_flip":
    case "v_flip":
    case "invert":
    case "equalize":
      return fixed(family, [{ aug: false }, { aug: true }], k);
    case "grayscale":
      return fixed(family, [
        { aug: false, num_output_channels: 3 },
        { aug: true, num_output_channels: 3 },
      ], k);
    case "deform": {
      const sigmas = linspaceF32(10, 50, 8).map(Math.trunc);
      const list: SyntheticParams[] = [];
      for (let i = 0; i < 256; i++) list.push({ points: 2 + (i >> 5), sigma: sigmas[i % 8] });
      return fixed(family, list, k);
    }
    case "brightness":
      return linspaceF32(0.25, 5, k).map((v) => ({ brightness_factor: v }));
    case "contrast":
      return linspaceF32(0.25, 5, k).map((v) => ({ contrast_factor: v }));
    case "saturation":
      return linspaceF32(0.25, 5, k).map((v) => ({ saturation_factor: v }));
    case "hue":
      return linspaceF32(-0.5, 0.5, k).map((v) => ({ hue_factor: v }));
    case "blur": {
      const kernelSize = 1 + Math.floor(crop / 20) * 2;
      return linspaceF32(1e-5, 20, k).map((sigma) => ({ sigma, kernel_size: kernelSize }));
    }
    case "sharpness":
      return linspaceF32(1, 30, k).map((v) => ({ sharpness_factor: v }));
    case "posterize":
      return fixed(family, [1, 2, 3, 4, 5, 6, 7].map((bits) => ({ bits })), k);
  }
}
