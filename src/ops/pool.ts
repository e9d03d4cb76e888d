/**
 * Pooling over NHWC activations: max pooling with arg-max indices (ResNet's 3×3 stride 2 pad 1
 * by default) and its backward, global average pooling [N, H, W, C] → [N, C] and its backward.
 * See `kernels/pool.wgsl`.
 *
 * @module
 */
import source from "../../kernels/pool.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import { pair, type Size2 } from "./conv2d_geometry.ts";

const FILE = "pool.wgsl";

/** `struct MaxPoolParams` of `kernels/pool.wgsl`. */
const MAX_POOL = paramStruct(FILE, source, "MaxPoolParams", { total: "u32" });

/** `struct GapParams` of `kernels/pool.wgsl`. */
const GAP = paramStruct(FILE, source, "GapParams", {
  n: "u32",
  hw: "u32",
  c: "u32",
  total: "u32",
});
const WORKGROUP = 64;

/** Options of {@link maxPool2dForward} and {@link maxPool2dBackward}. */
export interface MaxPoolOptions {
  /** Window size, default 3. */
  kernel?: Size2;
  /** Stride, default 2. */
  stride?: Size2;
  /** Implicit −∞ padding on each side, default 1 (at most half the window, as in PyTorch). */
  padding?: Size2;
}

/** Result of {@link maxPool2dForward}. */
export interface MaxPoolResult {
  /** Output [N, Ho, Wo, C]. */
  y: Tensor;
  /** i32 [N, Ho, Wo, C]: the arg-max as h·W + w inside the input's (n, c) plane (PyTorch's). */
  indices: Tensor;
}

interface Geometry {
  n: number;
  h: number;
  w: number;
  c: number;
  outH: number;
  outW: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

function nhwc(op: string, what: string, t: Tensor): [number, number, number, number] {
  if (t.shape.length !== 4) {
    throw new RangeError(`${op}: ${what} must be NHWC [N, H, W, C], got [${t.shape}]`);
  }
  return [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
}

function geometry(op: string, inputShape: readonly number[], options: MaxPoolOptions): Geometry {
  const [n, h, w, c] = inputShape;
  const kernel = pair(op, "kernel", options.kernel ?? 3, 1);
  const stride = pair(op, "stride", options.stride ?? 2, 1);
  const padding = pair(op, "padding", options.padding ?? 1, 0);
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new RangeError(`${op}: padding [${padding}] must be at most half the kernel [${kernel}]`);
  }
  const outH = Math.floor((h + 2 * padding[0] - kernel[0]) / stride[0]) + 1;
  const outW = Math.floor((w + 2 * padding[1] - kernel[1]) / stride[1]) + 1;
  if (outH < 1 || outW < 1) {
    throw new RangeError(
      `${op}: input ${h}×${w} is smaller than the kernel [${kernel}] with padding [${padding}]`,
    );
  }
  return { n, h, w, c, outH, outW, kernel, stride, padding };
}

/** The pipeline of a max-pool entry point specialised to the geometry (see pool.wgsl). */
function maxPoolKernel(gpu: Gpu, entryPoint: string, g: Geometry) {
  return gpu.kernels.get({
    file: FILE,
    source,
    entryPoint,
    params: MAX_POOL,
    constants: {
      C: g.c,
      H: g.h,
      W: g.w,
      OUT_H: g.outH,
      OUT_W: g.outW,
      KH: g.kernel[0],
      KW: g.kernel[1],
      SH: g.stride[0],
      SW: g.stride[1],
      PH: g.padding[0],
      PW: g.padding[1],
    },
  });
}

/** The output shape [N, Ho, Wo, C] of a max pooling of `inputShape` [N, H, W, C]. */
export function maxPool2dOutputShape(
  inputShape: readonly number[],
  options: MaxPoolOptions = {},
): number[] {
  const g = geometry("maxPool2dOutputShape", inputShape, options);
  return [g.n, g.outH, g.outW, g.c];
}

/**
 * Max pooling of x [N, H, W, C] (default 3×3, stride 2, padding 1): returns y [N, Ho, Wo, C]
 * and the arg-max indices (i32, same shape) for {@link maxPool2dBackward}.
 */
export function maxPool2dForward(gpu: Gpu, x: Tensor, options: MaxPoolOptions = {}): MaxPoolResult {
  const op = "maxPool2dForward";
  nhwc(op, "input", x);
  if (x.dtype !== "f32") throw new RangeError(`${op}: input must be f32, got ${x.dtype}`);
  const g = geometry(op, x.shape, options);
  const shape = [g.n, g.outH, g.outW, g.c];
  const y = Tensor.empty(gpu, shape, "f32", "maxpool y");
  const indices = Tensor.empty(gpu, shape, "i32", "maxpool indices");
  gpu.recorder.dispatch(
    maxPoolKernel(gpu, "maxpool_forward", g),
    [x, y, indices],
    Math.ceil(y.size / WORKGROUP),
    MAX_POOL.pack({ total: y.size }),
  );
  return { y, indices };
}

/**
 * Backward of {@link maxPool2dForward}: routes dy [N, Ho, Wo, C] to the arg-max positions and
 * returns dx with `inputShape` [N, H, W, C]. Computed as a gather over input positions, so
 * overlapping windows that chose the same input sum deterministically. Pass the same options
 * as the forward.
 */
export function maxPool2dBackward(
  gpu: Gpu,
  dy: Tensor,
  indices: Tensor,
  inputShape: readonly number[],
  options: MaxPoolOptions = {},
): Tensor {
  const op = "maxPool2dBackward";
  if (inputShape.length !== 4) {
    throw new RangeError(`${op}: inputShape must be [N, H, W, C], got [${inputShape}]`);
  }
  const g = geometry(op, inputShape, options);
  const expected = [g.n, g.outH, g.outW, g.c].join();
  if (dy.shape.join() !== expected || indices.shape.join() !== expected) {
    throw new RangeError(
      `${op}: dy [${dy.shape}] and indices [${indices.shape}] must both be [${expected}]`,
    );
  }
  if (indices.dtype !== "i32") throw new RangeError(`${op}: indices must be i32`);
  const dx = Tensor.empty(gpu, inputShape, "f32", "maxpool dx");
  gpu.recorder.dispatch(
    maxPoolKernel(gpu, "maxpool_backward", g),
    [dy, indices, dx],
    Math.ceil(dx.size / WORKGROUP),
    MAX_POOL.pack({ total: dx.size }),
  );
  return dx;
}

/** Global average pooling: returns the mean over H·W of x [N, H, W, C], shape [N, C]. */
export function globalAvgPoolForward(gpu: Gpu, x: Tensor): Tensor {
  const op = "globalAvgPoolForward";
  const [n, h, w, c] = nhwc(op, "input", x);
  if (h * w < 1) throw new RangeError(`${op}: empty spatial size in [${x.shape}]`);
  const y = Tensor.empty(gpu, [n, c], "f32", "avgpool y");
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "global_avgpool_forward",
    params: GAP,
  });
  gpu.recorder.dispatch(
    kernel,
    [x, y],
    Math.ceil(y.size / WORKGROUP),
    GAP.pack({ n, hw: h * w, c, total: y.size }),
  );
  return y;
}

/** Backward of {@link globalAvgPoolForward}: dy [N, C] → dx [N, H, W, C] = dy / (H·W). */
export function globalAvgPoolBackward(
  gpu: Gpu,
  dy: Tensor,
  inputShape: readonly number[],
): Tensor {
  const op = "globalAvgPoolBackward";
  if (inputShape.length !== 4) {
    throw new RangeError(`${op}: inputShape must be [N, H, W, C], got [${inputShape}]`);
  }
  const [n, h, w, c] = inputShape;
  if (dy.shape.join() !== [n, c].join()) {
    throw new RangeError(`${op}: dy must be [${n}, ${c}], got [${dy.shape}]`);
  }
  const dx = Tensor.empty(gpu, inputShape, "f32", "avgpool dx");
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "global_avgpool_backward",
    params: GAP,
  });
  gpu.recorder.dispatch(
    kernel,
    [dy, dx],
    Math.ceil(dx.size / WORKGROUP),
    GAP.pack({ n, hw: h * w, c, total: dx.size }),
  );
  return dx;
}
