import { loadFlickr1024 } from "../../src/data/flickr1024.ts";
import { assert, assertRejects } from "../util/assert.ts";
import { assertSame, flickrFiles, relativeGroups, withTempDir, writeImages } from "./make_trees.ts";

Deno.test("loadFlickr1024() pairs each <n>_L.png with its _R.png, sorted across splits", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, [
      ...flickrFiles("Train", [1, 2]),
      ...flickrFiles("Validation", [1]),
      ...flickrFiles("Test", [1]),
    ]);
    await writeImages(dir, ["Flickr1024/top_L.png", "Flickr1024/Train/0009_l.png"]);
    const ds = await loadFlickr1024(`${dir}/Flickr1024`);
    const rel = relativeGroups(ds.groups, `${dir}/Flickr1024`);
    assertSame(rel, [
      ["Test/0001_L.png", "Test/0001_R.png"],
      ["Train/0001_L.png", "Train/0001_R.png"],
      ["Train/0002_L.png", "Train/0002_R.png"],
      ["Validation/0001_L.png", "Validation/0001_R.png"],
    ], "groups");
    assertSame(ds.groups[1].name, "Train/0001", "name");
  });
});

Deno.test("loadFlickr1024(faithful) keeps the glob's OS order, same pairs", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, [...flickrFiles("Train", [3, 1, 2]), ...flickrFiles("Test", [1])]);
    const root = `${dir}/Flickr1024`;
    const expected: string[] = [];
    for await (const split of Deno.readDir(root)) {
      for await (const f of Deno.readDir(`${root}/${split.name}`)) {
        if (f.name.endsWith("_L.png")) expected.push(`${root}/${split.name}/${f.name}`);
      }
    }
    const ds = await loadFlickr1024(root, { faithful: true });
    assertSame(ds.groups.map((g) => g.paths[0]), expected, "left images in OS order");
    assert(ds.groups.every((g) => g.paths[1] === g.paths[0].replace(/L\.png$/, "R.png")), "pairs");
  });
});

Deno.test("loadFlickr1024() names a left image without its right image", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, [...flickrFiles("Train", [1]), "Flickr1024/Train/0002_L.png"]);
    await assertRejects(
      () => loadFlickr1024(`${dir}/Flickr1024`),
      /^Flickr1024: .*Train\/0002_L\.png has no right image .*Train\/0002_R\.png; expected/,
    );
    await assertRejects(
      () => loadFlickr1024(`${dir}/nope`),
      /^Flickr1024: .*nope does not exist; expected .*<split>\/<name>_L\.png/,
    );
  });
});
