/**
 * Elementwise ops: fill (zeros, constants, NaN poison), alpha·x + beta·y, ReLU forward and
 * backward, and the residual add (optionally fused with the ReLU that follows it).
 *
 * @module
 */
import source from "../../kernels/elementwise.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const WORKGROUP = 64;
const FILE = "elementwise.wgsl";

/** `struct FillParams` of `kernels/elementwise.wgsl`. */
const FILL = paramStruct(FILE, source, "FillParams", { n: "u32", bits: "u32" });
/** `struct AxpbyParams` of `kernels/elementwise.wgsl`. */
const AXPBY = paramStruct(FILE, source, "AxpbyParams", { n: "u32", alpha: "f32", beta: "f32" });
/** `struct UnaryParams` of `kernels/elementwise.wgsl` (ReLU, its backward, the residual add). */
const UNARY = paramStruct(FILE, source, "UnaryParams", { n: "u32" });

/** The bit pattern of a quiet NaN, used to poison outputs in tests. */
export const NAN_BITS = 0x7fc00000;

/** Records filling every element of `t` with the raw 32-bit pattern `bits`. */
export function fillBits(gpu: Gpu, t: Tensor, bits: number): void {
  const kernel = gpu.kernels.get({ file: FILE, source, entryPoint: "fill", params: FILL });
  const params = FILL.pack({ n: t.size, bits });
  gpu.recorder.dispatch(kernel, [t], Math.ceil(t.size / WORKGROUP), params);
}

/** Records filling an f32 tensor with `value` (an i32/u32 tensor gets the integer `value`). */
export function fill(gpu: Gpu, t: Tensor, value: number): void {
  const word = new DataView(new ArrayBuffer(4));
  if (t.dtype === "f32") word.setFloat32(0, value, true);
  else if (t.dtype === "i32") word.setInt32(0, value, true);
  else word.setUint32(0, value, true);
  fillBits(gpu, t, word.getUint32(0, true));
}

/** Records poisoning `t` with NaN, so a kernel that skips an element is caught by a test. */
export function poison(gpu: Gpu, t: Tensor): void {
  fillBits(gpu, t, NAN_BITS);
}

/** Returns a new tensor `alpha·x + beta·y` (shapes must have the same size). */
export function axpby(gpu: Gpu, alpha: number, x: Tensor, beta: number, y: Tensor): Tensor {
  if (x.size !== y.size) throw new RangeError(`axpby: sizes ${x.size} and ${y.size} differ`);
  const out = Tensor.empty(gpu, x.shape, "f32", "axpby");
  const kernel = gpu.kernels.get({ file: FILE, source, entryPoint: "axpby", params: AXPBY });
  const params = AXPBY.pack({ n: x.size, alpha, beta });
  gpu.recorder.dispatch(kernel, [x, y, out], Math.ceil(x.size / WORKGROUP), params);
  return out;
}

function checkSameSize(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) {
    throw new RangeError(
      `${op}: sizes ${a.size} ([${a.shape}]) and ${b.size} ([${b.shape}]) differ`,
    );
  }
  if (a.dtype !== "f32" || b.dtype !== "f32") {
    throw new RangeError(`${op}: tensors must be f32, got ${a.dtype} and ${b.dtype}`);
  }
}

function binary(gpu: Gpu, entryPoint: string, a: Tensor, b: Tensor, label: string): Tensor {
  const out = Tensor.empty(gpu, a.shape, "f32", label);
  const kernel = gpu.kernels.get({ file: FILE, source, entryPoint, params: UNARY });
  gpu.recorder.dispatch(
    kernel,
    [a, b, out],
    Math.ceil(a.size / WORKGROUP),
    UNARY.pack({ n: a.size }),
  );
  return out;
}

/** Returns max(x, 0) (any shape, f32). */
export function relu(gpu: Gpu, x: Tensor): Tensor {
  if (x.dtype !== "f32") throw new RangeError(`relu: tensor must be f32, got ${x.dtype}`);
  const out = Tensor.empty(gpu, x.shape, "f32", "relu");
  const kernel = gpu.kernels.get({ file: FILE, source, entryPoint: "relu", params: UNARY });
  gpu.recorder.dispatch(kernel, [x, out], Math.ceil(x.size / WORKGROUP), UNARY.pack({ n: x.size }));
  return out;
}

/**
 * ReLU backward: returns dy where `ref` > 0, else 0. `ref` may be the forward input or the
 * forward output (also of {@link addRelu}: then the result is the gradient of both addends).
 */
export function reluBackward(gpu: Gpu, dy: Tensor, ref: Tensor): Tensor {
  checkSameSize("reluBackward", dy, ref);
  return binary(gpu, "relu_backward", dy, ref, "relu backward");
}

/** The residual add: returns a + b (same size; the result has a's shape). */
export function add(gpu: Gpu, a: Tensor, b: Tensor): Tensor {
  checkSameSize("add", a, b);
  return binary(gpu, "add", a, b, "add");
}

/** Residual add fused with the ReLU after it: returns max(a + b, 0). */
export function addRelu(gpu: Gpu, a: Tensor, b: Tensor): Tensor {
  checkSameSize("addRelu", a, b);
  return binary(gpu, "add_relu", a, b, "add relu");
}
