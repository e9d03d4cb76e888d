import { loadCoil100 } from "../../src/data/coil100.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertRejects } from "../util/assert.ts";
import {
  assertSame,
  coil100Files,
  relativeGroups,
  withTempDir,
  writeImages,
} from "./make_trees.ts";

const ANGLES = [0, 5, 10, 100];

Deno.test("loadCoil100() groups obj<N>__<angle>.png by object in sorted order", async () => {
  await withTempDir(async (dir) => {
    // Objects 1…10 so that obj1 / obj10 share a prefix; extra files the glob must ignore.
    await writeImages(dir, coil100Files([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], ANGLES));
    await writeImages(dir, [
      "COIL100/.obj1__15.png",
      "COIL100/obj1__20.PNG",
      "COIL100/sub/obj1__25.png",
    ]);
    await Deno.writeTextFile(`${dir}/COIL100/convertGroupppm2png.pl`, "#!/usr/bin/perl\n");
    const ds = await loadCoil100(`${dir}/COIL100`);
    assert(ds.groups.length === 10, `10 groups, got ${ds.groups.length}`);
    const rel = relativeGroups(ds.groups, `${dir}/COIL100`);
    // Python sorted(): "obj1__10.png" < "obj1__100.png" ('.' < '0') < "obj1__5.png".
    assertSame(rel[0], ["obj1__0.png", "obj1__10.png", "obj1__100.png", "obj1__5.png"], "group 0");
    assertSame(
      rel[9],
      ["obj10__0.png", "obj10__10.png", "obj10__100.png", "obj10__5.png"],
      "group 9",
    );
    assertSame(ds.groups.map((g) => g.name).slice(0, 3), ["obj1", "obj2", "obj3"], "names");
    for (let g = 0; g < 10; g++) {
      assert(
        rel[g].every((p) => p.startsWith(`obj${g + 1}__`)),
        `group ${g} holds object ${g + 1}`,
      );
    }
  });
});

Deno.test("loadCoil100() content key changes when a member file changes", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, coil100Files([1, 2], ANGLES));
    const a = await loadCoil100(`${dir}/COIL100`);
    assert(a.contentKey === (await loadCoil100(`${dir}/COIL100`)).contentKey, "stable key");
    await Deno.writeFile(`${dir}/COIL100/obj2__5.png`, new Uint8Array(10));
    assert(a.contentKey !== (await loadCoil100(`${dir}/COIL100`)).contentKey, "key follows edits");
  });
});

Deno.test("loadCoil100() reports a missing folder, bad names and gaps with the expected layout", async () => {
  await withTempDir(async (dir) => {
    const missing = await assertRejects(
      () => loadCoil100(`${dir}/COIL100`),
      /^COIL100: .*COIL100 does not exist; expected .*COIL100\/obj<N>__<angle>\.png/,
    );
    assert(missing instanceof DataError, "DataError");
    await Deno.mkdir(`${dir}/COIL100`);
    await assertRejects(() => loadCoil100(`${dir}/COIL100`), /found no images in .*COIL100/);
    await writeImages(dir, coil100Files([1, 3], ANGLES));
    await assertRejects(() => loadCoil100(`${dir}/COIL100`), /none for 2; ids must run 1…N/);
    await writeImages(dir, [...coil100Files([2], ANGLES), "COIL100/objX__0.png"]);
    await assertRejects(
      () => loadCoil100(`${dir}/COIL100`),
      /objX__0\.png: object number 'X' is not an integer; expected/,
    );
  });
});
