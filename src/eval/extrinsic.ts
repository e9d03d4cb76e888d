/**
 * "Extrinsic" invariance on Causal3DIdent (docs/causal3dident.md): how well an RBF kernel ridge regression on
 * standardised features predicts one latent factor, scored by test R².
 *
 * Model selection (docs/causal3dident.md#model-selection): the pipeline StandardScaler → KernelRidge(rbf, α, γ) over
 * α ∈ {1, 0.1, 0.01, 0.001, 0.0001} (outer) × γ ∈ {1e-5 … 100} (inner), K-fold CV mean R², the
 * first strict improvement wins; then a refit on all training samples and R² on the test samples.
 *
 * Folds. The original draws a fresh unseeded shuffle for every (α, γ) (docs/quirks.md#q28). With
 * `refoldPerCandidate` we do the same from a seeded generator (reproducible, but the same
 * statistical behaviour); by default the folds are drawn once and shared by all 40 candidates, as
 * a grid search normally does, which also lets each fold's scaled data and squared distances be
 * computed once (5 Grams instead of 200), each candidate only re-exponentiating and re-solving
 * (`kernelRidgeFoldScores` in src/linalg/kernel_ridge.ts).
 *
 * @module
 */
import { type Fold, KFold, type Shuffler, takeRows } from "../linalg/kfold.ts";
import type { Matrix } from "../linalg/dense.ts";
import {
  cpuGram,
  type GramFn,
  KernelRidge,
  kernelRidgeFoldScores,
} from "../linalg/kernel_ridge.ts";
import { r2Score } from "../linalg/metrics.ts";
import { StandardScaler } from "../linalg/standard_scaler.ts";
import { Progress } from "../util/progress.ts";

/** `np.logspace(0, -4, 5)`, bit-exact (numpy's values are one ulp off some powers of ten). */
export const KRR_ALPHAS: readonly number[] = [
  1,
  0.09999999999999999,
  0.01,
  0.001,
  9.999999999999999e-5,
];
/** `np.logspace(-5, 2, 8)`, bit-exact. */
export const KRR_GAMMAS: readonly number[] = [
  9.999999999999999e-6,
  9.999999999999999e-5,
  0.001,
  0.01,
  0.09999999999999999,
  1,
  10,
  100,
];

/**
 * Samples the original draws from a split (docs/causal3dident.md#sampling): `int(4096·c / batch)` batches with c = 5
 * (train) or 10 (test), at most 100 with `--quick`, capped by the split size.
 */
export function causalSampleCount(
  split: "train" | "test",
  batchSize: number,
  available: number,
  quick = false,
): number {
  let batches = Math.trunc((4096 * (split === "train" ? 5 : 10)) / batchSize);
  if (quick) batches = Math.min(batches, 100);
  return Math.min(batches * batchSize, available);
}

/** A regression data set: features [n, d] and targets [n, t]. */
export interface RegressionData {
  /** Features [n, d], float64. */
  x: Matrix;
  /** Targets [n, t] (latent values), float64. */
  y: Matrix;
}

/** Options of {@link kernelRidgeGridSearch}. */
export interface KernelRidgeSearchOptions {
  /** Number of CV folds (`--cv-folds`). */
  folds: number;
  /** Source of the fold shuffles. */
  shuffler: number | Shuffler;
  /** Re-draw the folds for every candidate (the original's behaviour). Default false. */
  refoldPerCandidate?: boolean;
  /** Ridge penalties α to search (default `KRR_ALPHAS`: the original's 1 … 1e-4). */
  alphas?: readonly number[];
  /** RBF widths γ of k(x, x') = exp(−γ‖x − x'‖²) to search (default `KRR_GAMMAS`). */
  gammas?: readonly number[];
  /** Gram provider (default CPU float64). */
  gramFn?: GramFn;
  /** Progress label (default "kernel ridge CV"); false silences it. */
  progress?: string | false;
}

/** Result of {@link kernelRidgeGridSearch}. */
export interface KernelRidgeSearchResult {
  /** The α of the best (α, γ) pair. */
  alpha: number;
  /** The γ of the best (α, γ) pair. */
  gamma: number;
  /** Best mean CV R². */
  score: number;
  /** [alphas × gammas] mean CV R², α-major. */
  scores: number[][];
}

function scaledFold(x: Matrix, y: Matrix, fold: Fold) {
  const xTr = {
    rows: fold.train.length,
    cols: x.cols,
    data: takeRows(x.data as Float64Array, x.cols, fold.train),
  };
  const xTe = {
    rows: fold.test.length,
    cols: x.cols,
    data: takeRows(x.data as Float64Array, x.cols, fold.test),
  };
  const scaler = StandardScaler.fit(xTr);
  return {
    xTr: scaler.transform(xTr),
    xTe: scaler.transform(xTe),
    yTr: {
      rows: fold.train.length,
      cols: y.cols,
      data: takeRows(y.data as Float64Array, y.cols, fold.train),
    },
    yTe: {
      rows: fold.test.length,
      cols: y.cols,
      data: takeRows(y.data as Float64Array, y.cols, fold.test),
    },
  };
}

function asF64(m: Matrix): Matrix {
  return m.data instanceof Float64Array
    ? m
    : { rows: m.rows, cols: m.cols, data: Float64Array.from(m.data) };
}

/** Fits scaler + kernel ridge on (xTr, yTr) and returns R² on (xTe, yTe). */
export async function kernelRidgeScore(
  train: RegressionData,
  test: RegressionData,
  alpha: number,
  gamma: number,
  gramFn: GramFn = cpuGram,
): Promise<number> {
  const scaler = StandardScaler.fit(train.x);
  const model = new KernelRidge({ alpha, gamma, gramFn });
  await model.fitAsync(scaler.transform(train.x), train.y);
  const pred = await model.predictAsync(scaler.transform(test.x));
  return r2Score(test.y.data, pred.data, test.y.cols);
}

/** The (α, γ) grid search of docs/causal3dident.md#model-selection. */
export async function kernelRidgeGridSearch(
  data: RegressionData,
  options: KernelRidgeSearchOptions,
): Promise<KernelRidgeSearchResult> {
  const alphas = options.alphas ?? KRR_ALPHAS;
  const gammas = options.gammas ?? KRR_GAMMAS;
  const gramFn = options.gramFn ?? cpuGram;
  const x = asF64(data.x), y = asF64(data.y);
  const kfold = new KFold(options.folds, { shuffle: true, random: options.shuffler });
  const total = alphas.length * gammas.length * options.folds;
  const progress = options.progress === false
    ? undefined
    : new Progress(options.progress ?? "kernel ridge CV", total, { unit: "fits" });
  const scores = alphas.map(() => gammas.map(() => NaN));
  if (options.refoldPerCandidate) {
    for (let ai = 0; ai < alphas.length; ai++) {
      for (let gi = 0; gi < gammas.length; gi++) {
        let s = 0;
        for (const fold of kfold.split(x.rows)) {
          const f = scaledFold(x, y, fold);
          const model = new KernelRidge({ alpha: alphas[ai], gamma: gammas[gi], gramFn });
          await model.fitAsync(f.xTr, f.yTr);
          const pred = await model.predictAsync(f.xTe);
          s += r2Score(f.yTe.data, pred.data, y.cols);
          progress?.advance(1, `α=${alphas[ai]} γ=${gammas[gi]}`);
        }
        scores[ai][gi] = s / options.folds;
      }
    }
  } else {
    const sums = alphas.map(() => gammas.map(() => 0));
    for (const fold of kfold.split(x.rows)) {
      const f = scaledFold(x, y, fold);
      // Distances once per fold, shared by all (α, γ), and the kernel once per γ (kernel_ridge.ts).
      const foldScores = await kernelRidgeFoldScores(f.xTr, f.yTr, f.xTe, f.yTe, {
        alphas,
        gammas,
        gramFn: options.gramFn,
        onFit: (a, g) => progress?.advance(1, `α=${a} γ=${g}`),
      });
      for (let ai = 0; ai < alphas.length; ai++) {
        for (let gi = 0; gi < gammas.length; gi++) sums[ai][gi] += foldScores[ai][gi];
      }
    }
    for (let ai = 0; ai < alphas.length; ai++) {
      for (let gi = 0; gi < gammas.length; gi++) scores[ai][gi] = sums[ai][gi] / options.folds;
    }
  }
  progress?.done();
  let best = { alpha: alphas[0], gamma: gammas[0], score: -Infinity };
  for (let ai = 0; ai < alphas.length; ai++) {
    for (let gi = 0; gi < gammas.length; gi++) {
      // Strict improvement only: ties keep the earlier candidate (NaN never wins).
      if (scores[ai][gi] > best.score) {
        best = { alpha: alphas[ai], gamma: gammas[gi], score: scores[ai][gi] };
      }
    }
  }
  return { ...best, scores };
}

/** Result of {@link extrinsicEvaluation}. */
export interface ExtrinsicResult extends KernelRidgeSearchResult {
  /** Test R² of the refitted pipeline. */
  r2: number;
}

/**
 * Grid search on `train`, refit on all of it, R² on `test` (docs/causal3dident.md#model-selection).
 *
 * @example
 * ```ts
 * const r = await extrinsicEvaluation(
 *   { x: trainFeatures, y: trainLatent }, { x: testFeatures, y: testLatent },
 *   { folds: 5, shuffler: new Rng(0) },
 * );
 * console.log(r.r2, r.alpha, r.gamma);
 * ```
 */
export async function extrinsicEvaluation(
  train: RegressionData,
  test: RegressionData,
  options: KernelRidgeSearchOptions,
): Promise<ExtrinsicResult> {
  const search = await kernelRidgeGridSearch(train, options);
  const r2 = await kernelRidgeScore(
    { x: asF64(train.x), y: asF64(train.y) },
    { x: asF64(test.x), y: asF64(test.y) },
    search.alpha,
    search.gamma,
    options.gramFn,
  );
  return { ...search, r2 };
}
