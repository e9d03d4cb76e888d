/**
 * Float64 CPU reference of row L2 normalisation (PyTorch's F.normalize semantics).
 *
 * @module
 */

/** y = x / max(‖x‖₂, eps) per row of [rows, dim]. */
export function refL2Normalize(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  eps = 1e-12,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += x[r * dim + j] ** 2;
    const denom = Math.max(Math.sqrt(ss), eps);
    for (let j = 0; j < dim; j++) y[r * dim + j] = x[r * dim + j] / denom;
  }
  return y;
}

/**
 * Backward written from the quotient rule: with d = max(‖x‖, eps),
 * dx_j = dy_j / d − [‖x‖ > eps] · x_j · (x·dy) / (‖x‖ · d²).
 */
export function refL2NormalizeBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  eps = 1e-12,
): Float64Array {
  const dx = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    let dot = 0;
    for (let j = 0; j < dim; j++) {
      ss += x[r * dim + j] ** 2;
      dot += x[r * dim + j] * dy[r * dim + j];
    }
    const norm = Math.sqrt(ss);
    const d = Math.max(norm, eps);
    const through = norm > eps ? dot / (norm * d * d) : 0;
    for (let j = 0; j < dim; j++) {
      dx[r * dim + j] = dy[r * dim + j] / d - x[r * dim + j] * through;
    }
  }
  return dx;
}
