/**
 * Gradients of the 2-D convolution of `conv2d_forward.ts`: backward data as implicit GEMMs over
 * dy with the weights flipped and transposed (one stride phase per dispatch of the forward-form
 * kernel), and a deterministic split-K backward filter. Kernel: `kernels/conv2d_backward.wgsl`
 * (plus `kernels/conv2d.wgsl` for backward data).
 *
 * Temporaries: backward data one repacked copy of the weights; backward filter one partial-sum
 * buffer of `splits × |dw|` elements, with `splits` capped so that it never exceeds the largest
 * of x, dy and dw.
 *
 * @module
 */
import backwardSource from "../../kernels/conv2d_backward.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import {
  chooseGemm,
  chooseWgrad,
  type Family,
  family,
  loopLimited,
  MAX_PIXELS_PER_INVOCATION,
  registerTile,
  registerWorkgroup,
} from "./conv2d_family.ts";
import {
  type Geometry,
  geometry,
  outputFor,
  pair,
  rank4,
  requireF32,
  sameShape,
  type Size2,
} from "./conv2d_geometry.ts";
import { recordGemm } from "./conv2d_forward.ts";

const BACKWARD_FILE = "conv2d_backward.wgsl";

/** `struct Repack` of `kernels/conv2d_backward.wgsl` (weights of one backward-data phase). */
const REPACK = paramStruct(BACKWARD_FILE, backwardSource, "Repack", {
  k_w: "u32",
  cin: "u32",
  cout: "u32",
  stride: "u32",
  th0: "u32",
  tw0: "u32",
  t_h: "u32",
  t_w: "u32",
  base: "u32",
  total: "u32",
  _pad0: "u32",
  _pad1: "u32",
});

/** `struct Wgrad` of `kernels/conv2d_backward.wgsl` (the split-K weight gradient). */
const WGRAD = paramStruct(BACKWARD_FILE, backwardSource, "Wgrad", {
  batch: "u32",
  in_h: "u32",
  in_w: "u32",
  cin: "u32",
  out_h: "u32",
  out_w: "u32",
  cout: "u32",
  k_w: "u32",
  stride: "u32",
  pad_h: "i32",
  pad_w: "i32",
  krows: "u32",
  rows_per_split: "u32",
  splits: "u32",
  tiles_k: "u32",
  tiles_n: "u32",
  ci_tiles: "u32",
  tasks: "u32",
  _pad0: "u32",
  _pad1: "u32",
});

/** `struct Reduce` of `kernels/conv2d_backward.wgsl` (adding the split partial sums). */
const REDUCE = paramStruct(BACKWARD_FILE, backwardSource, "Reduce", {
  len: "u32",
  splits: "u32",
  _pad0: "u32",
  _pad1: "u32",
});

/** Options of {@link conv2dBackwardData}. */
export interface Conv2dBackwardDataOptions {
  /** Shape of the forward input x, [N, H, W, Cin]. */
  inputShape: readonly number[];
  /** Stride of the forward convolution, default 1. */
  stride?: number;
  /** Padding of the forward convolution, default 0. */
  pad?: Size2;
  /** Kernel variant (see {@link conv2dVariants}); default: the tuner's choice. */
  variant?: string;
  /** Write into this tensor (shape `inputShape`) instead of a new one. */
  out?: Tensor;
}

/** Options of {@link conv2dBackwardFilter}. */
export interface Conv2dBackwardFilterOptions {
  /** Filter size [kH, kW] (or one number for both). */
  kernelSize: Size2;
  /** Stride of the forward convolution, default 1. */
  stride?: number;
  /** Padding of the forward convolution, default 0. */
  pad?: Size2;
  /** Kernel variant (see {@link conv2dVariants}); default: the tuner's choice. */
  variant?: string;
  /**
   * Number of split-K chunks of the pixel range (default: chosen from the shape). Capped so the
   * partial sums never exceed the largest of x, dy and dw; raised where llvmpipe's loop limit
   * needs more chunks.
   */
  splits?: number;
  /** Write into this tensor (shape [kH, kW, Cin, Cout]) instead of a new one. */
  out?: Tensor;
}

/** One stride phase of backward data: the input pixels (rh + S·i, rw + S·j). */
interface Phase {
  rh: number;
  rw: number;
  th0: number;
  tw0: number;
  tH: number;
  tW: number;
  gridH: number;
  gridW: number;
  padH: number;
  padW: number;
  wBase: number;
}

function phases(g: Geometry): Phase[] {
  const s = g.stride;
  const out: Phase[] = [];
  let wBase = 0;
  const axis = (r: number, pad: number, k: number, size: number) => {
    const t0 = (r + pad) % s;
    const taps = t0 < k ? Math.ceil((k - t0) / s) : 0;
    const d = (r + pad - t0) / s; // output index of tap t0 for the phase's first pixel
    return { t0, taps, grid: Math.ceil((size - r) / s), pad: taps - 1 - d };
  };
  for (let rh = 0; rh < s; rh++) {
    for (let rw = 0; rw < s; rw++) {
      const ah = axis(rh, g.padH, g.kh, g.h);
      const aw = axis(rw, g.padW, g.kw, g.w);
      if (ah.grid <= 0 || aw.grid <= 0) continue;
      out.push({
        rh,
        rw,
        th0: ah.t0,
        tw0: aw.t0,
        tH: ah.taps,
        tW: aw.taps,
        gridH: ah.grid,
        gridW: aw.grid,
        padH: ah.pad,
        padW: aw.pad,
        wBase,
      });
      wBase += ah.taps * aw.taps * g.cin * g.cout;
    }
  }
  return out;
}

/**
 * Gradient of a convolution with respect to its input: dx = dy ∗ᵀ w, as implicit GEMMs over
 * dy with the weights flipped and transposed (one stride phase per dispatch).
 *
 * @param dy output gradient [N, Ho, Wo, Cout]
 * @param w weights [kH, kW, Cin, Cout]
 * @returns dx [N, H, W, Cin] (`options.inputShape`)
 */
export function conv2dBackwardData(
  gpu: Gpu,
  dy: Tensor,
  w: Tensor,
  options: Conv2dBackwardDataOptions,
): Tensor {
  const op = "conv2dBackwardData";
  requireF32(op, "dy", dy);
  requireF32(op, "w", w);
  const xShape = rank4(op, "inputShape", options.inputShape);
  const [kh, kw, cin, cout] = rank4(op, "w", w.shape);
  if (xShape[3] !== cin) {
    throw new RangeError(
      `${op}: inputShape [${xShape}] has Cin ${xShape[3]}, w [${w.shape}] ${cin}`,
    );
  }
  const g = geometry(op, xShape, [kh, kw], cout, options.stride, options.pad);
  const dyShape = [g.n, g.outH, g.outW, cout];
  if (!sameShape(dy.shape, dyShape)) {
    throw new RangeError(`${op}: dy has shape [${dy.shape}], expected [${dyShape}]`);
  }
  const variant = chooseGemm(gpu, "backwardData", g, g.n * g.h * g.w, cout, cin, options.variant);
  const dx = outputFor(gpu, op, options.out, [...xShape], "conv2d dx");
  const parts = phases(g);
  const packed = Tensor.empty(gpu, [kh * kw * cin * cout], "f32", "conv2d w repack");
  const repack = gpu.kernels.get({
    file: BACKWARD_FILE,
    source: backwardSource,
    entryPoint: "repack_phase",
    params: REPACK,
  });
  for (const ph of parts) {
    const total = ph.tH * ph.tW * cin * cout;
    if (total === 0) continue;
    const p = REPACK.pack({
      k_w: kw,
      cin,
      cout,
      stride: g.stride,
      th0: ph.th0,
      tw0: ph.tw0,
      t_h: ph.tH,
      t_w: ph.tW,
      base: ph.wBase,
      total,
    });
    gpu.recorder.dispatch(repack, [w, packed], [Math.ceil(cin / 64), cout, ph.tH * ph.tW], p);
  }
  for (const ph of parts) {
    recordGemm(gpu, {
      x: dy,
      w: packed,
      y: dx,
      batch: g.n,
      inH: g.outH,
      inW: g.outW,
      cin: cout,
      outH: ph.gridH,
      outW: ph.gridW,
      cout: cin,
      kh: ph.tH,
      kw: ph.tW,
      stride: 1,
      padH: ph.padH,
      padW: ph.padW,
      relu: false,
      wBase: ph.wBase,
      yH: g.h,
      yW: g.w,
      yH0: ph.rh,
      yW0: ph.rw,
      yStep: g.stride,
    }, variant);
  }
  packed.release();
  return dx;
}

/** Tiles of the weight-gradient GEMM: reduction-row tiles and channel tiles (see the kernels). */
function wgradTiles(variant: string, fam: Family, g: Geometry): [number, number, number] {
  const krows = g.kh * g.kw * g.cin;
  if (variant === "wg64") return [Math.ceil(krows / 64), Math.ceil(g.cout / 64), 0];
  if (fam === "scalar") return [Math.ceil(krows / 4), Math.ceil(g.cout / 4), 0];
  if (fam === "xs") return [Math.ceil(krows / 32), Math.ceil(g.cout / 32), 0];
  const [rows, cols] = registerTile(variant);
  const ciTiles = Math.ceil(g.cin / rows);
  return [g.kh * g.kw * ciTiles, Math.ceil(g.cout / cols), ciTiles];
}

/**
 * Gradient of a convolution with respect to its weights, dw[th, tw, ci, co] = Σ over pixels of
 * x[…, ci]·dy[…, co], as a split-K GEMM: each chunk of output rows writes a partial sum, and
 * the chunks are added in a fixed order. Bit-identical from run to run for a given variant.
 *
 * @param x forward input [N, H, W, Cin]
 * @param dy output gradient [N, Ho, Wo, Cout]
 * @returns dw [kH, kW, Cin, Cout]
 */
export function conv2dBackwardFilter(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  options: Conv2dBackwardFilterOptions,
): Tensor {
  const op = "conv2dBackwardFilter";
  requireF32(op, "x", x);
  requireF32(op, "dy", dy);
  rank4(op, "x", x.shape);
  const [, , , cout] = rank4(op, "dy", dy.shape);
  const [kh, kw] = pair(op, "kernelSize", options.kernelSize, 1);
  const g = geometry(op, x.shape, [kh, kw], cout, options.stride, options.pad);
  const dyShape = [g.n, g.outH, g.outW, cout];
  if (!sameShape(dy.shape, dyShape)) {
    throw new RangeError(`${op}: dy has shape [${dy.shape}], expected [${dyShape}]`);
  }
  const fam = family(g.cin, cout);
  const variant = chooseWgrad(gpu, g, options.variant, op);
  const krows = kh * kw * g.cin;
  const dwSize = krows * cout;
  const dw = outputFor(gpu, op, options.out, [kh, kw, g.cin, cout], "conv2d dw");

  const [tilesK, tilesN, ciTiles] = wgradTiles(variant, fam, g);
  const rows = g.n * g.outH;
  // Splits: enough tasks to keep every core busy, never a partial buffer larger than the
  // largest of x, dy and dw, and on loop-limited adapters few enough pixels per invocation.
  const maxSplits = Math.max(1, Math.floor(Math.max(x.size, dy.size, dwSize) / dwSize));
  const registers = variant !== "wg64";
  const wantTasks = registers ? 256 : 128;
  let splits = options.splits ?? Math.ceil(wantTasks / (tilesK * tilesN));
  if (!Number.isInteger(splits) || splits < 1) {
    throw new RangeError(`${op}: splits must be an integer ≥ 1, got ${options.splits}`);
  }
  let rowsPerSplit = Math.ceil(rows / Math.min(splits, maxSplits, rows));
  if (loopLimited(gpu)) {
    const maxRows = Math.max(1, Math.floor(MAX_PIXELS_PER_INVOCATION / g.outW));
    if (rowsPerSplit > maxRows) {
      rowsPerSplit = maxRows;
      if (Math.ceil(rows / rowsPerSplit) > maxSplits) {
        throw new RangeError(
          `${op}: ${rows * g.outW} output pixels need ${Math.ceil(rows / rowsPerSplit)} ` +
            `split-K chunks on this adapter (≤ ${MAX_PIXELS_PER_INVOCATION} pixels per ` +
            `invocation), but partial sums may use at most ${maxSplits}× the size of dw`,
        );
      }
    }
  }
  splits = Math.ceil(rows / rowsPerSplit);

  const tasks = splits * tilesK * tilesN;
  const p = WGRAD.pack({
    batch: g.n,
    in_h: g.h,
    in_w: g.w,
    cin: g.cin,
    out_h: g.outH,
    out_w: g.outW,
    cout,
    k_w: kw,
    stride: g.stride,
    pad_h: g.padH,
    pad_w: g.padW,
    krows,
    rows_per_split: rowsPerSplit,
    splits,
    tiles_k: tilesK,
    tiles_n: tilesN,
    ci_tiles: ciTiles,
    tasks,
  });
  let kernel: Kernel;
  let workgroups: number;
  if (registers) {
    const wg = registerWorkgroup(gpu);
    const entryPoint = fam === "scalar"
      ? "wgrad_scalar"
      : fam === "xs"
      ? "wgrad_rows_r32x32"
      : `wgrad_v4_${variant}`;
    kernel = gpu.kernels.get({
      file: BACKWARD_FILE,
      source: backwardSource,
      entryPoint,
      params: WGRAD,
      constants: { WG: wg },
    });
    workgroups = Math.ceil(tasks / wg);
  } else {
    kernel = gpu.kernels.get({
      file: BACKWARD_FILE,
      source: backwardSource,
      entryPoint: "wgrad_wg64",
      params: WGRAD,
    });
    workgroups = tasks;
  }
  if (splits === 1) {
    gpu.recorder.dispatch(kernel, [x, dy, dw], workgroups, p);
    return dw;
  }
  const partial = Tensor.empty(gpu, [splits * dwSize], "f32", "conv2d dw partials");
  gpu.recorder.dispatch(kernel, [x, dy, partial], workgroups, p);
  const vec4 = dwSize % 4 === 0;
  const reduce = gpu.kernels.get({
    file: BACKWARD_FILE,
    source: backwardSource,
    entryPoint: vec4 ? "reduce_splits_v4" : "reduce_splits",
    params: REDUCE,
  });
  const len = vec4 ? dwSize / 4 : dwSize;
  gpu.recorder.dispatch(
    reduce,
    [partial, dw],
    Math.ceil(len / 64),
    REDUCE.pack({ len, splits }),
  );
  partial.release();
  return dw;
}
