import {
  filesContentKey,
  hasExtension,
  IMAGE_EXTENSIONS,
  requireDirectory,
  walkFiles,
} from "../../src/data/files.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertRejects } from "../util/assert.ts";

Deno.test("walkFiles() lists image files in Python's sorted order and content keys track edits", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/b`, { recursive: true });
    await Deno.mkdir(`${root}/B`, { recursive: true });
    await Deno.mkdir(`${root}/b/deep`, { recursive: true });
    await Deno.mkdir(`${root}/b-2`, { recursive: true });
    const names = [
      "b/z.JPG",
      "b/a.png",
      "B/x.bmp",
      "top.jpeg",
      "notes.txt",
      "b/deep/d.png",
      "b-2/c.png",
    ];
    for (const p of names) {
      await Deno.writeTextFile(`${root}/${p}`, p);
    }
    const files = await walkFiles(root, IMAGE_EXTENSIONS);
    const rel = files.map((f) => f.slice(root.length + 1));
    // sorted(os.walk()): folders by whole path ("b-2" < "b/deep" since "-" < "/"), upper case
    // before lower case, files by name within a folder.
    const expected = ["top.jpeg", "B/x.bmp", "b/a.png", "b/z.JPG", "b-2/c.png", "b/deep/d.png"];
    assert(
      JSON.stringify(rel) === JSON.stringify(expected),
      `order: ${rel}`,
    );
    assert(!hasExtension("a.txt", IMAGE_EXTENSIONS), "txt is not an image");
    const k1 = await filesContentKey(root, files);
    assert(k1 === await filesContentKey(root, files), "key is stable");
    await Deno.writeTextFile(`${root}/b/a.png`, "changed content");
    assert(k1 !== await filesContentKey(root, files), "key changes when a file changes");
    const err = await assertRejects(() => requireDirectory(`${root}/nope`, "a folder"), /nope/);
    assert(err instanceof DataError, "missing folder is a DataError");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
