import { join } from "node:path";
import { readTorchCheckpoint } from "../../src/io/torch/read.ts";
import { PyFloat } from "../../src/io/pickle.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { GPU_TEST } from "../util/gpu.ts";
import {
  runRecords,
  runScript,
  treeFlags,
  withScriptTree,
  write300W,
  writeCaltech101,
} from "./eval_tree.ts";

interface DownstreamRecord {
  summary: {
    score: number;
    feature_dim: number;
    probe: string;
    metric: string;
    trainval: number;
    test: number;
  };
  details: { features_cached: { trainval: boolean; test: boolean } };
  arrays: { cv_scores: number[]; wd_grid: number[] };
}

Deno.test({
  name:
    "eval_downstream: Caltech101 logistic with cat/add/mean fusion shapes and cached features; 300W ridge",
  ...GPU_TEST,
  fn: async () => {
    const rng = testRng("e2e downstream");
    await withScriptTree("e2e-ds-", async (tree) => {
      const { tmp, models, results, data } = tree;
      await Deno.copyFile(
        new URL("../fixtures/checkpoints/moco_r18_w2_legacy.pth.tar", import.meta.url).pathname,
        join(models, "ventral.pth.tar"),
      );
      await writeCaltech101(rng, data, ["accordion", "Faces", "BACKGROUND_Google"], 4, 2);
      const common = [
        "--dataset",
        "Caltech101",
        "--cv-folds",
        "3",
        ...treeFlags(tree),
      ];
      const single = await runScript("eval_downstream", ["--model", "default", ...common], tmp);
      assert(single.code === 0, single.stderr);
      assert(/^default on caltech101: \d\.\d\d$/.test(single.stdout.trim()), single.stdout);
      const saved = await readTorchCheckpoint(join(results, "default_caltech101.pth"));
      const score = saved instanceof PyFloat ? saved.value : saved as number;
      assert(score >= 0 && score <= 1, `score ${score}`);
      const again = await runScript("eval_downstream", ["--model", "default", ...common], tmp);
      assert(again.code === 0, again.stderr);
      for (const mode of ["cat", "add", "mean"]) {
        const r = await runScript("eval_downstream", [
          "--model",
          "default+ventral",
          "--fuse-mode",
          mode,
          ...common,
        ], tmp);
        assert(r.code === 0, r.stderr);
        assert(/^default\+ventral on caltech101: /.test(r.stdout.trim()), r.stdout);
      }
      const recs = await runRecords(results, "downstream") as unknown as DownstreamRecord[];
      assert(recs.length === 5, `${recs.length} records`);
      assert(
        !recs[0].details.features_cached.trainval && recs[1].details.features_cached.trainval,
        "second run reuses the features",
      );
      assert(recs[1].summary.score === recs[0].summary.score, "same seed, same score");
      assert(recs[0].summary.feature_dim === 16, `single dim ${recs[0].summary.feature_dim}`);
      assert(
        recs[2].summary.feature_dim === 32 && recs[3].summary.feature_dim === 16 &&
          recs[4].summary.feature_dim === 16,
        "cat doubles, add/mean keep D",
      );
      assert(
        recs[0].summary.metric === "mean_per_class_accuracy" && recs[0].summary.trainval === 12 &&
          recs[0].summary.test === 6,
        "task",
      );
      // The grid: c = 0 for one model (1e-6 … 1e5), c = 1 for a+b (1e-4 … 1e7).
      assert(
        Math.abs(recs[0].arrays.wd_grid[0] - 1e-6) < 1e-12 &&
          Math.abs(recs[2].arrays.wd_grid[0] - 1e-4) < 1e-10,
        "grid shift",
      );

      await write300W(rng, data, 10);
      const ridge = await runScript("eval_downstream", [
        "--model",
        "default",
        "--dataset",
        "300w",
        "--cv-folds",
        "3",
        ...treeFlags(tree),
      ], tmp);
      assert(ridge.code === 0, ridge.stderr);
      const recs2 = await runRecords(results, "downstream") as unknown as DownstreamRecord[];
      const last = recs2[recs2.length - 1];
      assert(
        last.summary.probe === "ridge" && last.summary.metric === "r2" &&
          last.summary.trainval === 12,
        JSON.stringify(last.summary),
      );
      assert(
        last.arrays.cv_scores.length === 45 && Number.isFinite(last.summary.score),
        "45 CV scores, finite R²",
      );

      const unknown = await runScript("eval_downstream", [
        "--dataset",
        "imagenet",
        "--data-root",
        data,
      ], tmp);
      assert(
        unknown.code === 2 && /cifar10, flowers, caltech101/.test(unknown.stderr),
        unknown.stderr,
      );
      const missing = await runScript("eval_downstream", [
        "--dataset",
        "flowers",
        "--data-root",
        data,
        "--ckpt-dir",
        models,
      ], tmp);
      assert(
        missing.code === 1 && /Flowers/.test(missing.stderr) && !/\n\s+at /.test(missing.stderr),
        missing.stderr,
      );
    });
  },
});
