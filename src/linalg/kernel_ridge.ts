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
 * Cost (n training samples, d features): the Gram is n²·d flops (half of 2n²d, by symmetry) and
 * the factorisation n³/3. Measured on one core here (d = 2048): n = 2048 fits in 2.5 s (Gram 1.8 s,
 * Cholesky 0.7 s), n = 4096 in 12.6 s (7.3 + 4.8 s); both run at ≈ 5 GFLOP/s, about 2.7× slower
 * than sklearn on single-threaded OpenBLAS. At n = 20 480 that is 0.86 + 2.9 TFLOP, ≈ 3 + 10 min,
 * with 3.4 GB for K (factorised in place, no second copy). The original's grid repeats this
 * for 200 solves at n = 16 384, which is out of reach on the CPU: a caller can move the Gram to
 * the GPU through `gramFn` (below); the O(n³) solve stays on the CPU in float64.
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
  gemmNT,
  gramRows,
  matmulNT,
  type Matrix,
  type MatrixInput,
  rowSquaredNorms,
  toFloat64,
} from "./dense.ts";
import { choleskyInPlace } from "./cholesky.ts";
import { choleskySolve } from "./triangular.ts";
import { r2Score } from "./metrics.ts";

/** A Gram-matrix provider: A·Bᵀ as row-major float64 [a.rows, b.rows]. */
export type GramFn = (a: Matrix, b: Matrix) => Float64Array | Promise<Float64Array>;

/** The CPU Gram: A·Bᵀ, exploiting symmetry when `a === b`. */
export function cpuGram(a: Matrix, b: Matrix): Float64Array {
  return a === b ? gramRows(a).data : matmulNT(a, b).data;
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
    const g = this.#gramFn(x64, x64);
    if (!(g instanceof Float64Array)) {
      throw new TypeError("KernelRidge.fit: gramFn returned a Promise; use fitAsync()");
    }
    return this.#solve(x64, g, y);
  }

  /** {@link fit} with an asynchronous `gramFn` (e.g. GPU matmul + readback). */
  async fitAsync(x: MatrixInput, y: MatrixInput): Promise<this> {
    const x64 = this.#checkFit(x, y);
    return this.#solve(x64, await this.#gramFn(x64, x64), y);
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
      const g = await this.#gramFn(block, xTrain);
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

  #solve(x64: Matrix, gram: Float64Array, y: MatrixInput): this {
    const n = x64.rows;
    checkShape(gram.length, n, n, "KernelRidge gramFn result");
    const norms = rowSquaredNorms(x64);
    const k = rbfFromGram(gram, norms, norms, this.gamma, true);
    this.dualCoef = solveShifted(k, n, this.alpha, y);
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

/** Solves (K + αI)·C = Y in place of K; returns C [n, outputs]. */
function solveShifted(k: Float64Array, n: number, alpha: number, y: MatrixInput): Matrix {
  const t = y.cols;
  if (y.rows !== n) throw new RangeError(`KernelRidge: y has ${y.rows} rows, K is ${n}×${n}`);
  for (let i = 0; i < n; i++) k[i * n + i] += alpha;
  choleskyInPlace(k, n);
  // Right-hand sides as rows: Yᵀ [t, n].
  const yT = new Float64Array(t * n);
  for (let i = 0; i < n; i++) for (let o = 0; o < t; o++) yT[o * n + i] = y.data[i * t + o];
  const cT = choleskySolve(k, n, yT, t);
  const c = new Float64Array(n * t);
  for (let i = 0; i < n; i++) for (let o = 0; o < t; o++) c[i * t + o] = cT[o * n + i];
  return { rows: n, cols: t, data: c };
}

/** out[off + i·t + o] = Σ_j K[i, j]·C[j, o] for K [m, n], C [n, t]. */
function gemmKc(k: Float64Array, m: number, c: Matrix, out: Float64Array, off: number): void {
  const n = c.rows, t = c.cols;
  // Cᵀ rows are contiguous over j, so each output is a row-by-row dot product.
  const cT = new Float64Array(t * n);
  for (let j = 0; j < n; j++) for (let o = 0; o < t; o++) cT[o * n + j] = c.data[j * t + o];
  gemmNT(m, t, n, 1, k, 0, n, cT, 0, n, out, off, t);
}

function rowBlock(x: Matrix, r0: number, r1: number): Matrix {
  return { rows: r1 - r0, cols: x.cols, data: x.data.subarray(r0 * x.cols, r1 * x.cols) };
}
