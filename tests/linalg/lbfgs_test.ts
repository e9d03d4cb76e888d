import { minimizeLbfgs, MoreThuente, type ObjectiveFn } from "../../src/linalg/lbfgs.ts";
import { choleskySolve } from "../../src/linalg/triangular.ts";
import { cholesky } from "../../src/linalg/cholesky.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { loadFixture } from "./sklearn_fixtures.ts";

interface LbfgsFixture {
  runs: {
    x0: number[];
    options: { maxiter?: number; gtol?: number; ftol?: number };
    x: number[];
    fun: number;
    nit: number;
    nfev: number;
    message: string;
  }[];
}

/** scipy's `rosen` / `rosen_der`. */
const rosenbrock: ObjectiveFn = (x, g) => {
  const n = x.length;
  let f = 0;
  g.fill(0);
  for (let i = 0; i < n - 1; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
};

Deno.test("minimizeLbfgs() follows scipy's L-BFGS-B path on Rosenbrock (same nit, nfev, stop, point)", () => {
  const fx = loadFixture<LbfgsFixture>("lbfgs.json");
  for (const r of fx.runs) {
    const res = minimizeLbfgs(rosenbrock, Float64Array.from(r.x0), {
      maxIter: r.options.maxiter,
      gtol: r.options.gtol,
      ftol: r.options.ftol,
    });
    const what = `x0=${r.x0} ${JSON.stringify(r.options)}`;
    assert(res.iterations === r.nit, `${what}: ${res.iterations} iterations, scipy ${r.nit}`);
    assert(res.evaluations === r.nfev, `${what}: ${res.evaluations} evaluations, scipy ${r.nfev}`);
    const want = r.message.startsWith("CONVERGENCE: NORM")
      ? "gtol"
      : r.message.startsWith("CONVERGENCE: REL")
      ? "ftol"
      : "maxiter";
    assert(res.reason === want, `${what}: stopped by ${res.reason}, scipy ${r.message}`);
    assertRelClose(res.x, r.x, 1e-6, `${what}: x`);
  }
});

Deno.test("minimizeLbfgs() reaches the minimiser A⁻¹b of a random SPD quadratic", () => {
  const rng = testRng("lbfgs-quadratic");
  const n = 40;
  const g = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.5 : 0;
      for (let p = 0; p < n; p++) s += g[i * n + p] * g[j * n + p] / n;
      a[i * n + j] = s;
    }
  }
  const b = Float64Array.from({ length: n }, () => rng.normal());
  const quad: ObjectiveFn = (x, grad) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let ax = 0;
      for (let j = 0; j < n; j++) ax += a[i * n + j] * x[j];
      grad[i] = ax - b[i];
      f += 0.5 * x[i] * ax - b[i] * x[i];
    }
    return f;
  };
  // ftol 0 still stops once f stops decreasing in floating point (as in scipy), and a line search
  // can fail for the same reason ("ABNORMAL_TERMINATION_IN_LNSRCH" in scipy): near the minimum f
  // only changes by O(‖g‖²), below its rounding. Either way the gradient is tiny by then.
  const res = minimizeLbfgs(quad, new Float64Array(n), { gtol: 1e-9, ftol: 0, maxIter: 1000 });
  assert(res.gradMax < 1e-6, `stationary (${res.reason}, max |g| = ${res.gradMax})`);
  assertRelClose(res.x, choleskySolve(cholesky(a, n), n, b), 1e-6, "x* = A⁻¹b");
  // Already optimal: no step is taken.
  const again = minimizeLbfgs(quad, res.x, { gtol: 2 * res.gradMax });
  assert(again.iterations === 0 && again.evaluations === 1, "starts converged");
  const capped = minimizeLbfgs(quad, new Float64Array(n), { gtol: 1e-12, ftol: 0, maxIter: 3 });
  assert(capped.reason === "maxiter" && capped.iterations === 3, "maxIter stops");
});

Deno.test("MoreThuente returns a step satisfying the strong Wolfe conditions", () => {
  // φ(α) = (α − 3)⁴/4 − α, a 1-D function with a curved minimum; start far too short and too long.
  const phi = (s: number) => [(s - 3) ** 4 / 4 - s, (s - 3) ** 3 - 1];
  const [f0, g0] = phi(0);
  for (const start of [1e-3, 1, 50]) {
    const ls = new MoreThuente(f0, g0, start, 1e-3, 0.9, 0.1, 0, 1e10);
    let status = "continue";
    let f = 0, g = 0, stp = start, evals = 0;
    while (status === "continue" && evals < 30) {
      stp = ls.stp;
      [f, g] = phi(stp);
      evals++;
      status = ls.next(f, g);
    }
    assert(status === "done", `start ${start}: finished (${status})`);
    assert(f <= f0 + 1e-3 * stp * g0, `start ${start}: sufficient decrease at ${stp}`);
    assert(Math.abs(g) <= 0.9 * Math.abs(g0), `start ${start}: curvature at ${stp}`);
  }
});
