/**
 * Float64 CPU references of torch.optim.SGD's update (momentum, dampening, weight decay, no
 * Nesterov) and of MoCo's momentum-encoder EMA, written as plain loops.
 *
 * @module
 */

/** State of one parameter tensor in the reference optimiser. */
export interface RefSgdState {
  param: Float64Array;
  buf: Float64Array | undefined;
}

/**
 * One step of PyTorch's SGD, in place: d_p = grad + wd·θ; buf = d_p on the first step (PyTorch
 * clones it) else buf = momentum·buf + (1 − dampening)·d_p; θ = θ − lr·buf.
 */
export function refSgdStep(
  state: RefSgdState,
  grad: ArrayLike<number>,
  lr: number,
  momentum: number,
  weightDecay: number,
  dampening: number,
): void {
  const n = state.param.length;
  const first = state.buf === undefined;
  const buf = state.buf ?? new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const dp = grad[i] + weightDecay * state.param[i];
    buf[i] = first ? dp : momentum * buf[i] + (1 - dampening) * dp;
    state.param[i] -= lr * buf[i];
  }
  state.buf = buf;
}

/** θk = θk·m + θq·(1 − m), in place. */
export function refEma(target: Float64Array, source: ArrayLike<number>, m: number): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i] * m + source[i] * (1 - m);
}
