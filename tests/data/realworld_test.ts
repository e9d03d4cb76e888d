import {
  isRealWorldKey,
  loadRealWorld,
  parseRealWorldKey,
  REALWORLD_KEYS,
  realWorldInfo,
  type RealWorldKey,
  realWorldRoot,
} from "../../src/data/realworld.ts";
import { DataError, UsageError } from "../../src/util/errors.ts";
import { assert, assertRejects } from "../util/assert.ts";
import {
  ALOI_TEMPERATURES,
  aloiColFiles,
  aloiIllFiles,
  aloiViewFiles,
  alotTextureFiles,
  assertSame,
  coil100Files,
  daliFiles,
  exposureFiles,
  flickrFiles,
  range,
  realBlurFiles,
  withTempDir,
  writeImages,
} from "./make_trees.ts";

/** One data root holding a miniature of every dataset, in the real layouts. */
async function writeDataRoot(dir: string): Promise<void> {
  await writeImages(dir, [
    ...coil100Files([1, 2, 3], [0, 5, 10, 15]),
    ...aloiViewFiles([1, 2, 3], [0, 5, 10, 15]),
    ...aloiIllFiles([1, 2], range(1, 8), [1, 2, 3]),
    ...aloiColFiles([1, 2], ALOI_TEMPERATURES),
    ...range(1, 2).flatMap(alotTextureFiles),
    ...exposureFiles(["a0001-jmac_DSC1459", "a0002-dgw_137"]),
    ...daliFiles([1, 2, 3], 2),
    ...flickrFiles("Train", [1]),
    ...flickrFiles("Test", [1]),
    ...realBlurFiles(["scene001"], [1, 2]),
  ]);
}

/** [groups, images per group] of each miniature (hand-counted from writeDataRoot). */
const EXPECTED: Record<RealWorldKey, [number, number]> = {
  "COIL100": [3, 4],
  "ALOI-viewpoint": [3, 4],
  "ALOI-illumination": [6, 8],
  "ALOI-temperature": [2, 12],
  "ALOT-viewpoint": [12, 16],
  "ALOT-illumination": [32, 6],
  "ALOT-temperature": [8, 2],
  "ExposureErrors": [2, 6],
  "DaLI": [3, 2],
  "Flickr1024": [2, 2],
  "RealBlur": [2, 2],
};

Deno.test("REALWORLD_KEYS lists the 11 --dataset keys; matching is case-sensitive", () => {
  assertSame(REALWORLD_KEYS, Object.keys(EXPECTED), "keys in DATA_INFO order");
  assert(isRealWorldKey("ALOT-viewpoint") && !isRealWorldKey("coil100"), "case-sensitive");
  assert(!isRealWorldKey("ALOT"), "ALOT alone is not a key");
  let caught: unknown;
  try {
    parseRealWorldKey("Flickr");
  } catch (e) {
    caught = e;
  }
  assert(
    caught instanceof UsageError &&
      /^dataset: unknown dataset 'Flickr'; expected one of COIL100, /.test(caught.message),
    String(caught),
  );
  assertSame(
    realWorldRoot("ALOI-illumination", "../data/"),
    "../data/ALOI",
    "folder under the root",
  );
  assertSame(realWorldRoot("RealBlur", "/"), "/RealBlur", "filesystem root");
});

Deno.test("loadRealWorld() loads all 11 keys from one data root with the expected group shapes", async () => {
  await withTempDir(async (dir) => {
    await writeDataRoot(dir);
    for (const key of REALWORLD_KEYS) {
      const ds = await loadRealWorld(key, `${dir}/`);
      const [groups, size] = EXPECTED[key];
      assert(ds.name === key && ds.key === key, `${key}: name`);
      assert(ds.root === `${dir}/${realWorldInfo(key).folder}`, `${key}: root ${ds.root}`);
      assertSame(ds.groups.length, groups, `${key}: group count`);
      assertSame(ds.groups.map((g) => g.paths.length), Array(groups).fill(size), `${key}: sizes`);
      const files = ds.groups.flatMap((g) => g.paths);
      if (key !== "ALOT-viewpoint") {
        assertSame(new Set(files).size, files.length, `${key}: disjoint`);
      }
      // Where the miniature has the full per-group structure, sizes equal the original's k.
      if (!["COIL100", "ALOI-viewpoint", "DaLI"].includes(key)) {
        assertSame(size, ds.groupSize, `${key}: k`);
      }
      assert(/^[0-9a-f]{64}$/.test(ds.contentKey), `${key}: content key`);
    }
  });
});

Deno.test("loadRealWorld(faithful) changes only the keys with documented bugs", async () => {
  await withTempDir(async (dir) => {
    await writeDataRoot(dir);
    const intended = await loadRealWorld("ALOT-viewpoint", dir);
    const faithful = await loadRealWorld("ALOT-viewpoint", dir, { faithful: true });
    assert(faithful.faithful && !intended.faithful, "flag recorded");
    // Group 2 = texture 1 with light index 1: light 2 intended, light 1 (t − 1 = 0) faithfully.
    assert(intended.groups[2].paths.every((p) => /1_c\dl2/.test(p)), "intended light 2");
    assert(faithful.groups[2].paths.every((p) => /1_c\dl1/.test(p)), "faithful light 1");
    for (const key of ["COIL100", "ALOI-illumination", "ALOT-temperature", "DaLI"] as const) {
      const a = await loadRealWorld(key, dir);
      const b = await loadRealWorld(key, dir, { faithful: true });
      assertSame(b.groups, a.groups, `${key} does not depend on faithful`);
    }
  });
});

Deno.test("loadRealWorld() gives one DataError per key naming the missing folder and layout", async () => {
  await withTempDir(async (dir) => {
    for (const key of REALWORLD_KEYS) {
      const folder = `${dir}/${realWorldInfo(key).folder}`;
      const escaped = folder.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const err = await assertRejects(
        () => loadRealWorld(key, dir),
        new RegExp(`^${key}: ${escaped} does not exist; expected ${escaped}/`),
        key,
      );
      assert(err instanceof DataError, `${key}: DataError`);
    }
  });
});

Deno.test("eval:realworld's command line names --dataset where the library names its argument", async () => {
  const script = new URL("../../scripts/eval_realworld_invariance.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, "--dataset", "Flickr"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert(
    out.code === 2 && /--dataset: unknown dataset 'Flickr'; expected one of COIL100, /.test(stderr),
    `exit ${out.code}: ${stderr}`,
  );
});
