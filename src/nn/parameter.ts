/**
 * Trainable parameters and persistent buffers of the layers: the GPU tensors, their PyTorch
 * names and shapes, and the conversion between our GPU layout (HWIO for convolutions) and
 * PyTorch's (OIHW), so checkpoints and optimizer state can be written in PyTorch's form.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { axpby } from "../ops/elementwise.ts";
import { hwioToOihw, oihwToHwio } from "../ops/fold_batchnorm.ts";

/** How a parameter's GPU tensor is laid out relative to PyTorch's tensor. */
export type ParameterLayout = "hwio" | "plain";

/**
 * A trainable tensor. `value` and `grad` have the same size; SGD/EMA may treat them as flat
 * arrays (the layout matters only when converting to or from PyTorch).
 */
export interface Parameter {
  /** PyTorch name relative to the model, e.g. `layer1.0.conv1.weight`. */
  name: string;
  /** PyTorch shape, e.g. OIHW `[Cout, Cin, kH, kW]` for a convolution. */
  torchShape: number[];
  /** The values on the GPU (HWIO `[kH, kW, Cin, Cout]` for a convolution). */
  value: Tensor;
  /** The accumulated gradient, same layout as `value`. */
  grad: Tensor;
  /** `hwio` for convolution weights, `plain` when the GPU layout is PyTorch's. */
  layout: ParameterLayout;
}

/**
 * A persistent, non-trainable state tensor (BatchNorm running statistics). Float buffers live on
 * the GPU in `value`; the int64 `num_batches_tracked` counter lives on the CPU in `count`.
 */
export interface Buffer {
  /** PyTorch name, e.g. `bn1.running_mean`. */
  name: string;
  /** PyTorch shape (`[]` for `num_batches_tracked`). */
  torchShape: number[];
  /** PyTorch dtype in checkpoints. */
  dtype: "float32" | "int64";
  /** The GPU tensor of a float32 buffer. */
  value?: Tensor;
  /** The value of an int64 scalar buffer. */
  count?: number;
}

/** Parameters whose gradient buffer holds zeros that no backward has written yet. */
const zeroGrads = new WeakSet<Parameter>();

/** A parameter holding `data` (in the GPU layout) and a zero gradient. */
export function createParameter(
  gpu: Gpu,
  name: string,
  torchShape: readonly number[],
  gpuShape: readonly number[],
  layout: ParameterLayout,
  data: Float32Array,
): Parameter {
  const p: Parameter = {
    name,
    torchShape: [...torchShape],
    value: Tensor.from(gpu, data, gpuShape, name),
    grad: Tensor.zeros(gpu, gpuShape, "f32", `${name}.grad`),
    layout,
  };
  zeroGrads.add(p);
  return p;
}

/** Records clearing the gradient (the next {@link accumulateGrad} then just writes). */
export function zeroGrad(gpu: Gpu, p: Parameter): void {
  gpu.recorder.clear(p.grad.buffer, 0, p.grad.buffer.size);
  zeroGrads.add(p);
}

/** Whether the gradient is known to be zero, so a backward may write it directly. */
export function gradIsZero(p: Parameter): boolean {
  return zeroGrads.has(p);
}

/**
 * Records grad ← grad + g (PyTorch's accumulation) and releases `g`. When the gradient is
 * known to be zero this is a copy. `g` may be `p.grad` itself (a kernel wrote it directly).
 */
export function accumulateGrad(gpu: Gpu, p: Parameter, g: Tensor): void {
  if (g.size !== p.grad.size) {
    throw new RangeError(`${p.name}: gradient has ${g.size} values, parameter ${p.grad.size}`);
  }
  if (g === p.grad) {
    zeroGrads.delete(p);
    return;
  }
  if (zeroGrads.has(p)) {
    gpu.recorder.copy(g, p.grad, g.byteSize);
    zeroGrads.delete(p);
  } else {
    // axpby writes a new tensor; the sum is copied back so `p.grad` keeps its buffer.
    const sum = axpby(gpu, 1, g, 1, p.grad);
    gpu.recorder.copy(sum, p.grad, sum.byteSize);
    sum.release();
  }
  g.release();
}

/** Marks a gradient as written by a kernel that targeted `p.grad` directly. */
export function markGradWritten(p: Parameter): void {
  zeroGrads.delete(p);
}

/** PyTorch's OIHW shape of HWIO weights `[kH, kW, Cin, Cout]`. */
export function torchShapeOfHwio(shape: readonly number[]): number[] {
  const [kh, kw, cin, cout] = shape;
  return [cout, cin, kh, kw];
}

/**
 * What the layout conversions read of a parameter: its PyTorch shape and its GPU layout. The
 * models' {@link Parameter} and the optimiser's `TrainParameter` (src/train/optimizer.ts) both
 * have this shape.
 */
export interface LayoutOf {
  /** PyTorch shape (OIHW `[Cout, Cin, kH, kW]` for an `hwio` parameter). */
  readonly torchShape: readonly number[];
  /** `hwio` for convolution weights, `plain` when the GPU layout is PyTorch's. */
  readonly layout: ParameterLayout;
}

/**
 * Converts values in the parameter's GPU layout to PyTorch's layout.
 *
 * Aliasing: the result is always a new array, never `data` itself (a copy for `plain`), so the
 * caller owns it: it may be kept in a checkpoint tensor while `data` is reused, or modified
 * without touching `data`. This is the one conversion; every caller (state dicts, optimiser
 * state, tests) relies on this contract.
 */
export function toTorchLayout(param: LayoutOf, data: Float32Array): Float32Array {
  if (param.layout === "plain") return data.slice();
  const [o, i, kh, kw] = param.torchShape;
  return hwioToOihw(data, [kh, kw, i, o]);
}

/**
 * Converts values in PyTorch's layout to the parameter's GPU layout. Same aliasing contract as
 * {@link toTorchLayout}: always a new array (a copy for `plain`).
 */
export function fromTorchLayout(param: LayoutOf, data: Float32Array): Float32Array {
  if (param.layout === "plain") return data.slice();
  const [o, i, kh, kw] = param.torchShape;
  return oihwToHwio(data, [o, i, kh, kw]);
}

/** Releases a parameter's value and gradient. */
export function releaseParameter(p: Parameter): void {
  p.value.release();
  p.grad.release();
}
