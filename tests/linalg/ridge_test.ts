import { engineTest } from "./engines.ts";
import { Ridge } from "../../src/linalg/ridge.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { type FixtureMatrix, loadFixture, toMatrix } from "./sklearn_fixtures.ts";

interface RidgeFixture {
  cases: {
    x: FixtureMatrix;
    y: FixtureMatrix;
    x_test: FixtureMatrix;
    y_test: FixtureMatrix;
    fits: {
      alpha: number;
      coef: number[];
      intercept: number[];
      pred_test: FixtureMatrix;
      score_test: number;
    }[];
  }[];
}

engineTest(
  "Ridge matches sklearn's coef, intercept, predictions and R² (n > d primal, n < d dual)",
  () => {
    const fx = loadFixture<RidgeFixture>("ridge.json");
    for (const c of fx.cases) {
      const x = toMatrix(c.x), y = toMatrix(c.y), xt = toMatrix(c.x_test), yt = toMatrix(c.y_test);
      for (const f of c.fits) {
        const what = `n=${x.rows} d=${x.cols} alpha=${f.alpha}`;
        for (const solver of ["auto", "primal", "dual"] as const) {
          const m = new Ridge({ alpha: f.alpha, solver }).fit(x, y);
          assertRelClose(m.coef!.data, f.coef, 1e-8, `${what} ${solver} coef`);
          assertRelClose(m.intercept!, f.intercept, 1e-8, `${what} ${solver} intercept`);
          assertRelClose(m.predict(xt).data, f.pred_test.data, 1e-8, `${what} ${solver} predict`);
          const s = m.score(xt, yt);
          assert(
            Math.abs(s - f.score_test) <= 1e-8,
            `${what} ${solver} score ${s} vs ${f.score_test}`,
          );
        }
      }
    }
  },
);

engineTest(
  "Ridge solves the centred normal equations (fresh data, float32 input, many outputs)",
  () => {
    const rng = testRng("ridge-props");
    for (const [n, d, t] of [[90, 31, 4], [25, 60, 3]]) {
      const x = {
        rows: n,
        cols: d,
        data: Float32Array.from({ length: n * d }, () => rng.normal()),
      };
      const y = {
        rows: n,
        cols: t,
        data: Float64Array.from({ length: n * t }, () => rng.normal()),
      };
      const alpha = 0.37;
      const m = new Ridge({ alpha }).fit(x, y);
      const w = m.coef!.data, b = m.intercept!;
      // Residuals r = y − Xw − b: Σ r = 0 (intercept) and Xcᵀr = αw (ridge normal equations).
      const pred = m.predict(x).data;
      const xMean = new Float64Array(d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xMean[j] += x.data[i * d + j] / n;
      for (let o = 0; o < t; o++) {
        let sumR = 0;
        const lhs = new Float64Array(d);
        for (let i = 0; i < n; i++) {
          const r = y.data[i * t + o] - pred[i * t + o];
          sumR += r;
          for (let j = 0; j < d; j++) lhs[j] += (x.data[i * d + j] - xMean[j]) * r;
        }
        assert(Math.abs(sumR) < 1e-10, `output ${o}: residuals sum to 0 (${sumR})`);
        const aw = Array.from({ length: d }, (_, j) => alpha * w[o * d + j]);
        assertRelClose(lhs, aw, 1e-9, `n=${n} d=${d} output ${o}: Xcᵀr = αw`);
        let pb = 0;
        for (let j = 0; j < d; j++) pb += xMean[j] * w[o * d + j];
        assert(
          Number.isFinite(b[o]) && Math.abs(b[o] + pb - meanCol(y.data, n, t, o)) < 1e-12,
          "b",
        );
      }
    }
  },
);

function meanCol(data: Float64Array, n: number, t: number, o: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += data[i * t + o];
  return s / n;
}
