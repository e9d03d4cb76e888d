/**
 * The JavaScript float64 kernels: the fallback when OpenBLAS is not available and the parity
 * reference the OpenBLAS engine is tested against (`blas.ts` dispatches between the two).
 *
 * Matrices are row-major `Float64Array`s. The products run through one register-blocked core,
 * C += α·A·Bᵀ ("NT": both operands are read along their rows, so the innermost loop streams
 * contiguous memory). The core keeps a 3×3 block of C in nine accumulators (with the six loaded
 * operands that is 15 live doubles, within the 16 SSE/AVX registers V8 allocates), and blocks over
 * the inner dimension and over B's rows so the B panel stays in L2. On this shared 2-core machine
 * it reaches ≈ 5 GFLOP/s, about 10× a plain one-accumulator dot-product loop.
 *
 * @module
 */

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

/** Inner-dimension block: 3 rows of A plus the B panel stay cache resident. */
const KB = 256;
/** Rows of B per block (a multiple of 3): 96·256·8 B = 192 KiB, an L2-sized panel. */
const JB = 96;

/**
 * The core: C[i, j] += alpha · Σ_p A[i, p] · B[j, p] for i < m, j < n, p < k, with explicit
 * offsets and leading dimensions (row strides). With `lower` (m = n), only entries with j ≤ i are
 * updated: the strict upper triangle of C is left untouched, as BLAS's SYRK leaves it.
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
          block3x3(
            a,
            ai,
            lda,
            b,
            bOff + j * ldb,
            ldb,
            c,
            cOff + i * ldc + j,
            ldc,
            p0,
            p1,
            alpha,
            lower && j === i,
          );
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
 * The micro-kernel: a 3×3 block of C += alpha·A·Bᵀ over p ∈ [p0, p1); on a `diagonal` block of a
 * lower-triangle product the three entries above the diagonal are computed but not stored. A small function of its
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
  diagonal: boolean,
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
  if (!diagonal) {
    c[o + 1] += alpha * s01;
    c[o + 2] += alpha * s02;
  }
  o += ldc;
  c[o] += alpha * s10;
  c[o + 1] += alpha * s11;
  if (!diagonal) c[o + 2] += alpha * s12;
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

/** Thrown when the matrix is not (numerically) positive definite. */
export class NotPositiveDefiniteError extends Error {
  /** Error name, for messages and `instanceof`-free checks. */
  override name = "NotPositiveDefiniteError";
  /**
   * The error for a factorisation that stopped at `column`; the message suggests a jitter.
   *
   * @param column 0-based column at which the factorisation broke down
   * @param pivot the non-positive (or non-finite) pivot found there
   */
  constructor(readonly column: number, readonly pivot: number) {
    super(
      `matrix is not positive definite: pivot ${pivot.toExponential(3)} at column ${column} ` +
        `(add a diagonal jitter, e.g. jitter: 1e-10, or check for constant feature dimensions)`,
    );
  }
}

/** Diagonal block width of {@link choleskyLowerJs}. */
const NB = 96;

/**
 * In-place Cholesky factorisation A = L·Lᵀ of a symmetric positive-definite row-major n×n matrix
 * (only the lower triangle is read and written; the strict upper triangle is left as it was).
 * Blocked: the trailing update runs through the register-blocked {@link gemmNT} on a packed panel.
 * Cost n³/3 flops at ≈ 4.7 GFLOP/s on one core here.
 *
 * @throws NotPositiveDefiniteError when a pivot is ≤ 0 or not finite (`a` is then partly overwritten)
 */
export function choleskyLowerJs(a: Float64Array, n: number): void {
  checkShape(a.length, n, n, "choleskyLowerJs");
  const panel = new Float64Array(n * Math.min(NB, n));
  for (let k0 = 0; k0 < n; k0 += NB) {
    const k1 = Math.min(k0 + NB, n);
    const w = k1 - k0;
    // Diagonal block, unblocked and row by row (it already carries all earlier updates).
    for (let i = k0; i < k1; i++) {
      const ri = i * n;
      for (let j = k0; j <= i; j++) {
        const rj = j * n;
        let s = a[ri + j];
        for (let p = k0; p < j; p++) s -= a[ri + p] * a[rj + p];
        if (j === i) {
          if (!(s > 0) || !Number.isFinite(s)) throw new NotPositiveDefiniteError(i, s);
          a[ri + i] = Math.sqrt(s);
        } else {
          a[ri + j] = s / a[rj + j];
        }
      }
    }
    // Panel below it: L21 = A21·L11⁻ᵀ, solved row by row, three rows at a time (three independent
    // accumulator chains share each load of L11), and packed contiguously for the update.
    let i = k1;
    for (; i + 3 <= n; i += 3) {
      const r0 = i * n, r1 = r0 + n, r2 = r1 + n;
      for (let j = k0; j < k1; j++) {
        const rj = j * n;
        let s0 = a[r0 + j], s1 = a[r1 + j], s2 = a[r2 + j];
        for (let p = k0; p < j; p++) {
          const l = a[rj + p];
          s0 -= a[r0 + p] * l;
          s1 -= a[r1 + p] * l;
          s2 -= a[r2 + p] * l;
        }
        const d = a[rj + j];
        a[r0 + j] = s0 / d;
        a[r1 + j] = s1 / d;
        a[r2 + j] = s2 / d;
      }
    }
    for (; i < n; i++) {
      const ri = i * n;
      for (let j = k0; j < k1; j++) {
        const rj = j * n;
        let s = a[ri + j];
        for (let p = k0; p < j; p++) s -= a[ri + p] * a[rj + p];
        a[ri + j] = s / a[rj + j];
      }
    }
    const m = n - k1;
    if (m === 0) break;
    for (let r = 0; r < m; r++) {
      const src = (k1 + r) * n + k0;
      const dst = r * w;
      for (let p = 0; p < w; p++) panel[dst + p] = a[src + p];
    }
    // Trailing lower triangle: A22 −= L21·L21ᵀ.
    gemmNT(m, m, w, -1, panel, 0, w, panel, 0, w, a, k1 * n + k1, n, true);
  }
}

/**
 * Solves L·X = B in place for the m right-hand sides stored as the ROWS of b [m, n] (forward
 * substitution; only L's lower triangle is read).
 */
export function solveLowerRowsJs(l: Float64Array, n: number, b: Float64Array, m: number): void {
  for (let r = 0; r < m; r++) {
    const off = r * n;
    for (let i = 0; i < n; i++) {
      const rowI = i * n;
      let s = b[off + i];
      for (let p = 0; p < i; p++) s -= l[rowI + p] * b[off + p];
      b[off + i] = s / l[rowI + i];
    }
  }
}

/** Solves Lᵀ·X = B in place for the rows of b [m, n] (back substitution). */
export function solveLowerTransposedRowsJs(
  l: Float64Array,
  n: number,
  b: Float64Array,
  m: number,
): void {
  for (let r = 0; r < m; r++) {
    const off = r * n;
    for (let i = n - 1; i >= 0; i--) {
      const s = b[off + i] / l[i * n + i];
      b[off + i] = s;
      // Column i of Lᵀ is row i of L: subtract its contribution from the earlier unknowns.
      const rowI = i * n;
      for (let p = 0; p < i; p++) b[off + p] -= l[rowI + p] * s;
    }
  }
}

/** Diagonal blocks at most this wide are inverted by substitution; larger ones recursively. */
const INV_LEAF = 96;

/**
 * L⁻¹ of a lower-triangular row-major L (only the lower triangle is read), as a new array with a
 * zero strict upper triangle. Recursive 2×2 blocking, [[A, 0], [B, C]]⁻¹ = [[A⁻¹, 0],
 * [−C⁻¹·B·A⁻¹, C⁻¹]], puts almost all the work in the register-blocked GEMM.
 */
export function lowerInverseJs(l: Float64Array, n: number): Float64Array {
  checkShape(l.length, n, n, "lowerInverseJs");
  const inv = new Float64Array(n * n);
  invertBlock(l, inv, n, 0, n);
  return inv;
}

function invertBlock(l: Float64Array, inv: Float64Array, n: number, o: number, s: number): void {
  if (s <= INV_LEAF) {
    // Column r of the block inverse solves L·x = e_r (x_i = 0 for i < r); t holds it as row r.
    const t = new Float64Array(s * s);
    for (let r = 0; r < s; r++) {
      const tr = r * s;
      t[tr + r] = 1 / l[(o + r) * n + o + r];
      for (let i = r + 1; i < s; i++) {
        const li = (o + i) * n + o;
        let acc = 0;
        for (let p = r; p < i; p++) acc += l[li + p] * t[tr + p];
        t[tr + i] = -acc / l[li + i];
      }
    }
    for (let r = 0; r < s; r++) for (let i = r; i < s; i++) inv[(o + i) * n + o + r] = t[r * s + i];
    return;
  }
  const h = Math.floor(s / 2);
  const m = s - h;
  invertBlock(l, inv, n, o, h);
  invertBlock(l, inv, n, o + h, m);
  // T = B·A⁻¹ [m, h], with B = L[o+h.., o..o+h): the NT GEMM wants (A⁻¹)ᵀ as rows.
  const aInvT = new Float64Array(h * h);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j <= i; j++) aInvT[j * h + i] = inv[(o + i) * n + o + j];
  }
  const t = new Float64Array(m * h);
  gemmNT(m, h, h, 1, l, (o + h) * n + o, n, aInvT, 0, h, t, 0, h);
  // −C⁻¹·T into the lower-left block: the NT GEMM wants Tᵀ as rows.
  const tT = new Float64Array(h * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < h; j++) tT[j * m + i] = t[i * h + j];
  gemmNT(m, h, m, -1, inv, (o + h) * n + o + h, n, tT, 0, m, inv, (o + h) * n + o, n);
}
