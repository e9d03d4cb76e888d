/**
 * Downstream linear evaluation (docs/downstream.md): a logistic (classification) or ridge (regression) probe
 * on frozen features, its regularisation chosen by K-fold CV over a 45-point grid, then refitted
 * on trainval and scored on test.
 *
 * - Grid (§6.3): wd = float32 logspace(−6 + 2c, 5 + 2c, 45), c = 2 if the model string contains
 *   `w3`, else the number of `+`; C = 1/wd. Logistic uses C; ridge uses α = C = 1/wd (the
 *   original's inversion, §9 item 31, kept because it defines the published numbers).
 * - Logistic (§6.4): multinomial L-BFGS, at most 100 iterations, warm-started from the previous
 *   fit across folds and wd values in visiting order (§9 item 32), unless `warmStart` is false.
 * - CV (§6.5): the mean fold score per wd; the first strict improvement wins. Folds come from a
 *   seeded generator, drawn once (default) or re-drawn per wd like the original
 *   (`refoldPerCandidate`).
 *
 * @module
 */
import type { DownstreamMetric, DownstreamProbe } from "../data/downstream.ts";
import { KFold, type Shuffler, takeRows } from "../linalg/kfold.ts";
import type { Matrix } from "../linalg/dense.ts";
import { LogisticRegression } from "../linalg/logistic.ts";
import { accuracy, meanPerClassAccuracy, r2Score } from "../linalg/metrics.ts";
import { Ridge } from "../linalg/ridge.ts";
import { Progress } from "../util/progress.ts";
import { DataError } from "../util/errors.ts";

/** The grid shift c of docs/downstream.md#regularisation-grid for a `--model` string. */
export function gridShift(model: string): number {
  if (model.includes("w3")) return 2;
  return model.split("+").length - 1;
}

/** `torch.logspace(start, end, steps)` in float32 (values widened to doubles). */
export function logspaceF32(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  const step = Math.fround((end - start) / (steps - 1));
  for (let i = 0; i < steps; i++) {
    const e = i < steps / 2
      ? Math.fround(start + step * i)
      : Math.fround(end - step * (steps - 1 - i));
    out[i] = Math.fround(10 ** e);
  }
  return out;
}

/** The wd grid of docs/downstream.md#regularisation-grid (45 values, float32). */
export function regularisationGrid(model: string, steps = 45): Float64Array {
  const c = gridShift(model);
  return logspaceF32(-6 + 2 * c, 5 + 2 * c, steps);
}

/** Features and targets of one split. `y` is [rows, targetDim] (class index when targetDim 1). */
export interface ProbeData {
  /** Features [rows, dim], float64. */
  x: Matrix;
  /**
   * Targets, row-major [rows, targetDim]: class indices (as floats) for logistic, values for ridge.
   */
  y: Float64Array;
  /** Targets per row: 1 for classification, the number of regressed values otherwise. */
  targetDim: number;
}

/** Options of {@link downstreamEvaluation}. */
export interface DownstreamEvalOptions {
  /** `logistic` (multinomial, C = 1/wd) or `ridge` (α = 1/wd, the original's inversion). */
  probe: DownstreamProbe;
  /** How predictions on a fold or on the test split are scored. */
  metric: DownstreamMetric;
  /** `--cv-folds`. */
  folds: number;
  /**
   * Seed of the fold shuffles (numpy's legacy generator, as the original) or a shuffler of one's
   * own.
   */
  shuffler: number | Shuffler;
  /** wd values in visiting order (default: the grid for model string "default"). */
  grid?: readonly number[];
  /** Re-draw folds for each wd (the original). Default false. */
  refoldPerCandidate?: boolean;
  /** Warm-start logistic fits (default true, as the original). */
  warmStart?: boolean;
  /** Logistic iteration limit (default 100). */
  maxIter?: number;
  /** Progress label (default "grid"); false silences it. */
  progress?: string | false;
}

/** Result of {@link downstreamEvaluation}. */
export interface DownstreamResult {
  /** The chosen wd and its C = 1/wd. */
  wd: number;
  /** Inverse regularisation strength of the chosen candidate, 1/wd. */
  C: number;
  /** Mean CV score per wd, in grid order. */
  cvScores: number[];
  /** Score on the test split. */
  testScore: number;
  /** Grid visited. */
  grid: number[];
}

/** The rows `idx` of a probe's data (features and targets). */
export function subsetProbeData(d: ProbeData, idx: Int32Array): ProbeData {
  return {
    x: {
      rows: idx.length,
      cols: d.x.cols,
      data: takeRows(d.x.data as Float64Array, d.x.cols, idx),
    },
    y: takeRows(d.y, d.targetDim, idx),
    targetDim: d.targetDim,
  };
}

/** Scores predictions with the dataset's metric. */
export function scoreWith(
  metric: DownstreamMetric,
  y: Float64Array,
  pred: ArrayLike<number>,
  targetDim: number,
): number {
  if (metric === "accuracy") return accuracy(y, pred);
  if (metric === "mean_per_class_accuracy") return meanPerClassAccuracy(y, pred);
  return r2Score(y, pred, targetDim);
}

/** A probe that keeps its state (warm start) across fits. */
class ProbeRunner {
  #logistic: LogisticRegression | undefined;
  constructor(readonly options: DownstreamEvalOptions) {}

  fitScore(train: ProbeData, test: ProbeData, wd: number): number {
    const C = 1 / wd;
    if (this.options.probe === "ridge") {
      const model = new Ridge({ alpha: C });
      model.fit(train.x, { rows: train.x.rows, cols: train.targetDim, data: train.y });
      const t = train.targetDim;
      const pred = model.predict(test.x).data;
      return scoreWith(this.options.metric, test.y, pred, t);
    }
    const warm = this.options.warmStart ?? true;
    let model = this.#logistic;
    if (!model || !warm) {
      model = new LogisticRegression({ C, warmStart: warm, maxIter: this.options.maxIter ?? 100 });
    }
    model.C = C;
    try {
      model.fit(train.x, train.y);
    } catch (error) {
      // A fold missing a class changes the coefficient shape: the original raises here (§9 item
      // 38); we restart that fit from zero instead.
      if (!(error instanceof RangeError) || !/warm start/.test(error.message)) throw error;
      model = new LogisticRegression({ C, warmStart: warm, maxIter: this.options.maxIter ?? 100 });
      model.fit(train.x, train.y);
    }
    this.#logistic = model;
    return scoreWith(this.options.metric, test.y, model.predict(test.x), 1);
  }
}

/**
 * CV over the grid, refit with the best wd on trainval, score on test (docs/downstream.md#cv-and-score).
 *
 * @example
 * ```ts
 * const r = downstreamEvaluation(trainval, test, {
 *   probe: "logistic", metric: "accuracy", folds: 5, shuffler: new Rng(0),
 *   grid: [...regularisationGrid("default+ventral")],
 * });
 * console.log(r.testScore.toFixed(2), r.wd);
 * ```
 */
export function downstreamEvaluation(
  trainval: ProbeData,
  test: ProbeData,
  options: DownstreamEvalOptions,
): DownstreamResult {
  if (options.probe === "logistic") {
    // sklearn: "This solver needs samples of at least 2 classes in the data, but the data
    // contains only one class".
    const classes = new Set(trainval.y);
    if (classes.size < 2) {
      throw new DataError(
        `the training data has ${
          classes.size === 0 ? "no samples" : `a single class (${[...classes][0]})`
        }; a logistic probe needs samples of at least 2 classes`,
      );
    }
  }
  const grid = [...(options.grid ?? regularisationGrid("default"))];
  const kfold = new KFold(options.folds, { shuffle: true, random: options.shuffler });
  const runner = new ProbeRunner(options);
  const progress = options.progress === false
    ? undefined
    : new Progress(options.progress ?? "grid", grid.length * options.folds, { unit: "fits" });
  const cvScores: number[] = [];
  let folds = kfold.split(trainval.x.rows);
  let best = { wd: grid[0], score: -Infinity };
  for (const wd of grid) {
    if (options.refoldPerCandidate && cvScores.length > 0) folds = kfold.split(trainval.x.rows);
    let s = 0;
    for (const fold of folds) {
      s += runner.fitScore(
        subsetProbeData(trainval, fold.train),
        subsetProbeData(trainval, fold.test),
        wd,
      );
      progress?.advance(1, `wd=${wd.toExponential(2)}`);
    }
    const score = s / folds.length;
    cvScores.push(score);
    if (score > best.score) best = { wd, score };
  }
  progress?.done();
  const testScore = runner.fitScore(trainval, test, best.wd);
  return { wd: best.wd, C: 1 / best.wd, cvScores, testScore, grid };
}
