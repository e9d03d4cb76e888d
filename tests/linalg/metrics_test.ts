import {
  accuracy,
  confusionMatrix,
  meanPerClassAccuracy,
  meanSquaredError,
  r2Score,
} from "../../src/linalg/metrics.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { type FixtureMatrix, loadFixture } from "./sklearn_fixtures.ts";

interface MetricsFixture {
  classification: {
    y_true: number[];
    y_pred: number[];
    labels: number[];
    confusion: number[];
    accuracy: number;
    mean_per_class_nan: number | null;
    balanced_accuracy: number;
  }[];
  regression: { y_true: FixtureMatrix; y_pred: FixtureMatrix; r2: number; mse: number }[];
}

function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

Deno.test("accuracy, confusionMatrix and meanPerClassAccuracy match sklearn (NaN and ignore modes)", () => {
  const fx = loadFixture<MetricsFixture>("metrics.json");
  for (const [i, c] of fx.classification.entries()) {
    assert(accuracy(c.y_true, c.y_pred) === c.accuracy, `case ${i} accuracy`);
    const cm = confusionMatrix(c.y_true, c.y_pred);
    assertArrayEqual(cm.labels, c.labels, `case ${i} labels`);
    assertArrayEqual(cm.matrix, c.confusion, `case ${i} confusion`);
    const faithful = meanPerClassAccuracy(c.y_true, c.y_pred, { absentClasses: "nan" });
    if (c.mean_per_class_nan === null) assert(Number.isNaN(faithful), `case ${i} NaN`);
    else assert(close(faithful, c.mean_per_class_nan, 1e-15), `case ${i} mean per class`);
    const intended = meanPerClassAccuracy(c.y_true, c.y_pred);
    assert(close(intended, c.balanced_accuracy, 1e-15), `case ${i} = balanced accuracy`);
  }
});

Deno.test("r2Score (uniform average, constant-target rule) and meanSquaredError match sklearn", () => {
  const fx = loadFixture<MetricsFixture>("metrics.json");
  for (const [i, c] of fx.regression.entries()) {
    const r2 = r2Score(c.y_true.data, c.y_pred.data, c.y_true.cols);
    assert(close(r2, c.r2, 1e-14), `case ${i}: r2 ${r2} vs ${c.r2}`);
    assert(close(meanSquaredError(c.y_true.data, c.y_pred.data), c.mse, 1e-14), `case ${i} mse`);
  }
  assert(r2Score([1, 1, 1], [1, 1, 1]) === 1, "constant target predicted exactly: 1");
  assert(r2Score([1, 1, 1], [1, 2, 1]) === 0, "constant target mispredicted: 0");
  assert(r2Score([1, 1], [1, 2], 1, { forceFinite: false }) === -Infinity, "force_finite=False");
  assert(Number.isNaN(r2Score([1], [1])), "one sample: NaN");
});
