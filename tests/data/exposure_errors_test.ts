import { exposureId, loadExposureErrors } from "../../src/data/exposure_errors.ts";
import { assert, assertRejects } from "../util/assert.ts";
import {
  assertSame,
  EXPOSURE_SUFFIXES,
  exposureFiles,
  relativeGroups,
  withTempDir,
  writeImages,
} from "./make_trees.ts";

const SCENES = ["a0002-dgw_137", "a0001-jmac_DSC1459", "a0010-kme_264"];

/** Deno.readDir order of `dir`'s entries ending with `suffix` (what an unsorted glob returns). */
async function osOrder(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(suffix)) out.push(e.name);
  return out;
}

Deno.test("loadExposureErrors() makes [GT, its five renderings] groups in sorted order", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, exposureFiles(SCENES));
    // Extensions are case-sensitive in the original's globs: these two are ignored.
    await writeImages(dir, [
      "ExposureErrors/GT_IMAGES/a0003-x.JPG",
      "ExposureErrors/INPUT_IMAGES/a0001-jmac_DSC1459_P2.jpg",
    ]);
    const ds = await loadExposureErrors(`${dir}/ExposureErrors`);
    assertSame(ds.groups.map((g) => g.name), ["a0001", "a0002", "a0010"], "groups sorted by GT");
    const rel = relativeGroups(ds.groups, `${dir}/ExposureErrors`);
    // Sorted inputs: "_0" < "_N1.5" < "_N1." ('5' < 'J') < "_P1.5" < "_P1.".
    const s = "a0001-jmac_DSC1459";
    assertSame(rel[0], [
      `GT_IMAGES/${s}.jpg`,
      `INPUT_IMAGES/${s}_0.JPG`,
      `INPUT_IMAGES/${s}_N1.5.JPG`,
      `INPUT_IMAGES/${s}_N1.JPG`,
      `INPUT_IMAGES/${s}_P1.5.JPG`,
      `INPUT_IMAGES/${s}_P1.JPG`,
    ], "group 0");
    assert(ds.groups.every((g) => g.paths.length === 6), "6 images per group");
  });
});

Deno.test("loadExposureErrors(faithful) keeps OS order and matches ids as path substrings", async () => {
  // The temp folder's name contains the id a0002, as a data root might: the original's substring
  // test then puts every input into a0002's group.
  await withTempDir(async (dir) => {
    await writeImages(dir, exposureFiles(SCENES));
    const root = `${dir}/ExposureErrors`;
    const intended = await loadExposureErrors(root);
    assertSame(intended.groups.map((g) => g.paths.length), [6, 6, 6], "intended sizes");
    const faithful = await loadExposureErrors(root, { faithful: true });
    const gtOrder = await osOrder(`${root}/GT_IMAGES`, ".jpg");
    const inputOrder = await osOrder(`${root}/INPUT_IMAGES`, ".JPG");
    assertSame(
      faithful.groups.map((g) => g.paths[0]),
      gtOrder.map((n) => `${root}/GT_IMAGES/${n}`),
      "GT order",
    );
    for (const g of faithful.groups) {
      const expected = g.name === "a0002"
        ? inputOrder
        : inputOrder.filter((n) => n.startsWith(g.name));
      assertSame(
        g.paths.slice(1),
        expected.map((n) => `${root}/INPUT_IMAGES/${n}`),
        `group ${g.name}`,
      );
    }
  }, "-a0002-root");
});

Deno.test("exposureId() cuts at the first '-' like the original", () => {
  assertSame(exposureId("x/GT_IMAGES/a0001-jmac_DSC1459.jpg", false), "a0001", "intended");
  assertSame(
    exposureId("x/GT_IMAGES/a0001.jpg", true),
    "a0001.jpg",
    "faithful keeps the extension",
  );
  assertSame(exposureId("x/GT_IMAGES/a0001.jpg", false), "a0001", "intended drops it");
  assertSame(EXPOSURE_SUFFIXES.length, 5, "five renderings");
});

Deno.test("loadExposureErrors() names the missing folder and the expected layout", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, ["ExposureErrors/GT_IMAGES/a0001-x.jpg"]);
    await assertRejects(
      () => loadExposureErrors(`${dir}/ExposureErrors`),
      /^ExposureErrors: .*INPUT_IMAGES does not exist; expected .*GT_IMAGES\/<id>-<name>\.jpg and .*INPUT_IMAGES\/<id>-<name>_<N1\.5\|N1\|0\|P1\|P1\.5>\.JPG/,
    );
    await Deno.mkdir(`${dir}/ExposureErrors/INPUT_IMAGES`);
    await assertRejects(
      () => loadExposureErrors(`${dir}/ExposureErrors`),
      /found no images in .*INPUT_IMAGES/,
    );
  });
});
