/**
 * Shapes and argument checks shared by the convolution ops: sizes per dimension, the geometry
 * of a convolution (output size from input, kernel, stride and padding), the key a shape's
 * tuned variant is stored under, and the RangeErrors that name the op and the bad argument.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";

/** A size per spatial dimension: one number for both, or [height, width]. */
export type Size2 = number | readonly [number, number];

/** `v` as [height, width], each an integer ≥ `min`, or a RangeError naming `op` and `what`. */
export function pair(op: string, what: string, v: Size2, min: number): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new RangeError(`${op}: ${what} must be integer(s) ≥ ${min}, got ${v}`);
  }
  return p;
}

/** `shape` as 4 sizes ≥ 1, or a RangeError naming `op` and `what`. */
export function rank4(op: string, what: string, shape: readonly number[]): [
  number,
  number,
  number,
  number,
] {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(`${op}: ${what} must be 4-D with sizes ≥ 1, got [${shape}]`);
  }
  return [shape[0], shape[1], shape[2], shape[3]];
}

/** Throws a RangeError naming `op` and `what` unless `t` holds f32. */
export function requireF32(op: string, what: string, t: Tensor): void {
  if (t.dtype !== "f32") throw new RangeError(`${op}: ${what} must be f32, got ${t.dtype}`);
}

/** Whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** `out` checked against `shape` (f32, same shape), or a new tensor of that shape. */
export function outputFor(
  gpu: Gpu,
  op: string,
  out: Tensor | undefined,
  shape: number[],
  label: string,
): Tensor {
  if (!out) return Tensor.empty(gpu, shape, "f32", label);
  requireF32(op, "out", out);
  if (!sameShape(out.shape, shape)) {
    throw new RangeError(`${op}: out has shape [${out.shape}], expected [${shape}]`);
  }
  return out;
}

/** Geometry of a convolution x [n, h, w, cin] * w [kh, kw, cin, cout] → [n, outH, outW, cout]. */
export interface Geometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  kh: number;
  kw: number;
  cout: number;
  stride: number;
  padH: number;
  padW: number;
  outH: number;
  outW: number;
}

/**
 * The geometry of `op` on input `xShape` [N, H, W, Cin] with a `kernel` [kH, kW] filter of
 * `cout` outputs; RangeErrors for a bad stride or padding, or an input smaller than the kernel.
 */
export function geometry(
  op: string,
  xShape: readonly number[],
  kernel: [number, number],
  cout: number,
  strideOpt: number | undefined,
  padOpt: Size2 | undefined,
): Geometry {
  const [n, h, w, cin] = xShape;
  const stride = strideOpt ?? 1;
  if (!Number.isInteger(stride) || stride < 1) {
    throw new RangeError(`${op}: stride must be an integer ≥ 1, got ${stride}`);
  }
  const [padH, padW] = pair(op, "pad", padOpt ?? 0, 0);
  const [kh, kw] = kernel;
  const outH = Math.floor((h + 2 * padH - kh) / stride) + 1;
  const outW = Math.floor((w + 2 * padW - kw) / stride) + 1;
  if (outH < 1 || outW < 1) {
    throw new RangeError(
      `${op}: input ${h}×${w} with padding [${padH}, ${padW}] is smaller than the kernel ${kh}×${kw}`,
    );
  }
  return { n, h, w, cin, kh, kw, cout, stride, padH, padW, outH, outW };
}

/** The key a shape's tuned variant is stored under (stable: it names entries on disk). */
export function shapeKey(g: Geometry): string {
  return `x${g.n}x${g.h}x${g.w}x${g.cin} k${g.kh}x${g.kw} co${g.cout} s${g.stride} p${g.padH}x${g.padW}`;
}
