/**
 * make_world: every layout with the exact file names the loaders expect, read back with the real
 * loaders; the manifest's skip / re-render / stale-file rules; the command line's errors.
 */
import { loadCausal3DIdent } from "../../src/data/causal3dident.ts";
import { imageFolder } from "../../src/data/image_folder.ts";
import { loadRealWorld } from "../../src/data/realworld.ts";
import {
  WORLD_CLASSES,
  worldGroups,
  worldImageFolder,
  worldKeypoints,
  worldLatents,
} from "../../src/world/world.ts";
import { exportWorld, type WorldExportOptions } from "../../src/world/world_export.ts";
import { loadImage } from "../../src/image/decode.ts";
import { readNpy } from "../../src/io/npy.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { runScript } from "./eval_tree.ts";

const QUIET: WorldExportOptions = { log: () => {}, resolution: 16 };

/** Every file under `root`, relative, sorted (hidden files included). */
async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, rel: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await visit(`${dir}/${e.name}`, r);
      else out.push(r);
    }
  };
  await visit(root, "");
  return out.sort();
}

function sameStrings(actual: readonly string[], expected: readonly string[], what: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  assert(a === e, `${what}: got ${a.slice(0, 300)}, expected ${e.slice(0, 300)}`);
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "make-world-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "make_world imagefolder: <split>/<class>/<nnnnn>.png read back by imageFolder()",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("make_world imagefolder").int(1000);
    await withTemp(async (dir) => {
      const options = { ...QUIET, seed, perClass: 3, testPerClass: 2, splits: ["train", "val"] };
      const summary = await exportWorld(gpu, "imagefolder", dir, options);
      assert(summary.images === 35 && summary.written === 35, `summary ${JSON.stringify(summary)}`);
      const expected = [".world_manifest.json"];
      for (const [split, n] of [["train", 3], ["val", 2]] as const) {
        for (const c of WORLD_CLASSES) {
          for (let i = 0; i < n; i++) expected.push(`${split}/${c}/0000${i}.png`);
        }
      }
      sameStrings(await listTree(dir), expected.sort(), "imagefolder files");
      const train = await imageFolder(`${dir}/train`);
      sameStrings(train.classes, WORLD_CLASSES, "ImageFolder classes");
      const world = worldImageFolder(gpu, { seed, perClass: 3, resolution: 16, split: "train" });
      assertArrayEqual(train.targets, world.targets, "ImageFolder labels vs world classes");
      for (const i of [0, 10, 20]) {
        const fromDisk = await loadImage(train.paths[i]);
        assertArrayEqual(fromDisk.data, (await world.image(i)).data, `image ${i} after PNG`);
      }
    });
  },
);

Deno.test(
  "make_world coil100 / aloi-*: the real-world loaders get the world's groups",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("make_world groups").int(1000);
    await withTemp(async (dir) => {
      const objects = 3;
      for (
        const [layout, key, kind, perGroup] of [
          ["coil100", "COIL100", "coil", 72],
          ["aloi-illumination", "ALOI-illumination", "illumination", 8],
          ["aloi-temperature", "ALOI-temperature", "temperature", 12],
        ] as const
      ) {
        await exportWorld(gpu, layout, dir, { ...QUIET, seed, objects });
        const loaded = await loadRealWorld(key, dir);
        const world = worldGroups(gpu, kind, { seed, objects, resolution: 16 });
        const groups = kind === "illumination" ? 3 * objects : objects;
        assert(loaded.groups.length === groups, `${key}: ${loaded.groups.length} groups`);
        loaded.groups.forEach((g, gi) => {
          assert(g.paths.length === perGroup, `${key} group ${gi}: ${g.paths.length} views`);
          assert(g.name === world.groups[gi].name, `${key} group ${gi}: ${g.name}`);
          sameStrings(
            g.paths.map((p) => p.slice(dir.length + 1)),
            world.groups[gi].paths,
            `${key} group ${gi}`,
          );
        });
        const last = loaded.groups.length - 1;
        const disk = await loadImage(loaded.groups[last].paths[5]);
        const rendered = (await world.images(last))[5];
        assertArrayEqual(disk.data, rendered.data, `${key}: file vs render`);
      }
      const files = await listTree(dir);
      assert(files.filter((f) => f.startsWith("COIL100/")).length === 216, "COIL100 file count");
      assert(files.includes("COIL100/obj3__355.png"), "COIL100 names");
      assert(files.includes("ALOI/illumination/2/2_l8c3.png"), "ALOI-illumination names");
      assert(files.includes("ALOI/temperature/3/3_i190.png"), "ALOI-temperature names");
    });
  },
);

Deno.test(
  "make_world causal3dident: images_<c>/<padded>.png and float64 latents_<c>.npy",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("make_world causal3dident").int(1000);
    await withTemp(async (dir) => {
      await exportWorld(gpu, "causal3dident", dir, {
        ...QUIET,
        seed,
        perClass: 12,
        testPerClass: 3,
      });
      const files = await listTree(dir);
      for (
        const [folder, split, n, width] of [
          ["trainset", "train", 12, 2],
          ["testset", "test", 3, 1],
        ] as const
      ) {
        const root = `Causal3DIdent/${folder}`;
        const world = worldLatents(gpu, { seed, perClass: n, split, resolution: 16 });
        for (let c = 0; c < 7; c++) {
          const names = files.filter((f) => f.startsWith(`${root}/images_${c}/`));
          const expected = Array.from(
            { length: n },
            (_, i) => `${root}/images_${c}/${String(i).padStart(width, "0")}.png`,
          );
          sameStrings(names, expected, `${folder} class ${c}`);
          const npy = await readNpy(`${dir}/${root}/latents_${c}.npy`);
          assert(npy.type === "f8", `latents_${c}.npy is ${npy.type}, not float64`);
          assertArrayEqual(npy.shape, [n, 10], `latents_${c}.npy shape`);
          assertArrayEqual(npy.data, world.latents.subarray(c * n * 10, (c + 1) * n * 10));
        }
        const folderDs = await imageFolder(`${dir}/${root}`);
        sameStrings(
          folderDs.classes,
          Array.from({ length: 7 }, (_, c) => `images_${c}`),
          "classes",
        );
        const i = 5 * n + 1;
        assertArrayEqual((await loadImage(folderDs.paths[i])).data, (await world.image(i)).data);
        const loaded = await loadCausal3DIdent(dir, split);
        assert(loaded.length === 7 * n && loaded.latentDim === 10, `loader: ${loaded.length} rows`);
        assertArrayEqual(loaded.latents, world.latents, `${folder}: loader latents`);
        assertArrayEqual(loaded.classes, world.classes, `${folder}: loader classes`);
      }
    });
  },
);

Deno.test(
  "make_world keypoints: class folders plus keypoints.csv in ImageFolder order",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("make_world keypoints").int(1000);
    await withTemp(async (dir) => {
      await exportWorld(gpu, "keypoints", dir, { ...QUIET, seed, perClass: 2, testPerClass: 1 });
      for (const [split, n] of [["train", 2], ["test", 1]] as const) {
        const root = `${dir}/WorldKeypoints/${split}`;
        const folder = await imageFolder(root);
        const lines = (await Deno.readTextFile(`${root}/keypoints.csv`)).trimEnd().split("\n");
        assert(lines[0] === "path,x0,y0,x1,y1,x2,y2,x3,y3,x4,y4", `csv header ${lines[0]}`);
        assert(lines.length === 1 + 7 * n, `csv rows ${lines.length - 1}`);
        const world = worldKeypoints(gpu, { seed, perClass: n, split, resolution: 16 });
        lines.slice(1).forEach((line, i) => {
          const [path, ...values] = line.split(",");
          assert(`${root}/${path}` === folder.paths[i], `row ${i}: ${path} vs ${folder.paths[i]}`);
          assertArrayEqual(values.map(Number), world.targets.subarray(10 * i, 10 * i + 10));
        });
      }
    });
  },
);

Deno.test(
  "make_world skips up-to-date files, re-renders changed ones, removes stale ones",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const seed = testRng("make_world manifest").int(1000);
    await withTemp(async (dir) => {
      const options = { ...QUIET, seed, objects: 2 };
      const first = await exportWorld(gpu, "aloi-temperature", dir, options);
      assert(first.written === 24 && first.skipped === 0, `first run ${JSON.stringify(first)}`);
      const again = await exportWorld(gpu, "aloi-temperature", dir, options);
      assert(again.written === 0 && again.skipped === 24, `second run ${JSON.stringify(again)}`);
      const victim = `${dir}/ALOI/temperature/2/2_i130.png`;
      const before = await Deno.readFile(victim);
      await Deno.remove(victim);
      const repaired = await exportWorld(gpu, "aloi-temperature", dir, options);
      assert(repaired.written === 1, `after deleting a file ${JSON.stringify(repaired)}`);
      assertArrayEqual(await Deno.readFile(victim), before, "re-rendered file differs");
      // Another resolution is another content key: everything is rendered again.
      const bigger = await exportWorld(gpu, "aloi-temperature", dir, {
        ...options,
        resolution: 20,
      });
      assert(bigger.written === 24, `new resolution ${JSON.stringify(bigger)}`);
      // Fewer objects: object 2's files go, object 1's stay; other layouts are left alone.
      await exportWorld(gpu, "coil100", dir, { ...options, objects: 1 });
      const fewer = await exportWorld(gpu, "aloi-temperature", dir, { ...options, objects: 1 });
      assert(
        fewer.removed === 12 && fewer.written === 12,
        `fewer objects ${JSON.stringify(fewer)}`,
      );
      const files = await listTree(dir);
      assert(!files.some((f) => f.startsWith("ALOI/temperature/2/")), "stale object 2 left behind");
      assert(files.filter((f) => f.startsWith("COIL100/")).length === 72, "COIL100 touched");
      // A damaged manifest is reported, naming the file.
      await Deno.writeTextFile(`${dir}/.world_manifest.json`, "{ not json");
      await assertRejects(
        () => exportWorld(gpu, "aloi-temperature", dir, options),
        /world_manifest\.json is corrupt/,
      );
    });
  },
);

Deno.test("make_world command line: bad flags exit 2 naming the flag; a run exits 0", async () => {
  const run = (args: string[]) => runScript("make_world", args);
  const layout = await run(["--layout", "mnist"]);
  assert(layout.code === 2 && /--layout: 'mnist' is not one of/.test(layout.stderr), layout.stderr);
  const count = await run(["--per-class", "0"]);
  assert(count.code === 2 && /--per-class: must be at least 1/.test(count.stderr), count.stderr);
  const splits = await run(["--splits", "train,../x"]);
  assert(splits.code === 2 && /--splits/.test(splits.stderr), splits.stderr);
  await withTemp(async (dir) => {
    const ok = await run([
      "--layout",
      "aloi-temperature",
      "--out",
      dir,
      "--objects",
      "1",
      "--resolution",
      "8",
    ]);
    assert(ok.code === 0, `exit ${ok.code}: ${ok.stderr}`);
    assert(/aloi-temperature: 12 images/.test(ok.stdout), ok.stdout);
    const files = await listTree(dir);
    assert(files.length === 13, `files ${files}`);
    const blocker = `${dir}/file`;
    await Deno.writeTextFile(blocker, "x");
    const bad = await run(["--layout", "coil100", "--out", `${blocker}/sub`, "--objects", "1"]);
    assert(bad.code === 1 && bad.stderr.includes(blocker), `exit ${bad.code}: ${bad.stderr}`);
  });
});
