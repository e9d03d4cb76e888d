/**
 * Forward 2-D convolution over NHWC activations with HWIO weights [kH, kW, Cin, Cout], as an
 * implicit GEMM (no im2col is materialised) with a fused epilogue (+ bias, + residual, ReLU: the
 * eval fast path once BatchNorm is folded into the weights, see `fold_batchnorm.ts`). The same
 * forward-form kernel runs backward data (`conv2d_backward.ts`). Kernel: `kernels/conv2d.wgsl`.
 * No temporaries.
 *
 * @module
 */
import forwardSource from "../../kernels/conv2d.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import type { Kernel } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import {
  chooseGemm,
  family,
  loopLimited,
  MAX_LOOP_ITERATIONS,
  registerTile,
  registerWorkgroup,
} from "./conv2d_family.ts";
import {
  geometry,
  outputFor,
  rank4,
  requireF32,
  sameShape,
  type Size2,
} from "./conv2d_geometry.ts";

const FORWARD_FILE = "conv2d.wgsl";

/** `struct Conv` of `kernels/conv2d.wgsl`, field by field. */
const CONV = paramStruct(FORWARD_FILE, forwardSource, "Conv", {
  batch: "u32",
  in_h: "u32",
  in_w: "u32",
  cin: "u32",
  out_h: "u32",
  out_w: "u32",
  cout: "u32",
  m: "u32",
  k_h: "u32",
  k_w: "u32",
  stride: "u32",
  _flags: "u32",
  pad_h: "i32",
  pad_w: "i32",
  w_base: "u32",
  tiles_n: "u32",
  y_h: "u32",
  y_w: "u32",
  y_h0: "u32",
  y_w0: "u32",
  y_step: "u32",
  tiles_m: "u32",
  _pad0: "u32",
  _pad1: "u32",
});

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

// ---------------------------------------------------------------------------------------------
// The forward-form GEMM (forward and backward data)

/** One dispatch of the forward-form kernel: y[grid pixel] = conv(x, w)[pixel] + epilogue. */
export interface GemmCall {
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

/**
 * Records one dispatch of the forward-form kernel (`conv2d.wgsl`) in `variant`: the forward
 * convolution, and each stride phase of backward data. Throws where the reduction would pass
 * a loop-limited adapter's limit.
 */
export function recordGemm(gpu: Gpu, c: GemmCall, variant: string): void {
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
      params: CONV,
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
      params: CONV,
      constants: { WG: wg, ...epilogue },
    });
    tilesM = Math.ceil(m / tm);
    tilesN = Math.ceil(c.cout / tn);
    workgroups = tilesN * Math.ceil(tilesM / wg);
  }
  const p = CONV.pack({
    batch: c.batch,
    in_h: c.inH,
    in_w: c.inW,
    cin: c.cin,
    out_h: c.outH,
    out_w: c.outW,
    cout: c.cout,
    m,
    k_h: c.kh,
    k_w: c.kw,
    stride: c.stride,
    pad_h: c.padH,
    pad_w: c.padW,
    w_base: c.wBase,
    tiles_n: tilesN,
    y_h: c.yH,
    y_w: c.yW,
    y_h0: c.yH0,
    y_w0: c.yW0,
    y_step: c.yStep,
    tiles_m: tilesM,
  });
  // Absent epilogue operands are never read; any read-only buffer fills their bindings.
  gpu.recorder.dispatch(kernel, [c.x, c.w, c.bias ?? c.w, c.residual ?? c.x, c.y], workgroups, p);
}

// ---------------------------------------------------------------------------------------------
// The op

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
  requireF32(op, "x", x);
  requireF32(op, "w", w);
  const [, , , cin] = rank4(op, "x", x.shape);
  const [kh, kw, wcin, cout] = rank4(op, "w", w.shape);
  if (wcin !== cin) {
    throw new RangeError(`${op}: w [${w.shape}] expects Cin = ${wcin}, x [${x.shape}] has ${cin}`);
  }
  const g = geometry(op, x.shape, [kh, kw], cout, options.stride, options.pad);
  const outShape = [g.n, g.outH, g.outW, cout];
  if (options.bias) {
    requireF32(op, "bias", options.bias);
    if (!sameShape(options.bias.shape, [cout])) {
      throw new RangeError(`${op}: bias has shape [${options.bias.shape}], expected [${cout}]`);
    }
  }
  if (options.residual) {
    requireF32(op, "residual", options.residual);
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
