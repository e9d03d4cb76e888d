/**
 * Float64 Cholesky factorisation of a symmetric positive-definite matrix, A = L·Lᵀ, on the CPU.
 * The invariance metrics whiten features with Σ⁻¹; cosine similarity and Mahalanobis distance
 * after whitening need only Σ's Cholesky factor and triangular solves (see `triangular.ts`).
 *
 * Matrices are dense row-major `Float64Array`s of n·n values.
 *
 * @module
 */

/** Thrown when the matrix is not (numerically) positive definite. */
export class NotPositiveDefiniteError extends Error {
  override name = "NotPositiveDefiniteError";
  constructor(readonly column: number, readonly pivot: number) {
    super(
      `matrix is not positive definite: pivot ${pivot.toExponential(3)} at column ${column} ` +
        `(add a diagonal jitter, e.g. --jitter 1e-10, or check for constant feature dimensions)`,
    );
  }
}

/** Block size of the right-looking factorisation: a few KiB of rows stay in cache. */
const BLOCK = 64;

/**
 * Lower-triangular L with A = L·Lᵀ (the strict upper triangle of the result is zero).
 * Blocked right-looking algorithm; O(n³/3) flops.
 *
 * @param a symmetric matrix, row-major n×n (only the lower triangle is read)
 * @param jitter added to the diagonal before factorising (Σ + jitter·I)
 * @throws NotPositiveDefiniteError when a pivot is ≤ 0 or not finite
 * @example
 * ```ts
 * const l = cholesky(new Float64Array([4, 2, 2, 3]), 2); // [2, 0, 1, √2]
 * ```
 */
export function cholesky(a: Float64Array, n: number, jitter = 0): Float64Array {
  if (a.length !== n * n) {
    throw new RangeError(`cholesky: expected ${n * n} values, got ${a.length}`);
  }
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) l[i * n + j] = a[i * n + j];
    l[i * n + i] += jitter;
  }
  for (let k0 = 0; k0 < n; k0 += BLOCK) {
    const k1 = Math.min(k0 + BLOCK, n);
    // Factor the diagonal block and the panel below it, column by column.
    for (let k = k0; k < k1; k++) {
      const rowK = k * n;
      let pivot = l[rowK + k];
      for (let p = k0; p < k; p++) pivot -= l[rowK + p] * l[rowK + p];
      if (!(pivot > 0) || !Number.isFinite(pivot)) throw new NotPositiveDefiniteError(k, pivot);
      const d = Math.sqrt(pivot);
      l[rowK + k] = d;
      for (let i = k + 1; i < n; i++) {
        const rowI = i * n;
        let s = l[rowI + k];
        for (let p = k0; p < k; p++) s -= l[rowI + p] * l[rowK + p];
        l[rowI + k] = s / d;
      }
    }
    // Update the trailing lower triangle with the panel: A22 -= L21·L21ᵀ.
    for (let i = k1; i < n; i++) {
      const rowI = i * n;
      for (let j = k1; j <= i; j++) {
        const rowJ = j * n;
        let s = 0;
        for (let p = k0; p < k1; p++) s += l[rowI + p] * l[rowJ + p];
        l[rowI + j] -= s;
      }
    }
  }
  return l;
}
