/**
 * Everything the demo measures for one model on the built-in world, with the same library
 * functions the entry scripts use: feature statistics, synthetic invariance for all 18
 * transforms, the three real-world-style groups, latent regression (kernel ridge, Causal3DIdent
 * protocol) and the two downstream probes (class: logistic; keypoints: ridge).
 *
 * @module
 */
import { loadCausal3DIdent } from "../data/causal3dident.ts";
import type { GroupedDataset, SupervisedDataset } from "../data/dataset.ts";
import { imageFolder, type ImageFolderDataset } from "../data/image_folder.ts";
import { loadRealWorld, type RealWorldKey } from "../data/realworld.ts";
import { LATENT_NAMES } from "../world/world_render.ts";
import { worldKeypoints } from "../world/world.ts";
import {
  downstreamEvaluation,
  type ProbeData,
  regularisationGrid,
  scoreWith,
  subsetProbeData,
} from "../eval/downstream.ts";
import { extrinsicEvaluation, kernelRidgeScore } from "../eval/extrinsic.ts";
import { FeatureCache } from "../eval/feature_cache.ts";
import { cachedSplitFeatures } from "../eval/split_features.ts";
import { extractFeatures } from "../eval/features.ts";
import { gpuGram } from "../eval/gpu_gram.ts";
import { realworldInvariance } from "../eval/realworld_invariance.ts";
import { cachedStatistics } from "../eval/statistics.ts";
import { sampleImageIndices, syntheticInvariance } from "../eval/synthetic_invariance.ts";
import { Whitener } from "../eval/whitening.ts";
import type { Gpu } from "../gpu/device.ts";
import { KFold } from "../linalg/kfold.ts";
import { LogisticRegression } from "../linalg/logistic.ts";
import { Ridge } from "../linalg/ridge.ts";
import type { FeatureExtractor } from "../models/feature_extractor.ts";
import { syntheticViewsOnGpu } from "../transforms/functional.ts";
import { SYNTHETIC_FAMILIES, syntheticGrid } from "../transforms/synthetic_grid.ts";
import type { Progress } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import type { DemoSizes } from "./config.ts";

/** The real-world-style group sets the demo exports and evaluates. */
export const DEMO_GROUPS: readonly { key: RealWorldKey; label: string }[] = [
  { key: "COIL100", label: "viewpoint" },
  { key: "ALOI-illumination", label: "spotlight position" },
  { key: "ALOI-temperature", label: "spotlight hue" },
];

/** The numbers the demo keeps for one model. */
export interface DemoModelResult {
  label: string;
  name: string;
  dim: number;
  /** Reference model (baseline) rather than one of the evaluated policies. */
  reference?: boolean;
  /**
   * Per transform: summary similarity/distance, the per-k curves, and per sampled image the
   * mean over its k views (the units of the bootstrap intervals; image i is the same image for
   * every transform and every model).
   */
  synthetic: Record<
    string,
    {
      similarity: number;
      distance: number;
      k: number;
      curve: { similarity: number[]; distance: number[] };
      perImage?: { similarity: (number | null)[]; distance: (number | null)[] };
    }
  >;
  /** Per group set: summary similarity/distance, the number of groups and per-group values. */
  realworld: Record<
    string,
    {
      similarity: number;
      distance: number;
      groups: number;
      perGroup?: { similarity: (number | null)[]; distance: (number | null)[] };
    }
  >;
  /**
   * Per latent: test R² of the kernel ridge probe, the chosen hyper-parameters, and the R² of
   * each CV fold at those hyper-parameters (the probe's spread).
   */
  extrinsic: Record<string, { r2: number; alpha: number; gamma: number; folds?: number[] }>;
  /** Per downstream task: test score, chosen wd and each CV fold's score at that wd. */
  downstream: Record<string, { score: number; metric: string; wd: number; folds?: number[] }>;
  seconds: Record<string, number>;
}

/** The parts {@link evaluateDemoModel} reports to its progress, in order. */
export const DEMO_PARTS: readonly string[] = [
  "statistics",
  "synthetic",
  "realworld",
  "extrinsic",
  "downstream",
];

/** The demo's datasets, read once and shared by every model's evaluation. */
export interface DemoData {
  /** The world ImageFolder's `train` split: the statistics stream, synthetic images, class probe. */
  stream: ImageFolderDataset;
  /** Its `val` split: the class probe's test set. */
  val: ImageFolderDataset;
  /** The real-world-style group sets, in {@link DEMO_GROUPS} order. */
  groups: GroupedDataset[];
  /** The Causal3DIdent-style latent regression splits. */
  causalTrain: SupervisedDataset;
  causalTest: SupervisedDataset;
  /** The keypoint regression splits (rendered in memory). */
  keypointsTrain: SupervisedDataset;
  keypointsTest: SupervisedDataset;
}

/** Reads the demo world under `world` (written by `prepareDemoWorld`) with the real loaders. */
export async function loadDemoData(gpu: Gpu, world: string, sizes: DemoSizes): Promise<DemoData> {
  const groups: GroupedDataset[] = [];
  for (const { key } of DEMO_GROUPS) groups.push(await loadRealWorld(key, world));
  const keypoints = { seed: 0, resolution: 64, perClass: sizes.perClass / 3 | 0 };
  return {
    stream: await imageFolder(`${world}/train`, { name: "world-train" }),
    val: await imageFolder(`${world}/val`, { name: "world-val" }),
    groups,
    causalTrain: await loadCausal3DIdent(world, "train"),
    causalTest: await loadCausal3DIdent(world, "test"),
    keypointsTrain: worldKeypoints(gpu, { ...keypoints, split: "train" }),
    keypointsTest: worldKeypoints(gpu, {
      ...keypoints,
      split: "test",
      perClass: sizes.testPerClass,
    }),
  };
}

async function probeData(
  gpu: Gpu,
  model: FeatureExtractor,
  ds: SupervisedDataset,
  cache: FeatureCache,
  preprocessing: { resize: number; cropSize: number },
  split: string,
): Promise<ProbeData> {
  const { entry } = await cachedSplitFeatures(gpu, model, ds, {
    split,
    subset: { split },
    batchSize: 128,
    preprocessing,
    cache,
    onBadImage: "fail",
  });
  const t = ds.targetDim;
  const y = new Float64Array(entry.rows * t);
  for (let i = 0; i < entry.rows; i++) {
    for (let j = 0; j < t; j++) y[i * t + j] = ds.targets[entry.indices[i] * t + j];
  }
  return {
    x: { rows: entry.rows, cols: entry.dim, data: Float64Array.from(entry.features) },
    y,
    targetDim: t,
  };
}

/** Row means of `m` [rows, cols] over its finite entries (null when a row has none). */
export function rowMeans(m: ArrayLike<number>, rows: number, cols: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let r = 0; r < rows; r++) {
    let s = 0, n = 0;
    for (let c = 0; c < cols; c++) {
      const v = m[r * cols + c];
      if (Number.isFinite(v)) {
        s += v;
        n++;
      }
    }
    out.push(n > 0 ? s / n : null);
  }
  return out;
}

function finiteOrNull(xs: ArrayLike<number>): (number | null)[] {
  return Array.from(xs, (v) => (Number.isFinite(v) ? v : null));
}

/**
 * Each CV fold's score at fixed hyper-parameters: the folds are the first split of a shuffled
 * K-fold seeded with `seed`, i.e. the same folds the hyper-parameter search used (and the same
 * for every model, so the fold scores of two models pair up).
 */
export async function foldScores(
  d: ProbeData,
  folds: number,
  seed: number,
  score: (train: ProbeData, test: ProbeData) => number | Promise<number>,
): Promise<number[]> {
  const out: number[] = [];
  for (const f of new KFold(folds, { shuffle: true, random: new Rng(seed) }).split(d.x.rows)) {
    out.push(await score(subsetProbeData(d, f.train), subsetProbeData(d, f.test)));
  }
  return out;
}

function column(d: ProbeData, j: number): Float64Array {
  const out = new Float64Array(d.x.rows);
  for (let i = 0; i < d.x.rows; i++) out[i] = d.y[i * d.targetDim + j];
  return out;
}

/**
 * Runs every demo evaluation for `model` (label = how the report names it). `log` receives one
 * line per finished part.
 */
export async function evaluateDemoModel(
  gpu: Gpu,
  model: FeatureExtractor,
  label: string,
  data: DemoData,
  resultsDir: string,
  sizes: DemoSizes,
  log: (line: string) => void,
  progress?: Progress,
): Promise<DemoModelResult> {
  const seconds: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    const t = performance.now();
    seconds[name] = Math.round(t - t0) / 1000;
    t0 = t;
    progress?.advance(1, `(${label}: ${name} done)`);
  };
  const full = { resize: sizes.cropSize, cropSize: sizes.cropSize };
  const views = { resize: sizes.resize, cropSize: sizes.cropSize };
  const cache = new FeatureCache(`${resultsDir}/cache/features`);

  // Feature statistics over the world stream (the role of ImageNet val in the paper).
  const stream = data.stream;
  const { stats } = await cachedStatistics({
    dir: `${resultsDir}/statistics`,
    modelName: model.name,
    featureLayer: model.featureLayer,
    parts: {
      model: model.contentKey,
      featureLayer: model.featureLayer,
      dataset: stream.contentKey,
      preprocessing: views,
    },
    log,
  }, () =>
    extractFeatures(gpu, model, stream, {
      batchSize: 128,
      preprocessing: views,
      progress: `${label} statistics`,
    }), gpu);
  const whitener = Whitener.fromCovariance(stats.mean, stats.cov, {
    jitter: 1e-6,
    what: `${label} statistics`,
  });
  lap("statistics");

  const synthetic: DemoModelResult["synthetic"] = {};
  const indices = sampleImageIndices(stream.length, sizes.numImages, 0);
  for (const family of SYNTHETIC_FAMILIES) {
    const fixed = ["h_flip", "v_flip", "grayscale", "invert", "equalize", "posterize"];
    const grid = syntheticGrid(
      family,
      fixed.includes(family) ? (family === "posterize" ? 7 : 2) : sizes.k,
      views,
    );
    const r = await syntheticInvariance(gpu, model, stream, {
      indices,
      views: (img, index) => syntheticViewsOnGpu(gpu, img, family, grid, { ...views, seed: index }),
      preprocessing: views,
      whitener,
      progress: false,
    });
    synthetic[family] = {
      similarity: r.summary.similarity,
      distance: r.summary.distance,
      k: r.k,
      curve: { similarity: Array.from(r.similarity), distance: Array.from(r.distance) },
      perImage: {
        similarity: rowMeans(r.similarityPerImage, r.images, r.k),
        distance: rowMeans(r.distancePerImage, r.images, r.k),
      },
    };
  }
  log(
    `${label}: synthetic invariance, ${SYNTHETIC_FAMILIES.length} transforms × ${indices.length} images`,
  );
  lap("synthetic");

  const realworld: DemoModelResult["realworld"] = {};
  for (const [g, { key }] of DEMO_GROUPS.entries()) {
    const groups = data.groups[g];
    const r = await realworldInvariance(gpu, model, groups, {
      preprocessing: full,
      whitener,
      progress: false,
    });
    realworld[key] = {
      similarity: r.summary.similarity,
      distance: r.summary.distance,
      groups: groups.groups.length,
      perGroup: { similarity: finiteOrNull(r.similarity), distance: finiteOrNull(r.distance) },
    };
  }
  log(`${label}: real-world-style groups`);
  lap("realworld");

  const xTrain = await probeData(gpu, model, data.causalTrain, cache, full, "causal-train");
  const xTest = await probeData(gpu, model, data.causalTest, cache, full, "causal-test");
  const extrinsic: DemoModelResult["extrinsic"] = {};
  // Small Gram matrices are cheaper on the CPU than a GPU round trip (≥ 11 ms per sync).
  const gram = xTrain.x.rows >= 2048 ? gpuGram(gpu) : undefined;
  for (let t = 0; t < LATENT_NAMES.length; t++) {
    const r = await extrinsicEvaluation(
      { x: xTrain.x, y: { rows: xTrain.x.rows, cols: 1, data: column(xTrain, t) } },
      { x: xTest.x, y: { rows: xTest.x.rows, cols: 1, data: column(xTest, t) } },
      { folds: sizes.folds, shuffler: new Rng(1000 + t), gramFn: gram, progress: false },
    );
    // The spread: each CV fold's R² at the chosen (α, γ), on the search's own folds.
    const train = { ...xTrain, y: column(xTrain, t), targetDim: 1 };
    const folds = await foldScores(train, sizes.folds, 1000 + t, (a, b) =>
      kernelRidgeScore(
        { x: a.x, y: { rows: a.x.rows, cols: 1, data: a.y } },
        { x: b.x, y: { rows: b.x.rows, cols: 1, data: b.y } },
        r.alpha,
        r.gamma,
        gram,
      ));
    extrinsic[LATENT_NAMES[t]] = { r2: r.r2, alpha: r.alpha, gamma: r.gamma, folds };
  }
  log(`${label}: latent regression (${LATENT_NAMES.length} latents)`);
  lap("extrinsic");

  const downstream: DemoModelResult["downstream"] = {};
  // The original shifts the grid by the number of fused models (docs/downstream.md#regularisation-grid).
  const grid = [...regularisationGrid(model.name)].filter((_, i) => i % sizes.gridStride === 0);
  const clsTrain = await probeData(gpu, model, stream, cache, full, "class-train");
  const cls = downstreamEvaluation(
    clsTrain,
    await probeData(gpu, model, data.val, cache, full, "class-test"),
    {
      probe: "logistic",
      metric: "accuracy",
      folds: sizes.folds,
      shuffler: new Rng(7),
      grid,
      progress: false,
    },
  );
  // The spread: each CV fold's score at the chosen wd (cold-started fits on the search's folds).
  const clsFolds = await foldScores(clsTrain, sizes.folds, 7, (a, b) => {
    const m = new LogisticRegression({ C: 1 / cls.wd, warmStart: false, maxIter: 100 });
    m.fit(a.x, a.y);
    return scoreWith("accuracy", b.y, m.predict(b.x), 1);
  });
  downstream["object class"] = {
    score: cls.testScore,
    metric: "accuracy",
    wd: cls.wd,
    folds: clsFolds,
  };
  const kpTrain = await probeData(gpu, model, data.keypointsTrain, cache, full, "keypoints-train");
  const kp = downstreamEvaluation(
    kpTrain,
    await probeData(gpu, model, data.keypointsTest, cache, full, "keypoints-test"),
    {
      probe: "ridge",
      metric: "r2",
      folds: sizes.folds,
      shuffler: new Rng(8),
      grid,
      progress: false,
    },
  );
  const kpFolds = await foldScores(kpTrain, sizes.folds, 8, (a, b) => {
    const m = new Ridge({ alpha: 1 / kp.wd });
    m.fit(a.x, { rows: a.x.rows, cols: a.targetDim, data: a.y });
    return scoreWith("r2", b.y, m.predict(b.x).data, a.targetDim);
  });
  downstream["keypoints"] = { score: kp.testScore, metric: "R²", wd: kp.wd, folds: kpFolds };
  log(`${label}: downstream probes`);
  lap("downstream");
  return {
    label,
    name: model.name,
    dim: model.dim,
    synthetic,
    realworld,
    extrinsic,
    downstream,
    seconds,
  };
}
