/**
 * ReLU as a layer: forward max(x, 0); backward masks dy by the forward output (equivalently the
 * input) being positive.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { relu, reluBackward } from "../ops/elementwise.ts";
import type { Parameter } from "./parameter.ts";
import type { SequentialLayer } from "./sequential.ts";

/** Stateless ReLU. */
export class ReLU implements SequentialLayer {
  constructor(readonly gpu: Gpu) {}

  /** max(x, 0), any shape. */
  forward(x: Tensor): Tensor {
    return relu(this.gpu, x);
  }

  /** dy where the forward output `y` is positive, else 0. */
  backward(y: Tensor, dy: Tensor): Tensor {
    return reluBackward(this.gpu, dy, y);
  }

  /** {@link backward} in the {@link SequentialLayer} form (the input is not needed). */
  backprop(_x: Tensor, y: Tensor, dy: Tensor): Tensor {
    return this.backward(y, dy);
  }

  /** No parameters. */
  parameters(): Parameter[] {
    return [];
  }
}
