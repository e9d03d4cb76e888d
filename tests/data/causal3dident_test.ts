/**
 * Causal3DIdent loader on a miniature tree in the release's layout.
 *
 * @module
 */
import { join } from "node:path";
import { loadCausal3DIdent } from "../../src/data/causal3dident.ts";
import { writeNpy } from "../../src/io/npy.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { pixel, withTempDir, writeTestImage } from "./downstream_fixtures.ts";

async function makeTree(root: string, counts: number[], latentDim = 10): Promise<Float64Array[]> {
  const rng = testRng("causal3dident tree");
  const latents: Float64Array[] = [];
  for (let c = 0; c < counts.length; c++) {
    for (let k = 0; k < counts[c]; k++) {
      await writeTestImage(
        join(root, `images_${c}`, `${String(k).padStart(2, "0")}.png`),
        4,
        4,
        c * 16 + k,
      );
    }
    const l = Float64Array.from({ length: counts[c] * latentDim }, () => rng.normal());
    await writeNpy(join(root, `latents_${c}.npy`), l, [counts[c], latentDim], "<f8");
    latents.push(l);
  }
  return latents;
}

Deno.test("loadCausal3DIdent() aligns latents rows with ImageFolder samples class by class", async () => {
  await withTempDir(async (dir) => {
    const counts = [2, 1, 3, 1, 2, 1, 11]; // 11 images: '10.png' must sort after '09.png'
    const latents = await makeTree(join(dir, "Causal3DIdent", "testset"), counts);
    const ds = await loadCausal3DIdent(dir, "test");
    assert(ds.length === 21 && ds.latentDim === 10 && ds.targetDim === 10, `length ${ds.length}`);
    assert(ds.kind === "regression", "regression targets");
    assertArrayEqual(ds.targets, latents.flatMap((l) => Array.from(l)), "latents concatenated");
    assertArrayEqual(ds.classes, counts.flatMap((n, c) => new Array(n).fill(c)), "classes");
    // Sample 20 is images_6/10.png (seed 6·16 + 10): its pixels identify it.
    const img = await ds.image(20);
    assertArrayEqual(img.data.subarray(0, 3), pixel(106, 0, 0), "image 20 is images_6/10.png");
    assert(ds.describe(20).endsWith("images_6/10.png"), ds.describe(20));
    const again = await loadCausal3DIdent(dir, "test");
    assert(again.contentKey === ds.contentKey, "content key is stable");
  });
});

Deno.test("loadCausal3DIdent() rejects a latents/image count mismatch, missing files and stray classes", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => loadCausal3DIdent(dir, "train"),
      /Causal3DIdent\/trainset does not exist.*latents_0\.npy/,
    );
    const root = join(dir, "Causal3DIdent", "trainset");
    await makeTree(root, [1, 1, 1, 1, 1, 1, 2]);
    await writeNpy(join(root, "latents_3.npy"), new Float64Array(20), [2, 10], "<f8");
    await assertRejects(
      () => loadCausal3DIdent(dir, "train"),
      /latents_3\.npy has 2 rows but .*images_3 holds 1 images/,
    );
    await Deno.remove(join(root, "latents_3.npy"));
    await assertRejects(() => loadCausal3DIdent(dir, "train"), /latents_3\.npy does not exist/);
    await writeNpy(join(root, "latents_3.npy"), new Float64Array(9), [1, 9], "<f8");
    await assertRejects(
      () => loadCausal3DIdent(dir, "train"),
      /latents_3\.npy has 9 latents per row/,
    );
    await writeNpy(join(root, "latents_3.npy"), new Float64Array(10), [1, 10], "<f8");
    await writeTestImage(join(root, "extra", "a.png"), 2, 2, 0);
    await assertRejects(() => loadCausal3DIdent(dir, "train"), /class folders are .*extra/);
  });
});
