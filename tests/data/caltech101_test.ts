/**
 * Caltech-101: the original's split selection (numpy golden) and the loader on a miniature tree.
 *
 * @module
 */
import { join } from "node:path";
import { loadCaltech101, selectCaltech101Split } from "../../src/data/caltech101.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { MAT_EXPECTED, pixel, withTempDir, writeTestImage } from "./downstream_fixtures.ts";

Deno.test("selectCaltech101Split() draws what numpy's seeded choice drew (with replacement, sorted per class)", () => {
  const golden = MAT_EXPECTED.caltech101_split;
  const sizes: number[] = golden.class_sizes;
  const labels = sizes.flatMap((n, c) => new Array(n).fill(c));
  const { train, test } = selectCaltech101Split(labels, sizes.length, 30);
  assertArrayEqual(train, golden.train, "train indices");
  assert(train.length === 30 * sizes.length, "30 per class, duplicates kept");
  assertArrayEqual(
    test,
    [...golden.test_set_order].sort((a: number, b: number) => a - b),
    "test = the rest",
  );
});

function imageName(k: number): string {
  return `image_${String(k + 1).padStart(4, "0")}.jpg`;
}

Deno.test("loadCaltech101() creates both split files when missing and reads labels and images", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "Caltech101");
    const cats = join(root, "caltech101", "101_ObjectCategories");
    // Code-point order: uppercase first, so 'Faces' (1) precedes 'accordion' (2).
    const classes = [["accordion", 4], ["BACKGROUND_Google", 3], ["Faces", 40]] as const;
    for (const [name, n] of classes) {
      for (let k = 0; k < n; k++) {
        await writeTestImage(join(cats, name, imageName(k)), 3, 2, k);
      }
    }
    const notes: string[] = [];
    const train = await loadCaltech101(root, "train", { log: (l) => notes.push(l) });
    assert(notes.length === 1 && /created .*train\.txt/.test(notes[0]), `note: ${notes}`);
    const ids = [
      ...[0, 1, 2].map((k) => `BACKGROUND_Google/${imageName(k)}`),
      ...Array.from({ length: 40 }, (_, k) => `Faces/${imageName(k)}`),
      ...[0, 1, 2, 3].map((k) => `accordion/${imageName(k)}`),
    ];
    const labels = [0, 0, 0, ...new Array(40).fill(1), 2, 2, 2, 2];
    const want = selectCaltech101Split(labels, 3, 30);
    const trainText = await Deno.readTextFile(join(root, "train.txt"));
    assert(
      trainText === want.train.map((i) => `${ids[i]} ${labels[i]}\n`).join(""),
      "train.txt lines",
    );
    assert(train.length === 90 && train.numClasses === 3, `train length ${train.length}`);
    assertArrayEqual(train.targets, want.train.map((i) => labels[i]), "train labels");
    const test = await loadCaltech101(root, "test", { log: (l) => notes.push(l) });
    assert(notes.length === 1, "existing files are not recreated");
    assertArrayEqual(test.targets, want.test.map((i) => labels[i]), "test labels");
    const first = want.test[0];
    assert(test.describe(0).endsWith(ids[first]), test.describe(0));
    const k = Number(ids[first].slice(-8, -4)) - 1;
    assertArrayEqual((await test.image(0)).data.subarray(0, 3), pixel(k, 0, 0), "image pixels");

    await Deno.writeTextFile(join(root, "test.txt"), "Faces/image_0001.jpg x\n");
    await assertRejects(
      () => loadCaltech101(root, "test"),
      /test\.txt line 1: expected '<class_dir>\/<file> <label>'/,
    );
    await Deno.writeTextFile(join(root, "test.txt"), "Faces/nope.jpg 1\n");
    await assertRejects(() => loadCaltech101(root, "test"), /test\.txt: a listed image is missing/);
    await Deno.remove(join(root, "test.txt"));
    await assertRejects(
      () => loadCaltech101(root, "test"),
      /test\.txt does not exist \(but .*train\.txt does\)/,
    );
    await assertRejects(
      () => loadCaltech101(join(dir, "none"), "test"),
      /101_ObjectCategories does not exist/,
    );
  });
});
