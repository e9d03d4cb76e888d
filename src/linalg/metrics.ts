/**
 * Scores of the downstream and causal evaluations, with scikit-learn's semantics: accuracy,
 * confusion matrix and mean per-class accuracy (docs/downstream.md#probes), R² with a uniform average over the
 * outputs (`r2_score`, the `score` of regressors) and the mean squared error.
 *
 * Labels are integers (any ArrayLike<number>); regression targets and predictions are row-major
 * [n, outputs] arrays.
 *
 * @module
 */

/** Fraction of positions where `yPred` equals `yTrue` (sklearn `accuracy_score`). */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkSameLength(yTrue, yPred, "accuracy");
  if (yTrue.length === 0) throw new RangeError("accuracy: no samples");
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / yTrue.length;
}

/** A confusion matrix over `labels`: `matrix[r * labels.length + c]` counts true r, predicted c. */
export interface ConfusionMatrix {
  /** The sorted union of the true and predicted labels (sklearn's default `labels`). */
  labels: number[];
  /** Counts, row-major [labels, labels]; rows are true labels. */
  matrix: Float64Array;
}

/** sklearn's `confusion_matrix(y_true, y_pred)` with the default label set. */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
): ConfusionMatrix {
  checkSameLength(yTrue, yPred, "confusionMatrix");
  const labels = [...new Set([...Array.from(yTrue), ...Array.from(yPred)])].sort((a, b) => a - b);
  const index = new Map(labels.map((l, i) => [l, i]));
  const k = labels.length;
  const matrix = new Float64Array(k * k);
  for (let i = 0; i < yTrue.length; i++) {
    matrix[index.get(yTrue[i])! * k + index.get(yPred[i])!] += 1;
  }
  return { labels, matrix };
}

/** Options of {@link meanPerClassAccuracy}. */
export interface MeanPerClassOptions {
  /**
   * What a label that is predicted but absent from `yTrue` contributes:
   * - "ignore" (default, the intent; the same value as sklearn's `balanced_accuracy_score`): the
   *   mean runs over the classes present in `yTrue` only;
   * - "nan" (the original's `cm.diagonal() / cm.sum(axis=1)` then `mean`): its row is 0/0 = NaN,
   *   so the whole score is NaN (docs/downstream.md#probes).
   */
  absentClasses?: "ignore" | "nan";
}

/**
 * Mean per-class accuracy: the confusion matrix's diagonal over its row sums (per-class recall),
 * averaged over classes.
 */
export function meanPerClassAccuracy(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: MeanPerClassOptions = {},
): number {
  if (yTrue.length === 0) throw new RangeError("meanPerClassAccuracy: no samples");
  const { labels, matrix } = confusionMatrix(yTrue, yPred);
  const k = labels.length;
  let sum = 0;
  let count = 0;
  for (let r = 0; r < k; r++) {
    let rowSum = 0;
    for (let c = 0; c < k; c++) rowSum += matrix[r * k + c];
    if (rowSum === 0) {
      if (options.absentClasses === "nan") return NaN;
      continue;
    }
    sum += matrix[r * k + r] / rowSum;
    count++;
  }
  return sum / count;
}

/** Options of {@link r2Score}. */
export interface R2Options {
  /**
   * sklearn's `force_finite` (default true): an output whose target is constant scores 1 when
   * predicted perfectly, else 0, instead of NaN / −∞.
   */
  forceFinite?: boolean;
}

/**
 * R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² per output column, averaged uniformly over the outputs
 * (sklearn `r2_score(..., multioutput="uniform_average")`, which is what `Ridge.score` and
 * `KernelRidge.score` return).
 *
 * @param yTrue targets, row-major [n, outputs]
 * @param yPred predictions, same shape
 * @param outputs number of output columns (1 for a vector)
 * @returns NaN when n < 2 (sklearn warns and returns NaN)
 */
export function r2Score(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  outputs = 1,
  options: R2Options = {},
): number {
  checkSameLength(yTrue, yPred, "r2Score");
  if (!Number.isInteger(outputs) || outputs < 1 || yTrue.length % outputs !== 0) {
    throw new RangeError(`r2Score: ${yTrue.length} values do not split into ${outputs} outputs`);
  }
  const n = yTrue.length / outputs;
  if (n < 2) return NaN;
  const forceFinite = options.forceFinite ?? true;
  const mean = new Float64Array(outputs);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < outputs; j++) mean[j] += yTrue[i * outputs + j];
  }
  for (let j = 0; j < outputs; j++) mean[j] /= n;
  const num = new Float64Array(outputs);
  const den = new Float64Array(outputs);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < outputs; j++) {
      const t = yTrue[i * outputs + j];
      const e = t - yPred[i * outputs + j];
      const c = t - mean[j];
      num[j] += e * e;
      den[j] += c * c;
    }
  }
  let total = 0;
  for (let j = 0; j < outputs; j++) {
    if (den[j] !== 0) total += 1 - num[j] / den[j];
    else if (forceFinite) total += num[j] === 0 ? 1 : 0;
    else total += num[j] === 0 ? NaN : -Infinity;
  }
  return total / outputs;
}

/** Mean squared error averaged over all samples and outputs (sklearn's uniform average). */
export function meanSquaredError(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkSameLength(yTrue, yPred, "meanSquaredError");
  if (yTrue.length === 0) throw new RangeError("meanSquaredError: no samples");
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const e = yTrue[i] - yPred[i];
    s += e * e;
  }
  return s / yTrue.length;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) {
    throw new RangeError(`${what}: y_true has ${a.length} values, y_pred ${b.length}`);
  }
}
