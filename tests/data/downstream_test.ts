/**
 * The downstream registry: keys, trainval composition (train ‖ valid), probe and metric (intended
 * vs faithful), on miniature trees.
 *
 * @module
 */
import { join } from "node:path";
import {
  concatSupervised,
  DOWNSTREAM_INFO,
  DOWNSTREAM_KEYS,
  isDownstreamKey,
  loadDownstream,
} from "../../src/data/downstream.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { copyFixture, pixel, withTempDir, writeTestImage } from "./downstream_fixtures.ts";

Deno.test("DOWNSTREAM_KEYS and isDownstreamKey() cover the original's six lower-case keys", () => {
  const keys = DOWNSTREAM_KEYS.join();
  assert(keys === "cifar10,flowers,caltech101,300w,celeba,leeds_sports_pose", keys);
  for (const k of DOWNSTREAM_KEYS) assert(isDownstreamKey(k), k);
  assert(!isDownstreamKey("CIFAR10") && !isDownstreamKey("imagenet"), "upper case / unknown");
  const ridge = DOWNSTREAM_KEYS.filter((k) => DOWNSTREAM_INFO[k].probe === "ridge");
  assert(ridge.join() === "300w,celeba,leeds_sports_pose", `ridge: ${ridge}`);
});

Deno.test("loadDownstream('flowers') concatenates train ‖ val and scores per class unless faithful", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "Flowers");
    await copyFixture("flowers_imagelabels.mat", join(root, "imagelabels.mat"));
    await copyFixture("flowers_setid.mat", join(root, "setid.mat"));
    for (let id = 1; id <= 12; id++) {
      await writeTestImage(join(root, "jpg", `image_${String(id).padStart(5, "0")}.jpg`), 2, 2, id);
    }
    const task = await loadDownstream("flowers", dir);
    assert(task.probe === "logistic" && task.metric === "mean_per_class_accuracy", task.metric);
    // trnid 2 3 1 → labels 1 2 3; valid 6 5 4 → labels 2 1 3 (imagelabels 3 1 2 3 1 2 …).
    assertArrayEqual(task.trainval.targets, [0, 1, 2, 1, 0, 2], "trainval labels");
    assert(task.trainval.length === 6 && task.test.length === 6, "6 + 6");
    assert(task.trainval.describe(4).endsWith("image_00005.jpg"), task.trainval.describe(4));
    assertArrayEqual(
      (await task.trainval.image(4)).data.subarray(0, 3),
      pixel(5, 0, 0),
      "image 4 = id 5",
    );
    await assertRejects(() => task.trainval.image(6), /outside 0…5/);
    const faithful = await loadDownstream("flowers", dir, { faithful: true });
    assert(faithful.metric === "accuracy", `faithful metric ${faithful.metric}`);
  });
});

Deno.test("loadDownstream() uses the train split alone as trainval for LSP and CIFAR-10", async () => {
  await withTempDir(async (dir) => {
    const lsp = join(dir, "LeedsSportsPose");
    await copyFixture("lsp_joints.mat", join(lsp, "joints.mat"));
    for (let i = 0; i < 5; i++) {
      await writeTestImage(join(lsp, "images", `im000${i + 1}.jpg`), 4, 4, i);
    }
    const task = await loadDownstream("leeds_sports_pose", dir);
    assert(task.probe === "ridge" && task.metric === "r2", `${task.probe} ${task.metric}`);
    assert(
      task.trainval.length === 3 && task.test.length === 2 && task.trainval.targetDim === 28,
      "3 + 2",
    );
    const py = join(dir, "CIFAR10", "cifar-10-batches-py");
    for (let b = 1; b <= 5; b++) {
      await copyFixture("cifar-10-batches-py/data_batch_1", join(py, `data_batch_${b}`));
    }
    await copyFixture("cifar-10-batches-py/test_batch", join(py, "test_batch"));
    const cifar = await loadDownstream("cifar10", dir);
    assert(
      cifar.trainval.length === 20 && cifar.test.length === 3 && cifar.metric === "accuracy",
      "cifar",
    );
    await assertRejects(
      () => loadDownstream("300w", dir),
      /300W does not exist; expected .*01_Indoor/,
    );
    await assertRejects(
      () => loadDownstream("celeba", dir),
      /CelebA\/celeba\/img_align_celeba does not exist/,
    );
  });
});

Deno.test("concatSupervised() refuses parts with different target shapes", () => {
  const part = (name: string, targetDim: number) => ({
    name,
    length: 1,
    contentKey: name,
    kind: "regression" as const,
    targetDim,
    targets: new Float64Array(targetDim),
    image: () => Promise.reject(new Error("unused")),
    describe: () => name,
  });
  let message = "";
  try {
    concatSupervised("x", [part("a", 2), part("b", 3)]);
  } catch (e) {
    message = (e as Error).message;
  }
  assert(/cannot concatenate b \(regression, 3 targets\) with a/.test(message), message);
  const ok = concatSupervised("y", [part("a", 2), part("b", 2)]);
  assert(ok.length === 2 && ok.describe(1) === "b", "dispatch to the second part");
});
