/**
 * Float64 Cholesky factorisation of a symmetric positive-definite matrix, A = L·Lᵀ, on the CPU.
 * The invariance metrics whiten features with Σ⁻¹; cosine similarity and Mahalanobis distance
 * after whitening need only Σ's Cholesky factor and triangular solves (see `triangular.ts`).
 *
 * Matrices are dense row-major `Float64Array`s of n·n values. The factorisation runs on the
 * engine of `blas.ts`: LAPACK's `dpotrf` on OpenBLAS (≈ 33 GFLOP/s on this 2-core machine: 0.7 s
 * at n = 4096), or the blocked JavaScript kernel of `reference.ts` (≈ 4.7 GFLOP/s on one core).
 *
 * @module
 */
import { potrf } from "./blas.ts";
import { checkShape } from "./reference.ts";

export { NotPositiveDefiniteError } from "./reference.ts";

/**
 * Lower-triangular L with A = L·Lᵀ (the strict upper triangle of the result is zero), leaving
 * `a` untouched. See {@link choleskyInPlace}.
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
  return choleskyInPlace(new Float64Array(a), n, jitter);
}

/**
 * In-place Cholesky factorisation A = L·Lᵀ of a symmetric positive-definite row-major n×n matrix:
 * on return `a` holds L (strict upper triangle zeroed) and the same array is returned. Only the
 * lower triangle of the input is read.
 *
 * Unlike {@link cholesky} it needs no second n×n array (a 20 480² float64 kernel matrix is 3.4 GB).
 *
 * @param jitter added to the diagonal first (A + jitter·I)
 * @throws NotPositiveDefiniteError when a pivot is ≤ 0 or not finite (`a` is then partly overwritten)
 */
export function choleskyInPlace(a: Float64Array, n: number, jitter = 0): Float64Array {
  checkShape(a.length, n, n, "choleskyInPlace");
  return potrf(a, n, { jitter });
}
