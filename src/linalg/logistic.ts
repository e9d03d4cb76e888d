/**
 * scikit-learn 1.2's `LogisticRegression(solver="lbfgs", multi_class="multinomial", penalty="l2",
 * C)` in float64: the downstream classification probe (docs/downstream.md#probes).
 *
 * Objective (sklearn 1.2 sums the per-sample losses; later releases, after scikit-learn PR #26721,
 * average them and divide the penalty by n: the same minimiser, but the gradient and so the meaning
 * of the gtol test change by a factor n):
 *
 *   L(W, b) = Σᵢ [log Σₖ exp(zᵢₖ) − zᵢ,yᵢ] + ‖W‖²_F / (2C),   zᵢ = W·xᵢ + b,
 *
 * with the intercept b unpenalised. It is minimised by {@link minimizeLbfgs} with sklearn's
 * settings (memory 10, gtol = `tol` = 1e-4 on max |∇L|, at most `maxIter` = 100 iterations),
 * starting from zero or, with `warmStart`, from the previous fit's coefficients (the original
 * warm-starts across folds and C values, docs/quirks.md#q32).
 *
 * Classes are the sorted unique training labels. With two classes the model keeps both softmax
 * rows (sklearn runs the same 2-row multinomial optimisation but then reports only row 1 as
 * `coef_`; at the optimum row 0 = −row 1, so the probabilities agree).
 *
 * Both products per evaluation, X·Wᵀ and Rᵀ·X, run on the engine of `blas.ts`. On OpenBLAS they
 * run one block of rows at a time (`dgemm` reads X in place), so each block of X is read from
 * memory once for both, and large fits hand half of the blocks to a helper thread
 * (`logistic_rows.ts`; X then lives on shared memory, one float64 copy); with the JavaScript
 * kernels the fit also keeps a float64 Xᵀ (n·d·8 bytes more), so both products stream rows through
 * the register-blocked core.
 *
 * @module
 */
import {
  checkShape,
  gemmNT,
  type Matrix,
  type MatrixInput,
  toFloat64,
  transpose,
} from "./dense.ts";
import { gemm, linalgEngine, linalgInfo, withOneBlasThread } from "./blas.ts";
import {
  logisticResiduals,
  logisticRowBlocks,
  type LogisticRows,
  LogisticRowShard,
  sharedFloat64,
} from "./logistic_rows.ts";
import { type LbfgsResult, type LbfgsStop, minimizeLbfgs } from "./lbfgs.ts";
import { accuracy } from "./metrics.ts";

/** Options of {@link LogisticRegression}. */
export interface LogisticRegressionOptions {
  /** Inverse regularisation strength C > 0 (the downstream script passes 1/wd). */
  C: number;
  /** L-BFGS iteration limit (sklearn `max_iter`, default 100). */
  maxIter?: number;
  /** Gradient tolerance (sklearn `tol`, default 1e-4). */
  tol?: number;
  /**
   * scipy's relative-reduction stop (f_old − f) ≤ ftol·max(|f_old|, |f|, 1) (default 2.22e-9, what
   * sklearn gets; it has no knob for it). 0 turns it off, to reach the optimum itself.
   */
  ftol?: number;
  /** Start each fit from the previous coefficients (sklearn `warm_start`, default false). */
  warmStart?: boolean;
  /** Fit an unpenalised intercept (default true). */
  fitIntercept?: boolean;
  /**
   * Evaluate half of the rows on a helper thread: `"auto"` (the default) does so on OpenBLAS with
   * two or more threads once n·d ≥ 8 Mi (64 MB of float64 features); `true` whenever OpenBLAS
   * runs; `false` never. The result does not depend on it beyond summation order (≈ 1e-15).
   */
  helperThread?: boolean | "auto";
}

/** Summary of the last fit. */
export interface LogisticFitInfo {
  /** L-BFGS iterations (sklearn's `n_iter_`). */
  iterations: number;
  /** Objective evaluations. */
  evaluations: number;
  /** Final objective value L(W, b). */
  objective: number;
  /** Final max |∇L|. */
  gradMax: number;
  /** Why L-BFGS stopped ("maxiter" is sklearn's ConvergenceWarning case). */
  reason: LbfgsStop;
  /** Whether half of the rows were evaluated on a helper thread. */
  helperThread: boolean;
}

/** Multinomial logistic regression with an L2 penalty. */
export class LogisticRegression {
  /** C. */
  C: number;
  /** Iteration limit. */
  maxIter: number;
  /** Gradient tolerance. */
  tol: number;
  /** Relative-reduction tolerance. */
  ftol: number;
  /** Warm start flag. */
  warmStart: boolean;
  /** Whether an intercept is fitted. */
  readonly fitIntercept: boolean;
  /** Whether half of the rows go to a helper thread (see {@link LogisticRegressionOptions}). */
  helperThread: boolean | "auto";
  /** Sorted class labels once fitted. */
  classes: number[] | undefined;
  /** Coefficients [classes, features] once fitted. */
  coef: Matrix | undefined;
  /** Intercepts [classes] once fitted (zeros without an intercept). */
  intercept: Float64Array | undefined;
  /** Details of the last fit. */
  info: LogisticFitInfo | undefined;

  /**
   * An unfitted model; unset options take scikit-learn's defaults (`maxIter` 100, `tol` 1e-4,
   * intercept on, no warm start).
   * @throws RangeError when `C` is not a finite number > 0
   */
  constructor(options: LogisticRegressionOptions) {
    this.C = options.C;
    this.maxIter = options.maxIter ?? 100;
    this.tol = options.tol ?? 1e-4;
    this.ftol = options.ftol ?? 2.220446049250313e-9;
    this.warmStart = options.warmStart ?? false;
    this.fitIntercept = options.fitIntercept ?? true;
    this.helperThread = options.helperThread ?? "auto";
    checkC(this.C);
  }

  /**
   * Fits on x [n, d] with integer labels y [n].
   *
   * @throws RangeError on shape mismatches, fewer than two classes, or a warm start whose class
   *   set or feature count differs from the previous fit (sklearn raises there too)
   */
  fit(x: MatrixInput, y: ArrayLike<number>): this {
    checkC(this.C);
    checkShape(x.data.length, x.rows, x.cols, "LogisticRegression.fit x");
    if (y.length !== x.rows) {
      throw new RangeError(`LogisticRegression.fit: x has ${x.rows} samples, y ${y.length}`);
    }
    const classes = [...new Set(Array.from(y))].sort((a, b) => a - b);
    if (classes.length < 2) {
      throw new RangeError(
        `LogisticRegression.fit: needs samples of at least 2 classes, got ${classes.length}`,
      );
    }
    const problem = new MultinomialProblem(
      x,
      y,
      classes,
      this.C,
      this.fitIntercept,
      this.helperThread,
    );
    try {
      this.#minimise(problem, classes, x.cols);
    } finally {
      problem.close();
    }
    return this;
  }

  #minimise(problem: MultinomialProblem, classes: number[], d: number): void {
    const k = classes.length;
    const w0 = new Float64Array(problem.size);
    if (this.warmStart && this.coef !== undefined && this.intercept !== undefined) {
      const prev = this.classes!;
      if (prev.length !== k || prev.some((c, i) => c !== classes[i]) || this.coef.cols !== d) {
        throw new RangeError(
          `LogisticRegression.fit: warm start from coefficients of shape ` +
            `[${this.coef.rows}, ${this.coef.cols}], expected [${k}, ${d}] ` +
            `(the training labels or features changed)`,
        );
      }
      w0.set(this.coef.data);
      if (this.fitIntercept) w0.set(this.intercept, k * d);
    }
    const result: LbfgsResult = minimizeLbfgs((w, g) => problem.evaluate(w, g), w0, {
      memory: 10,
      gtol: this.tol,
      ftol: this.ftol,
      maxIter: this.maxIter,
    });
    this.classes = classes;
    this.coef = { rows: k, cols: d, data: result.x.slice(0, k * d) };
    this.intercept = this.fitIntercept ? result.x.slice(k * d) : new Float64Array(k);
    this.info = {
      iterations: result.iterations,
      evaluations: result.evaluations,
      objective: result.f,
      gradMax: result.gradMax,
      reason: result.reason,
      helperThread: problem.helperThread,
    };
  }

  /** Decision values x·Wᵀ + b [m, classes]. */
  decisionFunction(x: MatrixInput): Matrix {
    const { coef, intercept } = this.#fitted();
    checkShape(x.data.length, x.rows, x.cols, "LogisticRegression x");
    if (x.cols !== coef.cols) {
      throw new RangeError(`LogisticRegression: x has ${x.cols} features, fitted on ${coef.cols}`);
    }
    const k = coef.rows;
    const z = new Float64Array(x.rows * k);
    for (let i = 0; i < x.rows; i++) z.set(intercept, i * k);
    const xd = toFloat64(x).data;
    gemm({ transB: true, m: x.rows, n: k, k: x.cols, a: xd, b: coef.data, beta: 1, c: z });
    return { rows: x.rows, cols: k, data: z };
  }

  /** Class probabilities (softmax of the decision values) [m, classes], columns in `classes` order. */
  predictProba(x: MatrixInput): Matrix {
    const z = this.decisionFunction(x);
    const k = z.cols;
    for (let i = 0; i < z.rows; i++) {
      const off = i * k;
      let mx = -Infinity;
      for (let c = 0; c < k; c++) mx = Math.max(mx, z.data[off + c]);
      let s = 0;
      for (let c = 0; c < k; c++) {
        const e = Math.exp(z.data[off + c] - mx);
        z.data[off + c] = e;
        s += e;
      }
      for (let c = 0; c < k; c++) z.data[off + c] /= s;
    }
    return z;
  }

  /** Predicted labels [m]: the class with the largest decision value (the first on ties). */
  predict(x: MatrixInput): Int32Array {
    const classes = this.#fitted().classes;
    const z = this.decisionFunction(x);
    const k = z.cols;
    const out = new Int32Array(z.rows);
    for (let i = 0; i < z.rows; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (z.data[i * k + c] > z.data[i * k + best]) best = c;
      out[i] = classes[best];
    }
    return out;
  }

  /** Accuracy on (x, y) (sklearn's `score`). */
  score(x: MatrixInput, y: ArrayLike<number>): number {
    return accuracy(y, this.predict(x));
  }

  /**
   * The objective L(W, b) of the current coefficients on (x, y) with this model's C: the value
   * the fit minimises, for comparisons with sklearn.
   */
  objective(x: MatrixInput, y: ArrayLike<number>): number {
    const { coef, intercept, classes } = this.#fitted();
    const problem = new MultinomialProblem(x, y, classes, this.C, this.fitIntercept, false);
    const w = new Float64Array(problem.size);
    w.set(coef.data);
    if (this.fitIntercept) w.set(intercept, coef.data.length);
    return problem.evaluate(w, new Float64Array(problem.size));
  }

  #fitted(): { coef: Matrix; intercept: Float64Array; classes: number[] } {
    const { coef, intercept, classes } = this;
    if (coef === undefined || intercept === undefined || classes === undefined) {
      throw new Error("LogisticRegression: the model is not fitted");
    }
    return { coef, intercept, classes };
  }
}

/**
 * Bytes of X per block of the OpenBLAS evaluation (16 rows of 2 048 float64 features, 64 of 512):
 * half of a 512 KiB L2 cache, so the block is still cached for its second product.
 */
const LOGISTIC_BLOCK_BYTES = 256 * 1024;

/** n·d from which `helperThread: "auto"` evaluates half of the rows on a helper thread. */
const HELPER_MIN_ENTRIES = 8 * 1024 * 1024;

/**
 * The multinomial objective and its gradient over the parameter vector [W (k×d row-major) | b (k)].
 */
class MultinomialProblem {
  readonly size: number;
  readonly #rows: LogisticRows;
  /** Xᵀ, for the JavaScript kernels only. */
  readonly #xT: Float64Array | undefined;
  readonly #c: number;
  /** Rows per block of the OpenBLAS evaluation. */
  readonly #block: number;
  /** The helper thread's first row (its rows run to n), when there is one. */
  readonly #split: number;
  readonly #shard: LogisticRowShard | undefined;

  constructor(
    x: MatrixInput,
    y: ArrayLike<number>,
    classes: number[],
    c: number,
    fitIntercept: boolean,
    helperThread: boolean | "auto",
  ) {
    const n = x.rows, d = x.cols, k = classes.length;
    if (y.length !== n) {
      throw new RangeError(`LogisticRegression: ${n} samples but ${y.length} labels`);
    }
    this.#c = c;
    this.size = k * d + (fitIntercept ? k : 0);
    const engine = linalgEngine();
    this.#block = Math.max(8, Math.floor(LOGISTIC_BLOCK_BYTES / (8 * d)));
    const helper = engine === "openblas" && n >= 2 * this.#block &&
      (helperThread === true ||
        (helperThread === "auto" && n * d >= HELPER_MIN_ENTRIES && linalgInfo().threads >= 2));
    let xd: Float64Array;
    if (helper && x.data instanceof Float64Array && x.data.buffer instanceof SharedArrayBuffer) {
      xd = x.data;
    } else if (helper) {
      xd = sharedFloat64(n * d);
      xd.set(x.data.subarray(0, n * d));
    } else {
      xd = toFloat64(x).data;
    }
    this.#xT = engine === "js" ? transpose(xd, n, d) : undefined;
    const index = new Map(classes.map((l, i) => [l, i]));
    const label = helper ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const l = index.get(y[i]);
      if (l === undefined) throw new RangeError(`LogisticRegression: unknown label ${y[i]}`);
      label[i] = l;
    }
    this.#rows = {
      x: xd,
      label,
      n,
      d,
      k,
      intercept: fitIntercept,
      z: helper ? sharedFloat64(n * k) : new Float64Array(n * k),
      rT: helper ? sharedFloat64(k * n) : new Float64Array(k * n),
    };
    // Half of the blocks each, the split on a block boundary.
    this.#split = Math.round(n / 2 / this.#block) * this.#block;
    this.#shard = helper ? startShard(this.#rows, this.#split, this.#block, this.size) : undefined;
  }

  /** L(w) with ∇L(w) written into `grad`. */
  evaluate(w: Float64Array, grad: Float64Array): number {
    const { n, d, k, rT, intercept } = this.#rows;
    let loss = 0;
    if (this.#xT) {
      loss = logisticResiduals(this.#rows, w, 0, n);
      grad.fill(0);
      gemmNT(k, d, n, 1, rT, 0, n, this.#xT, 0, n, grad, 0, d);
    } else {
      // Both products per block of rows while the block of X is still in cache: X is read from
      // memory once per evaluation instead of twice (sklearn's two full-size products read it
      // twice). Each block runs on one OpenBLAS thread: a second thread splitting every small
      // product costs more than it gives (tests/bench/NOTES.md); a helper thread, when there is
      // one, streams the other half of the blocks at the same time.
      const shard = this.#shard;
      loss = withOneBlasThread(() => {
        if (!shard) return logisticRowBlocks(this.#rows, w, grad, 0, n, this.#block);
        shard.begin(w);
        const own = logisticRowBlocks(this.#rows, w, grad, 0, this.#split, this.#block);
        return own + shard.finish(grad);
      });
    }
    // ∇_W = Rᵀ·X + W/C, ∇_b = Σᵢ rᵢ; penalty ‖W‖²/(2C).
    const inv = 1 / this.#c;
    let sq = 0;
    for (let j = 0; j < k * d; j++) {
      sq += w[j] * w[j];
      grad[j] += inv * w[j];
    }
    if (intercept) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        const off = c * n;
        for (let i = 0; i < n; i++) s += rT[off + i];
        grad[k * d + c] = s;
      }
    }
    return loss + 0.5 * inv * sq;
  }

  /** Whether a helper thread evaluates half of the rows. */
  get helperThread(): boolean {
    return this.#shard !== undefined;
  }

  /** Stops the helper thread, if any. */
  close(): void {
    this.#shard?.close();
  }
}

/** A helper thread for rows split … n − 1, or undefined (with one line on stderr) if none starts. */
function startShard(
  rows: LogisticRows,
  split: number,
  block: number,
  size: number,
): LogisticRowShard | undefined {
  try {
    return new LogisticRowShard(rows, split, rows.n, block, size);
  } catch (error) {
    console.error(
      `LogisticRegression: ${(error as Error).message}; evaluating all rows on this thread`,
    );
    return undefined;
  }
}

function checkC(c: number): void {
  if (!(c > 0) || !Number.isFinite(c)) {
    throw new RangeError(`LogisticRegression: C must be a finite number > 0, got ${c}`);
  }
}
