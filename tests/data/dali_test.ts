import { loadDali } from "../../src/data/dali.ts";
import { assert, assertRejects } from "../util/assert.ts";
import {
  assertSame,
  daliFiles,
  range,
  relativeGroups,
  withTempDir,
  writeImages,
} from "./make_trees.ts";

Deno.test("loadDali() groups input/png/<scene>/*.png by scene number", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, daliFiles(range(1, 12), 3));
    await writeImages(dir, ["DaLI/input/png/top.png", "DaLI/input/jpg/1/img_01.png"]);
    const ds = await loadDali(`${dir}/DaLI`);
    assert(ds.groups.length === 12, `12 groups, got ${ds.groups.length}`);
    const rel = relativeGroups(ds.groups, `${dir}/DaLI/input/png`);
    assertSame(rel[0], ["1/img_01.png", "1/img_02.png", "1/img_03.png"], "group 0");
    assertSame(rel[11], ["12/img_01.png", "12/img_02.png", "12/img_03.png"], "group 11");
    assertSame(ds.groups.map((g) => g.name), range(1, 12).map(String), "names");
  });
});

Deno.test("loadDali() reports the missing png folder and non-integer scenes", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/DaLI/input`, { recursive: true });
    await assertRejects(
      () => loadDali(`${dir}/DaLI`),
      /^DaLI: .*DaLI\/input\/png does not exist; expected .*DaLI\/input\/png\/<scene>\/<image>\.png/,
    );
    await writeImages(dir, [...daliFiles([1], 2), "DaLI/input/png/scene2/img_01.png"]);
    await assertRejects(() => loadDali(`${dir}/DaLI`), /scene folder 'scene2' is not an integer/);
  });
});
