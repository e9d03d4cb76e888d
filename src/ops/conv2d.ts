/**
 * 2-D convolution over NHWC activations with HWIO weights [kH, kW, Cin, Cout], as implicit GEMMs
 * (no im2col is materialised): forward with a fused epilogue (+ bias, + residual, ReLU: the eval
 * fast path once BatchNorm is folded into the weights, see `fold_batchnorm.ts`), backward data
 * and a deterministic split-K backward filter. Kernels: `kernels/conv2d.wgsl` and
 * `kernels/conv2d_backward.wgsl`.
 *
 * Each op picks a kernel family from the channel counts (vec4 when Cin and Cout are multiples
 * of 4, scalar-input for other Cin such as the RGB stem, scalar for any other Cout) and a
 * variant (tile shape, workgroup memory or not) through `gpu.tuner`: the cached winner of
 * {@link conv2dTune} for that shape, else a per-adapter default (register tiles without
 * workgroup memory on software adapters, 64×64 workgroup-memory tiles elsewhere).
 *
 * Temporaries: forward none; backward data one repacked copy of the weights; backward filter
 * one partial-sum buffer of `splits × |dw|` elements, with `splits` capped so that it never
 * exceeds the largest of x, dy and dw.
 *
 * @module
 */
import forwardSource from "../../kernels/conv2d.wgsl" with { type: "text" };
import backwardSource from "../../kernels/conv2d_backward.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { Tensor } from "../gpu/tensor.ts";

const FORWARD_FILE = "conv2d.wgsl";
const BACKWARD_FILE = "conv2d_backward.wgsl";

/** A size per spatial dimension: one number for both, or [height, width]. */
export type Size2 = number | readonly [number, number];

/** The three convolution ops, as named for variants and tuning. */
export type Conv2dOp = "forward" | "backwardData" | "backwardFilter";

/** Options of {@link conv2dForward}. */
export interface Conv2dOptions {
  /** Stride (both dimensions), default 1. */
  stride?: number;
  /** Zero padding on each side, default 0. */
  pad?: Size2;
  /** Added per output channel, [Cout]. */
  bias?: Tensor;
  /** Added to the output before ReLU, same shape as the output [N, Ho, Wo, Cout]. */
  residual?: Tensor;
  /** Apply max(0, ·) last. */
  relu?: boolean;
  /** Kernel variant (see {@link conv2dVariants}); default: the tuner's choice. */
  variant?: string;
  /** Write into this tensor (shape [N, Ho, Wo, Cout]) instead of a new one. */
  out?: Tensor;
}

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

/** Kernel family, chosen from the channel counts of the GEMM (input side, output side). */
type Family = "v4" | "xs" | "scalar";

function family(cin: number, cout: number): Family {
  if (cout % 4 !== 0) return "scalar";
  return cin % 4 === 0 ? "v4" : "xs";
}

/** Register-tile variants are "r<pixels or reduction rows>x<channels>"; "wg64" uses workgroup memory. */
const GEMM_VARIANTS: Record<Family, readonly string[]> = {
  v4: ["r32x32", "r16x32", "r32x16", "r16x16", "wg64"],
  xs: ["r32x32", "r16x16", "wg64"],
  scalar: ["r4x4", "wg64"],
};

const WGRAD_VARIANTS: Record<Family, readonly string[]> = {
  v4: ["r32x32", "r16x16", "wg64"],
  xs: ["r32x32", "wg64"],
  scalar: ["r4x4", "wg64"],
};

/**
 * The variants an op can run for the given channel counts (those of the forward convolution).
 * Every variant computes the same result; they differ in speed per adapter and shape.
 */
export function conv2dVariants(op: Conv2dOp, cin: number, cout: number): readonly string[] {
  if (op === "forward") return GEMM_VARIANTS[family(cin, cout)];
  if (op === "backwardData") return GEMM_VARIANTS[family(cout, cin)];
  return WGRAD_VARIANTS[family(cin, cout)];
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

function pair(op: string, what: string, v: Size2, min: number): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new RangeError(`${op}: ${what} must be integer(s) ≥ ${min}, got ${v}`);
  }
  return p;
}

function rank4(op: string, what: string, shape: readonly number[]): [
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

function f32(op: string, what: string, t: Tensor): void {
  if (t.dtype !== "f32") throw new RangeError(`${op}: ${what} must be f32, got ${t.dtype}`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function outputFor(
  gpu: Gpu,
  op: string,
  out: Tensor | undefined,
  shape: number[],
  label: string,
): Tensor {
  if (!out) return Tensor.empty(gpu, shape, "f32", label);
  f32(op, "out", out);
  if (!sameShape(out.shape, shape)) {
    throw new RangeError(`${op}: out has shape [${out.shape}], expected [${shape}]`);
  }
  return out;
}

/** Geometry of a convolution x [n, h, w, cin] * w [kh, kw, cin, cout] → [n, outH, outW, cout]. */
interface Geometry {
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

function geometry(
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

function shapeKey(g: Geometry): string {
  return `x${g.n}x${g.h}x${g.w}x${g.cin} k${g.kh}x${g.kw} co${g.cout} s${g.stride} p${g.padH}x${g.padW}`;
}

/** Whether register tiles without workgroup memory are the default (software adapters). */
function registerTilesByDefault(gpu: Gpu): boolean {
  return gpu.summary.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(gpu.summary.description);
}

/**
 * Whether the adapter stops a loop after 65 535 iterations per invocation (llvmpipe's loop
 * limiter counts all loops of an invocation together and ends them silently). Ops keep every
 * kernel's per-invocation iteration count below it there, or throw.
 */
function loopLimited(gpu: Gpu): boolean {
  return registerTilesByDefault(gpu);
}

/** Iterations one invocation may run on a loop-limited adapter (with a safety margin). */
const MAX_LOOP_ITERATIONS = 60000;

/** Output pixels one backward-filter invocation may visit there (both variants stay far below). */
const MAX_PIXELS_PER_INVOCATION = 16384;

/** Invocations per workgroup of the register-tile kernels: one SIMD group on llvmpipe. */
function registerWorkgroup(gpu: Gpu): number {
  return registerTilesByDefault(gpu) ? 8 : 64;
}

function checkVariant(op: string, variant: string, variants: readonly string[]): string {
  if (!variants.includes(variant)) {
    throw new RangeError(`${op}: unknown variant '${variant}' (have ${variants.join(", ")})`);
  }
  return variant;
}

// ---------------------------------------------------------------------------------------------
// The forward-form GEMM (forward and backward data)

/** One dispatch of the forward-form kernel: y[grid pixel] = conv(x, w)[pixel] + epilogue. */
interface GemmCall {
  x: Tensor;
  w: Tensor;
  bias?: Tensor;
  residual?: Tensor;
  y: Tensor;
  batch: number;
  inH: number;
  inW: number;
  cin: number;
  outH: number;
  outW: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  padH: number;
  padW: number;
  relu: boolean;
  wBase: number;
  yH: number;
  yW: number;
  yH0: number;
  yW0: number;
  yStep: number;
}

/** Tile shape (GEMM rows, channels) per invocation of a register variant. */
function registerTile(variant: string): [number, number] {
  const m = /^r(\d+)x(\d+)$/.exec(variant);
  if (!m) throw new Error(`not a register variant: ${variant}`);
  return [Number(m[1]), Number(m[2])];
}

function recordGemm(gpu: Gpu, c: GemmCall, variant: string): void {
  const m = c.batch * c.outH * c.outW;
  if (m === 0) return;
  const fam = family(c.cin, c.cout);
  // Loop iterations per invocation: the reduction loop plus one per filter tap (or row).
  const kTotal = c.kh * c.kw * c.cin;
  const iterations = variant === "wg64"
    ? Math.ceil(kTotal / 16) * 20
    : fam === "v4"
    ? kTotal / 4 + c.kh * c.kw
    : kTotal + c.kh;
  if (loopLimited(gpu) && iterations > MAX_LOOP_ITERATIONS) {
    throw new RangeError(
      `conv2d: a reduction over ${kTotal} terms (kernel ${c.kh}×${c.kw}, ${c.cin} channels) ` +
        `exceeds this adapter's loop limit (${MAX_LOOP_ITERATIONS} iterations per invocation)`,
    );
  }
  const epilogue = {
    HAS_BIAS: c.bias ? 1 : 0,
    HAS_RESIDUAL: c.residual ? 1 : 0,
    RELU: c.relu ? 1 : 0,
  };
  let kernel: Kernel;
  let tilesM: number;
  let tilesN: number;
  let workgroups: number;
  if (variant === "wg64") {
    kernel = gpu.kernels.get({
      file: FORWARD_FILE,
      source: forwardSource,
      entryPoint: "conv_wg64",
      constants: epilogue,
    });
    tilesM = Math.ceil(m / 64);
    tilesN = Math.ceil(c.cout / 64);
    workgroups = tilesM * tilesN;
  } else {
    const wg = registerWorkgroup(gpu);
    const [tm, tn] = registerTile(variant);
    const entryPoint = fam === "scalar" ? "conv_scalar" : `conv_${fam}_${variant}`;
    kernel = gpu.kernels.get({
      file: FORWARD_FILE,
      source: forwardSource,
      entryPoint,
      constants: { WG: wg, ...epilogue },
    });
    tilesM = Math.ceil(m / tm);
    tilesN = Math.ceil(c.cout / tn);
    workgroups = tilesN * Math.ceil(tilesM / wg);
  }
  const p = new Uint32Array([
    c.batch,
    c.inH,
    c.inW,
    c.cin,
    c.outH,
    c.outW,
    c.cout,
    m,
    c.kh,
    c.kw,
    c.stride,
    0,
    c.padH >>> 0,
    c.padW >>> 0,
    c.wBase,
    tilesN,
    c.yH,
    c.yW,
    c.yH0,
    c.yW0,
    c.yStep,
    tilesM,
    0,
    0,
  ]);
  // Absent epilogue operands are never read; any read-only buffer fills their bindings.
  gpu.recorder.dispatch(kernel, [c.x, c.w, c.bias ?? c.w, c.residual ?? c.x, c.y], workgroups, p);
}

/** The default variant of the forward-form GEMM for an untuned shape. */
function defaultGemmVariant(gpu: Gpu, fam: Family, m: number, cout: number): string {
  if (!registerTilesByDefault(gpu)) return "wg64";
  if (fam === "scalar") return "r4x4";
  // Largest tile that still leaves enough invocations to keep every core busy.
  const candidates = fam === "v4" ? ["r32x32", "r32x16", "r16x32", "r16x16"] : ["r32x32", "r16x16"];
  for (const v of candidates) {
    const [tm, tn] = registerTile(v);
    if (tn > 16 && cout <= 16) continue;
    if (Math.ceil(m / tm) * Math.ceil(cout / tn) >= 64) return v;
  }
  return candidates[candidates.length - 1];
}

function chooseGemm(
  gpu: Gpu,
  op: Conv2dOp,
  g: Geometry,
  m: number,
  gemmCin: number,
  gemmCout: number,
  requested: string | undefined,
): string {
  const fam = family(gemmCin, gemmCout);
  const variants = GEMM_VARIANTS[fam];
  if (requested !== undefined) return checkVariant(`conv2d ${op}`, requested, variants);
  const fallback = defaultGemmVariant(gpu, fam, m, gemmCout);
  return gpu.tuner.choose(`conv2d_${op}`, shapeKey(g), variants, fallback);
}

// ---------------------------------------------------------------------------------------------
// Public ops

/**
 * Convolution y = x ∗ w (+ bias, + residual, then ReLU), recorded into the current encoder.
 *
 * @param x input [N, H, W, Cin]
 * @param w weights [kH, kW, Cin, Cout]
 * @returns y [N, Ho, Wo, Cout] with Ho = ⌊(H + 2·padH − kH) / stride⌋ + 1 (same for Wo)
 * @example
 * ```ts
 * const y = conv2dForward(gpu, x, w, { stride: 1, pad: 1, bias, relu: true });
 * ```
 */
export function conv2dForward(gpu: Gpu, x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  const op = "conv2dForward";
  f32(op, "x", x);
  f32(op, "w", w);
  const [, , , cin] = rank4(op, "x", x.shape);
  const [kh, kw, wcin, cout] = rank4(op, "w", w.shape);
  if (wcin !== cin) {
    throw new RangeError(`${op}: w [${w.shape}] expects Cin = ${wcin}, x [${x.shape}] has ${cin}`);
  }
  const g = geometry(op, x.shape, [kh, kw], cout, options.stride, options.pad);
  const outShape = [g.n, g.outH, g.outW, cout];
  if (options.bias) {
    f32(op, "bias", options.bias);
    if (!sameShape(options.bias.shape, [cout])) {
      throw new RangeError(`${op}: bias has shape [${options.bias.shape}], expected [${cout}]`);
    }
  }
  if (options.residual) {
    f32(op, "residual", options.residual);
    if (!sameShape(options.residual.shape, outShape)) {
      throw new RangeError(
        `${op}: residual has shape [${options.residual.shape}], expected [${outShape}]`,
      );
    }
  }
  const m = g.n * g.outH * g.outW;
  const variant = chooseGemm(gpu, "forward", g, m, cin, cout, options.variant);
  const y = outputFor(gpu, op, options.out, outShape, "conv2d y");
  recordGemm(gpu, {
    x,
    w,
    bias: options.bias,
    residual: options.residual,
    y,
    batch: g.n,
    inH: g.h,
    inW: g.w,
    cin,
    outH: g.outH,
    outW: g.outW,
    cout,
    kh,
    kw,
    stride: g.stride,
    padH: g.padH,
    padW: g.padW,
    relu: options.relu ?? false,
    wBase: 0,
    yH: g.outH,
    yW: g.outW,
    yH0: 0,
    yW0: 0,
    yStep: 1,
  }, variant);
  return y;
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
  f32(op, "dy", dy);
  f32(op, "w", w);
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
  });
  for (const ph of parts) {
    const total = ph.tH * ph.tW * cin * cout;
    if (total === 0) continue;
    const p = new Uint32Array([
      kw,
      cin,
      cout,
      g.stride,
      ph.th0,
      ph.tw0,
      ph.tH,
      ph.tW,
      ph.wBase,
      total,
      0,
      0,
    ]);
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
  f32(op, "x", x);
  f32(op, "dy", dy);
  rank4(op, "x", x.shape);
  const [, , , cout] = rank4(op, "dy", dy.shape);
  const [kh, kw] = pair(op, "kernelSize", options.kernelSize, 1);
  const g = geometry(op, x.shape, [kh, kw], cout, options.stride, options.pad);
  const dyShape = [g.n, g.outH, g.outW, cout];
  if (!sameShape(dy.shape, dyShape)) {
    throw new RangeError(`${op}: dy has shape [${dy.shape}], expected [${dyShape}]`);
  }
  const fam = family(g.cin, cout);
  const variants = WGRAD_VARIANTS[fam];
  const variant = options.variant !== undefined
    ? checkVariant(op, options.variant, variants)
    : gpu.tuner.choose(
      "conv2d_backwardFilter",
      shapeKey(g),
      variants,
      registerTilesByDefault(gpu) ? variants[0] : "wg64",
    );
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
  const p = new Uint32Array([
    g.n,
    g.h,
    g.w,
    g.cin,
    g.outH,
    g.outW,
    cout,
    kw,
    g.stride,
    g.padH >>> 0,
    g.padW >>> 0,
    krows,
    rowsPerSplit,
    splits,
    tilesK,
    tilesN,
    ciTiles,
    tasks,
    0,
    0,
  ]);
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
      constants: { WG: wg },
    });
    workgroups = Math.ceil(tasks / wg);
  } else {
    kernel = gpu.kernels.get({
      file: BACKWARD_FILE,
      source: backwardSource,
      entryPoint: "wgrad_wg64",
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
  });
  const len = vec4 ? dwSize / 4 : dwSize;
  gpu.recorder.dispatch(
    reduce,
    [partial, dw],
    Math.ceil(len / 64),
    new Uint32Array([len, splits, 0, 0]),
  );
  partial.release();
  return dw;
}

// ---------------------------------------------------------------------------------------------
// Tuning

/** Variants chosen by {@link conv2dTune}, per op. */
export interface Conv2dTuning {
  /** Variant chosen for {@link conv2dForward}. */
  forward: string;
  /** Variant chosen for {@link conv2dBackwardData}. */
  backwardData: string;
  /** Variant chosen for {@link conv2dBackwardFilter}. */
  backwardFilter: string;
}

/**
 * Times every variant of the three convolution ops for one geometry on this adapter and stores
 * the winners in the tuner's on-disk cache, so later calls with this shape use them. Allocates
 * its own inputs (uninitialised) and releases them.
 *
 * @param xShape forward input [N, H, W, Cin]
 * @param wShape weights [kH, kW, Cin, Cout]
 */
export async function conv2dTune(
  gpu: Gpu,
  xShape: readonly number[],
  wShape: readonly number[],
  options: {
    stride?: number;
    pad?: Size2;
    ops?: readonly Conv2dOp[];
    /** Time the variants even when choices are stored (see `TuneOptions.force`). */
    force?: boolean;
    /** Timed samples per variant (default 3). */
    reps?: number;
  } = {},
): Promise<Conv2dTuning> {
  const op = "conv2dTune";
  rank4(op, "xShape", xShape);
  const [kh, kw, cin, cout] = rank4(op, "wShape", wShape);
  const g = geometry(op, xShape, [kh, kw], cout, options.stride, options.pad);
  const ops = options.ops ?? ["forward", "backwardData", "backwardFilter"];
  const x = Tensor.zeros(gpu, xShape);
  const w = Tensor.zeros(gpu, wShape);
  const dy = Tensor.zeros(gpu, [g.n, g.outH, g.outW, cout]);
  const conv = { stride: g.stride, pad: [g.padH, g.padW] as const };
  const tuneOptions = { force: options.force, reps: options.reps };
  const result: Conv2dTuning = {
    forward: chooseGemm(gpu, "forward", g, g.n * g.outH * g.outW, cin, cout, undefined),
    backwardData: chooseGemm(gpu, "backwardData", g, g.n * g.h * g.w, cout, cin, undefined),
    backwardFilter: "",
  };
  try {
    if (ops.includes("forward")) {
      result.forward = await gpu.tuner.tune(
        "conv2d_forward",
        shapeKey(g),
        conv2dVariants("forward", cin, cout),
        (variant) => conv2dForward(gpu, x, w, { ...conv, variant }).release(),
        tuneOptions,
      );
    }
    if (ops.includes("backwardData")) {
      result.backwardData = await gpu.tuner.tune(
        "conv2d_backwardData",
        shapeKey(g),
        conv2dVariants("backwardData", cin, cout),
        (variant) =>
          conv2dBackwardData(gpu, dy, w, { ...conv, inputShape: xShape, variant }).release(),
        tuneOptions,
      );
    }
    const filterVariants = conv2dVariants("backwardFilter", cin, cout);
    result.backwardFilter = ops.includes("backwardFilter")
      ? await gpu.tuner.tune(
        "conv2d_backwardFilter",
        shapeKey(g),
        filterVariants,
        (variant) =>
          conv2dBackwardFilter(gpu, x, dy, { ...conv, kernelSize: [kh, kw], variant }).release(),
        tuneOptions,
      )
      : gpu.tuner.choose(
        "conv2d_backwardFilter",
        shapeKey(g),
        filterVariants,
        registerTilesByDefault(gpu) ? filterVariants[0] : "wg64",
      );
  } finally {
    x.release();
    w.release();
    dy.release();
  }
  return result;
}
