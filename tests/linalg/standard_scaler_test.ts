import { StandardScaler } from "../../src/linalg/standard_scaler.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { type FixtureMatrix, loadFixture, toMatrix } from "./sklearn_fixtures.ts";

interface ScalerFixture {
  x: FixtureMatrix;
  mean: number[];
  var: number[];
  scale: number[];
  transformed: FixtureMatrix;
}

Deno.test("StandardScaler matches sklearn: mean, ddof-0 variance, scale 1 for (near-)constant features", () => {
  const fx = loadFixture<ScalerFixture>("scaler.json");
  const s = StandardScaler.fit(toMatrix(fx.x));
  assertRelClose(s.mean, fx.mean, 1e-15, "mean");
  // Column 4 is 1e5 plus a few ulps of noise: its variance (~1e-21) is rounding-level, compare
  // the others tightly.
  const v = Array.from(s.variance).filter((_, j) => j !== 4);
  assertRelClose(v, fx.var.filter((_, j) => j !== 4), 1e-13, "variance");
  assertRelClose(s.scale, fx.scale, 1e-14, "scale");
  assert(s.scale[2] === 1 && s.scale[4] === 1, "constant and near-constant columns get scale 1");
  assertRelClose(s.transform(toMatrix(fx.x)).data, fx.transformed.data, 1e-13, "transform");
});

Deno.test("StandardScaler.transform() gives zero mean and unit variance; inverseTransform() undoes it", () => {
  const rng = testRng("scaler-props");
  const n = 53, d = 9;
  const data = Float32Array.from({ length: n * d }, (_, i) => 3 * rng.normal() + (i % d) * 10);
  const x = { rows: n, cols: d, data };
  const { scaler, z } = StandardScaler.fitTransform(x);
  for (let j = 0; j < d; j++) {
    let m = 0, q = 0;
    for (let i = 0; i < n; i++) m += z.data[i * d + j];
    m /= n;
    for (let i = 0; i < n; i++) q += (z.data[i * d + j] - m) ** 2;
    assert(Math.abs(m) < 1e-14 && Math.abs(q / n - 1) < 1e-13, `column ${j} standardised`);
  }
  assertRelClose(scaler.inverseTransform(z).data, Float64Array.from(data), 1e-14, "inverse");
  const one = StandardScaler.fit({ rows: 1, cols: 2, data: new Float64Array([5, -1]) });
  assertArrayEqual(one.scale, [1, 1], "a single sample has scale 1");
});
