/**
 * Float64 triangular solves with a lower-triangular factor L (row-major n×n), used with
 * `cholesky.ts`: whitening z = L⁻¹x gives xᵀΣ⁻¹y = zₓ·z_y when Σ = L·Lᵀ. They run on the engine of
 * `blas.ts` (`dtrsm`/`dpotrs` on OpenBLAS, substitution loops in JavaScript otherwise).
 *
 * @module
 */
import { potrs, trsmRows } from "./blas.ts";

function check(l: Float64Array, n: number, b: Float64Array, m: number, what: string): void {
  if (l.length !== n * n) throw new RangeError(`${what}: L must have ${n * n} values`);
  if (b.length !== m * n) throw new RangeError(`${what}: B must have ${m * n} values`);
}

/**
 * Solves L·X = B for X, where B holds `m` right-hand sides as the ROWS of a row-major m×n matrix
 * (each row is one vector; the result has the same layout). Forward substitution; `b` is kept.
 */
export function solveLower(l: Float64Array, n: number, b: Float64Array, m = 1): Float64Array {
  check(l, n, b, m, "solveLower");
  const x = new Float64Array(b);
  trsmRows(l, n, x, m, false);
  return x;
}

/** Solves Lᵀ·X = B for X (rows of B are right-hand sides). Back substitution; `b` is kept. */
export function solveLowerTransposed(
  l: Float64Array,
  n: number,
  b: Float64Array,
  m = 1,
): Float64Array {
  check(l, n, b, m, "solveLowerTransposed");
  const x = new Float64Array(b);
  trsmRows(l, n, x, m, true);
  return x;
}

/** Solves A·X = B with A = L·Lᵀ (two triangular solves; rows of B are right-hand sides). */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array, m = 1): Float64Array {
  check(l, n, b, m, "choleskySolve");
  const x = new Float64Array(b);
  potrs(l, n, x, m);
  return x;
}
