/**
 * Float64 reference of softmax cross-entropy with integer labels (PyTorch's `F.cross_entropy`,
 * mean reduction), its gradient and the top-1 / top-5 counts.
 *
 * @module
 */

/** What {@link refSoftmaxCrossEntropy} returns. */
export interface RefCrossEntropy {
  /** Mean over rows of logsumexp(z_i) − z_i[y_i]. */
  loss: number;
  /** d(mean loss)/dz, [N, C]. */
  grad: Float64Array;
  /** Rows whose label ranks first / within five (ties against the label). */
  top1: number;
  top5: number;
}

/** Cross-entropy of `logits` [n, c] (row-major) against `labels`, in float64. */
export function refSoftmaxCrossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  n: number,
  c: number,
): RefCrossEntropy {
  const grad = new Float64Array(n * c);
  let total = 0;
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, logits[i * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(logits[i * c + j] - m);
    const zy = logits[i * c + y];
    total += m + Math.log(s) - zy;
    let rank = 0;
    for (let j = 0; j < c; j++) {
      const z = logits[i * c + j];
      grad[i * c + j] = (Math.exp(z - m) / s - (j === y ? 1 : 0)) / n;
      if (j !== y && z >= zy) rank++;
    }
    if (rank < 1) top1++;
    if (rank < 5) top5++;
  }
  return { loss: total / n, grad, top1, top5 };
}
