import { listedImageDataset } from "../../src/data/listed_images.ts";
import { npySplitIndices } from "../../src/data/split_files.ts";
import { encodeNpy } from "../../src/io/npy.ts";
import { cropBox } from "../../src/image/crop.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { colourOf, withTempDir, writeImages } from "./make_trees.ts";

Deno.test("listedImageDataset() decodes paths[i], applies adjust(img, i), rejects bad indices", async () => {
  await withTempDir(async (dir) => {
    const rels = ["b/one.png", "a/two.png", "c/three.png"];
    await writeImages(dir, rels);
    const paths = rels.map((r) => `${dir}/${r}`);
    const seen: number[] = [];
    const ds = listedImageDataset(paths, {
      name: "listed",
      contentKey: "k",
      kind: "regression",
      targetDim: 2,
      targets: Float64Array.from([1, 2, 3, 4, 5, 6]),
      adjust: (img, index) => {
        seen.push(index);
        return cropBox(img, 0, 0, 1 + index, 1);
      },
    });
    assert(ds.length === 3 && ds.name === "listed" && !("numClasses" in ds), "fields");
    for (const i of [2, 0, 1]) {
      const img = await ds.image(i);
      // tinyPng fills 3×2 with colourOf(rel); the crop keeps (1 + i)×1 of it.
      assert(img.width === 1 + i && img.height === 1, `crop ${img.width}x${img.height}`);
      assertArrayEqual(Array.from(img.data.subarray(0, 3)), colourOf(rels[i]), `pixel of ${i}`);
      assert(ds.describe(i) === paths[i], "describe names the file");
    }
    assertArrayEqual(seen, [2, 0, 1], "adjust sees each index");
    for (const bad of [-1, 3, 1.5, NaN]) {
      await assertRejects(() => ds.image(bad), /listed: image index .* outside 0…2/);
    }
    assert(ds.describe(7) === "listed[7]", "describe outside the list");
    const plain = listedImageDataset(paths, {
      name: "plain",
      contentKey: "k",
      kind: "classification",
      targetDim: 1,
      numClasses: 4,
      targets: Float64Array.from([0, 3, 1]),
    });
    const img = await plain.image(1);
    assert(img.width === 3 && img.height === 2 && plain.numClasses === 4, "no adjust: as decoded");
  });
});

Deno.test("npySplitIndices() writes every split as np.save int64 once, reads and range-checks", async () => {
  await withTempDir(async (dir) => {
    const rng = testRng("npy splits");
    const n = 5 + rng.int(20);
    const perm = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    const cut = 1 + rng.int(n - 2);
    const files = { train: `${dir}/train.npy`, test: `${dir}/test.npy` };
    let draws = 0;
    const create = () => {
      draws++;
      return { train: perm.slice(0, cut), test: perm.slice(cut) };
    };
    const test = await npySplitIndices(files, "test", create, n, "delete them");
    assertArrayEqual(Array.from(test), perm.slice(cut), "test indices");
    for (const [s, want] of [["train", perm.slice(0, cut)], ["test", perm.slice(cut)]] as const) {
      const bytes = await Deno.readFile(files[s]);
      assertArrayEqual(bytes, encodeNpy(want, [want.length], "<i8"), `${s}.npy bytes`);
    }
    const train = await npySplitIndices(files, "train", create, n, "delete them");
    assertArrayEqual(Array.from(train), perm.slice(0, cut), "train read back");
    assert(draws === 1, `split drawn once, got ${draws}`);
    // Fewer images than the stored indices assume: a DataError naming the file and the fix.
    const top = Math.max(...perm.slice(0, cut));
    await assertRejects(
      () => npySplitIndices(files, "train", create, top, "delete them"),
      new RegExp(`train\\.npy: index ${top} outside 0…${top - 1} \\(${top} images\\); delete them`),
    );
    await Deno.writeFile(files.test, encodeNpy([0, 2.5], [2], "<f8"));
    await assertRejects(
      () => npySplitIndices(files, "test", create, n, "delete them"),
      /test\.npy: index 2\.5 outside/,
    );
  });
});
