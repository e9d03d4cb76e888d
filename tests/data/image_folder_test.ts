import { imageFolder } from "../../src/data/image_folder.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { assertSame, colourOf, withTempDir, writeImages } from "./make_trees.ts";

Deno.test("imageFolder() orders classes and nested files as torchvision's ImageFolder", async () => {
  await withTempDir(async (dir) => {
    const root = `${dir}/val`;
    await writeImages(root, [
      "Zebra/z1.JPG",
      "Zebra/a.png",
      "apple/b.jpeg",
      "apple/.hidden.png",
      "apple/sub/c.png",
      "apple/sub-2/d.png",
      "apple/sub/deep/e.bmp",
      "Apple/x.webp",
      "_under/u.tif",
      "top.jpg",
    ]);
    await Deno.writeTextFile(`${root}/apple/notes.txt`, "not an image");
    const ds = await imageFolder(root);
    // Code-point order: 'A' < 'Z' < '_' < 'a'. Within a class, sorted(os.walk()) orders folders
    // by full path, so "sub-2" ('-' < '/') comes before "sub/deep"; os.walk keeps hidden files.
    assertSame(ds.classes, ["Apple", "Zebra", "_under", "apple"], "classes");
    const rel = ds.paths.map((p) => p.slice(root.length + 1));
    assertSame(rel, [
      "Apple/x.webp",
      "Zebra/a.png",
      "Zebra/z1.JPG",
      "_under/u.tif",
      "apple/.hidden.png",
      "apple/b.jpeg",
      "apple/sub/c.png",
      "apple/sub-2/d.png",
      "apple/sub/deep/e.bmp",
    ], "sample order");
    assertArrayEqual(ds.targets, [0, 1, 1, 2, 3, 3, 3, 3, 3], "labels");
    assert(ds.length === 9 && ds.numClasses === 4 && ds.kind === "classification", "shape");
    assert(ds.name === "val", `name from the folder, got ${ds.name}`);
    const img = await ds.image(7);
    assertArrayEqual(img.data.subarray(0, 3), colourOf("apple/sub-2/d.png"), "image 7 pixels");
    assert(ds.describe(7) === `${root}/apple/sub-2/d.png`, "describe");
  });
});

Deno.test("imageFolder() follows linked class folders and keys content by file state", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, ["elsewhere/k.png", "data/a/1.png"]);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/data/b`);
    // Two links to one folder are walked twice (as os.walk does); a link back to an ancestor
    // is not entered (os.walk would recurse until the path is too long).
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/data/a/dup1`);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/data/a/dup2`);
    await Deno.symlink(`${dir}/data/a`, `${dir}/data/a/loop`);
    const ds = await imageFolder(`${dir}/data/`, { name: "tiny" });
    assertSame(ds.classes, ["a", "b"], "linked folder is a class");
    assertSame(ds.paths.map((p) => p.slice(dir.length + 1)), [
      "data/a/1.png",
      "data/a/dup1/k.png",
      "data/a/dup2/k.png",
      "data/b/k.png",
    ], "paths");
    assert(ds.name === "tiny", "explicit name");
    const before = ds.contentKey;
    await writeImages(dir, ["data/a/2.png"]);
    assert((await imageFolder(`${dir}/data`)).contentKey !== before, "new file changes the key");
  });
});

Deno.test("imageFolder() names the root for a missing folder, no classes or an empty class", async () => {
  await withTempDir(async (dir) => {
    const e = await assertRejects(
      () => imageFolder(`${dir}/none`),
      /none does not exist; expected/,
    );
    assert(e instanceof DataError, "DataError");
    await writeImages(dir, ["flat/a.png"]);
    await Deno.mkdir(`${dir}/flat2`);
    await assertRejects(() => imageFolder(`${dir}/flat`), /flat: no class folders found/);
    await writeImages(dir, ["flat/cat/1.png"]);
    await Deno.mkdir(`${dir}/flat/dog/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/flat/dog/sub/readme.txt`, "x");
    await assertRejects(
      () => imageFolder(`${dir}/flat`),
      /flat: no images in class folder\(s\) dog/,
    );
  });
});
