/**
 * Small float64 dense-matrix helpers for the solvers (ridge, kernel ridge, logistic regression):
 * row-major `Float64Array` matrices, products, Gram matrices, transposes and an in-place blocked
 * Cholesky factorisation sized for the kernel-ridge solves.
 *
 * Every product is computed by one register-blocked core, C += α·A·Bᵀ ("NT": both operands are
 * read along their rows, so the innermost loop streams contiguous memory). The core keeps a 3×3
 * block of C in nine accumulators (with the six loaded operands that is 15 live doubles, within
 * the 16 SSE/AVX registers V8 allocates), and blocks over the inner dimension and over B's rows
 * so the B panel stays in L2. On this shared 2-core machine it reaches ≈ 5 GFLOP/s, about 10× a
 * plain one-accumulator dot-product loop. Products of other shapes transpose first (O(size)).
 *
 * @module
 */

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

/** Checks that `length === rows * cols` with non-negative integer dimensions. */
export function checkShape(length: number, rows: number, cols: number, what: string): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`${what}: bad shape [${rows}, ${cols}]`);
  }
  if (length !== rows * cols) {
    throw new RangeError(
      `${what}: expected ${rows}×${cols} = ${rows * cols} values, got ${length}`,
    );
  }
}

/** Aᵀ for a row-major rows×cols array (32×32 tiles keep both sides in cache). */
export function transpose(
  a: Float32Array | Float64Array,
  rows: number,
  cols: number,
): Float64Array {
  checkShape(a.length, rows, cols, "transpose");
  const out = new Float64Array(rows * cols);
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(i0 + T, rows);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = Math.min(j0 + T, cols);
      for (let i = i0; i < i1; i++) {
        const row = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = a[row + j];
      }
    }
  }
  return out;
}

/** Transposed copy of a matrix. */
export function transposeMatrix(a: MatrixInput): Matrix {
  return { rows: a.cols, cols: a.rows, data: transpose(a.data, a.rows, a.cols) };
}

/** Inner-dimension block: 3 rows of A plus the B panel stay cache resident. */
const KB = 256;
/** Rows of B per block (a multiple of 3): 96·256·8 B = 192 KiB, an L2-sized panel. */
const JB = 96;

/**
 * The core: C[i, j] += alpha · Σ_p A[i, p] · B[j, p] for i < m, j < n, p < k, with explicit
 * offsets and leading dimensions (row strides). With `lower`, only blocks touching j ≤ i are
 * computed (entries just above the diagonal inside a straddling 3×3 block are updated too; callers
 * that use `lower` read the lower triangle only, or mirror it).
 */
export function gemmNT(
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float64Array,
  aOff: number,
  lda: number,
  b: Float64Array,
  bOff: number,
  ldb: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
  lower = false,
): void {
  for (let p0 = 0; p0 < k; p0 += KB) {
    const p1 = Math.min(p0 + KB, k);
    for (let j0 = 0; j0 < n; j0 += JB) {
      const j1 = Math.min(j0 + JB, n);
      let i = lower ? j0 : 0;
      for (; i + 3 <= m; i += 3) {
        const jEnd = lower ? Math.min(j1, i + 3) : j1;
        const ai = aOff + i * lda;
        let j = j0;
        for (; j + 3 <= jEnd; j += 3) {
          block3x3(a, ai, lda, b, bOff + j * ldb, ldb, c, cOff + i * ldc + j, ldc, p0, p1, alpha);
        }
        for (; j < jEnd; j++) {
          if (lower && j > i) {
            edge(a, aOff, lda, b, bOff, ldb, c, cOff, ldc, i, i + 3, j, jEnd, p0, p1, alpha, lower);
            break;
          }
          block3x1(a, ai, lda, b, bOff + j * ldb, c, cOff + i * ldc + j, ldc, p0, p1, alpha);
        }
      }
      if (i < m) edge(a, aOff, lda, b, bOff, ldb, c, cOff, ldc, i, m, j0, j1, p0, p1, alpha, lower);
    }
  }
}

/**
 * The micro-kernel: a 3×3 block of C += alpha·A·Bᵀ over p ∈ [p0, p1). A small function of its
 * own on purpose: V8 optimises it as a whole (TurboFan) instead of through on-stack replacement
 * of a deeply nested loop, which was up to 4× slower depending on the call history.
 */
function block3x3(
  a: Float64Array,
  a0: number,
  lda: number,
  b: Float64Array,
  b0: number,
  ldb: number,
  c: Float64Array,
  o: number,
  ldc: number,
  p0: number,
  p1: number,
  alpha: number,
): void {
  const a1 = a0 + lda, a2 = a1 + lda;
  const b1 = b0 + ldb, b2 = b1 + ldb;
  let s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0, s20 = 0, s21 = 0, s22 = 0;
  for (let p = p0; p < p1; p++) {
    const x0 = a[a0 + p], x1 = a[a1 + p], x2 = a[a2 + p];
    const y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p];
    s00 += x0 * y0;
    s01 += x0 * y1;
    s02 += x0 * y2;
    s10 += x1 * y0;
    s11 += x1 * y1;
    s12 += x1 * y2;
    s20 += x2 * y0;
    s21 += x2 * y1;
    s22 += x2 * y2;
  }
  c[o] += alpha * s00;
  c[o + 1] += alpha * s01;
  c[o + 2] += alpha * s02;
  o += ldc;
  c[o] += alpha * s10;
  c[o + 1] += alpha * s11;
  c[o + 2] += alpha * s12;
  o += ldc;
  c[o] += alpha * s20;
  c[o + 1] += alpha * s21;
  c[o + 2] += alpha * s22;
}

/** One column of C against a row triple of A: C[i..i+2, j] += alpha·A·b. */
function block3x1(
  a: Float64Array,
  a0: number,
  lda: number,
  b: Float64Array,
  b0: number,
  c: Float64Array,
  o: number,
  ldc: number,
  p0: number,
  p1: number,
  alpha: number,
): void {
  const a1 = a0 + lda, a2 = a1 + lda;
  let s0 = 0, s1 = 0, s2 = 0;
  for (let p = p0; p < p1; p++) {
    const y = b[b0 + p];
    s0 += a[a0 + p] * y;
    s1 += a[a1 + p] * y;
    s2 += a[a2 + p] * y;
  }
  c[o] += alpha * s0;
  c[o + ldc] += alpha * s1;
  c[o + 2 * ldc] += alpha * s2;
}

/**
 * Leftover rows (fewer than 3): each row against column triples (three accumulators sharing the
 * row's loads), then single entries (two accumulators).
 */
function edge(
  a: Float64Array,
  aOff: number,
  lda: number,
  b: Float64Array,
  bOff: number,
  ldb: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  p0: number,
  p1: number,
  alpha: number,
  lower: boolean,
): void {
  for (let i = i0; i < i1; i++) {
    const ai = aOff + i * lda;
    const jEnd = lower ? Math.min(j1, i + 1) : j1;
    let j = j0;
    for (; j + 3 <= jEnd; j += 3) {
      const b0 = bOff + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb;
      let s0 = 0, s1 = 0, s2 = 0;
      for (let p = p0; p < p1; p++) {
        const x = a[ai + p];
        s0 += x * b[b0 + p];
        s1 += x * b[b1 + p];
        s2 += x * b[b2 + p];
      }
      const o = cOff + i * ldc + j;
      c[o] += alpha * s0;
      c[o + 1] += alpha * s1;
      c[o + 2] += alpha * s2;
    }
    for (; j < jEnd; j++) {
      const bj = bOff + j * ldb;
      let s0 = 0, s1 = 0;
      let p = p0;
      for (; p + 2 <= p1; p += 2) {
        s0 += a[ai + p] * b[bj + p];
        s1 += a[ai + p + 1] * b[bj + p + 1];
      }
      if (p < p1) s0 += a[ai + p] * b[bj + p];
      c[cOff + i * ldc + j] += alpha * (s0 + s1);
    }
  }
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
  const a64 = toFloat64(a);
  const b64 = toFloat64(b);
  const out = zeros(a.rows, b.rows);
  gemmNT(a.rows, b.rows, a.cols, 1, a64.data, 0, a.cols, b64.data, 0, b.cols, out.data, 0, b.rows);
  return out;
}

/** C = A·B for A [m, k] and B [k, n] (B is transposed once, then {@link matmulNT}). */
export function matmul(a: MatrixInput, b: MatrixInput): Matrix {
  if (a.cols !== b.rows) {
    throw new RangeError(`matmul: inner dimensions differ (${a.cols} vs ${b.rows})`);
  }
  return matmulNT(a, transposeMatrix(b));
}

/** C = Aᵀ·B for A [k, m] and B [k, n] (both transposed once, then {@link matmulNT}). */
export function matmulTN(a: MatrixInput, b: MatrixInput): Matrix {
  if (a.rows !== b.rows) {
    throw new RangeError(`matmulTN: inner dimensions differ (${a.rows} vs ${b.rows})`);
  }
  return matmulNT(transposeMatrix(a), transposeMatrix(b));
}

/**
 * The Gram matrix A·Aᵀ [n, n] of the rows of A [n, k]: only the lower triangle is computed
 * (half the flops), then mirrored, so the result is exactly symmetric.
 */
export function gramRows(a: MatrixInput): Matrix {
  const a64 = toFloat64(a);
  const n = a.rows;
  const out = zeros(n, n);
  gemmNT(n, n, a.cols, 1, a64.data, 0, a.cols, a64.data, 0, a.cols, out.data, 0, n, true);
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
