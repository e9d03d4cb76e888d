/**
 * `deno task eval:synthetic`: synthetic invariance (docs/synthetic.md, docs/synthetic.md#flags), the TypeScript port of
 * `eval_synthetic_invariance.py`.
 *
 * 1. Feature statistics of the model over `<data>/<split>` (Resize → CenterCrop), cached in
 *    `--results-dir` under the original's names and keyed by the checkpoint's content, so a
 *    changed model recomputes (`--faithful`: the original's name-only check at `results/`).
 * 2. `--num-images` images drawn as numpy's `seed(0); choice(n, size)`; for each, the k views of
 *    the transform family (§3.3) and the clean view, through the network together.
 * 3. Per view: whitened cosine similarity and Mahalanobis distance to the clean view, NaN-skipping
 *    means over images; prints `distance …` and `similarity …` like the original and writes
 *    `{model}_{layer}_{dataset}_{transform}_invariance_{distance,similarity}.pth` (float32 [k]) and a
 *    JSON record + CSV row under `<results-dir>/synthetic_invariance/`.
 *
 * `--all` runs every family in one process, reusing the loaded model and statistics.
 *
 * @module
 */
import { join } from "node:path";
import { parseBadImagePolicy } from "../src/data/bad_images.ts";
import { imageFolder } from "../src/data/image_folder.ts";
import {
  defaultK,
  isSyntheticFamily,
  SYNTHETIC_FAMILIES,
  type SyntheticFamily,
  syntheticGrid,
} from "../src/transforms/synthetic_grid.ts";
import { syntheticViewsOnGpu } from "../src/transforms/functional.ts";
import { extractFeatures } from "../src/eval/features.ts";
import { saveDatasetFeatures } from "../src/eval/save_features.ts";
import { cachedStatistics, type CovarianceEngine } from "../src/eval/statistics.ts";
import { sampleImageIndices, syntheticInvariance } from "../src/eval/synthetic_invariance.ts";
import {
  ckptDirFlag,
  cleanDir,
  closeEval,
  DEVICE_FLAG,
  evalWhitener,
  FEATURE_LAYER_FLAG,
  FUSE_MODE_FLAG,
  JITTER_FLAG,
  openEvalModel,
  parseEvalCli,
  recordRun,
  sizeFlags,
  WHITEN_FLAG,
} from "../src/eval/cli_common.ts";
import { writeTorchOutput } from "../src/io/results.ts";
import { UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

await runMain("eval_synthetic_invariance", async () => {
  const { flags, positionals, startedAt, timings } = parseEvalCli(Deno.args, {
    name: "deno task eval:synthetic",
    summary: "Invariance of a model's features to a parametric transform family " +
      `(${SYNTHETIC_FAMILIES.join(", ")}), whitened with the model's feature statistics.`,
    positionals: [{
      name: "data",
      help: "root containing <split>/ (e.g. ../data/imagenet)",
      required: true,
    }],
    flags: {
      dataset: { type: "string", default: "imagenet", help: "used in result file names" },
      split: { type: "string", default: "val", help: "sub-folder of data evaluated" },
      model: { type: "string", default: "default", help: "checkpoint name (A+B fuses)" },
      transform: {
        type: "string",
        default: "rotation",
        listed: SYNTHETIC_FAMILIES,
        help: "transform family",
      },
      all: { type: "boolean", help: "evaluate every transform family in one run" },
      "statistics-only": {
        type: "boolean",
        help: "only compute (or find) the feature statistics (a sweep's first job per model)",
      },
      device: DEVICE_FLAG,
      "feature-layer": FEATURE_LAYER_FLAG,
      "batch-size": { type: "int", default: 256, help: "forward batch of the statistics pass" },
      "view-batch": { type: "int", help: "forward batch of the views (default: k + 1 at once)" },
      "num-images": { type: "int", default: 1000, help: "images drawn (with replacement)" },
      ...sizeFlags(256),
      k: { type: "int", help: "views per image (default per family, docs/synthetic.md#sampling)" },
      "ckpt-dir": ckptDirFlag("models/"),
      "results-dir": { type: "string", default: "./results/", help: "statistics and results" },
      jitter: JITTER_FLAG,
      covariance: {
        type: "string",
        default: "f64",
        choices: ["f64", "gpu"],
        help: "covariance engine: float64 CPU (exact) or GPU f32 blocks + f64 sums",
      },
      whiten: WHITEN_FLAG,
      "fuse-mode": FUSE_MODE_FLAG,
      "save-features": {
        type: "string",
        help: "also write the clean-view features of the sampled images (label = class) as " +
          ".npy files to DIR (docs/outputs.md#saved-features)",
      },
    },
  });
  // The original strips a trailing carriage return from the path (Windows line endings).
  const data = positionals[0].replace(/\r$/, "");
  if (!(flags["num-images"] >= 1)) throw new UsageError("--num-images: must be ≥ 1");
  let families: SyntheticFamily[];
  if (flags.all) families = [...SYNTHETIC_FAMILIES];
  else if (isSyntheticFamily(flags.transform)) families = [flags.transform];
  else {
    throw new UsageError(
      `--transform: unknown transform '${flags.transform}'; expected one of ` +
        SYNTHETIC_FAMILIES.join(", "),
    );
  }
  const grids = families.map((family) => {
    const k = flags.k ?? defaultK(family);
    return syntheticGrid(family, k, { resize: flags.resize, cropSize: flags["crop-size"] });
  });
  const resultsDir = cleanDir(flags["results-dir"]);
  const layer = flags["feature-layer"];
  const folder = await imageFolder(join(data, flags.split), {
    name: `${flags.dataset}-${flags.split}`,
  });
  timings.mark("list");
  const { gpu, model } = await openEvalModel(flags, timings, flags["fuse-mode"]);
  const run = { script: "synthetic_invariance", resultsDir, startedAt, model, gpu, timings };
  const preprocessing = { resize: flags.resize, cropSize: flags["crop-size"] };
  const onBadImage = parseBadImagePolicy(flags["on-bad-image"], "--on-bad-image");
  const { stats, cached, paths } = await cachedStatistics({
    dir: resultsDir,
    modelName: flags.model,
    featureLayer: layer,
    parts: {
      model: model.contentKey,
      featureLayer: layer,
      dataset: folder.contentKey,
      preprocessing,
    },
    faithful: flags.faithful,
    engine: flags.covariance as CovarianceEngine,
  }, () =>
    extractFeatures(gpu, model, folder, {
      batchSize: flags["batch-size"],
      preprocessing,
      onBadImage,
      progress: "statistics",
    }), gpu);
  timings.mark("statistics");
  if (flags["statistics-only"]) {
    console.log(`statistics ${cached ? "found" : "computed"}: ${paths.cov} (n ${stats.n})`);
    await recordRun({
      ...run,
      args: { ...flags, data },
      arrays: {},
      summary: { statistics: paths.cov, n: stats.n, dim: model.dim, cached },
      details: { statistics: { ...paths, cached, engine: flags.covariance } },
    });
    closeEval(gpu, model);
    return;
  }
  const whitening = evalWhitener(gpu, stats, paths.cov, flags);
  timings.mark("whitening");
  const indices = sampleImageIndices(folder.length, flags["num-images"], 0);
  const saveDir = flags["save-features"];
  if (saveDir) {
    const clean = await extractFeatures(gpu, model, folder, {
      batchSize: flags["batch-size"],
      preprocessing,
      indices,
      onBadImage,
      progress: "features",
    });
    await saveDatasetFeatures(saveDir, folder, clean, {
      model: flags.model,
      feature_layer: layer,
      preprocessing,
      split: flags.split,
    });
    console.error(`features saved to ${saveDir}/`);
  }
  for (let f = 0; f < families.length; f++) {
    const family = families[f];
    const grid = grids[f];
    const r = await syntheticInvariance(gpu, model, folder, {
      indices,
      views: (img) =>
        syntheticViewsOnGpu(gpu, img, family, grid, {
          resize: flags.resize,
          cropSize: flags["crop-size"],
          faithful: flags.faithful,
          seed: flags.seed,
        }),
      preprocessing,
      whitener: whitening.rows,
      batchSize: flags["view-batch"],
      onBadImage,
      progress: family,
    });
    timings.mark(family);
    // The original's two lines: `{model} on {transform}:` then a tab and both means.
    console.log(`${flags.model} on ${family}:`);
    console.log(`\t distance ${r.summary.distance} and similarity ${r.summary.similarity}`);
    const stem = `${flags.model}_${layer}_${flags.dataset}_${family}_invariance`;
    await writeTorchOutput(join(resultsDir, `${stem}_distance.pth`), r.distance);
    await writeTorchOutput(join(resultsDir, `${stem}_similarity.pth`), r.similarity);
    await recordRun({
      ...run,
      args: { ...flags, data, transform: family },
      arrays: { distance: r.distance, similarity: r.similarity, indices },
      summary: {
        transform: family,
        k: r.k,
        images: r.images,
        distance: r.summary.distance,
        similarity: r.summary.similarity,
        jitter: whitening.whitener.jitter,
      },
      details: {
        statistics: { ...paths, cached, n: stats.n, engine: flags.covariance },
        skipped: r.skipped,
        faithful: flags.faithful,
      },
    });
  }
  closeEval(gpu, model, whitening);
}, {
  onBadImage: "--on-bad-image",
  family: "--transform",
  k: "--k",
  resize: "--resize",
  cropSize: "--crop-size",
  jitter: "--jitter",
  fuseMode: "--fuse-mode",
});
