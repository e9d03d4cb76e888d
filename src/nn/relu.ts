/**
 * ReLU as a layer: forward max(x, 0); backward masks dy by the forward output (equivalently the
 * input) being positive.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { relu, reluBackward } from "../ops/elementwise.ts";

/** Stateless ReLU. */
export class ReLU {
  constructor(readonly gpu: Gpu) {}

  /** max(x, 0), any shape. */
  forward(x: Tensor): Tensor {
    return relu(this.gpu, x);
  }

  /** dy where the forward output `y` is positive, else 0. */
  backward(y: Tensor, dy: Tensor): Tensor {
    return reluBackward(this.gpu, dy, y);
  }
}
