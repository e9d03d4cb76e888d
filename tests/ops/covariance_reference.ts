/**
 * Float64 CPU reference of `np.cov(X, rowvar=False)` (two-pass: mean, then centred
 * cross-products divided by n − 1), written as plain loops, independent of the WGSL kernels.
 * X is [n, D] row-major, given as a list of row batches.
 *
 * @module
 */

/** Mean [D] and unbiased covariance [D, D] of the rows of all batches. */
export function refCovariance(
  batches: readonly ArrayLike<number>[],
  dim: number,
): { mean: Float64Array; cov: Float64Array; n: number } {
  let n = 0;
  const mean = new Float64Array(dim);
  for (const x of batches) {
    const rows = x.length / dim;
    for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d] += x[r * dim + d];
    n += rows;
  }
  for (let d = 0; d < dim; d++) mean[d] /= n;
  const cov = new Float64Array(dim * dim);
  const y = new Float64Array(dim);
  for (const x of batches) {
    const rows = x.length / dim;
    for (let r = 0; r < rows; r++) {
      for (let d = 0; d < dim; d++) y[d] = x[r * dim + d] - mean[d];
      for (let a = 0; a < dim; a++) {
        const ya = y[a];
        const row = a * dim;
        for (let b = 0; b < dim; b++) cov[row + b] += ya * y[b];
      }
    }
  }
  for (let e = 0; e < dim * dim; e++) cov[e] /= n - 1;
  return { mean, cov, n };
}
