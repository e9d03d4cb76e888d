import { engines, engineTest, onEngine } from "./engines.ts";
import { LogisticRegression } from "../../src/linalg/logistic.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { type FixtureMatrix, loadFixture, toMatrix } from "./sklearn_fixtures.ts";

interface LogisticFixture {
  cases: {
    x: FixtureMatrix;
    y: number[];
    x_test: FixtureMatrix;
    y_test: number[];
    classes: number[];
    converged: {
      C: number;
      coef: number[];
      intercept: number[];
      proba_test: FixtureMatrix;
      pred_test: number[];
      score_test: number;
      objective: number;
    }[];
    default: {
      C: number;
      proba_test: FixtureMatrix;
      score_test: number;
      objective: number;
      n_iter: number;
    }[];
  }[];
  warm_start: {
    x: FixtureMatrix;
    y: number[];
    fits: { C: number; objective: number; n_iter: number; score_train: number }[];
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function centred(v: ArrayLike<number>): number[] {
  const mean = Array.from(v).reduce((s, x) => s + x, 0) / v.length;
  return Array.from(v, (x) => x - mean);
}

engineTest(
  "LogisticRegression at convergence matches sklearn's optimum: objective, coef, probabilities",
  () => {
    const fx = loadFixture<LogisticFixture>("logistic.json");
    for (const c of fx.cases) {
      const x = toMatrix(c.x), xt = toMatrix(c.x_test);
      for (const f of c.converged) {
        const what = `n=${x.rows} d=${x.cols} C=${f.C}`;
        const m = new LogisticRegression({ C: f.C, maxIter: 20000, tol: 1e-9, ftol: 0 }).fit(
          x,
          c.y,
        );
        assertArrayEqual(m.classes!, c.classes, `${what} classes`);
        const obj = m.info!.objective;
        assert(
          Math.abs(obj - f.objective) <= 1e-6 * f.objective,
          `${what}: objective ${obj} vs ${f.objective}`,
        );
        assert(Math.abs(m.objective(x, c.y) - obj) <= 1e-12 * obj, `${what}: objective() agrees`);
        assertRelClose(m.coef!.data, f.coef, 1e-5, `${what} coef`);
        // The intercept is defined up to a common shift (softmax); compare centred values.
        const b = centred(m.intercept!), bRef = centred(f.intercept);
        assert(
          maxAbsDiff(b, bRef) <= 1e-5 * Math.max(1, ...bRef.map(Math.abs)),
          `${what} intercept`,
        );
        const p = m.predictProba(xt).data;
        const dp = maxAbsDiff(p, f.proba_test.data);
        assert(dp <= 1e-4, `${what}: probabilities differ by ${dp}`);
        assertArrayEqual(m.predict(xt), f.pred_test, `${what} predictions`);
        assert(m.score(xt, c.y_test) === f.score_test, `${what} score`);
      }
    }
  },
);

engineTest(
  "LogisticRegression with sklearn's defaults (100 iterations, tol 1e-4) tracks sklearn's lbfgs",
  () => {
    const fx = loadFixture<LogisticFixture>("logistic.json");
    for (const c of fx.cases) {
      const x = toMatrix(c.x), xt = toMatrix(c.x_test);
      for (const f of c.default) {
        const what = `n=${x.rows} d=${x.cols} C=${f.C}`;
        const m = new LogisticRegression({ C: f.C }).fit(x, c.y);
        const obj = m.info!.objective;
        // Same line search and update as scipy's L-BFGS-B, so the runs that stop before the
        // iteration cap take the same number of iterations; capped runs of weakly regularised
        // problems drift apart by rounding only.
        assert(
          Math.abs(obj - f.objective) <= 1e-4 * f.objective,
          `${what}: objective ${obj} vs ${f.objective}`,
        );
        if (f.n_iter < 100) {
          assert(
            m.info!.iterations === f.n_iter,
            `${what}: ${m.info!.iterations} vs ${f.n_iter} iterations`,
          );
          assert(
            maxAbsDiff(m.predictProba(xt).data, f.proba_test.data) <= 1e-8,
            `${what}: probabilities`,
          );
        }
        assert(Math.abs(m.score(xt, c.y_test) - f.score_test) <= 0.005, `${what}: accuracy`);
      }
    }
    // Warm start along a decreasing C grid, as the downstream script does.
    const w = fx.warm_start;
    const x = toMatrix(w.x);
    const m = new LogisticRegression({ C: 1, warmStart: true });
    for (const f of w.fits) {
      m.C = f.C;
      m.fit(x, w.y);
      const obj = m.info!.objective;
      assert(
        Math.abs(obj - f.objective) <= 1e-4 * f.objective,
        `warm C=${f.C}: ${obj} vs ${f.objective}`,
      );
      assert(Math.abs(m.score(x, w.y) - f.score_train) <= 0.005, `warm C=${f.C}: accuracy`);
    }
  },
);

engineTest(
  "LogisticRegression: stationary optimum by finite differences; probabilities sum to 1; binary case",
  () => {
    const rng = testRng("logistic-props");
    const n = 90, d = 6, k = 3, C = 0.7;
    const labels = Int32Array.from({ length: n }, () => 10 * rng.int(k));
    const x = {
      rows: n,
      cols: d,
      data: Float32Array.from(
        { length: n * d },
        (_, i) => rng.normal() + 0.8 * ((i % d) === labels[Math.floor(i / d)] / 10 ? 1 : 0),
      ),
    };
    const m = new LogisticRegression({ C, maxIter: 5000, tol: 1e-10, ftol: 0 }).fit(x, labels);
    assertArrayEqual(m.classes!, [0, 10, 20], "classes");
    // ∂L/∂w ≈ 0 at the optimum, measured on the objective alone (checks objective vs gradient).
    const h = 1e-5;
    const f0 = m.objective(x, labels);
    for (let j = 0; j < k * d; j += 4) {
      const w0 = m.coef!.data[j];
      m.coef!.data[j] = w0 + h;
      const fp = m.objective(x, labels);
      m.coef!.data[j] = w0 - h;
      const fm = m.objective(x, labels);
      m.coef!.data[j] = w0;
      assert(Math.abs((fp - fm) / (2 * h)) < 1e-4, `∂L/∂w[${j}] = ${(fp - fm) / (2 * h)}`);
      assert(fp >= f0 - 1e-9 && fm >= f0 - 1e-9, "a minimum");
    }
    const p = m.predictProba(x);
    const pred = m.predict(x);
    for (let i = 0; i < n; i++) {
      const row = Array.from(p.data.subarray(i * k, (i + 1) * k));
      assert(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-14, "probabilities sum to 1");
      assert(pred[i] === m.classes![row.indexOf(Math.max(...row))], "predict = argmax");
    }
    // Two classes: both softmax rows are kept; at the optimum they are opposite (sklearn's coef_ = row 1).
    const y2 = labels.map((v) => (v === 0 ? 0 : 1));
    const b = new LogisticRegression({ C, maxIter: 5000, tol: 1e-10, ftol: 0 }).fit(x, y2);
    const w = b.coef!.data;
    for (let j = 0; j < d; j++) assert(Math.abs(w[j] + w[d + j]) < 1e-6, "row 0 = −row 1");
    // Errors: one class; a warm start whose classes changed.
    let threw = 0;
    try {
      new LogisticRegression({ C }).fit(x, new Int32Array(n));
    } catch {
      threw++;
    }
    const ws = new LogisticRegression({ C, warmStart: true }).fit(x, labels);
    try {
      ws.fit(x, y2);
    } catch {
      threw++;
    }
    assert(threw === 2, "single-class fit and mismatched warm start throw");
  },
);

Deno.test("LogisticRegression: OpenBLAS's row-blocked evaluation (several blocks, a partial last one) fits what the JavaScript kernels fit", async () => {
  if (!engines().includes("openblas")) return;
  const rng = testRng("logistic-blocks");
  // 2 048 features: blocks of 16 rows, so 150 rows are 9 full blocks and one of 6.
  const n = 150, d = 2048, k = 4, C = 0.05;
  const labels = Int32Array.from({ length: n }, () => rng.int(k));
  const x = {
    rows: n,
    cols: d,
    data: Float64Array.from(
      { length: n * d },
      (_, i) => rng.normal() + ((i % d) % k === labels[Math.floor(i / d)] ? 0.3 : 0),
    ),
  };
  const fit = (engine: "openblas" | "js") =>
    onEngine(engine, () => new LogisticRegression({ C, maxIter: 25 }).fit(x, labels));
  const a = await fit("openblas"), b = await fit("js");
  assert(
    a.info!.iterations === b.info!.iterations,
    `${a.info!.iterations} vs ${b.info!.iterations}`,
  );
  assertRelClose(a.coef!.data, b.coef!.data, 1e-9, "coef");
  assertRelClose(a.intercept!, b.intercept!, 1e-9, "intercept");
  const fa = await onEngine("openblas", () => a.objective(x, labels));
  const fb = await onEngine("js", () => b.objective(x, labels));
  assert(Math.abs(fa - fb) <= 1e-12 * Math.abs(fb), `objective ${fa} vs ${fb}`);
  // The same fit with the second half of the blocks (rows 80–149) on a helper thread.
  assert(!a.info!.helperThread, "a 150 × 2 048 fit stays on one thread by default");
  const h = await onEngine(
    "openblas",
    () => new LogisticRegression({ C, maxIter: 25, helperThread: true }).fit(x, labels),
  );
  assert(h.info!.helperThread, "helper thread used");
  assert(h.info!.iterations === b.info!.iterations, `${h.info!.iterations} iterations`);
  assertRelClose(h.coef!.data, b.coef!.data, 1e-9, "coef, helper thread");
  assertRelClose(h.intercept!, b.intercept!, 1e-9, "intercept, helper thread");
});

Deno.test("LogisticRegression: a fit with a helper thread stops it (the process exits)", async () => {
  if (!engines().includes("openblas")) return;
  const code = `import { LogisticRegression } from ${
    JSON.stringify(new URL("../../src/linalg/logistic.ts", import.meta.url).href)
  };
const n = 160, d = 512; // blocks of 64 rows: the helper takes rows 64–159
const x = { rows: n, cols: d, data: Float64Array.from({ length: n * d }, (_, i) => Math.sin(i)) };
const y = Int32Array.from({ length: n }, (_, i) => i % 3);
const m = new LogisticRegression({ C: 1, maxIter: 5, helperThread: true }).fit(x, y);
console.log(JSON.stringify({ helper: m.info.helperThread }));`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(out.success, `child did not exit cleanly: ${new TextDecoder().decode(out.stderr)}`);
  assert(text === '{"helper":true}', text);
});
