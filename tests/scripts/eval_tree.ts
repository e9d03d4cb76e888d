/**
 * Miniature trees for the evaluation scripts' end-to-end tests: random PNGs in the real layouts,
 * a narrow ResNet checkpoint under the name the scripts ask for, and a runner for the scripts.
 *
 * @module
 */
import sharp from "sharp";
import { dirname, join } from "node:path";
import { encodeNpy } from "../../src/io/npy.ts";
import type { Rng } from "../../src/util/rng.ts";

/** The MoCo v2 fixture: ResNet-18 at base width 2 (16-d features). */
export const MOCO_FIXTURE: string = new URL(
  "../fixtures/checkpoints/moco_r18_w2.pth.tar",
  import.meta.url,
).pathname;

/** Flags every script run in these tests needs for the narrow network and tiny images. */
export const NARROW = [
  "--base-width",
  "2",
  "--arch",
  "resnet18",
  "--resize",
  "20",
  "--crop-size",
  "16",
];

/** Writes a random RGB PNG of the given size. */
export async function writeRandomPng(rng: Rng, path: string, w: number, h: number): Promise<void> {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  await Deno.mkdir(dirname(path), { recursive: true });
  const png = await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  await Deno.writeFile(path, new Uint8Array(png));
}

/** `<root>/<split>/<class>/img<i>.png`: an ImageFolder of random images. */
export async function writeImageFolder(
  rng: Rng,
  root: string,
  classes: number,
  perClass: number,
): Promise<void> {
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++) {
      await writeRandomPng(
        rng,
        join(root, `c${c}`, `img${i}.png`),
        20 + rng.int(8),
        20 + rng.int(8),
      );
    }
  }
}

/** `<data>/Causal3DIdent/{train,test}set/images_0…6/<NN>.png` + `latents_<c>.npy` [n, 10]. */
export async function writeCausal3DIdent(
  rng: Rng,
  data: string,
  perClass: number[],
): Promise<void> {
  for (const split of ["train", "test"]) {
    const root = join(data, "Causal3DIdent", `${split}set`);
    for (let c = 0; c < 7; c++) {
      const n = split === "train" ? perClass[c] : Math.max(1, perClass[c] >> 1);
      const latents: number[] = [];
      for (let i = 0; i < n; i++) {
        await writeRandomPng(
          rng,
          join(root, `images_${c}`, `${String(i).padStart(2, "0")}.png`),
          20,
          20,
        );
        for (let t = 0; t < 10; t++) latents.push(rng.normal() + c * 0.1 * t);
      }
      await Deno.writeFile(join(root, `latents_${c}.npy`), encodeNpy(latents, [n, 10], "<f8"));
    }
  }
}

/** A model folder holding the fixture under `name`. */
export async function writeModel(dir: string, name = "default"): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.pth.tar`);
  await Deno.copyFile(MOCO_FIXTURE, path);
  return path;
}

/** A script test's temporary tree: models (the fixture as `default`), results and data folders. */
export interface ScriptTree {
  tmp: string;
  models: string;
  results: string;
  data: string;
}

/** Runs `fn` in a fresh {@link ScriptTree} under a temp dir named `prefix…`, removed afterwards. */
export async function withScriptTree(
  prefix: string,
  fn: (tree: ScriptTree) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix });
  try {
    const tree = {
      tmp,
      models: join(tmp, "models"),
      results: join(tmp, "results"),
      data: join(tmp, "data"),
    };
    await writeModel(tree.models);
    await fn(tree);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** The tree's `--data-root` (unless `dataRoot` is false), `--ckpt-dir`, `--results-dir` + NARROW. */
export function treeFlags(tree: ScriptTree, dataRoot = true): string[] {
  return [
    ...(dataRoot ? ["--data-root", tree.data] : []),
    "--ckpt-dir",
    tree.models,
    "--results-dir",
    tree.results,
    ...NARROW,
  ];
}

/** Output of one script run. */
export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/<script>.ts` with `args` in `cwd` (default: this process's). */
export async function runScript(script: string, args: string[], cwd?: string): Promise<ScriptRun> {
  const path = new URL(`../../scripts/${script}.ts`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The JSON records a script wrote under `<results>/<script>/`. */
export async function runRecords(
  results: string,
  script: string,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of Deno.readDir(join(results, script))) {
    if (e.name.endsWith(".json")) {
      out.push(JSON.parse(await Deno.readTextFile(join(results, script, e.name))));
    }
  }
  return out.sort((a, b) =>
    String(a.startedAt).localeCompare(String(b.startedAt)) ||
    String(a.runId).localeCompare(String(b.runId))
  );
}

/**
 * `<data>/Caltech101/caltech101/101_ObjectCategories/<class>/image_NNNN.jpg`-style tree (PNG
 * content) with our own `train.txt` / `test.txt` (labels = ImageFolder indices).
 */
export async function writeCaltech101(
  rng: Rng,
  data: string,
  classes: string[],
  train: number,
  test: number,
): Promise<void> {
  const root = join(data, "Caltech101");
  const sorted = [...classes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const trainLines: string[] = [], testLines: string[] = [];
  for (const [label, cls] of sorted.entries()) {
    for (let i = 0; i < train + test; i++) {
      const name = `image_${String(i + 1).padStart(4, "0")}.png`;
      await writeRandomPng(
        rng,
        join(root, "caltech101", "101_ObjectCategories", cls, name),
        22,
        20,
      );
      (i < train ? trainLines : testLines).push(`${cls}/${name} ${label}`);
    }
  }
  await Deno.writeTextFile(join(root, "train.txt"), trainLines.join("\n") + "\n");
  await Deno.writeTextFile(join(root, "test.txt"), testLines.join("\n") + "\n");
}

/** `<data>/300W/{01_Indoor,02_Outdoor}/<name>.png` + `.pts` (68 random points inside). */
export async function write300W(rng: Rng, data: string, perFolder: number): Promise<void> {
  for (const sub of ["01_Indoor", "02_Outdoor"]) {
    for (let i = 0; i < perFolder; i++) {
      const stem = join(
        data,
        "300W",
        sub,
        `${sub.slice(3).toLowerCase()}_${String(i + 1).padStart(3, "0")}`,
      );
      const w = 40, h = 36;
      await writeRandomPng(rng, `${stem}.png`, w, h);
      const pts = ["version: 1", "n_points:  68", "{"];
      for (let p = 0; p < 68; p++) {
        pts.push(`${(4 + rng.uniform() * 30).toFixed(3)} ${(3 + rng.uniform() * 28).toFixed(3)}`);
      }
      pts.push("}");
      await Deno.writeTextFile(`${stem}.pts`, pts.join("\n") + "\n");
    }
  }
}
