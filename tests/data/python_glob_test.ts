import {
  baseName,
  comparePythonStrings,
  globFiles,
  globOneLevelDown,
  parentName,
  parsePythonInt,
} from "../../src/data/python_glob.ts";
import { assertSame, withTempDir, writeImages } from "./make_trees.ts";

Deno.test("comparePythonStrings() sorts by code point, also above U+FFFF", () => {
  const names = ["\u{1F600}.png", "\uFFFD.png", "é.png", "a.png", "B.png", "a-b.png", "a/b.png"];
  // Python: sorted(...) → B < a-b < a.png < a/b ('-' < '.' < '/') < é < U+FFFD < U+1F600.
  assertSame([...names].sort(comparePythonStrings), [
    "B.png",
    "a-b.png",
    "a.png",
    "a/b.png",
    "é.png",
    "\uFFFD.png",
    "\u{1F600}.png",
  ], "order");
  // UTF-16 order would put the emoji (surrogate 0xD83D) before U+FFFD.
  assertSame(["\uFFFD", "\u{1F600}"].sort()[0], "\u{1F600}", "plain sort differs");
});

Deno.test("parsePythonInt() accepts what int() accepts for ASCII digits", () => {
  assertSame(
    ["7", " 7\n", "+3", "-2", "1_0", "007"].map(parsePythonInt),
    [7, 7, 3, -2, 10, 7],
    "ok",
  );
  for (const bad of ["", "1__0", "_1", "1_", "x1", "1.0", "0x10", "l"]) {
    assertSame(parsePythonInt(bad), undefined, `'${bad}'`);
  }
  assertSame([baseName("a/b/c.png"), parentName("a/b/c.png")], ["c.png", "b"], "path parts");
});

Deno.test("globFiles() and globOneLevelDown() follow glob's rules", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, ["r/1/x.png", "r/1-a/y.png", "r/10/z.png", "r/.h/w.png", "r/1/.v.png"]);
    await writeImages(dir, ["r/top.png", "r/1/deep/q.png", "r/1/u.PNG"]);
    const rel = (ps: string[]) => ps.map((p) => p.slice(dir.length + 1));
    // Sorted by full path: "r/1-a/…" < "r/1/…" ('-' < '/') < "r/10/…".
    assertSame(
      rel(await globOneLevelDown(`${dir}/r`, ".png", "sorted")),
      ["r/1-a/y.png", "r/1/x.png", "r/10/z.png"],
      "one level, hidden skipped, case-sensitive",
    );
    assertSame(rel(await globFiles(`${dir}/r`, ".png", "sorted")), ["r/top.png"], "top level");
    assertSame(await globFiles(`${dir}/missing`, ".png", "sorted"), [], "missing folder is empty");
  });
});
