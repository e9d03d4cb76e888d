import { loadAloi } from "../../src/data/aloi.ts";
import { assert, assertRejects } from "../util/assert.ts";
import {
  ALOI_TEMPERATURES,
  aloiColFiles,
  aloiIllFiles,
  aloiViewFiles,
  assertSame,
  range,
  relativeGroups,
  withTempDir,
  writeImages,
} from "./make_trees.ts";

Deno.test("loadAloi(viewpoint) groups by object folder, files in name order", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, aloiViewFiles(range(1, 10), [5, 100, 0, 10]));
    await writeImages(dir, ["ALOI/viewpoint/stray.png", "ALOI/viewpoint/3/.hidden_r0.png"]);
    const ds = await loadAloi(`${dir}/ALOI`, "viewpoint");
    assert(ds.groups.length === 10, `10 groups, got ${ds.groups.length}`);
    const rel = relativeGroups(ds.groups, `${dir}/ALOI/viewpoint`);
    assertSame(rel[0], ["1/1_r0.png", "1/1_r10.png", "1/1_r100.png", "1/1_r5.png"], "group 0");
    assertSame(rel[9], ["10/10_r0.png", "10/10_r10.png", "10/10_r100.png", "10/10_r5.png"], "g 9");
    assertSame(rel[2].length, 4, "hidden file skipped");
    assertSame(ds.groups.map((g) => g.name), range(1, 10).map(String), "names");
  });
});

Deno.test("loadAloi(illumination) makes camera-major groups from the digit before .png", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, aloiIllFiles([1, 2], [1, 2, 3], [1, 2, 3]));
    const ds = await loadAloi(`${dir}/ALOI`, "illumination");
    assert(ds.groups.length === 6, `2 objects × 3 cameras = 6 groups, got ${ds.groups.length}`);
    assertSame(
      ds.groups.map((g) => g.name),
      ["1_c1", "2_c1", "1_c2", "2_c2", "1_c3", "2_c3"],
      "order",
    );
    const rel = relativeGroups(ds.groups, `${dir}/ALOI/illumination`);
    assertSame(rel[0], ["1/1_l1c1.png", "1/1_l2c1.png", "1/1_l3c1.png"], "object 1 camera 1");
    assertSame(rel[3], ["2/2_l1c2.png", "2/2_l2c2.png", "2/2_l3c2.png"], "object 2 camera 2");
    assertSame(rel[4], ["1/1_l1c3.png", "1/1_l2c3.png", "1/1_l3c3.png"], "object 1 camera 3");
  });
});

Deno.test("loadAloi(temperature) groups the 12 colour temperatures per object", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, aloiColFiles([1, 2, 3], ALOI_TEMPERATURES));
    const ds = await loadAloi(`${dir}/ALOI`, "temperature");
    assertSame(ds.groups.map((g) => g.paths.length), [12, 12, 12], "sizes");
    const rel = relativeGroups(ds.groups, `${dir}/ALOI/temperature`);
    assertSame(
      rel[1].slice(0, 3),
      ["2/2_i110.png", "2/2_i120.png", "2/2_i130.png"],
      "group 1 head",
    );
    assertSame(rel[1][11], "2/2_i250.png", "group 1 tail");
  });
});

Deno.test("loadAloi() reports missing mode folders, non-integer folders and empty camera groups", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => loadAloi(`${dir}/ALOI`, "viewpoint"),
      /^ALOI-viewpoint: .*\/ALOI does not exist; expected .*ALOI\/viewpoint\/<obj>\/<obj>_r<angle>\.png/,
    );
    await writeImages(dir, aloiViewFiles([1], [0]));
    await assertRejects(
      () => loadAloi(`${dir}/ALOI`, "temperature"),
      /^ALOI-temperature: .*ALOI\/temperature does not exist; expected .*_i<110…250>\.png/,
    );
    await writeImages(dir, ["ALOI/viewpoint/abc/abc_r0.png"]);
    await assertRejects(
      () => loadAloi(`${dir}/ALOI`, "viewpoint"),
      /abc_r0\.png: object folder 'abc' is not an integer/,
    );
    await writeImages(
      dir,
      aloiIllFiles([1, 2], [1, 2], [1, 2, 3]).filter((f) =>
        !f.endsWith("2_l1c3.png") && !f.endsWith("2_l2c3.png")
      ),
    );
    await assertRejects(
      () => loadAloi(`${dir}/ALOI`, "illumination"),
      /group 5 \(2_c3\) has no images; expected .*illumination\/2\/2_l<light>c3\.png/,
    );
    await writeImages(dir, ["ALOI/illumination/1/1_l1cX.png"]);
    await assertRejects(
      () => loadAloi(`${dir}/ALOI`, "illumination"),
      /1_l1cX\.png: camera character 'X' before '\.png' is not a digit/,
    );
  });
});
