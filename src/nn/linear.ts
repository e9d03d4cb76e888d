/**
 * A fully connected layer in PyTorch's layout (weight [out, in], bias [out]) with explicit
 * forward and backward.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import { accumulateGrad, createParameter, type Parameter } from "./parameter.ts";
import type { SequentialLayer } from "./sequential.ts";

/** y = x·Wᵀ + b. */
export class Linear implements SequentialLayer {
  readonly weight: Parameter;
  readonly bias: Parameter;

  /** A layer named `name` (`<name>.weight`, `<name>.bias`). */
  constructor(
    readonly gpu: Gpu,
    name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    weight: Float32Array,
    bias: Float32Array,
  ) {
    const shape = [outFeatures, inFeatures];
    this.weight = createParameter(gpu, `${name}.weight`, shape, shape, "plain", weight);
    this.bias = createParameter(gpu, `${name}.bias`, [outFeatures], [outFeatures], "plain", bias);
  }

  /** Parameters in PyTorch order. */
  parameters(): Parameter[] {
    return [this.weight, this.bias];
  }

  /** y [n, out] for x [n, in]. */
  forward(x: Tensor): Tensor {
    return linearForward(this.gpu, x, this.weight.value, this.bias.value);
  }

  /** Accumulates dW, db from the forward input `x` and `dy`; returns dL/dx. */
  backward(x: Tensor, dy: Tensor): Tensor {
    const g = linearBackward(this.gpu, x, this.weight.value, dy);
    accumulateGrad(this.gpu, this.weight, g.dw);
    accumulateGrad(this.gpu, this.bias, g.db);
    return g.dx;
  }

  /** {@link backward} in the {@link SequentialLayer} form (the output is not needed). */
  backprop(x: Tensor, _y: Tensor, dy: Tensor): Tensor {
    return this.backward(x, dy);
  }
}
