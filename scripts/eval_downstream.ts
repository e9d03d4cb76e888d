/**
 * `deno task eval:downstream`: linear transfer evaluation (docs/downstream.md, docs/downstream.md#flags), the TypeScript
 * port of `eval_downstream.py`.
 *
 * Features of the (possibly fused, `--model a+b+c --fuse-mode cat|add|mean`) model over trainval
 * and test are extracted once and cached by content (weights, layer, dataset, preprocessing,
 * subset), so re-running or changing the grid never re-runs the network. A logistic
 * (classification) or ridge (landmarks, joints) probe is selected over the 45-point wd grid of
 * §6.3 by K-fold CV (progress: fits done/total, ETA), refitted on trainval and scored on test.
 * Prints `"{model} on {dataset}: {score:.2f}"` and writes `{results-dir}/{model}_{dataset}.pth`
 * (a float) plus a JSON record + CSV row under `<results-dir>/downstream/`.
 *
 * Randomness: the original's loader and fold shuffles are unseeded; ours come from `--seed`.
 * `--faithful` re-draws the folds for every wd (as the original), scores Flowers with plain
 * accuracy and truncates CelebA landmarks (docs/quirks.md#q30, docs/quirks.md#q33, docs/quirks.md#q35).
 *
 * @module
 */
import { join } from "node:path";
import { type BadImagePolicy, parseBadImagePolicy } from "../src/data/bad_images.ts";
import { DOWNSTREAM_KEYS, isDownstreamKey, loadDownstream } from "../src/data/downstream.ts";
import { loadCustomDownstream, parseCustomDataset } from "../src/data/custom.ts";
import { saveDatasetFeatures } from "../src/eval/save_features.ts";
import type { SupervisedDataset } from "../src/data/dataset.ts";
import type { Gpu } from "../src/gpu/device.ts";
import type { FeatureExtractor } from "../src/models/feature_extractor.ts";
import { type CachedFeatures, FeatureCache } from "../src/eval/feature_cache.ts";
import { cachedSplitFeatures, shuffledPrefix } from "../src/eval/split_features.ts";
import {
  downstreamEvaluation,
  type ProbeData,
  regularisationGrid,
} from "../src/eval/downstream.ts";
import {
  cacheDir,
  ckptDirFlag,
  cleanDir,
  closeEval,
  DATA_ROOT_FLAG,
  DEVICE_FLAG,
  FEATURE_LAYER_FLAG,
  FUSE_MODE_FLAG,
  openEvalModel,
  parseEvalCli,
  recordRun,
  sizeFlags,
} from "../src/eval/cli_common.ts";
import { writeTorchOutput } from "../src/io/results.ts";
import { UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";
import { Rng } from "../src/util/rng.ts";

/** `--quick` keeps this many batches per split (docs/downstream.md#features). */
const QUICK_BATCHES = 100;

async function splitFeatures(
  gpu: Gpu,
  model: FeatureExtractor,
  ds: SupervisedDataset,
  split: string,
  o: {
    batchSize: number;
    quick: boolean;
    seed: number;
    preprocessing: { resize: number; cropSize: number };
    cache: FeatureCache;
    onBadImage: BadImagePolicy;
  },
): Promise<
  { data: ProbeData; cached: boolean; rows: number; dim: number; entry: CachedFeatures }
> {
  const quickCount = QUICK_BATCHES * o.batchSize;
  const order = o.quick && ds.length > quickCount
    ? shuffledPrefix(ds.length, quickCount, o.seed + (split === "test" ? 1 : 0))
    : undefined;
  const { entry, cached } = await cachedSplitFeatures(gpu, model, ds, {
    split,
    subset: order ? { split, quick: order.length, seed: o.seed } : { split },
    indices: order,
    batchSize: o.batchSize,
    preprocessing: o.preprocessing,
    cache: o.cache,
    onBadImage: o.onBadImage,
  });
  const t = ds.targetDim;
  const y = new Float64Array(entry.rows * t);
  for (let i = 0; i < entry.rows; i++) {
    const idx = entry.indices[i];
    for (let j = 0; j < t; j++) y[i * t + j] = ds.targets[idx * t + j];
  }
  return {
    data: {
      x: { rows: entry.rows, cols: entry.dim, data: Float64Array.from(entry.features) },
      y,
      targetDim: t,
    },
    cached,
    rows: entry.rows,
    dim: entry.dim,
    entry,
  };
}

await runMain("eval_downstream", async () => {
  const { flags, startedAt, timings } = parseEvalCli(Deno.args, {
    name: "deno task eval:downstream",
    summary: "Linear evaluation (logistic or ridge probe, CV over the regularisation grid) of a " +
      `model's features on ${DOWNSTREAM_KEYS.join(", ")}.`,
    flags: {
      model: { type: "string", default: "default", help: "checkpoint name; a+b+c fuses" },
      "fuse-mode": FUSE_MODE_FLAG,
      dataset: {
        type: "string",
        default: "cifar10",
        listed: [...DOWNSTREAM_KEYS, "folder:PATH"],
        help: "dataset (lower-cased), or folder:PATH for your own ImageFolder or CSV " +
          "(docs/downstream.md#your-own-dataset)",
      },
      "cv-folds": { type: "int", default: 5, help: "CV folds" },
      device: DEVICE_FLAG,
      "feature-layer": FEATURE_LAYER_FLAG,
      "batch-size": { type: "int", default: 64, help: "forward batch" },
      ...sizeFlags(224),
      "ckpt-dir": ckptDirFlag("./models/"),
      "results-dir": { type: "string", default: "./results", help: "results folder" },
      "data-root": DATA_ROOT_FLAG,
      quick: { type: "boolean", help: `at most ${QUICK_BATCHES} batches per split` },
      "save-features": {
        type: "string",
        help: "also write the features used as .npy files to DIR/trainval and DIR/test " +
          "(docs/outputs.md#saved-features)",
      },
      "cold-start": {
        type: "boolean",
        help: "start every logistic fit from zero (the original warm-starts across folds and wd)",
      },
    },
  });
  if (!(flags["cv-folds"] >= 2)) throw new UsageError("--cv-folds: must be ≥ 2");
  const custom = parseCustomDataset(flags.dataset);
  if (custom?.kind === "groups") {
    throw new UsageError("--dataset groups:PATH is for eval:realworld; here use folder:PATH");
  }
  const key = custom ? custom.name : flags.dataset.toLowerCase();
  if (!custom && !isDownstreamKey(key)) {
    throw new UsageError(
      `--dataset: unknown dataset '${flags.dataset}'; expected one of ${
        DOWNSTREAM_KEYS.join(", ")
      }`,
    );
  }
  const resultsDir = cleanDir(flags["results-dir"]);
  const task = custom ? await loadCustomDownstream(custom) : await loadDownstream(
    key as Parameters<typeof loadDownstream>[0],
    flags["data-root"],
    { faithful: flags.faithful, size: flags["crop-size"] },
  );
  timings.mark("list");
  const { gpu, model } = await openEvalModel(flags, timings, flags["fuse-mode"]);
  const run = { script: "downstream", resultsDir, startedAt, model, gpu, timings };
  const cache = new FeatureCache(cacheDir(flags["cache-dir"], resultsDir));
  const common = {
    batchSize: flags["batch-size"],
    quick: flags.quick ?? false,
    seed: flags.seed,
    preprocessing: { resize: flags.resize, cropSize: flags["crop-size"] },
    cache,
    onBadImage: parseBadImagePolicy(flags["on-bad-image"], "--on-bad-image"),
  };
  const trainval = await splitFeatures(gpu, model, task.trainval, "trainval", common);
  const test = await splitFeatures(gpu, model, task.test, "test", common);
  timings.mark("features");
  const saveDir = flags["save-features"];
  if (saveDir) {
    const meta = {
      model: flags.model,
      feature_layer: flags["feature-layer"],
      preprocessing: common.preprocessing,
    };
    for (
      const [split, ds, f] of [["trainval", task.trainval, trainval], [
        "test",
        task.test,
        test,
      ]] as const
    ) {
      await saveDatasetFeatures(join(saveDir, split), ds, f.entry, { ...meta, split });
    }
    console.error(`features saved to ${saveDir}/{trainval,test}/`);
  }
  if (trainval.rows < flags["cv-folds"]) {
    throw new UsageError(
      `--cv-folds ${flags["cv-folds"]}: trainval has only ${trainval.rows} images`,
    );
  }
  const grid = regularisationGrid(flags.model);
  const r = downstreamEvaluation(trainval.data, test.data, {
    probe: task.probe,
    metric: task.metric,
    folds: flags["cv-folds"],
    shuffler: new Rng(flags.seed + 2),
    grid: [...grid],
    refoldPerCandidate: flags.faithful,
    warmStart: !flags["cold-start"],
    progress: `grid ${key}`,
  });
  timings.mark("probe");
  console.log(`${flags.model} on ${custom ? flags.dataset : key}: ${r.testScore.toFixed(2)}`);
  await writeTorchOutput(join(resultsDir, `${flags.model}_${key}.pth`), r.testScore);
  await recordRun({
    ...run,
    args: { ...flags },
    arrays: { cv_scores: r.cvScores, wd_grid: r.grid },
    summary: {
      dataset: key,
      probe: task.probe,
      metric: task.metric,
      score: r.testScore,
      wd: r.wd,
      C: r.C,
      feature_dim: trainval.dim,
      trainval: trainval.rows,
      test: test.rows,
    },
    details: {
      features_cached: { trainval: trainval.cached, test: test.cached },
      cache: cache.stats,
      fuse_mode: flags["fuse-mode"],
      faithful: flags.faithful,
    },
  });
  closeEval(gpu, model);
}, { onBadImage: "--on-bad-image", fuseMode: "--fuse-mode" });
