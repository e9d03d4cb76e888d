/**
 * 300W: split files as numpy wrote them, the PIL-rounded face crop (zero fill) and the torch
 * float32 target mapping.
 *
 * @module
 */
import { join } from "node:path";
import { faces300WSplits, loadFaces300W } from "../../src/data/faces300w.ts";
import { encodeNpy, readNpy } from "../../src/io/npy.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import {
  copyFixture,
  MAT_EXPECTED,
  MAT_FIXTURES,
  pixel,
  withTempDir,
  writeTestImage,
} from "./downstream_fixtures.ts";

Deno.test("faces300WSplits(600) equals the split files numpy's seeded shuffle wrote", async () => {
  const splits = faces300WSplits(600);
  for (const s of ["train", "valid", "test"] as const) {
    const numpy = await readNpy(join(MAT_FIXTURES, `300w_indoor+outdoor_${s}.npy`));
    assertArrayEqual(splits[s], numpy.data, `${s} indices`);
  }
  assert(splits.train.length === 180 && splits.valid.length === 180, "180 / 180 / 240");
});

/** 68 points: two fixing the box (3, 1)–(8, 4), the rest inside it. */
function simplePts(): { text: string; xy: number[] } {
  const xy = [3, 1, 8, 4];
  for (let k = 0; k < 66; k++) xy.push(3 + (k % 5), 1 + (k % 3) + 0.5);
  let text = "version: 1\nn_points:  68\n{\n";
  for (let i = 0; i < xy.length; i += 2) text += `${xy[i]} ${xy[i + 1]}\n`;
  return { text: text + "}\n", xy };
}

Deno.test("loadFaces300W() crops the landmark square (PIL rounding, zero fill) and maps targets like torch", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "300W");
    await writeTestImage(join(root, "01_Indoor", "indoor_001.png"), 20, 16, 1);
    await copyFixture("300w_tricky.pts", join(root, "01_Indoor", "indoor_001.pts"));
    const simple = simplePts();
    for (
      const [sub, stem, seed] of [
        ["01_Indoor", "indoor_002", 2],
        ["02_Outdoor", "outdoor_001", 3],
        ["02_Outdoor", "outdoor_002", 4],
      ] as const
    ) {
      await writeTestImage(join(root, sub, `${stem}.png`), 6, 6, seed);
      await Deno.writeTextFile(join(root, sub, `${stem}.pts`), simple.text);
    }
    const all = [];
    for (const s of ["train", "valid", "test"] as const) all.push(await loadFaces300W(root, s));
    const want = faces300WSplits(4);
    for (const s of ["train", "valid", "test"] as const) {
      const bytes = await Deno.readFile(join(root, `indoor+outdoor_${s}.npy`));
      assertArrayEqual(bytes, encodeNpy(want[s], [want[s].length], "<i8"), `${s}.npy as np.save`);
    }
    assertArrayEqual(all.map((d) => d.length), [1, 1, 2], "30/30/40 % of 4");
    const items = all.flatMap((d) => Array.from({ length: d.length }, (_, i) => ({ d, i })));
    const tricky = items.find(({ d, i }) => d.describe(i).endsWith("indoor_001.png"))!;
    const golden = MAT_EXPECTED["300w_tricky"];
    const t = tricky.d.targets.subarray(tricky.i * 136, tricky.i * 136 + 136);
    assertArrayEqual(t, golden.targets, "targets = torch's float32 values");
    const img = await tricky.d.image(tricky.i);
    const [left, top, w, h] = golden.crop;
    assert(img.width === w && img.height === h, `crop ${img.width}x${img.height}, want ${w}x${h}`);
    assertArrayEqual(
      img.data.subarray((3 * w + 5) * 3, (3 * w + 5) * 3 + 3),
      pixel(1, left + 5, top + 3),
      "crop pixel (5,3)",
    );
    // The 6×6 images: box (3,1)–(8,6) → 5×5, columns 6, 7 outside the image are black.
    const plain = items.find(({ d, i }) => d.describe(i).endsWith("outdoor_002.png"))!;
    const pi = await plain.d.image(plain.i);
    assert(pi.width === 5 && pi.height === 5, `plain crop ${pi.width}x${pi.height}`);
    assertArrayEqual(
      pi.data.subarray((2 * 5 + 1) * 3, (2 * 5 + 1) * 3 + 3),
      pixel(4, 4, 3),
      "pixel (1,2)",
    );
    assertArrayEqual(
      pi.data.subarray((2 * 5 + 4) * 3, (2 * 5 + 4) * 3 + 3),
      [0, 0, 0],
      "zero fill",
    );
    const pt = plain.d.targets.subarray(plain.i * 136, plain.i * 136 + 136);
    // float32 steps as torch: fround(fround(d / 5) · 224).
    const expected = simple.xy.map((v, k) =>
      Math.fround(Math.fround((v - (k % 2 === 0 ? 3 : 1)) / 5) * 224)
    );
    assertArrayEqual(pt, expected, "targets (v − min)/5·224");
  });
});

Deno.test("loadFaces300W() rejects unpaired landmark files, bad .pts and stale split indices", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "300W");
    await assertRejects(
      () => loadFaces300W(root, "train"),
      /300W does not exist; expected .*01_Indoor/,
    );
    await writeTestImage(join(root, "01_Indoor", "a.png"), 6, 6, 1);
    await Deno.writeTextFile(join(root, "01_Indoor", "b.pts"), simplePts().text);
    await assertRejects(() => loadFaces300W(root, "train"), /a\.png would be paired with .*b\.pts/);
    await Deno.rename(join(root, "01_Indoor", "b.pts"), join(root, "01_Indoor", "a.pts"));
    await Deno.writeTextFile(
      join(root, "01_Indoor", "a.pts"),
      "version: 1\nn_points: 68\n{\n1 x\n}\n",
    );
    await Deno.writeFile(join(root, "indoor+outdoor_test.npy"), encodeNpy([0], [1], "<i8"));
    await assertRejects(() => loadFaces300W(root, "test"), /a\.pts line 4: expected "x y"/);
    await Deno.writeFile(join(root, "indoor+outdoor_test.npy"), encodeNpy([5], [1], "<i8"));
    await assertRejects(
      () => loadFaces300W(root, "test"),
      /indoor\+outdoor_test\.npy: index 5 outside 0…0/,
    );
  });
});
