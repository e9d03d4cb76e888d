/**
 * CelebA landmarks: partition filtering, the 178×218 → 224 mapping (torch golden for the
 * faithful integer truncation) and layout errors.
 *
 * @module
 */
import { join } from "node:path";
import { celebaTarget, loadCelebA } from "../../src/data/celeba.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { MAT_EXPECTED, pixel, withTempDir, writeTestImage } from "./downstream_fixtures.ts";

const GOLDEN = MAT_EXPECTED.celeba_targets as { landmarks: number[][]; faithful: number[][] };

Deno.test("celebaTarget() truncates like the original's int64 tensor when faithful (torch golden)", () => {
  GOLDEN.landmarks.forEach((row, r) => {
    const got = row.map((v, k) => celebaTarget(v, k % 2 === 0, 224, true));
    assertArrayEqual(got, GOLDEN.faithful[r], `row ${r}`);
    const intended = row.map((v, k) => celebaTarget(v, k % 2 === 0, 224, false));
    assertArrayEqual(
      intended,
      row.map((v, k) => (k % 2 === 0 ? v : v - 20) / 178 * 224),
      `row ${r} intended`,
    );
  });
});

async function makeTree(root: string): Promise<void> {
  const base = join(root, "celeba");
  const names = ["000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg"];
  const parts = [0, 2, 1, 2];
  await Deno.mkdir(join(base, "img_align_celeba"), { recursive: true });
  await Deno.writeTextFile(
    join(base, "list_eval_partition.txt"),
    names.map((n, i) => `${n} ${parts[i]}\n`).join(""),
  );
  let text =
    "4\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n";
  names.forEach((n, i) => {
    text += `${n}  ${GOLDEN.landmarks[i % 3].map((v) => String(v).padStart(4, " ")).join(" ")}\n`;
  });
  await Deno.writeTextFile(join(base, "list_landmarks_align_celeba.txt"), text);
  for (let i = 0; i < 4; i++) {
    await writeTestImage(join(base, "img_align_celeba", names[i]), 178, 218, i);
  }
}

Deno.test("loadCelebA() keeps the split's rows and maps their landmarks", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "CelebA");
    await makeTree(root);
    const test = await loadCelebA(root, "test"); // rows 2 and 4 (landmark rows 1 and 0)
    assert(test.length === 2 && test.targetDim === 10, `test length ${test.length}`);
    const intended = (row: number[]) => row.map((v, k) => celebaTarget(v, k % 2 === 0, 224, false));
    assertArrayEqual(test.targets, [
      ...intended(GOLDEN.landmarks[1]),
      ...intended(GOLDEN.landmarks[0]),
    ], "targets");
    const faithful = await loadCelebA(root, "test", { faithful: true });
    assertArrayEqual(
      faithful.targets,
      [...GOLDEN.faithful[1], ...GOLDEN.faithful[0]],
      "faithful targets",
    );
    assert(faithful.contentKey !== test.contentKey, "faithful targets change the content key");
    const valid = await loadCelebA(root, "valid");
    assert(valid.length === 1 && valid.describe(0).endsWith("000003.jpg"), valid.describe(0));
    assertArrayEqual((await valid.image(0)).data.subarray(0, 3), pixel(2, 0, 0), "image 000003");
  });
});

Deno.test("loadCelebA() names missing files, misaligned rows and wrong image sizes", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "CelebA");
    await assertRejects(
      () => loadCelebA(root, "train"),
      /celeba\/img_align_celeba does not exist; expected/,
    );
    await makeTree(root);
    const lm = join(root, "celeba", "list_landmarks_align_celeba.txt");
    const text = await Deno.readTextFile(lm);
    await Deno.writeTextFile(lm, text.replace("000002.jpg", "000009.jpg"));
    await assertRejects(
      () => loadCelebA(root, "train"),
      /line 4 is for 000009\.jpg, but line 2 of .*list_eval_partition\.txt is 000002\.jpg/,
    );
    await Deno.writeTextFile(lm, text);
    await writeTestImage(join(root, "celeba", "img_align_celeba", "000001.jpg"), 10, 10, 0);
    const train = await loadCelebA(root, "train");
    await assertRejects(
      () => train.image(0),
      /000001\.jpg is 10x10; the landmark targets assume .*178x218/,
    );
  });
});
