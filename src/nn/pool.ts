/**
 * Pooling layers of a ResNet: the stem's 3×3/2 max pooling (padding 1) and the global average
 * pooling before the head.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  type MaxPoolOptions,
  type MaxPoolResult,
} from "../ops/pool.ts";

/** Max pooling (default 3×3, stride 2, padding 1 as in ResNet's stem). */
export class MaxPool2d {
  constructor(readonly gpu: Gpu, readonly options: MaxPoolOptions = {}) {}

  /** Output and arg-max indices (keep the indices for the backward pass). */
  forward(x: Tensor): MaxPoolResult {
    return maxPool2dForward(this.gpu, x, this.options);
  }

  /** Routes dy to the arg-max positions; `inputShape` is the forward input's shape. */
  backward(dy: Tensor, indices: Tensor, inputShape: readonly number[]): Tensor {
    return maxPool2dBackward(this.gpu, dy, indices, inputShape, this.options);
  }
}

/** Global average pooling [N, H, W, C] → [N, C]. */
export class GlobalAvgPool {
  constructor(readonly gpu: Gpu) {}

  /** Mean over H·W. */
  forward(x: Tensor): Tensor {
    return globalAvgPoolForward(this.gpu, x);
  }

  /** dy [N, C] spread evenly over the forward input's H·W. */
  backward(dy: Tensor, inputShape: readonly number[]): Tensor {
    return globalAvgPoolBackward(this.gpu, dy, inputShape);
  }
}
