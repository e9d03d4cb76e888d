import { engineTest } from "./engines.ts";
import { KernelRidge, kernelRidgeFoldScores, rbfKernel } from "../../src/linalg/kernel_ridge.ts";
import { matmulNT, type Matrix } from "../../src/linalg/dense.ts";
import { StandardScaler } from "../../src/linalg/standard_scaler.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { r2Score } from "../../src/linalg/metrics.ts";
import { testRng } from "../util/seed.ts";
import type { Rng } from "../../src/util/rng.ts";
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

/** A rows × cols matrix of fresh standard-normal float64 values. */
function normalMatrix(rng: Rng, rows: number, cols: number): Matrix {
  return { rows, cols, data: Float64Array.from({ length: rows * cols }, () => rng.normal()) };
}

engineTest(
  "KernelRidge (RBF, no intercept) matches sklearn's dual coefficients, predictions and R²",
  async () => {
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
        // The async path on the CPU Gram (nonblocking BLAS calls).
        const mc = await new KernelRidge({ alpha: f.alpha, gamma: f.gamma }).fitAsync(x, y);
        assertRelClose(mc.dualCoef!.data, f.dual_coef.data, 1e-8, `${what} async cpu dual_coef`);
        assertRelClose(
          (await mc.predictAsync(xt)).data,
          f.pred_test.data,
          1e-8,
          `${what} async cpu`,
        );
        // A precomputed kernel.
        const mk = new KernelRidge({ alpha: f.alpha, gamma: f.gamma });
        mk.fitKernel(rbfKernel(x, undefined, f.gamma).data, y);
        const kx = rbfKernel(xt, x, f.gamma);
        assertRelClose(
          mk.predictFromKernel(kx.data, xt.rows).data,
          f.pred_test.data,
          1e-8,
          "kernel",
        );
      }
    }
  },
);

engineTest(
  "rbfKernel() matches exp(−γ‖x − y‖²) computed directly; K(X, X) has a unit diagonal",
  () => {
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
  },
);

engineTest("KernelRidge solves (K + αI)c = y on fresh data (interpolates as α → 0)", () => {
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

engineTest(
  "kernelRidgeFoldScores() gives sklearn's test R² for every (α, γ) from one distance matrix",
  async () => {
    const fx = loadFixture<KernelRidgeFixture>("kernel_ridge.json");
    for (const c of fx.cases) {
      let x = toMatrix(c.x), xt = toMatrix(c.x_test);
      if (c.standardise) {
        const s = StandardScaler.fit(x);
        x = s.transform(x);
        xt = s.transform(xt);
      }
      const alphas = [...new Set(c.fits.map((f) => f.alpha))];
      const gammas = [...new Set(c.fits.map((f) => f.gamma))];
      const seen: string[] = [];
      const scores = await kernelRidgeFoldScores(x, toMatrix(c.y), xt, toMatrix(c.y_test), {
        alphas,
        gammas,
        onFit: (a, g) => seen.push(`${a},${g}`),
      });
      assert(seen.length === alphas.length * gammas.length, `onFit called ${seen.length} times`);
      for (const f of c.fits) {
        const s = scores[alphas.indexOf(f.alpha)][gammas.indexOf(f.gamma)];
        assert(
          Math.abs(s - f.score_test) <= 1e-8,
          `n=${x.rows} α=${f.alpha} γ=${f.gamma}: ${s} vs sklearn ${f.score_test}`,
        );
      }
    }
  },
);

engineTest(
  "kernelRidgeFoldScores() equals separate KernelRidge fits on fresh data (GPU-style gramFn too)",
  async () => {
    const rng = testRng("krr-fold");
    const n = 157, m = 41, d = 9, t = 2;
    const x = normalMatrix(rng, n, d), xt = normalMatrix(rng, m, d);
    const y = normalMatrix(rng, n, t), yt = normalMatrix(rng, m, t);
    const alphas = [1, 0.01, 1e-4], gammas = [0.01, 0.3, 3];
    const gramFn = (a: Matrix, b: Matrix) => Promise.resolve(matmulNT(a, b).data);
    const cpu = await kernelRidgeFoldScores(x, y, xt, yt, { alphas, gammas });
    const user = await kernelRidgeFoldScores(x, y, xt, yt, { alphas, gammas, gramFn });
    for (let ai = 0; ai < alphas.length; ai++) {
      for (let gi = 0; gi < gammas.length; gi++) {
        const ref = new KernelRidge({ alpha: alphas[ai], gamma: gammas[gi] }).fit(x, y).score(
          xt,
          yt,
        );
        const what = `α=${alphas[ai]} γ=${gammas[gi]}`;
        assert(
          Math.abs(cpu[ai][gi] - ref) <= 1e-9 * Math.max(1, Math.abs(ref)),
          `${what}: ${cpu[ai][gi]} vs ${ref}`,
        );
        assert(Math.abs(user[ai][gi] - ref) <= 1e-9 * Math.max(1, Math.abs(ref)), `${what} gramFn`);
      }
    }
  },
);

engineTest(
  "kernelRidgeFoldScores() with a γ that underflows every off-diagonal entry (K = I) equals the fits and the closed form",
  async () => {
    const rng = testRng("krr-identity");
    const n = 90, d = 7, t = 2, m = 30;
    const x = normalMatrix(rng, n, d), y = normalMatrix(rng, n, t);
    // Test rows are training rows (distance 0, kernel 1), so the predictions are c = y/(1 + α).
    const pick = Int32Array.from({ length: m }, () => rng.int(n));
    const xt = { rows: m, cols: d, data: new Float64Array(m * d) };
    const yt = { rows: m, cols: t, data: new Float64Array(m * t) };
    pick.forEach((j, i) => {
      xt.data.set(x.data.subarray(j * d, j * d + d), i * d);
      yt.data.set(y.data.subarray(j * t, j * t + t), i * t);
    });
    const alphas = [1, 0.01], gammas = [1e4];
    const got = await kernelRidgeFoldScores(x, y, xt, yt, { alphas, gammas });
    for (let ai = 0; ai < alphas.length; ai++) {
      const ref = new KernelRidge({ alpha: alphas[ai], gamma: gammas[0] }).fit(x, y).score(
        xt,
        yt,
      );
      const closed = r2Score(yt.data, yt.data.map((v) => v / (1 + alphas[ai])), t);
      assert(
        Math.abs(got[ai][0] - ref) <= 1e-12,
        `α=${alphas[ai]}: ${got[ai][0]} vs fit ${ref}`,
      );
      assert(
        Math.abs(got[ai][0] - closed) <= 1e-9,
        `α=${alphas[ai]}: ${got[ai][0]} vs ${closed}`,
      );
    }
  },
);
