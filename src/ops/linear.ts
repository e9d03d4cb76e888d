/**
 * Linear (fully connected) layers in PyTorch's layout, built on {@link matmul}: x [n, in],
 * weight [out, in], bias [out], y = x · Wᵀ + b.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { columnSum, matmul, type MatmulVariant } from "./matmul.ts";

/** Gradients of a linear layer. */
export interface LinearGrads {
  /** [n, in] */
  dx: Tensor;
  /** [out, in] */
  dw: Tensor;
  /** [out] */
  db: Tensor;
}

/** Options of the linear ops: force a GEMM variant (default: the tuner's choice). */
export interface LinearOptions {
  /** GEMM variant to use instead of the tuner's choice (tests, benchmarks). */
  variant?: MatmulVariant;
}

function checkLinear(where: string, x: Tensor, w: Tensor): [number, number, number] {
  if (x.shape.length !== 2 || w.shape.length !== 2) {
    throw new RangeError(
      `${where}: x must be [n, in] and w [out, in], got [${x.shape}], [${w.shape}]`,
    );
  }
  const [n, inF] = x.shape;
  const [outF, wIn] = w.shape;
  if (wIn !== inF) {
    throw new RangeError(
      `${where}: x [${x.shape}] has ${inF} features, w [${w.shape}] expects ${wIn}`,
    );
  }
  return [n, inF, outF];
}

/**
 * Records y = x · Wᵀ (+ b) for x [n, in], w [out, in], b [out] and returns y [n, out].
 *
 * @example
 * ```ts
 * const y = linearForward(gpu, x, w, b);
 * ```
 */
export function linearForward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  b?: Tensor,
  options: LinearOptions = {},
): Tensor {
  const [, , outF] = checkLinear("linearForward", x, w);
  if (b && (b.shape.length !== 1 || b.shape[0] !== outF)) {
    throw new RangeError(`linearForward: bias must be [${outF}], got [${b.shape}]`);
  }
  return matmul(gpu, x, w, { transB: true, bias: b, variant: options.variant });
}

/**
 * Records the gradients of {@link linearForward} given dy [n, out]: dx = dy · W [n, in],
 * dW = dyᵀ · x [out, in] and db = Σ_rows dy [out] (a deterministic column sum).
 */
export function linearBackward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  dy: Tensor,
  options: LinearOptions = {},
): LinearGrads {
  const [n, , outF] = checkLinear("linearBackward", x, w);
  if (dy.shape.length !== 2 || dy.shape[0] !== n || dy.shape[1] !== outF) {
    throw new RangeError(`linearBackward: dy must be [${n}, ${outF}], got [${dy.shape}]`);
  }
  const dx = matmul(gpu, dy, w, { variant: options.variant });
  const dw = matmul(gpu, dy, x, { transA: true, variant: options.variant });
  const db = columnSum(gpu, dy);
  return { dx, dw, db };
}
