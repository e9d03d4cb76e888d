import {
  groupMetrics,
  lowerInverse,
  nanMeanColumns,
  viewMetrics,
  Whitener,
  WhiteningError,
} from "../../src/eval/whitening.ts";
import { covarianceF64 } from "../../src/eval/statistics.ts";
import { cholesky } from "../../src/linalg/cholesky.ts";
import { nameFlag } from "../../src/util/main.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

const stats = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/eval/statistics.json", import.meta.url)),
);
const metrics = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/eval/metrics.json", import.meta.url)),
);
const d: number = stats.d;
const whitener = Whitener.fromCovariance(stats.mean32, Float64Array.from(stats.cov));

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

Deno.test("viewMetrics() matches the original's similarity and scipy's mahalanobis distance", () => {
  for (const img of metrics.images) {
    const k: number = img.k;
    const z = whitener.whiten([...img.clean, ...img.views], k + 1);
    const m = viewMetrics(z, k, d);
    for (let j = 0; j < k; j++) {
      // The exact value of the original's formula uᵀPv/√(uᵀPu·vᵀPv) (float64 inverse).
      assert(
        Math.abs(m.similarity[j] - img.similarity64[j]) <= 1e-9,
        `similarity ${m.similarity[j]} vs ${img.similarity64[j]}`,
      );
      // The original computes it through a float32 Cholesky factor: agreement to f32 rounding.
      assert(Math.abs(m.similarity[j] - img.similarity[j]) <= 3e-4, "vs float32 original");
      assert(
        relErr(m.distance[j], img.distance[j]) <= 1e-7 ||
          m.distance[j] < 1e-6 && img.distance[j] < 1e-6,
        `distance ${m.distance[j]} vs scipy ${img.distance[j]}`,
      );
    }
  }
  // An identity view: similarity 1, distance 0.
  const first = metrics.images[0];
  const z = whitener.whiten([...first.clean, ...first.views], first.k + 1);
  const m = viewMetrics(z, first.k, d);
  assert(Math.abs(m.similarity[0] - 1) < 1e-12 && m.distance[0] === 0, "identity view");
});

Deno.test("groupMetrics() matches the original's pairwise similarity (diagonal included) and distance", () => {
  for (const g of metrics.groups) {
    const n: number = g.n;
    const m = groupMetrics(whitener.whiten(g.features, n), n, d);
    assert(
      Math.abs(m.similarity - g.similarity64) <= 1e-9,
      `S ${m.similarity} vs ${g.similarity64}`,
    );
    assert(Math.abs(m.similarity - g.similarity) <= 1e-5, "S vs float32 original");
    if (n === 1) {
      assert(Number.isNaN(m.distance), "one view: distance NaN");
      assert(Math.abs(m.similarity - 1) < 1e-12, "one view: similarity 1");
    } else {
      assert(relErr(m.distance, g.distance64) <= 1e-7, `L ${m.distance} vs ${g.distance64}`);
      assert(relErr(m.distance, g.distance) <= 1e-6, `L vs float32 original`);
      const ex = groupMetrics(whitener.whiten(g.features, n), n, d, { excludeDiagonal: true });
      const expect = (g.similarity64 * n * n - n) / (n * (n - 1));
      assert(Math.abs(ex.similarity - expect) <= 1e-9, "diagonal excluded");
    }
  }
});

Deno.test("Whitener: whitened rows have identity covariance and L⁻¹·L = I on fresh data", () => {
  const rng = testRng("whiten identity");
  const n = 300, dim = 7;
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let carry = 0;
    for (let j = 0; j < dim; j++) {
      carry = 0.6 * carry + rng.normal();
      x[i * dim + j] = carry * (j + 1) + 5;
    }
  }
  const s = covarianceF64(x, n, dim);
  const w = Whitener.fromCovariance(s.mean, s.cov);
  const z = w.whiten(x, n);
  const zc = covarianceF64(z, n, dim);
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b < dim; b++) {
      assert(Math.abs(zc.cov[a * dim + b] - (a === b ? 1 : 0)) < 1e-10, `cov(z)[${a},${b}]`);
    }
  }
  const l = cholesky(s.cov, dim);
  const inv = lowerInverse(l, dim);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < dim; j++) {
      let v = 0;
      for (let p = 0; p < dim; p++) v += inv[i * dim + p] * l[p * dim + j];
      assert(Math.abs(v - (i === j ? 1 : 0)) < 1e-12, `L⁻¹L[${i},${j}] = ${v}`);
    }
  }
});

Deno.test("Whitener rejects a singular covariance with a message suggesting jitter; jitter fixes it", () => {
  const dim = 4;
  // Singular: one feature is constant, as a dead ReLU channel is.
  const rng = testRng("singular");
  const n = 50;
  const x = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 3; j++) x[i * dim + j] = rng.normal();
    x[i * dim + 3] = 5; // a constant (dead) feature: its variance is exactly 0
  }
  const s = covarianceF64(x, n, dim);
  let error: unknown;
  try {
    Whitener.fromCovariance(s.mean, s.cov, { what: "test.pth" });
  } catch (e) {
    error = e;
  }
  assert(error instanceof WhiteningError, "WhiteningError");
  assert(
    /rerun with jitter: 1e-10 \(or larger\)/.test((error as Error).message) &&
      /test\.pth/.test((error as Error).message),
    (error as Error).message,
  );
  // The eval scripts' runMain restates the suggestion as the flag, keeping the error's class.
  const restated = nameFlag(error, "--jitter", "jitter");
  assert(restated instanceof WhiteningError, "still a WhiteningError");
  assert(
    /rerun with --jitter 1e-10 \(or larger\)/.test((restated as Error).message),
    (restated as Error).message,
  );
  const w = Whitener.fromCovariance(s.mean, s.cov, { jitter: 1e-6 });
  assert(w.jitter === 1e-6, "jitter kept");
});

Deno.test("nanMeanColumns() skips NaN like numpy's nanmean(axis=0)", () => {
  const m = [1, NaN, 3, NaN, 5, NaN];
  const r = nanMeanColumns(m, 3, 2);
  assert(r[0] === 3 && Number.isNaN(r[1]), `${r}`);
});

Deno.test("lowerInverse() (recursive blocks) gives L⁻¹·L = I and a lower-triangular result", () => {
  const rng = testRng("lower inverse");
  const n = 150 + rng.int(120);
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) l[i * n + j] = rng.normal() * 0.1;
    l[i * n + i] = 0.5 + rng.uniform();
  }
  const inv = lowerInverse(l, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v = 0;
      for (let p = 0; p < n; p++) v += inv[i * n + p] * l[p * n + j];
      assert(Math.abs(v - (i === j ? 1 : 0)) < 1e-11, `(L⁻¹L)[${i},${j}] = ${v} (n = ${n})`);
      if (j > i) assert(inv[i * n + j] === 0, "upper triangle zero");
    }
  }
});
