import { KernelRidge, rbfKernel } from "../../src/linalg/kernel_ridge.ts";
import { matmulNT, type Matrix } from "../../src/linalg/dense.ts";
import { StandardScaler } from "../../src/linalg/standard_scaler.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { type FixtureMatrix, loadFixture, toMatrix } from "./sklearn_fixtures.ts";

interface KernelRidgeFixture {
  cases: {
    x: FixtureMatrix;
    y: FixtureMatrix;
    x_test: FixtureMatrix;
    y_test: FixtureMatrix;
    standardise: boolean;
    fits: {
      alpha: number;
      gamma: number;
      dual_coef: FixtureMatrix;
      pred_test: FixtureMatrix;
      score_test: number;
    }[];
  }[];
}

Deno.test("KernelRidge (RBF, no intercept) matches sklearn's dual coefficients, predictions and R²", async () => {
  const fx = loadFixture<KernelRidgeFixture>("kernel_ridge.json");
  for (const c of fx.cases) {
    let x = toMatrix(c.x), xt = toMatrix(c.x_test);
    if (c.standardise) {
      const s = StandardScaler.fit(x);
      x = s.transform(x);
      xt = s.transform(xt);
    }
    const y = toMatrix(c.y), yt = toMatrix(c.y_test);
    for (const f of c.fits) {
      const what = `n=${x.rows} alpha=${f.alpha} gamma=${f.gamma}`;
      const m = new KernelRidge({ alpha: f.alpha, gamma: f.gamma, predictChunk: 7 }).fit(x, y);
      assertRelClose(m.dualCoef!.data, f.dual_coef.data, 1e-8, `${what} dual_coef`);
      assertRelClose(m.predict(xt).data, f.pred_test.data, 1e-8, `${what} predict`);
      const s = m.score(xt, yt);
      assert(Math.abs(s - f.score_test) <= 1e-8, `${what} score ${s} vs ${f.score_test}`);
      // The async path with a user Gram (here the CPU product, wrapped in a Promise).
      const gramFn = (a: Matrix, b: Matrix) => Promise.resolve(matmulNT(a, b).data);
      const ma = await new KernelRidge({ alpha: f.alpha, gamma: f.gamma, gramFn }).fitAsync(x, y);
      assertRelClose((await ma.predictAsync(xt)).data, f.pred_test.data, 1e-8, `${what} async`);
      // A precomputed kernel.
      const mk = new KernelRidge({ alpha: f.alpha, gamma: f.gamma });
      mk.fitKernel(rbfKernel(x, undefined, f.gamma).data, y);
      const kx = rbfKernel(xt, x, f.gamma);
      assertRelClose(mk.predictFromKernel(kx.data, xt.rows).data, f.pred_test.data, 1e-8, "kernel");
    }
  }
});

Deno.test("rbfKernel() matches exp(−γ‖x − y‖²) computed directly; K(X, X) has a unit diagonal", () => {
  const rng = testRng("rbf-direct");
  const n = 23, m = 11, d = 5, gamma = 0.3;
  const x = {
    rows: n,
    cols: d,
    data: Float64Array.from({ length: n * d }, () => rng.normal() + 4),
  };
  const y = {
    rows: m,
    cols: d,
    data: Float64Array.from({ length: m * d }, () => rng.normal() + 4),
  };
  const k = rbfKernel(x, y, gamma);
  const ref = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += (x.data[i * d + p] - y.data[j * d + p]) ** 2;
      ref[i * m + j] = Math.exp(-gamma * s);
    }
  }
  assertRelClose(k.data, ref, 1e-13, "K(X, Y)");
  const kk = rbfKernel(x, undefined, gamma);
  for (let i = 0; i < n; i++) assert(kk.data[i * n + i] === 1, "unit diagonal");
});

Deno.test("KernelRidge solves (K + αI)c = y on fresh data (interpolates as α → 0)", () => {
  const rng = testRng("krr-props");
  const n = 120, d = 6, alpha = 1e-3, gamma = 0.2;
  const x = { rows: n, cols: d, data: Float32Array.from({ length: n * d }, () => rng.normal()) };
  const y = { rows: n, cols: 2, data: Float64Array.from({ length: 2 * n }, () => rng.normal()) };
  const m = new KernelRidge({ alpha, gamma }).fit(x, y);
  const k = rbfKernel(x, undefined, gamma).data;
  const c = m.dualCoef!.data;
  const lhs = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < 2; o++) {
      let s = alpha * c[i * 2 + o];
      for (let j = 0; j < n; j++) s += k[i * n + j] * c[j * 2 + o];
      lhs[i * 2 + o] = s;
    }
  }
  assertRelClose(lhs, y.data, 1e-10, "(K + αI)c = y");
  // Training predictions: K·c = y − αc.
  const pred = m.predict(x).data;
  assertRelClose(pred, y.data.map((v, i) => v - alpha * c[i]), 1e-10, "K·c");
});
