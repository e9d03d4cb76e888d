/**
 * A bias-free 2-D convolution layer (ResNet's convs): HWIO weights on the GPU, PyTorch name and
 * OIHW shape for checkpoints. Explicit forward and backward; the caller keeps the input for the
 * backward pass.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { conv2dBackwardData, conv2dBackwardFilter } from "../ops/conv2d_backward.ts";
import { conv2dForward } from "../ops/conv2d_forward.ts";
import { accumulateGrad, createParameter, gradIsZero, type Parameter } from "./parameter.ts";

/** Geometry of a {@link Conv2d}. */
export interface Conv2dSpec {
  /** Input channels. */
  cin: number;
  /** Output channels. */
  cout: number;
  /** Square kernel size. */
  kernel: number;
  /** Stride (default 1). */
  stride?: number;
  /** Zero padding on each side (default 0). */
  pad?: number;
}

/** Fused epilogue of {@link Conv2d.forward}. */
export interface Conv2dForwardOptions {
  /** Weights to use instead of the layer's own (e.g. BN-folded ones), same shape. */
  weight?: Tensor;
  /** Per-output-channel bias [Cout]. */
  bias?: Tensor;
  /** Added to the output before the ReLU (the residual shortcut). */
  residual?: Tensor;
  /** Apply a ReLU. */
  relu?: boolean;
}

/** A convolution layer without bias. */
export class Conv2d {
  /** The weight, `[kH, kW, Cin, Cout]` on the GPU, `[Cout, Cin, kH, kW]` in PyTorch. */
  readonly weight: Parameter;
  readonly cin: number;
  readonly cout: number;
  readonly kernel: number;
  readonly stride: number;
  readonly pad: number;

  /** A layer named `name` (its weight is `<name>.weight`) holding HWIO `hwio` weights. */
  constructor(readonly gpu: Gpu, name: string, spec: Conv2dSpec, hwio: Float32Array) {
    this.cin = spec.cin;
    this.cout = spec.cout;
    this.kernel = spec.kernel;
    this.stride = spec.stride ?? 1;
    this.pad = spec.pad ?? 0;
    const k = this.kernel;
    this.weight = createParameter(
      gpu,
      `${name}.weight`,
      [this.cout, this.cin, k, k],
      [k, k, this.cin, this.cout],
      "hwio",
      hwio,
    );
  }

  /** y = conv(x) [N, Ho, Wo, Cout] for x [N, H, W, Cin], with an optional fused epilogue. */
  forward(x: Tensor, options: Conv2dForwardOptions = {}): Tensor {
    return conv2dForward(this.gpu, x, options.weight ?? this.weight.value, {
      stride: this.stride,
      pad: this.pad,
      bias: options.bias,
      residual: options.residual,
      relu: options.relu,
    });
  }

  /**
   * Accumulates dL/dW from the forward input `x` and `dy`, and returns dL/dx (or nothing when
   * `needDx` is false, e.g. for the stem convolution).
   */
  backward(x: Tensor, dy: Tensor, needDx = true): Tensor | undefined {
    const geometry = { stride: this.stride, pad: this.pad };
    const p = this.weight;
    const dw = conv2dBackwardFilter(this.gpu, x, dy, {
      kernelSize: this.kernel,
      ...geometry,
      out: gradIsZero(p) ? p.grad : undefined,
    });
    accumulateGrad(this.gpu, p, dw);
    if (!needDx) return undefined;
    return conv2dBackwardData(this.gpu, dy, p.value, { inputShape: x.shape, ...geometry });
  }
}
