/**
 * Float64 triangular solves with a lower-triangular factor L (row-major n×n), used with
 * `cholesky.ts`: whitening z = L⁻¹x gives xᵀΣ⁻¹y = zₓ·z_y when Σ = L·Lᵀ.
 *
 * @module
 */

/**
 * Solves L·X = B for X, where B holds `m` right-hand sides as the ROWS of a row-major m×n matrix
 * (each row is one vector; the result has the same layout). Forward substitution.
 */
export function solveLower(l: Float64Array, n: number, b: Float64Array, m = 1): Float64Array {
  if (l.length !== n * n) throw new RangeError(`solveLower: L must have ${n * n} values`);
  if (b.length !== m * n) throw new RangeError(`solveLower: B must have ${m * n} values`);
  const x = new Float64Array(b);
  for (let r = 0; r < m; r++) {
    const off = r * n;
    for (let i = 0; i < n; i++) {
      const rowI = i * n;
      let s = x[off + i];
      for (let p = 0; p < i; p++) s -= l[rowI + p] * x[off + p];
      x[off + i] = s / l[rowI + i];
    }
  }
  return x;
}

/** Solves Lᵀ·X = B for X (rows of B are right-hand sides). Back substitution. */
export function solveLowerTransposed(
  l: Float64Array,
  n: number,
  b: Float64Array,
  m = 1,
): Float64Array {
  if (l.length !== n * n) throw new RangeError(`solveLowerTransposed: L must have ${n * n} values`);
  if (b.length !== m * n) throw new RangeError(`solveLowerTransposed: B must have ${m * n} values`);
  const x = new Float64Array(b);
  for (let r = 0; r < m; r++) {
    const off = r * n;
    for (let i = n - 1; i >= 0; i--) {
      const s = x[off + i] / l[i * n + i];
      x[off + i] = s;
      // Column i of Lᵀ is row i of L: subtract its contribution from the earlier unknowns.
      const rowI = i * n;
      for (let p = 0; p < i; p++) x[off + p] -= l[rowI + p] * s;
    }
  }
  return x;
}

/** Solves A·X = B with A = L·Lᵀ (two triangular solves; rows of B are right-hand sides). */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array, m = 1): Float64Array {
  return solveLowerTransposed(l, n, solveLower(l, n, b, m), m);
}
