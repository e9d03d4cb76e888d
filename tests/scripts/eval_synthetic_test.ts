import { join } from "node:path";
import { readTorchCheckpoint } from "../../src/io/torch/read.ts";
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { GPU_TEST } from "../util/gpu.ts";
import { runRecords, runScript, treeFlags, withScriptTree, writeImageFolder } from "./eval_tree.ts";

interface SyntheticRecord {
  summary: { transform: string; k: number; images: number; distance: number; similarity: number };
  details: { statistics: { cached: boolean } };
  arrays: { similarity: number[]; distance: number[] };
}

Deno.test({
  name:
    "eval_synthetic_invariance: stats cached and reused, --all, bad flags; a new checkpoint recomputes",
  ...GPU_TEST,
  fn: async () => {
    const rng = testRng("e2e synthetic");
    await withScriptTree("e2e-syn-", async (tree) => {
      const { tmp, models, results, data } = tree;
      await writeImageFolder(rng, join(data, "val"), 2, 14);
      const base = [
        "--model",
        "default",
        "--num-images",
        "3",
        "--jitter",
        "1e-6",
        ...treeFlags(tree, false),
        data,
      ];
      const first = await runScript(
        "eval_synthetic_invariance",
        ["--transform", "h_flip", ...base],
        tmp,
      );
      assert(first.code === 0, first.stderr);
      const lines = first.stdout.trim().split("\n");
      assert(
        lines.length === 2 && lines[0] === "default on h_flip:" &&
          /^\t distance [\d.e+-]+ and similarity [\d.e+-]+$/.test(lines[1]),
        first.stdout,
      );
      const sim = await readTorchCheckpoint(
        join(results, "default_backbone_imagenet_h_flip_invariance_similarity.pth"),
      );
      assert(
        sim instanceof TorchTensor && sim.dtype === "float32" && sim.shape.join() === "2",
        "similarity [k=2]",
      );
      // View 0 is the unflipped image: identical to the clean view.
      const s = sim.data as Float32Array;
      assert(Math.abs(s[0] - 1) < 1e-6 && s[1] <= 1 + 1e-6, `similarities ${s}`);
      assert(
        Math.abs((s[0] + s[1]) / 2 - Number(lines[1].split(" ").at(-1))) < 1e-6,
        "printed summary",
      );
      const dist = await readTorchCheckpoint(
        join(results, "default_backbone_imagenet_h_flip_invariance_distance.pth"),
      );
      assert(
        dist instanceof TorchTensor && (dist.data as Float32Array)[0] === 0,
        "identity distance 0",
      );

      const second = await runScript("eval_synthetic_invariance", [
        "--transform",
        "rotation",
        "--k",
        "4",
        ...base,
      ], tmp);
      assert(second.code === 0, second.stderr);
      assert(/statistics: using/.test(second.stderr), "second run reuses the statistics");
      const recs = await runRecords(
        results,
        "synthetic_invariance",
      ) as unknown as SyntheticRecord[];
      assert(recs.length === 2, "two records");
      assert(!recs[0].details.statistics.cached && recs[1].details.statistics.cached, "cache flag");
      assert(recs[1].summary.k === 4 && recs[1].arrays.similarity.length === 4, "rotation k = 4");
      assert(Math.abs(recs[1].arrays.similarity[0] - 1) < 1e-6, "rotation 0° is the identity");

      // Another checkpoint under the same name: statistics recomputed, not reused.
      await Deno.copyFile(
        new URL("../fixtures/checkpoints/moco_r18_w2_legacy.pth.tar", import.meta.url).pathname,
        join(models, "default.pth.tar"),
      );
      const third = await runScript(
        "eval_synthetic_invariance",
        ["--transform", "invert", ...base],
        tmp,
      );
      assert(third.code === 0, third.stderr);
      assert(
        /statistics: recomputing \(cached statistics belong to another checkpoint/.test(
          third.stderr,
        ),
        third.stderr,
      );

      // --all: every family in one process, reusing the statistics just recomputed.
      const all = await runScript("eval_synthetic_invariance", [
        "--all",
        ...base.slice(0, -1),
        "--num-images",
        "1",
        data,
      ], tmp);
      assert(all.code === 0, all.stderr);
      const allLines = all.stdout.trim().split("\n");
      assert(
        allLines.length === 36 && allLines[0] === "default on rotation:" &&
          allLines[34] === "default on posterize:" && /^\t distance /.test(allLines[35]),
        all.stdout,
      );
      assert(/statistics: using/.test(all.stderr), "--all reuses the cached statistics");
      assert(
        (await runRecords(results, "synthetic_invariance")).length === 3 + 18,
        "one record per family",
      );

      const bad = await runScript(
        "eval_synthetic_invariance",
        ["--transform", "spin", ...base],
        tmp,
      );
      assert(
        bad.code === 2 && /unknown transform 'spin'.*rotation, translation/.test(bad.stderr),
        bad.stderr,
      );
      const noData = await runScript("eval_synthetic_invariance", ["--model", "default"], tmp);
      assert(noData.code === 2 && /missing argument: data/.test(noData.stderr), noData.stderr);
    });
  },
});
