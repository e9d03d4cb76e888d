/**
 * The user's own datasets on `deno task make-world` output: `eval:downstream --dataset
 * folder:PATH` (ImageFolder → logistic, CSV → ridge), `eval:realworld --dataset groups:PATH`, and
 * `--save-features` files that round-trip and equal the cached features; malformed folders are
 * one line.
 */
import { join } from "node:path";
import { imageFolder } from "../../src/data/image_folder.ts";
import { cachedStatistics } from "../../src/eval/statistics.ts";
import { extractFeatures } from "../../src/eval/features.ts";
import {
  encodeStringNpy,
  parseStringNpy,
  readSavedFeatures,
  saveFeatures,
} from "../../src/eval/save_features.ts";
import { loadModel } from "../../src/models/registry.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { runScript, treeFlags, withScriptTree } from "./eval_tree.ts";

Deno.test("saved features round-trip: float32 features, labels or targets, unicode paths", async () => {
  const dir = await Deno.makeTempDir({ prefix: "savefeat-" });
  const paths = ["a/β.png", "/x/y,z.png", ""];
  assert(parseStringNpy(encodeStringNpy(paths), "t").join("|") === paths.join("|"), "strings");
  const features = Float32Array.from({ length: 12 }, (_, i) => Math.fround(i / 7 - 0.5));
  await saveFeatures(dir, {
    features,
    rows: 3,
    dim: 4,
    targets: Float64Array.from([1.5, -2, 0.25, 3, 4, 5]),
    targetDim: 2,
    indices: Int32Array.from([4, 0, 2]),
    paths,
  });
  const back = await readSavedFeatures(dir);
  assert(back.rows === 3 && back.dim === 4 && back.targetDim === 2, "shapes");
  assert(back.features.every((v, i) => v === features[i]), "features bit-exact");
  assert(back.targets!.join() === "1.5,-2,0.25,3,4,5" && back.labels === undefined, "targets");
  assert(back.indices.join() === "4,0,2" && back.paths.join("|") === paths.join("|"), "index");
  const csv = (await Deno.readTextFile(join(dir, "index.csv"))).trim().split("\n");
  assert(csv[0] === "row,index,target_0,target_1,path" && csv[2].endsWith('"/x/y,z.png"'), "csv");
  await Deno.remove(dir, { recursive: true });
});

async function makeWorld(out: string, args: string[]): Promise<void> {
  const r = await runScript("make_world", [
    "--out",
    out,
    "--resolution",
    "24",
    "--per-class",
    "4",
    "--test-per-class",
    "2",
    "--objects",
    "3",
    ...args,
  ]);
  assert(r.code === 0, `make_world ${args.join(" ")}: ${r.stderr}`);
}

Deno.test({
  name: "folder:PATH and groups:PATH run on make-world output; --save-features equals the cache",
  ...GPU_TEST,
  async fn() {
    await withScriptTree("custom-ds-", async (tree) => {
      const world = join(tree.tmp, "world");
      await makeWorld(world, ["--layout", "imagefolder", "--splits", "train,test"]);
      await makeWorld(world, ["--layout", "keypoints"]);
      await makeWorld(world, ["--layout", "aloi-temperature"]);
      const flags = [...treeFlags(tree, false), "--cv-folds", "2"];

      // Classification: ImageFolder train/ and test/ → logistic, accuracy.
      const feats = join(tree.tmp, "feats");
      const cls = ["--dataset", `folder:${world}`, "--save-features", feats, ...flags];
      const a = await runScript("eval_downstream", cls, tree.tmp);
      assert(a.code === 0, a.stderr);
      assert(
        new RegExp(`^default on folder:${world}: [\\d.]+$`).test(a.stdout.trim()),
        `printed line: ${a.stdout}`,
      );
      const train = await imageFolder(join(world, "train"));
      const saved = await readSavedFeatures(join(feats, "trainval"));
      assert(saved.rows === train.length && saved.dim === 16, `[${saved.rows}, ${saved.dim}]`);
      assert(
        saved.labels!.every((l, r) => l === train.targets[saved.indices[r]]),
        "labels follow the dataset indices",
      );
      assert(saved.paths.every((p, r) => p === train.paths[saved.indices[r]]), "paths");
      // A second run reads the features from the cache: the saved files are the same bytes.
      const first = await Deno.readFile(join(feats, "test", "features.npy"));
      const b = await runScript("eval_downstream", cls, tree.tmp);
      assert(b.code === 0, b.stderr);
      const second = await Deno.readFile(join(feats, "test", "features.npy"));
      assert(first.length === second.length && first.every((v, i) => v === second[i]), "cache");

      // Regression: a CSV of image paths and targets per split → ridge, R².
      const kp = await runScript(
        "eval_downstream",
        ["--dataset", `folder:${world}/WorldKeypoints`, "--save-features", feats, ...flags],
        tree.tmp,
      );
      assert(kp.code === 0, kp.stderr);
      const kpSaved = await readSavedFeatures(join(feats, "test"));
      assert(kpSaved.targetDim === 10 && kpSaved.labels === undefined, "10 keypoint targets");

      // Malformed folders: one line, exit 1.
      const bad = join(tree.tmp, "bad");
      await Deno.mkdir(join(bad, "train", "a"), { recursive: true });
      await Deno.writeTextFile(join(bad, "test.csv"), "path,x\nnope.png,1\n");
      const badCsv = join(tree.tmp, "badcsv");
      await Deno.mkdir(badCsv, { recursive: true });
      await Deno.writeTextFile(join(badCsv, "train.csv"), "img,x\n");
      await Deno.copyFile(train.paths[0], join(badCsv, "img.png"));
      await Deno.writeTextFile(join(badCsv, "train.csv"), "img,x\nimg.png,abc\n");
      await Deno.writeTextFile(join(badCsv, "test.csv"), "img,x\nimg.png,1\n");
      for (
        const [dataset, pattern] of [
          [`folder:${join(tree.tmp, "missing")}`, /is not a folder/],
          [`folder:${bad}`, /no images in class folder|nope\.png does not exist|CSV and the other/],
          [`folder:${badCsv}`, /train\.csv:2: target 'abc' is not a number/],
        ] as const
      ) {
        const r = await runScript("eval_downstream", ["--dataset", dataset, ...flags], tree.tmp);
        const lines = r.stderr.trim().split("\n");
        assert(
          r.code === 1 && lines.length === 1 && pattern.test(r.stderr),
          `${dataset}: ${r.stderr}`,
        );
      }

      // groups:PATH: one folder per object, whitened with statistics of this checkpoint.
      const gpu = await testGpu();
      const model = await loadModel(gpu, "default", {
        ckptDir: tree.models,
        arch: "resnet18",
        baseWidth: 2,
      });
      const folder = await imageFolder(join(world, "train"));
      const preprocessing = { resize: 20, cropSize: 16 };
      await cachedStatistics(
        {
          dir: tree.results,
          modelName: "default",
          featureLayer: "backbone",
          parts: {
            model: model.contentKey,
            featureLayer: "backbone",
            dataset: folder.contentKey,
            preprocessing,
          },
          log: () => {},
        },
        () =>
          extractFeatures(gpu, model, folder, { batchSize: 32, preprocessing, progress: false }),
      );
      model.release();
      const groups = join(world, "ALOI", "temperature");
      const g = await runScript("eval_realworld_invariance", [
        "--dataset",
        `groups:${groups}`,
        "--jitter",
        "1e-6",
        "--save-features",
        join(tree.tmp, "gfeats"),
        ...treeFlags(tree, false),
      ], tree.tmp);
      assert(g.code === 0, g.stderr);
      assert(/^default: [-\d.e]+, [-\d.e]+$/.test(g.stdout.trim()), `printed: ${g.stdout}`);
      const gs = await readSavedFeatures(join(tree.tmp, "gfeats"));
      assert(gs.rows === 3 * 12 && new Set(gs.labels).size === 3, `${gs.rows} views of 3 groups`);
      const empty = join(tree.tmp, "emptygroups");
      await Deno.mkdir(empty, { recursive: true });
      const e = await runScript(
        "eval_realworld_invariance",
        ["--dataset", `groups:${empty}`, ...treeFlags(tree, false)],
        tree.tmp,
      );
      assert(e.code === 1 && e.stderr.trim().split("\n").length === 1, e.stderr);
    });
  },
});
