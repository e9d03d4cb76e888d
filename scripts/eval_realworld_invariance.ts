/**
 * `deno task eval:realworld`: real-world invariance (docs/realworld.md, docs/realworld.md#flags), the TypeScript port of
 * `eval_realworld_invariance.py`.
 *
 * For each group of the dataset (views of one object under changing viewpoint, light, colour
 * temperature, exposure, blur or stereo), the mean pairwise cosine similarity and Mahalanobis
 * distance of the features, whitened with the ImageNet-val statistics that
 * `eval:synthetic` cached for the same checkpoint. Prints `"{model}: {mean L}, {mean S}"`, writes
 * `{model}_{layer}_{DATASET}_invariance_{distance,similarity}.pth` (float32 [groups]) and a JSON
 * record + CSV row under `<results-dir>/realworld_invariance/`.
 *
 * `--faithful`: outputs go to the hard-coded `results/` (the original ignores `--results-dir`
 * there), the statistics are used without checking which checkpoint made them, and the dataset
 * loaders reproduce the original's grouping bugs (ALOT-viewpoint lights, unsorted globs).
 *
 * @module
 */
import { join } from "node:path";
import { parseBadImagePolicy } from "../src/data/bad_images.ts";
import { parseRealWorldKey, REALWORLD_KEYS } from "../src/data/realworld.ts";
import { loadRealWorld } from "../src/data/realworld.ts";
import { loadCustomGroups, parseCustomDataset } from "../src/data/custom.ts";
import type { GroupedDataset } from "../src/data/dataset.ts";
import { extractFeatures } from "../src/eval/features.ts";
import { groupsAsDataset, saveDatasetFeatures } from "../src/eval/save_features.ts";
import { realworldInvariance } from "../src/eval/realworld_invariance.ts";
import { readStatisticsFor, statisticsPaths } from "../src/eval/statistics.ts";
import {
  ckptDirFlag,
  cleanDir,
  closeEval,
  DATA_ROOT_FLAG,
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
  withFlag,
} from "../src/eval/cli_common.ts";
import { writeTorchOutput } from "../src/io/results.ts";
import { UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

await runMain("eval_realworld_invariance", async () => {
  const { flags, startedAt, timings } = parseEvalCli(Deno.args, {
    name: "deno task eval:realworld",
    summary: "Real-world invariance of a model's features on one of the 11 grouped datasets " +
      `(${REALWORLD_KEYS.join(", ")}).`,
    flags: {
      model: { type: "string", default: "default", help: "checkpoint name (A+B fuses)" },
      dataset: {
        type: "string",
        default: "Flickr1024",
        listed: [...REALWORLD_KEYS, "groups:PATH"],
        help: "dataset key (case-sensitive), or groups:PATH for a folder of groups " +
          "(docs/realworld.md#your-own-groups)",
      },
      device: DEVICE_FLAG,
      "feature-layer": FEATURE_LAYER_FLAG,
      ...sizeFlags(224),
      "ckpt-dir": ckptDirFlag("./models/"),
      "results-dir": {
        type: "string",
        default: "./results/",
        help: "statistics are read from here, results written here",
      },
      "data-root": DATA_ROOT_FLAG,
      "batch-size": { type: "int", default: 256, help: "largest forward batch within a group" },
      jitter: JITTER_FLAG,
      whiten: WHITEN_FLAG,
      "fuse-mode": FUSE_MODE_FLAG,
      "save-features": {
        type: "string",
        help: "also write every view's features (label = group) as .npy files to DIR " +
          "(docs/outputs.md#saved-features)",
      },
      "exclude-diagonal": {
        type: "boolean",
        help: "leave self-similarities out of S (the original includes them)",
      },
    },
  });
  const custom = parseCustomDataset(flags.dataset);
  if (custom?.kind === "folder") {
    throw new UsageError("--dataset folder:PATH is for eval:downstream; here use groups:PATH");
  }
  const key = custom ? custom.name : parseRealWorldKey(flags.dataset, "--dataset");
  const resultsDir = cleanDir(flags["results-dir"]);
  const dataset: GroupedDataset = custom
    ? await loadCustomGroups(custom)
    : await withFlag("--data-root", "dataRoot", () =>
      loadRealWorld(parseRealWorldKey(key), flags["data-root"], { faithful: flags.faithful }));
  timings.mark("list");
  const { gpu, model } = await openEvalModel(flags, timings, flags["fuse-mode"]);
  const run = { script: "realworld_invariance", resultsDir, startedAt, model, gpu, timings };
  const paths = statisticsPaths(resultsDir, flags.model, flags["feature-layer"]);
  const stats = await readStatisticsFor(paths, model, flags.faithful);
  const whitening = evalWhitener(gpu, stats, paths.cov, flags);
  timings.mark("whitening");
  const r = await realworldInvariance(gpu, model, dataset, {
    preprocessing: { resize: flags.resize, cropSize: flags["crop-size"] },
    whitener: whitening.rows,
    batchSize: flags["batch-size"],
    excludeDiagonal: flags["exclude-diagonal"],
    onBadImage: parseBadImagePolicy(flags["on-bad-image"], "--on-bad-image"),
  });
  timings.mark("evaluate");
  const saveDir = flags["save-features"];
  if (saveDir) {
    const views = groupsAsDataset(dataset);
    const preprocessing = { resize: flags.resize, cropSize: flags["crop-size"] };
    const f = await extractFeatures(gpu, model, views, {
      batchSize: flags["batch-size"],
      preprocessing,
      onBadImage: parseBadImagePolicy(flags["on-bad-image"], "--on-bad-image"),
      progress: "features",
    });
    await saveDatasetFeatures(saveDir, views, f, {
      model: flags.model,
      feature_layer: flags["feature-layer"],
      preprocessing,
    });
    console.error(`features saved to ${saveDir}/`);
  }
  console.log(`${flags.model}: ${r.summary.distance}, ${r.summary.similarity}`);
  const outDir = flags.faithful ? "results" : resultsDir;
  const stem = `${flags.model}_${flags["feature-layer"]}_${key}_invariance`;
  await writeTorchOutput(join(outDir, `${stem}_distance.pth`), r.distance);
  await writeTorchOutput(join(outDir, `${stem}_similarity.pth`), r.similarity);
  await recordRun({
    ...run,
    args: { ...flags },
    arrays: { distance: r.distance, similarity: r.similarity, group_sizes: r.groupSizes },
    summary: {
      dataset: key,
      groups: r.distance.length,
      distance: r.summary.distance,
      similarity: r.summary.similarity,
      jitter: whitening.whitener.jitter,
    },
    details: { statistics: paths, skipped: r.skipped, faithful: flags.faithful },
  });
  closeEval(gpu, model, whitening);
}, { onBadImage: "--on-bad-image", jitter: "--jitter", fuseMode: "--fuse-mode" });
