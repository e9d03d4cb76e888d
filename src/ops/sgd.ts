/**
 * In-place optimiser updates over lists of parameter tensors: PyTorch's SGD with momentum and
 * weight decay (docs/pretraining.md#optimisation), and MoCo's momentum-encoder EMA (docs/common.md#moco).
 *
 * Dispatch plan: one dispatch per tensor (per ≤ `maxStorageBufferBindingSize` slice of it, so a
 * [6144, 6144] MLP weight of ResNet-50w3 still binds). Parameters live in separate tensors owned
 * by their layers, and WGSL cannot bind a variable number of buffers, so a single dispatch over
 * all of them would need them packed in one buffer; when a caller does pack them (one flat
 * tensor for parameters, one for gradients, one for momentum), the same functions update
 * everything in one dispatch. ResNet-50 has 161 parameter tensors, so the per-tensor form records
 * 161 small dispatches per step (no sync); the learning rate changes per epoch, so it travels in
 * each dispatch's uniform block, never in an override constant. Tensors whose size is divisible
 * by 4 (nearly all of ResNet's) use the vec4 form of the kernels, the others the scalar form;
 * both do the same f32 arithmetic per element.
 *
 * @module
 */
import source from "../../kernels/sgd.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import type { Binding } from "../gpu/recorder.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "sgd.wgsl";

/** `struct SgdParams` of `kernels/sgd.wgsl`. */
const SGD = paramStruct(FILE, source, "SgdParams", {
  n: "u32",
  first: "u32",
  lr: "f32",
  momentum: "f32",
  weight_decay: "f32",
  dampening: "f32",
});

/** `struct EmaParams` of `kernels/sgd.wgsl`. */
const EMA = paramStruct(FILE, source, "EmaParams", { n: "u32", m: "f32", one_minus_m: "f32" });
const WG = 256;

/** One parameter tensor with its gradient and momentum buffer (all the same size, f32). */
export interface SgdParameter {
  /** θ, updated in place. */
  param: Tensor;
  /** ∇θ of this step (read only). */
  grad: Tensor;
  /** Momentum buffer, updated in place; ignored (overwritten) on the first step. */
  momentum: Tensor;
}

/** Hyper-parameters of one {@link sgdStep}. */
export interface SgdOptions {
  /** Learning rate of this step. */
  lr: number;
  /** Default 0.9 (MoCo). */
  momentum?: number;
  /** L2 penalty added to every gradient (no exclusions), default 1e-4 (MoCo). */
  weightDecay?: number;
  /** Default 0 (MoCo). */
  dampening?: number;
  /**
   * True on the optimiser's first step: the momentum buffer is set to the gradient instead of
   * being read (PyTorch creates it then). The caller tracks this flag.
   */
  firstStep: boolean;
  /** Largest bytes bound per dispatch (default: the device's maxStorageBufferBindingSize). */
  maxBindingBytes?: number;
}

function checkSame(what: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== "f32" || b.dtype !== "f32" || a.size !== b.size) {
    throw new RangeError(
      `${what}: tensors must be f32 of equal size, got ${a.dtype} [${a.shape}] and ${b.dtype} [${b.shape}]`,
    );
  }
}

/**
 * Dispatches the scalar or vec4 form of `entry` over `n` elements (vec4 when n % 4 == 0), binding
 * each tensor's slice [start, start + len) per dispatch; slices stay under `maxBytes` and start on
 * 256-byte offsets. `params(count)` gets the element count the kernel sees (vec4s or scalars).
 */
function dispatchSliced(
  gpu: Gpu,
  entry: string,
  tensors: readonly Tensor[],
  n: number,
  maxBytes: number,
  params: (count: number) => ArrayBufferView,
): void {
  const vec4 = n % 4 === 0;
  const width = vec4 ? 4 : 1;
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: vec4 ? `${entry}_vec4` : entry,
  });
  const align = gpu.device.limits.minStorageBufferOffsetAlignment / 4;
  const slice = Math.max(align, Math.floor(maxBytes / 4 / align) * align);
  if (n <= slice) {
    gpu.recorder.dispatch(kernel, tensors, Math.ceil(n / width / WG), params(n / width));
    return;
  }
  for (let start = 0; start < n; start += slice) {
    const len = Math.min(slice, n - start);
    const bindings: Binding[] = tensors.map((t) => ({
      buffer: t.buffer,
      offset: start * 4,
      size: len * 4,
    }));
    gpu.recorder.dispatch(kernel, bindings, Math.ceil(len / width / WG), params(len / width));
  }
}

/**
 * Records one SGD step over every parameter, in place, with PyTorch's rule:
 * g ← ∇θ + wd·θ; buf ← g (first step) or momentum·buf + (1 − dampening)·g; θ ← θ − lr·buf.
 *
 * @throws RangeError when a parameter, its gradient and its buffer differ in size or dtype.
 * @example
 * ```ts
 * sgdStep(gpu, layers.map((l) => ({ param: l.w, grad: l.dw, momentum: l.vw })), {
 *   lr: 0.03, firstStep: step === 0,
 * });
 * ```
 */
export function sgdStep(gpu: Gpu, params: readonly SgdParameter[], options: SgdOptions): void {
  const lr = options.lr;
  if (!Number.isFinite(lr)) throw new RangeError(`sgdStep: bad learning rate ${lr}`);
  for (const p of params) {
    checkSame("sgdStep: param/grad", p.param, p.grad);
    checkSame("sgdStep: param/momentum", p.param, p.momentum);
  }
  const maxBytes = options.maxBindingBytes ?? gpu.device.limits.maxStorageBufferBindingSize;
  const values = {
    first: options.firstStep ? 1 : 0,
    lr,
    momentum: options.momentum ?? 0.9,
    weight_decay: options.weightDecay ?? 1e-4,
    dampening: options.dampening ?? 0,
  };
  for (const p of params) {
    if (p.param.size === 0) continue;
    dispatchSliced(
      gpu,
      "sgd_step",
      [p.param, p.grad, p.momentum],
      p.param.size,
      maxBytes,
      (len) => SGD.pack({ n: len, ...values }),
    );
  }
}

/** Options of {@link emaUpdate}. */
export interface EmaOptions {
  /** Largest bytes bound per dispatch (default: the device's maxStorageBufferBindingSize). */
  maxBindingBytes?: number;
}

/**
 * Records MoCo's momentum update over parameter pairs, in place: θk ← m·θk + (1 − m)·θq.
 *
 * @param targets encoder_k's parameters (updated).
 * @param sources encoder_q's parameters, in the same order.
 * @param m momentum, e.g. 0.999.
 * @throws RangeError when the lists or a pair's sizes differ.
 */
export function emaUpdate(
  gpu: Gpu,
  targets: readonly Tensor[],
  sources: readonly Tensor[],
  m: number,
  options: EmaOptions = {},
): void {
  if (targets.length !== sources.length) {
    throw new RangeError(`emaUpdate: ${targets.length} targets but ${sources.length} sources`);
  }
  if (!Number.isFinite(m)) throw new RangeError(`emaUpdate: bad momentum ${m}`);
  targets.forEach((t, i) => checkSame(`emaUpdate: pair ${i}`, t, sources[i]));
  const maxBytes = options.maxBindingBytes ?? gpu.device.limits.maxStorageBufferBindingSize;
  targets.forEach((t, i) => {
    if (t.size === 0) return;
    dispatchSliced(
      gpu,
      "ema_update",
      [t, sources[i]],
      t.size,
      maxBytes,
      (len) => EMA.pack({ n: len, m, one_minus_m: 1 - m }),
    );
  });
}
