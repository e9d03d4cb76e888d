/**
 * Small float64 dense-matrix helpers for the solvers (ridge, kernel ridge, logistic regression):
 * row-major `Float64Array` matrices, products, Gram matrices and transposes.
 *
 * The products run on the engine of `blas.ts` (OpenBLAS when it loads, else the register-blocked
 * JavaScript core {@link gemmNT} of `reference.ts`, re-exported here for callers that need its
 * offsets and the lower-triangle mode).
 *
 * @module
 */
import { gemm, packTransposed, syrk } from "./blas.ts";
import { checkShape } from "./reference.ts";

export { checkShape, gemmNT } from "./reference.ts";

/** A dense row-major float64 matrix: element (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  /** Number of rows. */
  rows: number;
  /** Number of columns. */
  cols: number;
  /** rows·cols values, row-major. */
  data: Float64Array;
}

/** A row-major input matrix; float32 data (features read back from the GPU) is accepted. */
export interface MatrixInput {
  /** Number of rows. */
  rows: number;
  /** Number of columns. */
  cols: number;
  /** rows·cols values, row-major. */
  data: Float32Array | Float64Array;
}

/**
 * Wraps row-major data as a {@link Matrix} (no copy), checking the length.
 *
 * @param data rows·cols values
 * @throws RangeError when the length does not match
 */
export function matrix(data: Float64Array, rows: number, cols: number): Matrix {
  checkShape(data.length, rows, cols, "matrix");
  return { rows, cols, data };
}

/** A zero-filled rows×cols matrix. */
export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** The input as float64: the same object when it already is, else a converted copy. */
export function toFloat64(x: MatrixInput): Matrix {
  checkShape(x.data.length, x.rows, x.cols, "toFloat64");
  if (x.data instanceof Float64Array) return x as Matrix;
  return { rows: x.rows, cols: x.cols, data: Float64Array.from(x.data) };
}

/** Aᵀ for a row-major rows×cols array (32×32 tiles keep both sides in cache). */
export function transpose(
  a: Float32Array | Float64Array,
  rows: number,
  cols: number,
): Float64Array {
  checkShape(a.length, rows, cols, "transpose");
  return packTransposed(a, 0, cols, rows, cols);
}

/** Transposed copy of a matrix. */
export function transposeMatrix(a: MatrixInput): Matrix {
  return { rows: a.cols, cols: a.rows, data: transpose(a.data, a.rows, a.cols) };
}

/**
 * C = A·Bᵀ for A [m, k] and B [n, k] (both read along rows), giving [m, n].
 *
 * @example
 * ```ts
 * const c = matmulNT(matrix(new Float64Array([1, 2]), 1, 2), matrix(new Float64Array([3, 4]), 1, 2));
 * // c.data = [11]
 * ```
 */
export function matmulNT(a: MatrixInput, b: MatrixInput): Matrix {
  if (a.cols !== b.cols) {
    throw new RangeError(`matmulNT: inner dimensions differ (${a.cols} vs ${b.cols})`);
  }
  const out = zeros(a.rows, b.rows);
  gemm({
    transB: true,
    m: a.rows,
    n: b.rows,
    k: a.cols,
    a: toFloat64(a).data,
    b: toFloat64(b).data,
    c: out.data,
  });
  return out;
}

/** C = A·B for A [m, k] and B [k, n]. */
export function matmul(a: MatrixInput, b: MatrixInput): Matrix {
  if (a.cols !== b.rows) {
    throw new RangeError(`matmul: inner dimensions differ (${a.cols} vs ${b.rows})`);
  }
  const out = zeros(a.rows, b.cols);
  gemm({
    m: a.rows,
    n: b.cols,
    k: a.cols,
    a: toFloat64(a).data,
    b: toFloat64(b).data,
    c: out.data,
  });
  return out;
}

/** C = Aᵀ·B for A [k, m] and B [k, n]. */
export function matmulTN(a: MatrixInput, b: MatrixInput): Matrix {
  if (a.rows !== b.rows) {
    throw new RangeError(`matmulTN: inner dimensions differ (${a.rows} vs ${b.rows})`);
  }
  const out = zeros(a.cols, b.cols);
  gemm({
    transA: true,
    m: a.cols,
    n: b.cols,
    k: a.rows,
    a: toFloat64(a).data,
    b: toFloat64(b).data,
    c: out.data,
  });
  return out;
}

/**
 * The Gram matrix A·Aᵀ [n, n] of the rows of A [n, k]: only the lower triangle is computed
 * (SYRK, half the flops), then mirrored, so the result is exactly symmetric.
 */
export function gramRows(a: MatrixInput): Matrix {
  const n = a.rows;
  const out = zeros(n, n);
  syrk({ n, k: a.cols, a: toFloat64(a).data, c: out.data });
  mirrorLower(out.data, n);
  return out;
}

/** Copies the lower triangle onto the upper one (in place, row-major n×n). */
export function mirrorLower(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j];
  }
}

/** Squared Euclidean norm of each row of A [n, k]. */
export function rowSquaredNorms(a: MatrixInput): Float64Array {
  const out = new Float64Array(a.rows);
  const d = a.data;
  for (let i = 0; i < a.rows; i++) {
    let s = 0;
    const off = i * a.cols;
    for (let p = 0; p < a.cols; p++) s += d[off + p] * d[off + p];
    out[i] = s;
  }
  return out;
}

/** Column means of A [n, k] (float64 accumulation, one pass over rows). */
export function columnMeans(a: MatrixInput): Float64Array {
  const mean = new Float64Array(a.cols);
  const d = a.data;
  for (let i = 0; i < a.rows; i++) {
    const off = i * a.cols;
    for (let j = 0; j < a.cols; j++) mean[j] += d[off + j];
  }
  for (let j = 0; j < a.cols; j++) mean[j] /= a.rows;
  return mean;
}
