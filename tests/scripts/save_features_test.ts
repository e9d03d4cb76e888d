/**
 * `--save-features` of eval:causal3dident (train/test with the latents as targets) and
 * eval:synthetic (clean views of the sampled images): files numpy reads, read back here.
 */
import { join } from "node:path";
import { readSavedFeatures } from "../../src/eval/save_features.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import {
  runScript,
  treeFlags,
  withScriptTree,
  writeCausal3DIdent,
  writeImageFolder,
} from "./eval_tree.ts";

Deno.test({
  name: "eval:causal3dident and eval:synthetic --save-features write readable .npy folders",
  ...GPU_TEST,
  async fn() {
    const rng = testRng("save features");
    await withScriptTree("save-feat-", async (tree) => {
      await writeCausal3DIdent(rng, tree.data, [3, 3, 3, 2, 3, 3, 3]);
      const out = join(tree.tmp, "c3d");
      const c = await runScript("eval_causal3dident", [
        ...["--target", "3", "--batch-size", "4", "--cv-folds", "2", "--save-features", out],
        ...treeFlags(tree),
      ], tree.tmp);
      assert(c.code === 0, c.stderr);
      for (const split of ["train", "test"]) {
        const s = await readSavedFeatures(join(out, split));
        assert(s.dim === 16 && s.targetDim === 10 && s.labels === undefined, `${split} shape`);
        assert(s.rows > 0 && s.paths.every((p) => p.includes(`${split}set/images_`)), "paths");
      }
      await writeImageFolder(rng, join(tree.data, "imagenet", "val"), 2, 4);
      const syn = join(tree.tmp, "syn");
      const r = await runScript("eval_synthetic_invariance", [
        ...["--transform", "h_flip", "--num-images", "3", "--jitter", "1e-6"],
        ...["--save-features", syn, ...treeFlags(tree, false), join(tree.data, "imagenet")],
      ], tree.tmp);
      assert(r.code === 0, r.stderr);
      const s = await readSavedFeatures(syn);
      assert(s.rows === 3 && s.dim === 16 && s.labels!.length === 3, `[${s.rows}, ${s.dim}]`);
    });
  },
});
