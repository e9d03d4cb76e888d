/**
 * scikit-learn's `Ridge(alpha)` (fit_intercept, solver "auto" → Cholesky on dense input) in
 * float64, multi-output: the downstream regression probe (docs/downstream.md#probes).
 *
 * Fit: centre X and y with the training means, then
 * - primal (n_samples ≥ n_features): solve (XcᵀXc + α·I)·w = Xcᵀyc, a d×d system;
 * - dual (n_samples < n_features): solve (XcXcᵀ + α·I)·c = yc, an n×n system, and w = Xcᵀc,
 * which is sklearn's own choice in `_solve_cholesky` / `_solve_cholesky_kernel`; both give the
 * same w. The intercept is ȳ − x̄ᵀw. All targets share one factorisation.
 *
 * sklearn keeps float32 input in float32 for this solver; we always solve in float64 (docs/common.md#numerics).
 *
 * @module
 */
import { checkShape, gramRows, type Matrix, type MatrixInput } from "./dense.ts";
import { gemm, potrf, potrs } from "./blas.ts";
import { r2Score } from "./metrics.ts";

/** Options of {@link Ridge}. */
export interface RidgeOptions {
  /** Regularisation strength α > 0 (sklearn's `alpha`; the downstream script passes 1/wd). */
  alpha: number;
  /** Fit an unpenalised intercept (default true). */
  fitIntercept?: boolean;
  /** "auto" (default: dual when n < d, like sklearn), or force "primal" / "dual". */
  solver?: "auto" | "primal" | "dual";
}

/** A ridge regression model. */
export class Ridge {
  /** α. */
  readonly alpha: number;
  /** Whether an intercept is fitted. */
  readonly fitIntercept: boolean;
  /** Solver choice. */
  readonly solver: "auto" | "primal" | "dual";
  /** Coefficients [outputs, features] (sklearn's `coef_` for 2-D y) once fitted. */
  coef: Matrix | undefined;
  /** Intercepts [outputs] once fitted. */
  intercept: Float64Array | undefined;

  /**
   * An unfitted model; intercept on and solver `auto` unless set.
   * @throws RangeError when `alpha` is negative or not finite
   */
  constructor(options: RidgeOptions) {
    if (!(options.alpha >= 0) || !Number.isFinite(options.alpha)) {
      throw new RangeError(`Ridge: alpha must be a finite number ≥ 0, got ${options.alpha}`);
    }
    this.alpha = options.alpha;
    this.fitIntercept = options.fitIntercept ?? true;
    this.solver = options.solver ?? "auto";
  }

  /**
   * Fits on x [n, d] and y [n, outputs] (a 1-D target is `outputs = 1`).
   *
   * @throws RangeError on shape mismatches; NotPositiveDefiniteError when α = 0 and the system is
   *   singular
   */
  fit(x: MatrixInput, y: MatrixInput): this {
    checkShape(x.data.length, x.rows, x.cols, "Ridge.fit x");
    checkShape(y.data.length, y.rows, y.cols, "Ridge.fit y");
    if (y.rows !== x.rows) {
      throw new RangeError(`Ridge.fit: x has ${x.rows} samples, y ${y.rows}`);
    }
    const n = x.rows, d = x.cols, t = y.cols;
    if (n === 0) throw new RangeError("Ridge.fit: no samples");
    const xMean = new Float64Array(d);
    const yMean = new Float64Array(t);
    if (this.fitIntercept) {
      meanInto(x.data, n, d, xMean);
      meanInto(y.data, n, t, yMean);
    }
    // Centred X and y, stored transposed ([d, n] and [t, n]): every product below then reads rows.
    const xcT = centredTranspose(x.data, n, d, xMean);
    const ycT = centredTranspose(y.data, n, t, yMean);
    const dual = this.solver === "dual" || (this.solver === "auto" && d > n);
    const coef = new Float64Array(t * d);
    if (!dual) {
      // (XcᵀXc + αI) w = Xcᵀyc, with the right-hand sides as rows [t, d].
      const a = gramRows({ rows: d, cols: n, data: xcT }).data;
      for (let j = 0; j < d; j++) a[j * d + j] += this.alpha;
      const rhs = new Float64Array(t * d);
      gemm({ transB: true, m: t, n: d, k: n, a: ycT, b: xcT, c: rhs });
      potrf(a, d);
      potrs(a, d, rhs, t);
      coef.set(rhs);
    } else {
      // (XcXcᵀ + αI) c = yc, then w = Xcᵀc, i.e. coef[t, d] = cᵀ[t, n]·Xc[n, d].
      const xc = centredTranspose(xcT, d, n, new Float64Array(n));
      const k = gramRows({ rows: n, cols: d, data: xc }).data;
      for (let i = 0; i < n; i++) k[i * n + i] += this.alpha;
      potrf(k, n);
      potrs(k, n, ycT, t);
      gemm({ transB: true, m: t, n: d, k: n, a: ycT, b: xcT, c: coef });
    }
    const intercept = new Float64Array(t);
    for (let o = 0; o < t; o++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += xMean[j] * coef[o * d + j];
      intercept[o] = yMean[o] - s;
    }
    this.coef = { rows: t, cols: d, data: coef };
    this.intercept = intercept;
    return this;
  }

  /** Predictions x·coefᵀ + intercept, [m, outputs]. */
  predict(x: MatrixInput): Matrix {
    const coef = this.coef;
    if (coef === undefined || this.intercept === undefined) {
      throw new Error("Ridge.predict: the model is not fitted");
    }
    checkShape(x.data.length, x.rows, x.cols, "Ridge.predict x");
    if (x.cols !== coef.cols) {
      throw new RangeError(`Ridge.predict: x has ${x.cols} features, fitted on ${coef.cols}`);
    }
    const t = coef.rows;
    const out = new Float64Array(x.rows * t);
    for (let i = 0; i < x.rows; i++) out.set(this.intercept, i * t);
    const xd = x.data instanceof Float64Array ? x.data : Float64Array.from(x.data);
    gemm({ transB: true, m: x.rows, n: t, k: x.cols, a: xd, b: coef.data, beta: 1, c: out });
    return { rows: x.rows, cols: t, data: out };
  }

  /** R² of the predictions on (x, y), uniformly averaged over outputs (sklearn's `score`). */
  score(x: MatrixInput, y: MatrixInput): number {
    const pred = this.predict(x);
    if (y.rows !== x.rows || y.cols !== pred.cols) {
      throw new RangeError(`Ridge.score: y must be [${x.rows}, ${pred.cols}]`);
    }
    return r2Score(y.data, pred.data, pred.cols);
  }
}

function meanInto(data: ArrayLike<number>, n: number, d: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) out[j] += data[off + j];
  }
  for (let j = 0; j < d; j++) out[j] /= n;
}

/** (data − mean)ᵀ for row-major data [n, d]: [d, n]. */
function centredTranspose(
  data: ArrayLike<number>,
  n: number,
  d: number,
  mean: Float64Array,
): Float64Array {
  const out = new Float64Array(n * d);
  const T = 32;
  for (let i0 = 0; i0 < n; i0 += T) {
    const i1 = Math.min(i0 + T, n);
    for (let j0 = 0; j0 < d; j0 += T) {
      const j1 = Math.min(j0 + T, d);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) out[j * n + i] = data[i * d + j] - mean[j];
      }
    }
  }
  return out;
}
