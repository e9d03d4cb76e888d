/**
 * Leeds Sports Pose: split files as numpy wrote them, the centred square crop and the joint
 * mapping, on a miniature tree with a scipy-written joints.mat.
 *
 * @module
 */
import { join } from "node:path";
import { leedsSportsPoseSplits, loadLeedsSportsPose } from "../../src/data/leeds_sports_pose.ts";
import { encodeNpy, readNpy } from "../../src/io/npy.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import {
  copyFixture,
  MAT_FIXTURES,
  pixel,
  withTempDir,
  writeTestImage,
} from "./downstream_fixtures.ts";

Deno.test("leedsSportsPoseSplits(2000) equals the train/test files numpy's seeded shuffle wrote", async () => {
  const splits = leedsSportsPoseSplits(2000);
  assertArrayEqual(
    splits.train,
    (await readNpy(join(MAT_FIXTURES, "lsp_train.npy"))).data,
    "train",
  );
  assertArrayEqual(splits.test, (await readNpy(join(MAT_FIXTURES, "lsp_test.npy"))).data, "test");
});

// joints.mat fixture (3×14×5): x = 10.25 + 3j + 0.5i, y = 4.75 + 2j + 1.5i.
const SIZES: [number, number][] = [[9, 6], [6, 9], [7, 7], [10, 5], [5, 8]];

Deno.test("loadLeedsSportsPose() crops the centred square and maps joints (visibility dropped)", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "LeedsSportsPose");
    await copyFixture("lsp_joints.mat", join(root, "joints.mat"));
    for (let i = 0; i < 5; i++) {
      await writeTestImage(join(root, "images", `im000${i + 1}.jpg`), SIZES[i][0], SIZES[i][1], i);
    }
    const train = await loadLeedsSportsPose(root, "train");
    const test = await loadLeedsSportsPose(root, "test");
    const want = leedsSportsPoseSplits(5);
    assertArrayEqual(
      await Deno.readFile(join(root, "train.npy")),
      encodeNpy(want.train),
      "train.npy",
    );
    assertArrayEqual(await Deno.readFile(join(root, "test.npy")), encodeNpy(want.test), "test.npy");
    assert(
      train.length === 3 && test.length === 2 && train.targetDim === 28,
      "3 / 2 items, 28 values",
    );
    const order = [...want.train, ...want.test];
    const items = [train, test].flatMap((d) =>
      Array.from({ length: d.length }, (_, k) => ({ d, k }))
    );
    for (let n = 0; n < 5; n++) {
      const { d, k } = items[n];
      const i = order[n];
      const [w, h] = SIZES[i];
      const m = Math.min(w, h);
      const left = Math.floor((w - m) / 2);
      const top = Math.floor((h - m) / 2);
      const expected: number[] = [];
      for (let j = 0; j < 14; j++) {
        expected.push(
          (10.25 + 3 * j + 0.5 * i - left) / m * 224,
          (4.75 + 2 * j + 1.5 * i - top) / m * 224,
        );
      }
      assertArrayEqual(
        d.targets.subarray(k * 28, k * 28 + 28),
        expected,
        `targets of im000${i + 1}`,
      );
      const img = await d.image(k);
      assert(img.width === m && img.height === m, `crop ${img.width}x${img.height}`);
      assertArrayEqual(
        img.data.subarray(0, 3),
        pixel(i, left, top),
        `crop origin of im000${i + 1}`,
      );
      assert(d.describe(k).endsWith(`im000${i + 1}.jpg`), d.describe(k));
    }
  });
});

Deno.test("loadLeedsSportsPose() rejects a joints/image count mismatch and missing files", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "LeedsSportsPose");
    await assertRejects(
      () => loadLeedsSportsPose(root, "train"),
      /LeedsSportsPose\/images does not exist; expected .*joints\.mat/,
    );
    for (let i = 0; i < 4; i++) {
      await writeTestImage(join(root, "images", `im000${i + 1}.jpg`), 4, 4, i);
    }
    await assertRejects(() => loadLeedsSportsPose(root, "train"), /joints\.mat does not exist/);
    await copyFixture("lsp_joints.mat", join(root, "joints.mat"));
    await assertRejects(
      () => loadLeedsSportsPose(root, "train"),
      /'joints' has shape 3x14x5, expected 3x14x4/,
    );
  });
});
