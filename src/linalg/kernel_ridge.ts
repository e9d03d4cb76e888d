/**
 * scikit-learn's `KernelRidge(kernel="rbf", alpha, gamma)` in float64: the Causal3DIdent probe
 * (docs/causal3dident.md#model-selection). No intercept; y is neither centred nor scaled.
 *
 * - Kernel: K(x, x′) = exp(−γ·‖x − x′‖²), with ‖x − x′‖² = ‖x‖² + ‖x′‖² − 2·x·x′ from a blocked
 *   float64 Gram matrix, negatives clamped to 0 and the diagonal of K(X, X) set to exactly 1
 *   (sklearn's `euclidean_distances` zeroes it when X is Y).
 * - Fit: (K + α·I)·c = y by an in-place Cholesky factorisation (all outputs at once).
 * - Predict: K(X_new, X_train)·c, in chunks of rows so K(X_new, X_train) is never materialised
 *   whole (a 25 000 × 20 480 float64 block would be 4 GB).
 *
 * Cost (n training samples, d features): the Gram is n²·d flops (SYRK, half of 2n²d, by symmetry)
 * and the factorisation n³/3, both on the engine of `blas.ts` (OpenBLAS's `dsyrk`/`dpotrf`, or the
 * JavaScript kernels). Only the lower triangle of K is formed and factorised, in place: at
 * n = 20 480 that is one 3.4 GB array. The `*Async` methods run the long BLAS calls nonblocking.
 *
 * {@link kernelRidgeFoldScores} is the grid search's inner loop for one fold: the squared distances
 * are computed once and kept in the strict upper triangle of the same n×n array whose lower
 * triangle each (α, γ) candidate fills with its kernel and factorises, so a fold needs one n×n
 * array for all 40 candidates, and each candidate costs n²/2 exponentials plus one Cholesky.
 *
 * `gramFn(a, b)` must return A·Bᵀ ([a.rows, b.rows], row-major float64; it is called with the
 * same object twice for K(X, X)). It may return a Promise, in which case use the `*Async`
 * methods. A float32 GPU Gram perturbs each squared distance by ~1e-7·(‖x‖² + ‖x′‖²) (the
 * ‖x‖² + ‖x′‖² − 2x·x′ form cancels), and the solve amplifies that by up to cond(K + αI); check such
 * a provider against the CPU path at the α, γ in use.
 *
 * @module
 */
import {
  checkShape,
  gramRows,
  matmulNT,
  type Matrix,
  type MatrixInput,
  mirrorLower,
  rowSquaredNorms,
  toFloat64,
} from "./dense.ts";
import { gemm, gemmAsync, potrf, potrfAsync, potrs, potrsAsync, syrk, syrkAsync } from "./blas.ts";
import { r2Score } from "./metrics.ts";

/** A Gram-matrix provider: A·Bᵀ as row-major float64 [a.rows, b.rows]. */
export type GramFn = (a: Matrix, b: Matrix) => Float64Array | Promise<Float64Array>;

/** The CPU Gram: A·Bᵀ, exploiting symmetry when `a === b`. */
export function cpuGram(a: Matrix, b: Matrix): Float64Array {
  return a === b ? gramRows(a).data : matmulNT(a, b).data;
}

/** {@link cpuGram} with nonblocking BLAS calls (the same values). */
export async function cpuGramAsync(a: Matrix, b: Matrix): Promise<Float64Array> {
  if (a.cols !== b.cols) throw new RangeError(`cpuGram: ${a.cols} vs ${b.cols} features`);
  const out = new Float64Array(a.rows * b.rows);
  if (a === b) {
    await syrkAsync({ n: a.rows, k: a.cols, a: a.data, c: out });
    mirrorLower(out, a.rows);
  } else {
    await gemmAsync({
      transB: true,
      m: a.rows,
      n: b.rows,
      k: a.cols,
      a: a.data,
      b: b.data,
      c: out,
    });
  }
  return out;
}

/**
 * The lower triangle (and diagonal) of K(X, X) from a Gram matrix whose lower triangle holds X·Xᵀ,
 * in place: K = exp(−γ·max(0, ‖xᵢ‖² + ‖xⱼ‖² − 2Gᵢⱼ)) below the diagonal and 1 on it. The strict
 * upper triangle is not read or written.
 */
export function rbfLowerFromGram(gram: Float64Array, norms: Float64Array, gamma: number): void {
  const n = norms.length;
  checkShape(gram.length, n, n, "rbfLowerFromGram");
  for (let i = 0; i < n; i++) {
    const row = i * n;
    const ni = norms[i];
    for (let j = 0; j < i; j++) {
      const d2 = ni + norms[j] - 2 * gram[row + j];
      gram[row + j] = Math.exp(-gamma * (d2 > 0 ? d2 : 0));
    }
    gram[row + i] = 1;
  }
}

/**
 * Turns a Gram matrix G = A·Bᵀ into the RBF kernel in place: K = exp(−γ·max(0, ‖a‖² + ‖b‖² − 2G)).
 * With `same`, the diagonal distance is exactly 0 (K = 1).
 */
export function rbfFromGram(
  gram: Float64Array,
  aNorms: Float64Array,
  bNorms: Float64Array,
  gamma: number,
  same = false,
): Float64Array {
  const m = aNorms.length, n = bNorms.length;
  checkShape(gram.length, m, n, "rbfFromGram");
  for (let i = 0; i < m; i++) {
    const row = i * n;
    const ai = aNorms[i];
    for (let j = 0; j < n; j++) {
      const d2 = ai + bNorms[j] - 2 * gram[row + j];
      gram[row + j] = Math.exp(-gamma * (d2 > 0 ? d2 : 0));
    }
    if (same) gram[row + i] = 1;
  }
  return gram;
}

/**
 * The RBF kernel matrix K(A, B) [a.rows, b.rows]; B defaults to A (then K is symmetric with a
 * unit diagonal).
 */
export function rbfKernel(a: MatrixInput, b: MatrixInput | undefined, gamma: number): Matrix {
  const a64 = toFloat64(a);
  const b64 = b === undefined ? a64 : toFloat64(b);
  if (a64.cols !== b64.cols) {
    throw new RangeError(`rbfKernel: ${a64.cols} vs ${b64.cols} features`);
  }
  const same = a64 === b64;
  const aN = rowSquaredNorms(a64);
  const data = rbfFromGram(cpuGram(a64, b64), aN, same ? aN : rowSquaredNorms(b64), gamma, same);
  return { rows: a64.rows, cols: b64.rows, data };
}

/** Options of {@link KernelRidge}. */
export interface KernelRidgeOptions {
  /** Regularisation α > 0 added to K's diagonal. */
  alpha: number;
  /** RBF width γ > 0. */
  gamma: number;
  /** Optional Gram provider (e.g. a GPU matmul); the CPU Gram otherwise. */
  gramFn?: GramFn;
  /** Test rows per chunk in `predict` (default 1024). */
  predictChunk?: number;
}

/** Kernel ridge regression with an RBF kernel and no intercept. */
export class KernelRidge {
  /** α. */
  readonly alpha: number;
  /** γ. */
  readonly gamma: number;
  readonly #gramFn: GramFn;
  readonly #chunk: number;
  /** Training inputs (float64) once fitted. */
  xTrain: Matrix | undefined;
  /** Dual coefficients c [n, outputs] once fitted (sklearn's `dual_coef_`). */
  dualCoef: Matrix | undefined;
  #trainNorms: Float64Array | undefined;

  /**
   * An unfitted model with penalty `alpha` and RBF width `gamma`.
   * @throws RangeError when `alpha` is negative or `gamma` not positive (or either not finite)
   */
  constructor(options: KernelRidgeOptions) {
    if (!(options.alpha >= 0) || !Number.isFinite(options.alpha)) {
      throw new RangeError(`KernelRidge: alpha must be a finite number ≥ 0, got ${options.alpha}`);
    }
    if (!(options.gamma > 0) || !Number.isFinite(options.gamma)) {
      throw new RangeError(`KernelRidge: gamma must be a finite number > 0, got ${options.gamma}`);
    }
    this.alpha = options.alpha;
    this.gamma = options.gamma;
    this.#gramFn = options.gramFn ?? cpuGram;
    this.#chunk = options.predictChunk ?? 1024;
  }

  /**
   * Fits on x [n, d] and y [n, outputs] with a synchronous Gram.
   *
   * @throws TypeError when `gramFn` returns a Promise (use {@link fitAsync});
   *   NotPositiveDefiniteError when K + αI is not numerically positive definite
   */
  fit(x: MatrixInput, y: MatrixInput): this {
    const x64 = this.#checkFit(x, y);
    // The CPU Gram is formed on the lower triangle only (SYRK); the solve reads nothing else.
    const g = this.#gramFn === cpuGram ? gramLower(x64) : this.#gramFn(x64, x64);
    if (!(g instanceof Float64Array)) {
      throw new TypeError("KernelRidge.fit: gramFn returned a Promise; use fitAsync()");
    }
    const norms = this.#kernelInPlace(x64, g);
    this.dualCoef = solveShifted(g, x64.rows, this.alpha, y);
    return this.#setFitted(x64, norms);
  }

  /** {@link fit} with an asynchronous `gramFn` (e.g. GPU matmul + readback). */
  async fitAsync(x: MatrixInput, y: MatrixInput): Promise<this> {
    const x64 = this.#checkFit(x, y);
    const g = this.#gramFn === cpuGram ? await gramLowerAsync(x64) : await this.#gramFn(x64, x64);
    const norms = this.#kernelInPlace(x64, g);
    this.dualCoef = await solveShiftedAsync(g, x64.rows, this.alpha, y);
    return this.#setFitted(x64, norms);
  }

  /**
   * Fits from a precomputed kernel matrix K(X, X) [n, n] (overwritten by its factor) when the
   * caller builds kernels itself, e.g. from one distance matrix for several γ. `predict` then
   * needs {@link predictFromKernel}.
   */
  fitKernel(kernel: Float64Array, y: MatrixInput): this {
    const n = y.rows;
    checkShape(kernel.length, n, n, "KernelRidge.fitKernel kernel");
    checkShape(y.data.length, y.rows, y.cols, "KernelRidge.fitKernel y");
    this.xTrain = undefined;
    this.#trainNorms = undefined;
    this.dualCoef = solveShifted(kernel, n, this.alpha, y);
    return this;
  }

  /** Predictions K(X_new, X_train)·c [m, outputs] with a synchronous Gram. */
  predict(x: MatrixInput): Matrix {
    return this.#predict(x, (a, b) => {
      const g = this.#gramFn(a, b);
      if (!(g instanceof Float64Array)) {
        throw new TypeError("KernelRidge.predict: gramFn returned a Promise; use predictAsync()");
      }
      return g;
    });
  }

  /** {@link predict} with an asynchronous `gramFn`. */
  async predictAsync(x: MatrixInput): Promise<Matrix> {
    const x64 = toFloat64(x);
    const { xTrain, dualCoef, norms } = this.#fitted(x64);
    const t = dualCoef.cols;
    const out = new Float64Array(x64.rows * t);
    for (let r0 = 0; r0 < x64.rows; r0 += this.#chunk) {
      const block = rowBlock(x64, r0, Math.min(r0 + this.#chunk, x64.rows));
      const g = await (this.#gramFn === cpuGram ? cpuGramAsync : this.#gramFn)(block, xTrain);
      this.#accumulate(block, g, norms, dualCoef, out, r0);
    }
    return { rows: x64.rows, cols: t, data: out };
  }

  /** Predictions from a precomputed cross kernel K(X_new, X_train) [m, n]. */
  predictFromKernel(crossKernel: Float64Array, m: number): Matrix {
    const c = this.dualCoef;
    if (c === undefined) throw new Error("KernelRidge: the model is not fitted");
    checkShape(crossKernel.length, m, c.rows, "KernelRidge.predictFromKernel");
    const out = new Float64Array(m * c.cols);
    gemmKc(crossKernel, m, c, out, 0);
    return { rows: m, cols: c.cols, data: out };
  }

  /** R² on (x, y), uniformly averaged over outputs (sklearn's `score`). */
  score(x: MatrixInput, y: MatrixInput): number {
    const pred = this.predict(x);
    if (y.rows !== pred.rows || y.cols !== pred.cols) {
      throw new RangeError(`KernelRidge.score: y must be [${pred.rows}, ${pred.cols}]`);
    }
    return r2Score(y.data, pred.data, pred.cols);
  }

  #checkFit(x: MatrixInput, y: MatrixInput): Matrix {
    checkShape(x.data.length, x.rows, x.cols, "KernelRidge.fit x");
    checkShape(y.data.length, y.rows, y.cols, "KernelRidge.fit y");
    if (x.rows !== y.rows) {
      throw new RangeError(`KernelRidge.fit: x has ${x.rows} samples, y ${y.rows}`);
    }
    if (x.rows === 0) throw new RangeError("KernelRidge.fit: no samples");
    return toFloat64(x);
  }

  /** Turns the Gram's lower triangle into K's, in place; returns the row norms. */
  #kernelInPlace(x64: Matrix, gram: Float64Array): Float64Array {
    checkShape(gram.length, x64.rows, x64.rows, "KernelRidge gramFn result");
    const norms = rowSquaredNorms(x64);
    rbfLowerFromGram(gram, norms, this.gamma);
    return norms;
  }

  #setFitted(x64: Matrix, norms: Float64Array): this {
    this.xTrain = x64;
    this.#trainNorms = norms;
    return this;
  }

  #fitted(x: Matrix): { xTrain: Matrix; dualCoef: Matrix; norms: Float64Array } {
    const { xTrain, dualCoef } = this;
    const norms = this.#trainNorms;
    if (xTrain === undefined || dualCoef === undefined || norms === undefined) {
      throw new Error("KernelRidge: the model is not fitted with training inputs");
    }
    if (x.cols !== xTrain.cols) {
      throw new RangeError(
        `KernelRidge.predict: x has ${x.cols} features, fitted on ${xTrain.cols}`,
      );
    }
    return { xTrain, dualCoef, norms };
  }

  #predict(x: MatrixInput, gram: (a: Matrix, b: Matrix) => Float64Array): Matrix {
    checkShape(x.data.length, x.rows, x.cols, "KernelRidge.predict x");
    const x64 = toFloat64(x);
    const { xTrain, dualCoef, norms } = this.#fitted(x64);
    const out = new Float64Array(x64.rows * dualCoef.cols);
    for (let r0 = 0; r0 < x64.rows; r0 += this.#chunk) {
      const block = rowBlock(x64, r0, Math.min(r0 + this.#chunk, x64.rows));
      this.#accumulate(block, gram(block, xTrain), norms, dualCoef, out, r0);
    }
    return { rows: x64.rows, cols: dualCoef.cols, data: out };
  }

  #accumulate(
    block: Matrix,
    g: Float64Array,
    trainNorms: Float64Array,
    dualCoef: Matrix,
    out: Float64Array,
    r0: number,
  ): void {
    checkShape(g.length, block.rows, trainNorms.length, "KernelRidge gramFn result");
    const k = rbfFromGram(g, rowSquaredNorms(block), trainNorms, this.gamma);
    gemmKc(k, block.rows, dualCoef, out, r0 * dualCoef.cols);
  }
}

/** X·Xᵀ on the lower triangle only (the upper is left zero). */
function gramLower(x: Matrix): Float64Array {
  const out = new Float64Array(x.rows * x.rows);
  syrkLower(x, out);
  return out;
}

async function gramLowerAsync(x: Matrix): Promise<Float64Array> {
  const out = new Float64Array(x.rows * x.rows);
  await syrkAsync({ n: x.rows, k: x.cols, a: x.data, c: out });
  return out;
}

function syrkLower(x: Matrix, out: Float64Array): void {
  syrk({ n: x.rows, k: x.cols, a: x.data, c: out });
}

/** Yᵀ [t, n] of y [n, t] (right-hand sides as rows). */
function rhsRows(y: MatrixInput, n: number): Float64Array {
  const t = y.cols;
  if (y.rows !== n) throw new RangeError(`KernelRidge: y has ${y.rows} rows, K is ${n}×${n}`);
  const yT = new Float64Array(t * n);
  for (let i = 0; i < n; i++) for (let o = 0; o < t; o++) yT[o * n + i] = y.data[i * t + o];
  return yT;
}

function fromRows(cT: Float64Array, n: number, t: number): Matrix {
  const c = new Float64Array(n * t);
  for (let i = 0; i < n; i++) for (let o = 0; o < t; o++) c[i * t + o] = cT[o * n + i];
  return { rows: n, cols: t, data: c };
}

/**
 * Solves (K + αI)·C = Y in place of K's lower triangle (its strict upper triangle is neither read
 * nor written); returns C [n, outputs].
 */
function solveShifted(k: Float64Array, n: number, alpha: number, y: MatrixInput): Matrix {
  const yT = rhsRows(y, n);
  potrf(k, n, { jitter: alpha, zeroUpper: false });
  potrs(k, n, yT, y.cols);
  return fromRows(yT, n, y.cols);
}

/** {@link solveShifted} with nonblocking BLAS calls. */
async function solveShiftedAsync(
  k: Float64Array,
  n: number,
  alpha: number,
  y: MatrixInput,
): Promise<Matrix> {
  const yT = rhsRows(y, n);
  await potrfAsync(k, n, { jitter: alpha, zeroUpper: false });
  await potrsAsync(k, n, yT, y.cols);
  return fromRows(yT, n, y.cols);
}

/** out[off + i·t + o] = Σ_j K[i, j]·C[j, o] for K [m, n], C [n, t]. */
function gemmKc(k: Float64Array, m: number, c: Matrix, out: Float64Array, off: number): void {
  gemm({ m, n: c.cols, k: c.rows, a: k, b: c.data, c: out, cOff: off });
}

function rowBlock(x: Matrix, r0: number, r1: number): Matrix {
  return { rows: r1 - r0, cols: x.cols, data: x.data.subarray(r0 * x.cols, r1 * x.cols) };
}

/** Tile edge of the transposing passes below (two 64×64 float64 tiles stay in L1/L2). */
const TILE = 64;

/**
 * Squared distances from a Gram matrix with X·Xᵀ in its lower triangle, written to the strict upper
 * triangle: W[j, i] = max(0, ‖xᵢ‖² + ‖xⱼ‖² − 2·W[i, j]) for j < i (sklearn's `euclidean_distances`).
 */
function distancesToUpper(w: Float64Array, norms: Float64Array): void {
  const n = norms.length;
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(i0 + TILE, n);
    for (let j0 = 0; j0 < i1; j0 += TILE) {
      const j1 = Math.min(j0 + TILE, n);
      for (let i = i0; i < i1; i++) {
        const ni = norms[i], row = i * n;
        const jEnd = Math.min(j1, i);
        for (let j = j0; j < jEnd; j++) {
          const d2 = ni + norms[j] - 2 * w[row + j];
          w[j * n + i] = d2 > 0 ? d2 : 0;
        }
      }
    }
  }
}

/**
 * The RBF kernel's strict lower triangle from the squared distances in the strict upper triangle of
 * `dist`: K[i, j] = exp(−γ·dist[j, i]) for j < i (sklearn's kernel). Only K's strict lower triangle
 * is written.
 */
function kernelLowerFromUpper(dist: Float64Array, k: Float64Array, n: number, gamma: number): void {
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(i0 + TILE, n);
    for (let j0 = 0; j0 < i1; j0 += TILE) {
      const j1 = Math.min(j0 + TILE, n);
      for (let i = i0; i < i1; i++) {
        const row = i * n;
        const jEnd = Math.min(j1, i);
        for (let j = j0; j < jEnd; j++) k[row + j] = Math.exp(-gamma * dist[j * n + i]);
      }
    }
  }
}

/**
 * K + αI on the lower triangle of `w` from K's strict lower triangle in `k`, with 1 + α on the
 * diagonal (sklearn's kernel, then `K += α` on the diagonal). The strict upper triangle of `w` (the
 * distances) is not touched.
 */
function shiftedKernelLower(k: Float64Array, w: Float64Array, n: number, alpha: number): void {
  const diag = 1 + alpha;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    w.set(k.subarray(row, row + i), row);
    w[row + i] = diag;
  }
}

/** Whether the strict lower triangle of the n×n `k` is all zeros (stops at the first non-zero). */
function strictLowerIsZero(k: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) {
    const row = i * n;
    for (let j = 0; j < i; j++) if (k[row + j] !== 0) return false;
  }
  return true;
}

/** Options of {@link kernelRidgeFoldScores}. */
export interface FoldScoresOptions {
  /** Regularisation candidates α. */
  alphas: readonly number[];
  /** RBF width candidates γ. */
  gammas: readonly number[];
  /** Gram provider (default: the CPU float64 Gram through nonblocking BLAS calls). */
  gramFn?: GramFn;
  /** Called after each fit (for progress), γ-major like the loop. */
  onFit?: (alpha: number, gamma: number) => void;
}

/**
 * One cross-validation fold of the (α, γ) grid search: the test R² (uniform average over outputs)
 * of `KernelRidge(rbf, α, γ)` fitted on (xTr, yTr), for every candidate, as [alphas][gammas].
 *
 * The Gram matrices and squared distances are computed once per fold for all candidates, and the
 * kernel once per γ for all α. Memory: two n_train² arrays (one holds the distances above the
 * diagonal and each candidate's K + αI and its factor below it; the other the current γ's K) plus
 * two n_test × n_train arrays: 5.4 GB at n_train = 16 384, n_test = 4096.
 *
 * @throws NotPositiveDefiniteError when some K + αI is not numerically positive definite
 */
export async function kernelRidgeFoldScores(
  xTr: Matrix,
  yTr: MatrixInput,
  xTe: Matrix,
  yTe: MatrixInput,
  options: FoldScoresOptions,
): Promise<number[][]> {
  const n = xTr.rows, m = xTe.rows, t = yTr.cols;
  if (xTe.cols !== xTr.cols) {
    throw new RangeError(`kernelRidgeFoldScores: ${xTr.cols} vs ${xTe.cols} features`);
  }
  if (yTe.rows !== m || yTe.cols !== t) {
    throw new RangeError(`kernelRidgeFoldScores: test targets must be [${m}, ${t}]`);
  }
  const gramFn = options.gramFn === cpuGram ? undefined : options.gramFn;
  const w = gramFn ? await gramFn(xTr, xTr) : await gramLowerAsync(xTr);
  checkShape(w.length, n, n, "kernelRidgeFoldScores gramFn result");
  const nTr = rowSquaredNorms(xTr), nTe = rowSquaredNorms(xTe);
  distancesToUpper(w, nTr);
  const dTe = gramFn ? await gramFn(xTe, xTr) : await cpuGramAsync(xTe, xTr);
  checkShape(dTe.length, m, n, "kernelRidgeFoldScores gramFn result");
  for (let i = 0; i < m; i++) {
    const row = i * n, ni = nTe[i];
    for (let j = 0; j < n; j++) {
      const d2 = ni + nTr[j] - 2 * dTe[row + j];
      dTe[row + j] = d2 > 0 ? d2 : 0;
    }
  }
  const kTe = new Float64Array(m * n);
  const yT = rhsRows(yTr, n);
  const rhs = new Float64Array(t * n);
  const pred = new Float64Array(m * t);
  const scores = options.alphas.map(() => options.gammas.map(() => NaN));
  // K of the current γ, kept for every α: one exponential per entry per γ, not per candidate.
  const kTr = new Float64Array(n * n);
  for (let gi = 0; gi < options.gammas.length; gi++) {
    const gamma = options.gammas[gi];
    for (let p = 0; p < kTe.length; p++) kTe[p] = Math.exp(-gamma * dTe[p]);
    kernelLowerFromUpper(w, kTr, n, gamma);
    // A wide γ on spread-out features underflows every off-diagonal entry to exactly 0: K = I.
    const identity = strictLowerIsZero(kTr, n);
    for (let ai = 0; ai < options.alphas.length; ai++) {
      const alpha = options.alphas[ai];
      shiftedKernelLower(kTr, w, n, alpha);
      if (identity) {
        // The Cholesky factor of (1 + α)·I, bit for bit what dpotrf returns: sqrt(aⱼⱼ − 0).
        const l = Math.sqrt(1 + alpha);
        for (let i = 0; i < n; i++) w[i * n + i] = l;
      } else {
        await potrfAsync(w, n, { zeroUpper: false });
      }
      rhs.set(yT);
      await potrsAsync(w, n, rhs, t);
      const c = fromRows(rhs, n, t);
      await gemmAsync({ m, n: t, k: n, a: kTe, b: c.data, c: pred });
      scores[ai][gi] = r2Score(yTe.data, pred, t);
      options.onFit?.(alpha, gamma);
    }
  }
  return scores;
}
