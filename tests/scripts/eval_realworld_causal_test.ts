import { join } from "node:path";
import { cachedStatistics } from "../../src/eval/statistics.ts";
import { extractFeatures } from "../../src/eval/features.ts";
import { imageFolder } from "../../src/data/image_folder.ts";
import { loadModel } from "../../src/models/registry.ts";
import { loadTorchCheckpoint, readTorchCheckpoint } from "../../src/io/torch/read.ts";
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { writeTorchCheckpoint } from "../../src/io/torch/write.ts";
import { PyFloat } from "../../src/io/pickle.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import {
  runRecords,
  runScript,
  treeFlags,
  withScriptTree,
  writeCausal3DIdent,
  writeImageFolder,
  writeRandomPng,
} from "./eval_tree.ts";

Deno.test({
  name:
    "eval_realworld_invariance runs on a tiny COIL100 with cached statistics; errors are one line",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const rng = testRng("e2e realworld");
    await withScriptTree("e2e-rw-", async (tree) => {
      const { tmp, models, results, data } = tree;
      for (let obj = 1; obj <= 3; obj++) {
        for (const angle of [0, 5, 10]) {
          await writeRandomPng(rng, join(data, "COIL100", `obj${obj}__${angle}.png`), 22, 20);
        }
      }
      // Missing statistics: a one-line DataError saying how to make them.
      const args = [
        "--model",
        "default",
        "--dataset",
        "COIL100",
        ...treeFlags(tree),
      ];
      const missing = await runScript("eval_realworld_invariance", args, tmp);
      assert(
        missing.code === 1 && /eval_synthetic_invariance/.test(missing.stderr),
        missing.stderr,
      );
      assert(!/\n\s+at /.test(missing.stderr), "no stack trace");
      // Statistics of the same checkpoint over a small ImageFolder (what eval:synthetic caches).
      await writeImageFolder(rng, join(data, "val"), 2, 12);
      const model = await loadModel(gpu, "default", {
        ckptDir: models,
        arch: "resnet18",
        baseWidth: 2,
      });
      const folder = await imageFolder(join(data, "val"));
      await cachedStatistics(
        {
          dir: results,
          modelName: "default",
          featureLayer: "backbone",
          parts: {
            model: model.contentKey,
            featureLayer: "backbone",
            dataset: folder.contentKey,
            preprocessing: { resize: 20, cropSize: 16 },
          },
          log: () => {},
        },
        () =>
          extractFeatures(gpu, model, folder, {
            batchSize: 24,
            preprocessing: { resize: 20, cropSize: 16 },
            progress: false,
          }),
      );
      model.release();

      // This narrow network has dead (constant) ReLU channels, so Σ is singular: the script
      // says so and suggests --jitter, which then makes it positive definite.
      const plain = await runScript("eval_realworld_invariance", args, tmp);
      assert(plain.code === 0 || (plain.code === 1 && /--jitter/.test(plain.stderr)), plain.stderr);
      args.push("--jitter", "1e-6");
      const run = await runScript(
        "eval_realworld_invariance",
        [...args, "--device", "cuda:1"],
        tmp,
      );
      assert(run.code === 0, run.stderr);
      const m = run.stdout.trim().match(/^default: ([-\d.e]+|NaN), ([-\d.e]+|NaN)$/);
      assert(m !== null, `printed line: ${run.stdout}`);
      assert(/--device cuda:1 is accepted/.test(run.stderr), "device explained");
      const sim = await readTorchCheckpoint(
        join(results, "default_backbone_COIL100_invariance_similarity.pth"),
      );
      assert(sim instanceof TorchTensor && sim.shape.join() === "3", "similarity .pth [groups]");
      const s = Array.from(sim.data as Float32Array);
      assert(s.every((v) => v > -1 && v <= 1 + 1e-6), `similarities ${s}`);
      assert(Math.abs(s.reduce((a, b) => a + b, 0) / 3 - Number(m![2])) < 1e-5, "printed mean S");
      // The GPU whitening path gives the same numbers to f32 accuracy.
      const viaGpu = await runScript(
        "eval_realworld_invariance",
        [...args, "--whiten", "gpu"],
        tmp,
      );
      assert(viaGpu.code === 0, viaGpu.stderr);
      const simGpu = await readTorchCheckpoint(
        join(results, "default_backbone_COIL100_invariance_similarity.pth"),
      );
      const sg = Array.from((simGpu as TorchTensor).data as Float32Array);
      assert(sg.every((v, i) => Math.abs(v - s[i]) < 1e-4), `gpu ${sg} vs cpu ${s}`);
      const recs = await runRecords(results, "realworld_invariance");
      assert(recs.length === 2, "one JSON record per run");
      const rec = recs[0] as {
        summary: { groups: number };
        model: { files: { sha256: string }[] };
      };
      assert(rec.summary.groups === 3 && rec.model.files[0].sha256.length === 64, "record content");
      const csv = await Deno.readTextFile(join(results, "realworld_invariance", "runs.csv"));
      assert(csv.trim().split("\n").length === 3 && /^run_id,finished_at,model,/.test(csv), csv);

      // A different checkpoint under the same name: the cached statistics are refused.
      await perturbCheckpoint(join(models, "default.pth.tar"));
      const stale = await runScript("eval_realworld_invariance", args, tmp);
      assert(stale.code === 1 && /other weights/.test(stale.stderr), stale.stderr);
      const unknown = await runScript("eval_realworld_invariance", [
        ...args.slice(0, 2),
        "--dataset",
        "coil100",
        ...args.slice(4),
      ], tmp);
      assert(
        unknown.code === 2 && /COIL100/.test(unknown.stderr) && /Flickr1024/.test(unknown.stderr),
        unknown.stderr,
      );
    });
  },
});

Deno.test({
  name:
    "eval_causal3dident runs on a tiny tree, caches features, and a changed checkpoint recomputes",
  ...GPU_TEST,
  fn: async () => {
    const rng = testRng("e2e causal");
    await withScriptTree("e2e-c3d-", async (tree) => {
      const { tmp, models, results, data } = tree;
      await writeCausal3DIdent(rng, data, [3, 3, 3, 2, 3, 3, 3]);
      const args = [
        "--model",
        "default",
        "--target",
        "3",
        "--batch-size",
        "4",
        "--cv-folds",
        "3",
        ...treeFlags(tree),
      ];
      const first = await runScript("eval_causal3dident", args, tmp);
      assert(first.code === 0, first.stderr);
      const r2 = Number(first.stdout.trim());
      assert(Number.isFinite(r2) && r2 <= 1, `printed R² ${first.stdout}`);
      const saved = await readTorchCheckpoint(
        join(results, "default_backbone_causal3dident_3.pth"),
      );
      const savedValue = saved instanceof PyFloat ? saved.value : saved;
      assert(savedValue === r2, `.pth holds ${savedValue}`);
      const second = await runScript("eval_causal3dident", args, tmp);
      assert(second.code === 0 && Number(second.stdout.trim()) === r2, "same seed, same R²");
      const recs = await runRecords(results, "causal3dident") as {
        details: { features_cached: { train: boolean; test: boolean } };
        summary: { train_samples: number };
      }[];
      assert(recs.length === 2, "two records");
      assert(
        !recs[0].details.features_cached.train && recs[1].details.features_cached.train,
        "second run used the feature cache",
      );
      assert(recs[1].details.features_cached.test, "test features cached too");
      assert(
        recs[0].summary.train_samples === 20,
        "train count: all 20 (fewer than int(4096·5/4)·4)",
      );

      // Change one weight byte of the checkpoint: new content key, features recomputed.
      await perturbCheckpoint(join(models, "default.pth.tar"));
      const third = await runScript("eval_causal3dident", args, tmp);
      assert(third.code === 0, third.stderr);
      const recs3 = await runRecords(results, "causal3dident") as {
        details: { features_cached: { train: boolean } };
      }[];
      assert(!recs3[2].details.features_cached.train, "a modified checkpoint forces recomputation");

      const fused = await runScript(
        "eval_causal3dident",
        ["--model", "a+b", ...args.slice(2)],
        tmp,
      );
      assert(fused.code === 2 && /single model/.test(fused.stderr), fused.stderr);
    });
  },
});

/** Changes one weight of the MoCo checkpoint at `path` (same name, new content). */
async function perturbCheckpoint(path: string): Promise<void> {
  const ck = await loadTorchCheckpoint(path);
  const sd = (ck.value as Map<string, unknown>).get("state_dict") as Map<string, TorchTensor>;
  (sd.get("module.encoder_q.conv1.weight")!.data as Float32Array)[0] += 0.5;
  await writeTorchCheckpoint(path, ck.value as Map<string, never>);
}
