/**
 * Flowers-102 loader on a miniature tree with scipy-written imagelabels.mat / setid.mat.
 *
 * @module
 */
import { join } from "node:path";
import { loadFlowers } from "../../src/data/flowers.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { copyFixture, pixel, withTempDir, writeTestImage } from "./downstream_fixtures.ts";

// imagelabels (ids 1…12): 3 1 2 3 1 2 2 3 1 1 2 3 (see make_mat_fixtures.py).
async function makeTree(root: string, setid: string): Promise<void> {
  await copyFixture("flowers_imagelabels.mat", join(root, "imagelabels.mat"));
  await copyFixture(setid, join(root, "setid.mat"));
  for (let id = 1; id <= 12; id++) {
    await writeTestImage(join(root, "jpg", `image_${String(id).padStart(5, "0")}.jpg`), 2, 3, id);
  }
}

Deno.test("loadFlowers() maps setid ids to image files and labels to label − 1", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "Flowers");
    await makeTree(root, "flowers_setid.mat");
    const train = await loadFlowers(root, "train");
    assertArrayEqual(train.targets, [0, 1, 2], "train = ids 2 3 1 → labels 1 2 3"); // trnid 2,3,1
    assert(train.describe(0).endsWith("jpg/image_00002.jpg"), train.describe(0));
    assertArrayEqual((await train.image(2)).data.subarray(0, 3), pixel(1, 0, 0), "image of id 1");
    const val = await loadFlowers(root, "val"); // valid 6,5,4 (stored as uint16)
    assertArrayEqual(val.targets, [1, 0, 2], "val labels");
    const test = await loadFlowers(root, "test"); // 7…12
    assertArrayEqual(test.targets, [1, 2, 0, 0, 1, 2], "test labels");
    assert(test.numClasses === 3 && test.kind === "classification", "3 classes");
  });
});

Deno.test("loadFlowers() ranks labels within the split only when faithful (a split lacking a class)", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "Flowers");
    await makeTree(root, "flowers_setid_partial.mat"); // tstid 7 8 11 12 → labels 2 3 2 3
    assertArrayEqual(
      (await loadFlowers(root, "test")).targets,
      [1, 2, 1, 2],
      "intended: label − 1",
    );
    const faithful = await loadFlowers(root, "test", { faithful: true });
    assertArrayEqual(faithful.targets, [0, 1, 0, 1], "faithful: rank among {2, 3}");
    assert(faithful.numClasses === 2, `faithful classes ${faithful.numClasses}`);
  });
});

Deno.test("loadFlowers() names missing files and images", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "Flowers");
    await assertRejects(
      () => loadFlowers(root, "train"),
      /Flowers\/imagelabels\.mat does not exist; expected .*setid\.mat/,
    );
    await makeTree(root, "flowers_setid.mat");
    await Deno.remove(join(root, "jpg", "image_00003.jpg"));
    await assertRejects(() => loadFlowers(root, "train"), /setid\.mat 'trnid'.*image_00003\.jpg/);
    await copyFixture("numeric.mat", join(root, "setid.mat"));
    await assertRejects(() => loadFlowers(root, "test"), /setid\.mat: no variable 'tstid'/);
  });
});
