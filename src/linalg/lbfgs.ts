/**
 * Limited-memory BFGS for smooth unconstrained minimisation in float64, following scipy's
 * `minimize(method="L-BFGS-B")` (the Fortran L-BFGS-B 3.0) without bounds, which is what
 * scikit-learn's `LogisticRegression(solver="lbfgs")` runs (docs/downstream.md#probes).
 *
 * What matches scipy:
 * - memory m = 10 pairs; initial inverse Hessian H₀ = (sᵀy / yᵀy)·I from the newest pair;
 * - a pair is skipped when sᵀy ≤ ε·(−g_oldᵀs) (ε = 2⁻⁵²), as L-BFGS-B does;
 * - line search: Moré–Thuente (MINPACK-2 `dcsrch`/`dcstep`) with ftol = 1e-3, gtol = 0.9,
 *   xtol = 0.1, stpmin = 0, stpmax = 1e10, i.e. strong Wolfe conditions
 *   f(x+αd) ≤ f(x) + 10⁻³·α·gᵀd and |g(x+αd)ᵀd| ≤ 0.9·|gᵀd|; the first trial step is
 *   min(1/‖d‖₂, 1e10) on the very first iteration and 1 afterwards; at most 20 evaluations per
 *   search; a failed search restores the previous point and restarts from steepest descent with
 *   an empty memory (or stops when the memory was already empty); "warning" exits of `dcsrch`
 *   (rounding errors, xtol) accept the last trial point, as L-BFGS-B does;
 * - stopping: ‖g‖∞ ≤ gtol (the projected gradient without bounds), checked before the first step
 *   and after each; relative reduction (f_old − f) ≤ ftol·max(|f_old|, |f|, 1) with scipy's default
 *   ftol = 2.22e-9; at most `maxIter` iterations (accepted steps; the limit is tested first, as
 *   scipy counts iterations before Fortran tests convergence) and `maxFun` evaluations.
 *
 * Where it differs: L-BFGS-B computes the search direction through its compact representation
 * (generalised Cauchy point, then subspace minimisation); without bounds that is exactly the
 * quasi-Newton step −H·g, which we compute with the two-loop recursion instead. The two agree in
 * exact arithmetic but round differently, so iterates drift apart at the ~1e-12 relative level
 * and, over many unconverged iterations, a little more.
 *
 * @module
 */

/** f(x), writing ∇f(x) into `grad` (same length as x). */
export type ObjectiveFn = (x: Float64Array, grad: Float64Array) => number;

/** Options of {@link minimizeLbfgs}. */
export interface LbfgsOptions {
  /** Number of correction pairs (scipy `maxcor`, default 10). */
  memory?: number;
  /** Stop when max |∇f| ≤ gtol (scipy `gtol`, default 1e-5; sklearn passes its `tol` = 1e-4). */
  gtol?: number;
  /** Relative reduction tolerance (scipy `ftol`, default 2.220446049250313e-9). */
  ftol?: number;
  /** Maximum iterations (scipy `maxiter`, default 15000; sklearn passes `max_iter` = 100). */
  maxIter?: number;
  /** Maximum function evaluations (scipy `maxfun`, default 15000). */
  maxFun?: number;
  /** Maximum evaluations per line search (scipy `maxls`, default 20). */
  maxLineSearch?: number;
}

/** Why the minimisation stopped. */
export type LbfgsStop = "gtol" | "ftol" | "maxiter" | "maxfun" | "linesearch";

/** Result of {@link minimizeLbfgs}. */
export interface LbfgsResult {
  /** Final point. */
  x: Float64Array;
  /** f(x). */
  f: number;
  /** ∇f(x). */
  grad: Float64Array;
  /** Accepted steps (scipy's `nit`). */
  iterations: number;
  /** Function+gradient evaluations (scipy's `nfev`). */
  evaluations: number;
  /** max |∇f(x)|. */
  gradMax: number;
  /** True for the gtol and ftol stops (scipy's `success`). */
  converged: boolean;
  /** The stopping reason. */
  reason: LbfgsStop;
}

const EPS = 2.220446049250313e-16;

/**
 * Minimises f from x0 (not modified).
 *
 * @example
 * ```ts
 * // f(x) = Σ (x_i − i)², minimum at x_i = i.
 * const r = minimizeLbfgs((x, g) => {
 *   let f = 0;
 *   for (let i = 0; i < x.length; i++) { f += (x[i] - i) ** 2; g[i] = 2 * (x[i] - i); }
 *   return f;
 * }, new Float64Array(3));
 * ```
 */
export function minimizeLbfgs(
  fg: ObjectiveFn,
  x0: Float64Array,
  options: LbfgsOptions = {},
): LbfgsResult {
  const m = options.memory ?? 10;
  const gtol = options.gtol ?? 1e-5;
  const ftol = options.ftol ?? 2.220446049250313e-9;
  const maxIter = options.maxIter ?? 15000;
  const maxFun = options.maxFun ?? 15000;
  const maxLs = options.maxLineSearch ?? 20;
  const n = x0.length;

  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let f = fg(x, g);
  let nfev = 1;
  checkFinite(f, "initial point");

  const sMem: Float64Array[] = [];
  const yMem: Float64Array[] = [];
  const rhoMem: number[] = [];
  const alphaTmp = new Float64Array(m);
  const d = new Float64Array(n);
  let xt = new Float64Array(n);
  let gt = new Float64Array(n);
  let iter = 0;

  const done = (reason: LbfgsStop): LbfgsResult => ({
    x,
    f,
    grad: g,
    iterations: iter,
    evaluations: nfev,
    gradMax: maxAbs(g),
    converged: reason === "gtol" || reason === "ftol",
    reason,
  });

  if (maxAbs(g) <= gtol) return done("gtol");

  for (;;) {
    // Search direction d = −H·g by the two-loop recursion (steepest descent with no pairs).
    for (let i = 0; i < n; i++) d[i] = -g[i];
    const k = sMem.length;
    if (k > 0) {
      for (let c = k - 1; c >= 0; c--) {
        const a = rhoMem[c] * dot(sMem[c], d);
        alphaTmp[c] = a;
        axpy(-a, yMem[c], d);
      }
      const sy = 1 / rhoMem[k - 1];
      const yy = dot(yMem[k - 1], yMem[k - 1]);
      scale(sy / yy, d);
      for (let c = 0; c < k; c++) {
        const b = rhoMem[c] * dot(yMem[c], d);
        axpy(alphaTmp[c] - b, sMem[c], d);
      }
    }
    const gd0 = dot(g, d);
    if (!(gd0 < 0)) {
      // Not a descent direction (rounding in a badly scaled memory): restart, or give up.
      if (k === 0) return done("linesearch");
      sMem.length = yMem.length = rhoMem.length = 0;
      continue;
    }
    const dnorm = Math.sqrt(dot(d, d));
    let stp = iter === 0 ? Math.min(1 / dnorm, 1e10) : 1;

    const fOld = f;
    const search = new MoreThuente(fOld, gd0, stp, 1e-3, 0.9, 0.1, 0, 1e10);
    let evals = 0;
    let accepted = false;
    let gdNew = gd0;
    for (;;) {
      if (evals >= maxLs) break;
      for (let i = 0; i < n; i++) xt[i] = x[i] + stp * d[i];
      const ft = fg(xt, gt);
      nfev++;
      evals++;
      const gdt = dot(gt, d);
      const status = search.next(ft, gdt);
      if (status === "error") break;
      if (status === "done") {
        // Accept the last trial point (also after dcsrch's warning exits).
        [x, xt] = [xt, x];
        [g, gt] = [gt, g];
        f = ft;
        gdNew = gdt;
        accepted = true;
        break;
      }
      stp = search.stp;
      if (nfev >= maxFun) break;
    }
    if (!accepted) {
      if (nfev >= maxFun) return done("maxfun");
      // Line search failure: x, g, f still hold the previous iterate.
      if (k === 0) return done("linesearch");
      sMem.length = yMem.length = rhoMem.length = 0;
      continue;
    }
    iter++;
    if (iter >= maxIter) return done("maxiter");
    if (nfev > maxFun) return done("maxfun");
    if (maxAbs(g) <= gtol) return done("gtol");
    if (fOld - f <= ftol * Math.max(Math.abs(fOld), Math.abs(f), 1)) return done("ftol");
    // New pair s = stp·d, y = g − g_old, unless the curvature sᵀy is not safely positive.
    const sy = (gdNew - gd0) * stp;
    if (sy > EPS * (-gd0 * stp)) {
      const s = sMem.length === m ? sMem.shift()! : new Float64Array(n);
      const y = yMem.length === m ? yMem.shift()! : new Float64Array(n);
      if (rhoMem.length === m) rhoMem.shift();
      for (let i = 0; i < n; i++) {
        s[i] = stp * d[i];
        y[i] = g[i] - gt[i];
      }
      sMem.push(s);
      yMem.push(y);
      rhoMem.push(1 / sy);
    }
  }
}

/**
 * The Moré–Thuente line search (MINPACK-2 `dcsrch` with `dcstep`), as a state machine: construct
 * it with φ(0), φ′(0) and the first trial step, then feed φ(stp), φ′(stp) for each trial; it
 * answers "done" (sufficient decrease and curvature, or a warning exit that accepts the trial),
 * "continue" (evaluate at the new {@link stp}), or "error".
 */
export class MoreThuente {
  /** The next trial step. */
  stp: number;
  readonly #finit: number;
  readonly #ginit: number;
  readonly #gtest: number;
  readonly #gtol: number;
  readonly #xtol: number;
  readonly #stpmin: number;
  readonly #stpmax: number;
  #brackt = false;
  #stage = 1;
  #width: number;
  #width1: number;
  #stx = 0;
  #fx: number;
  #gx: number;
  #sty = 0;
  #fy: number;
  #gy: number;
  #stmin = 0;
  #stmax: number;
  readonly #error: boolean;

  constructor(
    f0: number,
    g0: number,
    stp: number,
    ftol: number,
    gtol: number,
    xtol: number,
    stpmin: number,
    stpmax: number,
  ) {
    this.stp = stp;
    this.#finit = f0;
    this.#ginit = g0;
    this.#gtest = ftol * g0;
    this.#gtol = gtol;
    this.#xtol = xtol;
    this.#stpmin = stpmin;
    this.#stpmax = stpmax;
    this.#error = stp < stpmin || stp > stpmax || !(g0 < 0) || ftol < 0 || gtol < 0 ||
      xtol < 0 || stpmax < stpmin;
    this.#width = stpmax - stpmin;
    this.#width1 = this.#width / 0.5;
    this.#fx = f0;
    this.#gx = g0;
    this.#fy = f0;
    this.#gy = g0;
    this.#stmax = stp + 4 * stp;
  }

  /** Feeds φ(stp) and φ′(stp) for the current trial step. */
  next(f: number, g: number): "done" | "continue" | "error" {
    if (this.#error || Number.isNaN(f) || Number.isNaN(g)) return "error";
    const stp = this.stp;
    const ftest = this.#finit + stp * this.#gtest;
    if (this.#stage === 1 && f <= ftest && g >= 0) this.#stage = 2;
    // Warning exits (rounding errors, interval too small, step at a bound): accept the trial.
    if (this.#brackt && (stp <= this.#stmin || stp >= this.#stmax)) return "done";
    if (this.#brackt && this.#stmax - this.#stmin <= this.#xtol * this.#stmax) return "done";
    if (stp === this.#stpmax && f <= ftest && g <= this.#gtest) return "done";
    if (stp === this.#stpmin && (f > ftest || g >= this.#gtest)) return "done";
    // Strong Wolfe conditions.
    if (f <= ftest && Math.abs(g) <= this.#gtol * -this.#ginit) return "done";

    const gtest = this.#gtest;
    if (this.#stage === 1 && f <= this.#fx && f > ftest) {
      // Work on the modified function ψ(α) = φ(α) − φ(0) − ftol·α·φ′(0) until an interval with
      // a lower value than φ(0) + ftol·α·φ′(0) is bracketed.
      const st = this.#step(
        this.#fx - this.#stx * gtest,
        this.#gx - gtest,
        this.#fy - this.#sty * gtest,
        this.#gy - gtest,
        f - stp * gtest,
        g - gtest,
      );
      this.#fx = st.fx + this.#stx * gtest;
      this.#fy = st.fy + this.#sty * gtest;
      this.#gx = st.gx + gtest;
      this.#gy = st.gy + gtest;
    } else {
      const st = this.#step(this.#fx, this.#gx, this.#fy, this.#gy, f, g);
      this.#fx = st.fx;
      this.#fy = st.fy;
      this.#gx = st.gx;
      this.#gy = st.gy;
    }
    // Force a sufficient shrink of the bracketing interval (bisection fallback).
    if (this.#brackt) {
      if (Math.abs(this.#sty - this.#stx) >= 0.66 * this.#width1) {
        this.stp = this.#stx + 0.5 * (this.#sty - this.#stx);
      }
      this.#width1 = this.#width;
      this.#width = Math.abs(this.#sty - this.#stx);
    }
    if (this.#brackt) {
      this.#stmin = Math.min(this.#stx, this.#sty);
      this.#stmax = Math.max(this.#stx, this.#sty);
    } else {
      this.#stmin = this.stp + 1.1 * (this.stp - this.#stx);
      this.#stmax = this.stp + 4 * (this.stp - this.#stx);
    }
    this.stp = Math.min(Math.max(this.stp, this.#stpmin), this.#stpmax);
    if (
      (this.#brackt && (this.stp <= this.#stmin || this.stp >= this.#stmax)) ||
      (this.#brackt && this.#stmax - this.#stmin <= this.#xtol * this.#stmax)
    ) {
      this.stp = this.#stx;
    }
    return "continue";
  }

  /**
   * `dcstep`: a safeguarded cubic/quadratic step from the best point (stx, fx, dx), the other
   * interval end (sty, fy, dy) and the trial (stp, fp, dp); updates the interval and `this.stp`.
   */
  #step(
    fx: number,
    dx: number,
    fy: number,
    dy: number,
    fp: number,
    dp: number,
  ): { fx: number; gx: number; fy: number; gy: number } {
    const stx = this.#stx, sty = this.#sty, stp = this.stp;
    const stpmin = this.#stmin, stpmax = this.#stmax;
    const sgnd = dp * (dx / Math.abs(dx));
    let stpf: number;
    if (fp > fx) {
      // Case 1: higher function value; the minimum is bracketed.
      const theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
      const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
      let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
      if (stp < stx) gamma = -gamma;
      const p = (gamma - dx) + theta;
      const q = ((gamma - dx) + gamma) + dp;
      const stpc = stx + (p / q) * (stp - stx);
      const stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2) * (stp - stx);
      stpf = Math.abs(stpc - stx) < Math.abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
      this.#brackt = true;
    } else if (sgnd < 0) {
      // Case 2: lower value, derivatives of opposite sign; the minimum is bracketed.
      const theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
      const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
      let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
      if (stp > stx) gamma = -gamma;
      const p = (gamma - dp) + theta;
      const q = ((gamma - dp) + gamma) + dx;
      const stpc = stp + (p / q) * (stx - stp);
      const stpq = stp + (dp / (dp - dx)) * (stx - stp);
      stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
      this.#brackt = true;
    } else if (Math.abs(dp) < Math.abs(dx)) {
      // Case 3: lower value, same-sign derivative, decreasing in magnitude.
      const theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
      const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
      let gamma = s * Math.sqrt(Math.max(0, (theta / s) ** 2 - (dx / s) * (dp / s)));
      if (stp > stx) gamma = -gamma;
      const p = (gamma - dp) + theta;
      const q = (gamma + (dx - dp)) + gamma;
      const r = p / q;
      let stpc: number;
      if (r < 0 && gamma !== 0) stpc = stp + r * (stx - stp);
      else if (stp > stx) stpc = stpmax;
      else stpc = stpmin;
      const stpq = stp + (dp / (dp - dx)) * (stx - stp);
      if (this.#brackt) {
        stpf = Math.abs(stpc - stp) < Math.abs(stpq - stp) ? stpc : stpq;
        stpf = stp > stx
          ? Math.min(stp + 0.66 * (sty - stp), stpf)
          : Math.max(stp + 0.66 * (sty - stp), stpf);
      } else {
        stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
        stpf = Math.max(stpmin, Math.min(stpmax, stpf));
      }
    } else {
      // Case 4: lower value, same-sign derivative that does not decrease in magnitude.
      if (this.#brackt) {
        const theta = 3 * (fp - fy) / (sty - stp) + dy + dp;
        const s = Math.max(Math.abs(theta), Math.abs(dy), Math.abs(dp));
        let gamma = s * Math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s));
        if (stp > sty) gamma = -gamma;
        const p = (gamma - dp) + theta;
        const q = ((gamma - dp) + gamma) + dy;
        stpf = stp + (p / q) * (sty - stp);
      } else {
        stpf = stp > stx ? stpmax : stpmin;
      }
    }
    // Update the interval: the best point so far and the other end.
    let nfx = fx, ndx = dx, nfy = fy, ndy = dy;
    if (fp > fx) {
      this.#sty = stp;
      nfy = fp;
      ndy = dp;
    } else {
      if (sgnd < 0) {
        this.#sty = stx;
        nfy = fx;
        ndy = dx;
      }
      this.#stx = stp;
      nfx = fp;
      ndx = dp;
    }
    this.stp = stpf;
    return { fx: nfx, gx: ndx, fy: nfy, gy: ndy };
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function scale(a: number, x: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] *= a;
}

function maxAbs(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]);
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

function checkFinite(f: number, where: string): void {
  if (!Number.isFinite(f)) throw new RangeError(`minimizeLbfgs: f is ${f} at the ${where}`);
}
