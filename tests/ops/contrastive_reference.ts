/**
 * Float64 CPU reference of MoCo's InfoNCE loss, its gradient with respect to q, the top-k counts
 * and the enqueue, written as plain loops over the full [N, 1 + K] logits, independent of the
 * WGSL kernels. Layouts: q, k [N, dim] row-major; queue [dim, K] row-major (keys as columns).
 *
 * @module
 */

/** Result of {@link refInfoNce}. */
export interface RefInfoNce {
  loss: number;
  /** [N, dim]. */
  dq: Float64Array;
  top1: number;
  top5: number;
  /** [N, 1 + K] logits (for tests that build ties). */
  logits: Float64Array;
}

/**
 * Loss = mean_i (logsumexp(l_i) − l_i0), dq = ∂loss/∂q, and how many rows rank the positive
 * top-1 / top-5, where ties count against the positive (a negative with l ≥ l_0 ranks above).
 */
export function refInfoNce(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  queue: ArrayLike<number>,
  n: number,
  dim: number,
  kq: number,
  temperature: number,
): RefInfoNce {
  const cols = 1 + kq;
  const logits = new Float64Array(n * cols);
  const dq = new Float64Array(n * dim);
  let loss = 0;
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * cols, (i + 1) * cols);
    let pos = 0;
    for (let d = 0; d < dim; d++) pos += q[i * dim + d] * k[i * dim + d];
    row[0] = pos / temperature;
    for (let j = 0; j < kq; j++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += q[i * dim + d] * queue[d * kq + j];
      row[1 + j] = dot / temperature;
    }
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, row[j]);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(row[j] - max);
    const lse = max + Math.log(sum);
    loss += lse - row[0];
    let above = 0;
    for (let j = 1; j < cols; j++) if (row[j] >= row[0]) above++;
    if (above < 1) top1++;
    if (above < 5) top5++;
    // ∂(lse − l_0)/∂q_i = (Σ_j p_j key_j − k_i) / T; the mean over rows divides by N.
    const scale = 1 / (n * temperature);
    for (let d = 0; d < dim; d++) {
      let g = (Math.exp(row[0] - lse) - 1) * k[i * dim + d];
      for (let j = 0; j < kq; j++) g += Math.exp(row[1 + j] - lse) * queue[d * kq + j];
      dq[i * dim + d] = g * scale;
    }
  }
  return { loss: loss / n, dq, top1, top5, logits };
}

/** The queue after writing the keys k [N, dim] as columns ptr … ptr + N − 1. */
export function refEnqueue(
  queue: ArrayLike<number>,
  k: ArrayLike<number>,
  n: number,
  dim: number,
  kq: number,
  ptr: number,
): Float64Array {
  const out = Float64Array.from(queue);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) out[d * kq + ptr + i] = k[i * dim + d];
  }
  return out;
}
