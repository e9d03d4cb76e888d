/**
 * The pretraining loop end to end: kill -9 and --resume give bit-identical weights, the loss
 * falls on a tiny dataset, and bad settings are refused before anything runs.
 */
import type { ImageDataset } from "../../src/data/dataset.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { createImage, type RgbImage } from "../../src/image/image.ts";
import { resize } from "../../src/image/resize.ts";
import { toNormalizedTensor } from "../../src/image/to_tensor.ts";
import type { TorchTensor } from "../../src/io/torch/tensor.ts";
import { MoCo } from "../../src/models/moco.ts";
import { parseArch } from "../../src/models/resnet.ts";
import { loadTrainingCheckpoint } from "../../src/train/checkpoint.ts";
import { pretrain, type PretrainDeps } from "../../src/train/pretrain.ts";
import { type PretrainConfig, validatePretrainConfig } from "../../src/train/pretrain_config.ts";
import { parseMainMocoArgs, pretrainFlag } from "../../scripts/main_moco.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import type { Rng } from "../../src/util/rng.ts";

const SCRIPT = new URL("../../scripts/main_moco.ts", import.meta.url).pathname;

/** Writes `count` binary PPM images of w×h in `<root>/train/<class>/`, two classes. */
async function tinyImageFolder(root: string, count: number, rng: Rng): Promise<void> {
  for (let i = 0; i < count; i++) {
    const dir = `${root}/train/${i % 2 === 0 ? "even" : "odd"}`;
    await Deno.mkdir(dir, { recursive: true });
    const [w, h] = [36 + (i % 3) * 4, 40];
    const header = new TextEncoder().encode(`P6\n${w} ${h}\n255\n`);
    const body = new Uint8Array(w * h * 3);
    const base = [rng.int(256), rng.int(256), rng.int(256)];
    for (let p = 0; p < w * h; p++) {
      for (let c = 0; c < 3; c++) body[p * 3 + c] = (base[c] + rng.int(64)) & 255;
    }
    const file = new Uint8Array(header.length + body.length);
    file.set(header);
    file.set(body, header.length);
    await Deno.writeFile(`${dir}/${String(i).padStart(3, "0")}.ppm`, file);
  }
}

function cliArgs(data: string, out: string, extra: string[] = []): string[] {
  return [
    data,
    ...["--arch", "resnet18", "--base-width", "4", "--image-size", "32", "-b", "8"],
    ...["--moco-k", "32", "--bn-groups", "2", "--epochs", "3", "--seed", "11", "--mlp"],
    ...["--moco-t", "0.2", "--cos", "--model", "default", "--out-dir", out, "-j", "4"],
    ...["--results-dir", `${out}-results`],
    ...extra,
  ];
}

function run(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(child: Deno.ChildProcess, what: string): Promise<string> {
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert(out.success, `${what} failed (${out.code}):\n${text}`);
  return text;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Starts a run, SIGKILLs it once `marker` exists, and returns the newest resumable file. */
async function killAfter(args: string[], out: string, marker: RegExp): Promise<string> {
  const child = run(args);
  const started = performance.now();
  const found = () => [...Deno.readDirSync(out)].some((e) => marker.test(e.name));
  while (!(await exists(out)) || !found()) {
    if (performance.now() - started > 120_000) throw new Error(`no ${marker} after 120 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  assert(!status.success && status.signal === "SIGKILL", `child ended with ${status.code}`);
  assert(!(await exists(`${out}/default_0002.pth.tar`)), "killed before the run completed");
  // Resume from the furthest complete checkpoint (the kill may land after a later one; a
  // checkpoint being written when the kill came is only a temp file, never a torn one).
  let best = "";
  let bestStep = -1;
  for (const e of Deno.readDirSync(out)) {
    if (!/^default_(\d{4}|latest)\.pth\.tar$/.test(e.name)) continue;
    const step = (await loadTrainingCheckpoint(`${out}/${e.name}`)).trainState!.globalStep;
    if (step > bestStep) [best, bestStep] = [`${out}/${e.name}`, step];
  }
  return best;
}

Deno.test({
  name:
    "main_moco killed with SIGKILL and resumed (end of epoch, mid-epoch) gives bit-identical weights",
  ...GPU_TEST,
  async fn() {
    const rng = testRng("resume");
    const dir = await Deno.makeTempDir({ prefix: "moco-resume-" });
    await tinyImageFolder(`${dir}/data`, 24, rng);
    // Uninterrupted: 3 epochs of 3 steps.
    await finish(run(cliArgs(`${dir}/data`, `${dir}/a`)), "uninterrupted run");
    const a = await loadTrainingCheckpoint(`${dir}/a/default_0002.pth.tar`);
    assert(a.epoch === 3 && a.trainState!.globalStep === 9, "3 epochs of 3 steps");
    // The run record: one JSON per run and a CSV row, with the logged losses.
    const records = [...Deno.readDirSync(`${dir}/a-results/main_moco`)].map((e) => e.name);
    const json = records.find((n) => n.endsWith(".json"))!;
    assert(records.includes("runs.csv") && json !== undefined, `records: ${records}`);
    const record = JSON.parse(await Deno.readTextFile(`${dir}/a-results/main_moco/${json}`));
    assert(
      record.summary.steps === 9 && record.arrays.loss.length === 3 &&
        record.model.files[0].sha256.length === 64,
      `run record: ${JSON.stringify(record.summary)}`,
    );
    const scenarios: [string, string[], RegExp][] = [
      ["after an epoch checkpoint", [], /^default_0000\.pth\.tar$/],
      ["after a mid-epoch checkpoint", ["--save-every", "1"], /^default_latest\.pth\.tar$/],
    ];
    for (const [what, extra, marker] of scenarios) {
      const out = `${dir}/${extra.length ? "c" : "b"}`;
      const newest = await killAfter(cliArgs(`${dir}/data`, out, extra), out, marker);
      // The mid-epoch case resumes from the rolling file even when an epoch file is newer.
      const from = extra.length ? `${out}/default_latest.pth.tar` : newest;
      const inEpoch = (await loadTrainingCheckpoint(from)).trainState!.stepInEpoch;
      assert(extra.length === 0 || inEpoch > 0, `${what}: resumes inside an epoch (${inEpoch})`);
      const log = await finish(
        run(cliArgs(`${dir}/data`, out, [...extra, "--resume", from])),
        `resumed run (${what})`,
      );
      assert(/=> resumed/.test(log), `${what}: resume message missing:\n${log}`);
      const b = await loadTrainingCheckpoint(`${out}/default_0002.pth.tar`);
      assert(b.epoch === 3 && b.trainState!.globalStep === 9, `${what}: 9 steps in all`);
      assert([...b.stateDict.keys()].join() === [...a.stateDict.keys()].join(), `${what}: keys`);
      for (const [name, t] of a.stateDict) {
        assertArrayEqual(bits(b.stateDict.get(name)!), bits(t), `${what}: ${name}`);
      }
      for (const [i, t] of a.optimizer!.state) {
        assertArrayEqual(bits(b.optimizer!.state.get(i)!), bits(t), `${what}: momentum ${i}`);
      }
    }
    await Deno.remove(dir, { recursive: true });
  },
});

function bits(t: TorchTensor): number[] {
  const d = t.data;
  if (d instanceof BigInt64Array) return Array.from(d, Number);
  return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length));
}

/** 24 tiny images, each a distinct colour with noise, decoded from memory. */
function colourDataset(rng: Rng, count: number): ImageDataset {
  const images: RgbImage[] = [];
  for (let i = 0; i < count; i++) {
    const img = createImage(32, 32);
    const base = [rng.int(256), rng.int(256), rng.int(256)];
    for (let p = 0; p < 32 * 32 * 3; p++) img.data[p] = (base[p % 3] + rng.int(48)) & 255;
    images.push(img);
  }
  return {
    name: "colours",
    length: count,
    contentKey: "colours",
    image: (i) => Promise.resolve(images[i]),
    describe: (i) => `colour ${i}`,
  };
}

/** Deterministic views: the query is the image, the key its mirror (no random crops). */
function mirrorViews(gpu: Gpu, images: RgbImage[], size: number): { q: Tensor; k: Tensor } {
  const n = images.length;
  const q = new Float32Array(n * size * size * 3);
  const k = new Float32Array(n * size * size * 3);
  images.forEach((img, i) => {
    const small = resize(img, size, size);
    toNormalizedTensor(small, { layout: "HWC", out: q, offset: i * size * size * 3 });
    const flipped = createImage(size, size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          flipped.data[(y * size + x) * 3 + c] = small.data[(y * size + size - 1 - x) * 3 + c];
        }
      }
    }
    toNormalizedTensor(flipped, { layout: "HWC", out: k, offset: i * size * size * 3 });
  });
  return {
    q: Tensor.from(gpu, q, [n, size, size, 3]),
    k: Tensor.from(gpu, k, [n, size, size, 3]),
  };
}

function baseConfig(out: string): PretrainConfig {
  return {
    data: "mem",
    split: "train",
    model: "ventral",
    arch: "resnet18",
    baseWidth: 8,
    epochs: 17,
    startEpoch: 0,
    batchSize: 16,
    lr: 0.01,
    milestones: [],
    cos: false,
    momentum: 0.9,
    weightDecay: 1e-4,
    printFreq: 1,
    seed: 5,
    mocoDim: 32,
    mocoK: 48,
    mocoM: 0.99,
    mocoT: 0.2,
    mlp: true,
    bnGroups: 2,
    imageSize: 32,
    outDir: out,
    workers: 4,
  };
}

function deps(rng: Rng, lines: string[]): PretrainDeps {
  const dataset = colourDataset(rng, 48);
  return {
    openDataset: () => Promise.resolve(dataset),
    augment: (gpu, images, _policy, _rng, options) =>
      Promise.resolve(mirrorViews(gpu, images, options.size)),
    createMoco: (gpu, spec, r) =>
      MoCo.create(gpu, {
        ...parseArch(spec.arch),
        baseWidth: spec.baseWidth,
        dim: spec.dim,
        K: spec.queueSize,
        mlp: spec.mlp,
      }, r),
    log: (line) => lines.push(line),
    // Errors name the settings as the command line does (the library's default is the field).
    optionName: pretrainFlag,
  };
}

Deno.test({
  name: "pretrain() lowers the contrastive loss over ~50 steps on a tiny dataset",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir({ prefix: "moco-loss-" });
    const lines: string[] = [];
    const summary = await pretrain(gpu, baseConfig(dir), deps(testRng("loss"), lines));
    const losses = summary.logs.map((l) => l.loss);
    assert(losses.length === 51, `${losses.length} logged steps`);
    // The queue (K = 48 = one epoch of 3 batches) holds real keys from step 3 on (step 0 meets
    // random, easy negatives), so compare the first full-queue epochs with the last 12 steps.
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const early = mean(losses.slice(3, 15));
    const late = mean(losses.slice(-12));
    console.log(
      `loss: steps 3–14 ${early.toFixed(3)}, last 12 ${late.toFixed(3)}; ` +
        `chance ln(K + 1) = ${Math.log(49).toFixed(3)}; ${
          summary.pairsPerSecond.toFixed(1)
        } pairs/s`,
    );
    assert(late < early - 0.25, `loss did not fall: ${early} → ${late}\n${lines.join("\n")}`);
    assert(summary.checkpoints.length === 17, "a checkpoint per epoch");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "pretrain() refuses bad settings early with the flag and the reason",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const d = deps(testRng("refuse"), []);
    const dir = await Deno.makeTempDir({ prefix: "moco-refuse-" });
    const cases: [Partial<PretrainConfig>, RegExp][] = [
      [{ mocoK: 40 }, /--batch-size 16 must divide --moco-k 40/],
      [{ bnGroups: 3 }, /--bn-groups 3 must divide --batch-size 16/],
      [{ saveEvery: 0 }, /--save-every must be a positive integer/],
      [{ model: "sideways" as "default" }, /--model: 'sideways' is not one of default, ventral/],
      [
        { arch: "resnet50", baseWidth: 64, batchSize: 256, imageSize: 224, mocoK: 65536 },
        /stem conv output \[256,112,112,64\] needs 784\.0 MiB, but the adapter binds at most/,
      ],
    ];
    for (const [patch, re] of cases) {
      await assertRejects(() => pretrain(gpu, { ...baseConfig(dir), ...patch }, d), re, re.source);
    }
    // A resume must continue the same experiment.
    const one = await pretrain(gpu, { ...baseConfig(dir), epochs: 1, maxStepsPerEpoch: 1 }, d);
    const resume = { ...baseConfig(dir), resume: one.checkpoints[0] };
    await assertRejects(
      () => pretrain(gpu, { ...resume, model: "dorsal" }, d),
      /--resume: the checkpoint was trained with --model ventral, not dorsal/,
    );
    await assertRejects(
      () => pretrain(gpu, { ...resume, resume: `${dir}/missing.pth.tar` }, d),
      /missing\.pth\.tar/,
    );
    await assertRejects(
      () => pretrain(gpu, { ...resume, arch: "resnet50" }, d),
      /--resume: the checkpoint is a resnet18, but --arch is resnet50/,
    );
    const empty = {
      ...d,
      openDataset: () => Promise.resolve({ ...colourDataset(testRng("e"), 0) }),
    };
    await assertRejects(() => pretrain(gpu, baseConfig(dir), empty), /0 image\(s\) do not fill/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("validatePretrainConfig() names options by field; main_moco names them by flag", () => {
  const message = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      return (error as Error).message;
    }
    return "(no error)";
  };
  const bad = { ...baseConfig("out"), mocoK: 40 };
  const library = message(() => validatePretrainConfig(bad));
  assert(/^batchSize 16 must divide mocoK 40 \(/.test(library), library);
  assert(!library.includes("--"), `the library spells no flag: ${library}`);
  const named = message(() => validatePretrainConfig(bad, pretrainFlag));
  assert(/^--batch-size 16 must divide --moco-k 40 \(/.test(named), named);
  const cli = message(() => parseMainMocoArgs(["data", "-b", "16", "--moco-k", "40"]));
  assert(/^--batch-size 16 must divide --moco-k 40 \(/.test(cli), cli);
  const thin = message(() =>
    validatePretrainConfig({ ...baseConfig("out"), batchSize: 2, bnGroups: 2, mocoK: 4 })
  );
  assert(
    thin === "bnGroups 2 leaves 1 image per BatchNorm group with batchSize 2 (at least 2 are " +
        "needed); use bnGroups 1 or a larger batchSize",
    thin,
  );
});

Deno.test("main_moco refuses an unknown --model and an empty data folder with one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "moco-cli-" });
  await Deno.mkdir(`${dir}/train`);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, dir, "--model", "sideways"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const badText = new TextDecoder().decode(bad.stderr);
  assert(bad.code === 2 && /--model: 'sideways'/.test(badText), `${bad.code}: ${badText}`);
  const empty = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      SCRIPT,
      dir,
      "--arch",
      "resnet18",
      "-b",
      "8",
      "--bn-groups",
      "2",
      "--moco-k",
      "64",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const emptyText = new TextDecoder().decode(empty.stderr);
  assert(
    empty.code === 1 && /train: no class folders found/.test(emptyText) &&
      !/\n\s+at /.test(emptyText),
    `${empty.code}: ${emptyText}`,
  );
  // An unreadable image: one line naming it (and the way out), or skipped with --on-bad-image.
  // 15 readable images and a bad one: one batch of 16 holds them all.
  await tinyImageFolder(dir, 15, testRng("bad"));
  await Deno.writeTextFile(`${dir}/train/odd/bad.png`, "not an image");
  const args = cliArgs(dir, `${dir}/out`, ["--epochs", "1", "-b", "16", "--bn-groups", "2"]);
  const failed = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const failedText = new TextDecoder().decode(failed.stderr);
  assert(
    failed.code === 1 && /train\/odd\/bad\.png: .*--on-bad-image skip/.test(failedText) &&
      !/\n\s+at /.test(failedText),
    `${failed.code}: ${failedText}`,
  );
  const skipped = await finish(run([...args, "--on-bad-image", "skip"]), "skip run");
  assert(/1 unreadable image\(s\) were skipped:\n\s+\S+bad\.png/.test(skipped), skipped);
  await Deno.remove(dir, { recursive: true });
});
