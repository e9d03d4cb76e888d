/**
 * Supervised classification training (`deno task train:supervised`): a torchvision ResNet with a
 * linear head trained with softmax cross-entropy on an ImageFolder's labels, on one WebGPU device
 * with the project's own kernels. The baseline "supervised network of the same architecture" of
 * the invariance comparisons; its release checkpoint loads with `loadModel` by name.
 *
 * ```sh
 * deno task make-world --layout imagefolder --out results/sup-world --per-class 300
 * deno task train:supervised results/sup-world -a resnet18 --base-width 16 --image-size 64 \
 *   --epochs 30 -b 64 --lr 0.05 --out-dir results/supervised \
 *   --release models/world_supervised.pth.tar
 * ```
 *
 * Training images come from `<data>/<split>`; after every epoch the network is evaluated on
 * `<data>/<val-split>` when that folder exists (Resize(val-resize) → CenterCrop(image-size)).
 * Augmentation: RandomResizedCrop(image-size, scale = --crop-scale) + horizontal flip
 * (`--crop-scale 1,1` keeps the whole image: flips only). `<out-dir>/checkpoint.pth.tar` (the
 * training state, written atomically after every epoch) resumes exactly with `--resume`;
 * `<out-dir>/log.csv` holds one row per epoch; `<out-dir>/<name>.pth.tar` is the release form
 * (`{epoch, arch, state_dict, best_acc1, classes}`, torchvision keys with `fc.*`).
 *
 * @module
 */
import { imageFolder } from "../src/data/image_folder.ts";
import { openGpu } from "../src/gpu/device.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { modelFileRecords, newRunId, runtimeVersions, writeRunRecord } from "../src/io/results.ts";
import { parseArch } from "../src/models/resnet.ts";
import { parseMilestones } from "../src/train/schedule.ts";
import {
  type SupervisedConfig,
  type SupervisedOption,
  type SupervisedOptionNamer,
  trainSupervised,
  validateSupervisedConfig,
} from "../src/train/supervised.ts";
import { parseCli } from "../src/util/cli.ts";
import { UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

const SPEC = {
  name: "train_supervised",
  summary: "Supervised training of a ResNet with a linear classifier on an ImageFolder's labels " +
    "(softmax cross-entropy, SGD with momentum and weight decay, RandomResizedCrop + flip); " +
    "evaluates on the validation split after every epoch and writes a release checkpoint " +
    "that loadModel reads as an encoder.",
  flags: {
    split: { type: "string", default: "train", help: "sub-folder of data used for training" },
    "val-split": {
      type: "string",
      default: "val",
      help: "sub-folder evaluated after every epoch, when it exists ('' for none)",
    },
    arch: { type: "string", short: "a", default: "resnet50", help: "backbone (resnet18, …w3)" },
    "base-width": { type: "int", default: 64, help: "ResNet base width (narrow nets)" },
    "image-size": { type: "int", default: 224, help: "side of the training views and val crop" },
    "val-resize": {
      type: "int",
      help: "short side of validation images before the centre crop (default: --image-size)",
    },
    "crop-scale": {
      type: "string",
      default: "0.08,1",
      help: "RandomResizedCrop area range 'lo,hi' ('1,1': whole image, flips only)",
    },
    epochs: { type: "int", default: 90, help: "total epochs" },
    "batch-size": { type: "int", short: "b", default: 256, help: "images per step" },
    lr: { type: "number", default: 0.1, help: "base learning rate" },
    "lr-schedule": {
      type: "string",
      default: "cos",
      choices: ["cos", "step"],
      help: "half-cosine over the run, or 10× drops at --schedule",
    },
    schedule: {
      type: "string",
      default: "30,60",
      help: "epochs at which lr drops 10× (with --lr-schedule step)",
    },
    momentum: { type: "number", default: 0.9, help: "SGD momentum" },
    wd: { type: "number", default: 1e-4, help: "weight decay (all parameters)" },
    "print-freq": { type: "int", short: "p", default: 10, help: "log every N steps" },
    seed: { type: "int", help: "seed of every random draw (random and recorded when absent)" },
    resume: { type: "string", default: "", help: "training checkpoint to resume from" },
    workers: { type: "int", short: "j", default: 8, help: "images decoded in parallel" },
    "cache-mb": {
      type: "number",
      default: 512,
      help: "keep decoded images in memory up to this many MiB (0: decode every epoch)",
    },
    "out-dir": {
      type: "string",
      default: "results/supervised",
      help: "where checkpoint.pth.tar, log.csv and <name>.pth.tar are written",
    },
    name: { type: "string", default: "supervised", help: "release checkpoint name" },
    release: {
      type: "string",
      help: "also copy the release checkpoint here (e.g. models/world_supervised.pth.tar)",
    },
    "results-dir": {
      type: "string",
      default: "./results",
      help: "run record: <results-dir>/train_supervised/<run-id>.json and runs.csv",
    },
    "max-steps-per-epoch": { type: "int", help: "cut epochs short (smoke tests)" },
  },
  positionals: [{ name: "data", help: "dataset root containing <split>/", required: true }],
} as const;

/**
 * The flag of every {@link SupervisedConfig} option: the library's errors name options through
 * {@link supervisedFlag}, so the command line reads `--lr must be a positive number, got -1`.
 */
export const SUPERVISED_FLAGS: Readonly<Record<SupervisedOption, string>> = {
  data: "data",
  split: "--split",
  valSplit: "--val-split",
  arch: "-a",
  baseWidth: "--base-width",
  epochs: "--epochs",
  batchSize: "--batch-size",
  lr: "--lr",
  cos: "--lr-schedule",
  milestones: "--schedule",
  momentum: "--momentum",
  weightDecay: "--wd",
  imageSize: "--image-size",
  valResize: "--val-resize",
  cropScale: "--crop-scale",
  printFreq: "--print-freq",
  seed: "--seed",
  resume: "--resume",
  outDir: "--out-dir",
  name: "--name",
  workers: "--workers",
  cacheMb: "--cache-mb",
  maxStepsPerEpoch: "--max-steps-per-epoch",
};

/** Names a {@link SupervisedConfig} option by its flag (pass as `SupervisedDeps.optionName`). */
export const supervisedFlag: SupervisedOptionNamer = (option) => SUPERVISED_FLAGS[option];

/** What {@link parseTrainSupervisedArgs} returns. */
export interface TrainSupervisedArgs {
  /** The training settings. */
  config: SupervisedConfig;
  /** Where the run record goes. */
  resultsDir: string;
  /** Extra copy of the release checkpoint. */
  release?: string;
}

function parseCropScale(text: string): [number, number] {
  const parts = text.split(",").map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === "") || !values.every(Number.isFinite)) {
    throw new UsageError(`--crop-scale must be 'lo,hi' (two numbers), got '${text}'`);
  }
  return [values[0], values[1]];
}

/** Parses the command line; `UsageError` names the bad flag. */
export function parseTrainSupervisedArgs(args: string[]): TrainSupervisedArgs {
  const { flags: f, positionals } = parseCli(args, SPEC);
  parseArch(f.arch);
  let milestones: number[];
  try {
    milestones = parseMilestones(f.schedule);
  } catch (e) {
    throw new UsageError(`--schedule: ${(e as Error).message}`);
  }
  if (f.release !== undefined && !/\.pth(\.tar)?$/.test(f.release)) {
    throw new UsageError(`--release '${f.release}' must end in .pth.tar or .pth`);
  }
  const config: SupervisedConfig = {
    data: positionals[0],
    split: f.split,
    valSplit: f["val-split"],
    arch: f.arch,
    baseWidth: f["base-width"],
    epochs: f.epochs,
    batchSize: f["batch-size"],
    lr: f.lr,
    cos: f["lr-schedule"] === "cos",
    milestones,
    momentum: f.momentum,
    weightDecay: f.wd,
    imageSize: f["image-size"],
    valResize: f["val-resize"] ?? f["image-size"],
    cropScale: parseCropScale(f["crop-scale"]),
    printFreq: f["print-freq"],
    seed: f.seed,
    resume: f.resume || undefined,
    outDir: f["out-dir"],
    name: f.name,
    workers: f.workers,
    cacheMb: f["cache-mb"],
    maxStepsPerEpoch: f["max-steps-per-epoch"],
  };
  validateSupervisedConfig(config, supervisedFlag);
  return { config, resultsDir: f["results-dir"], release: f.release };
}

if (import.meta.main) {
  await runMain("train_supervised", async () => {
    const { config, resultsDir, release } = parseTrainSupervisedArgs(Deno.args);
    const startedAt = new Date();
    const gpu = await openGpu();
    try {
      const summary = await trainSupervised(gpu, config, {
        openDataset: (root) => imageFolder(root),
        optionName: supervisedFlag,
      });
      if (release) {
        await writeFileAtomic(release, await Deno.readFile(summary.release));
        console.error(`=> copied ${summary.release} to ${release}`);
      }
      const last = summary.epochs.at(-1);
      const written = await writeRunRecord(resultsDir, {
        script: "train_supervised",
        runId: newRunId(startedAt),
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        arguments: { ...config, args: Deno.args },
        model: {
          name: config.name,
          featureLayer: "backbone",
          contentKey: `${config.arch}-seed-${summary.seed}`,
          files: await modelFileRecords([summary.release]),
        },
        versions: runtimeVersions(),
        adapter: gpu.summary.description,
        timings: { total: summary.totalSeconds, data_wait: summary.dataWaitSeconds },
        arrays: {
          epoch: summary.epochs.map((e) => e.epoch),
          lr: summary.epochs.map((e) => e.lr),
          train_loss: summary.epochs.map((e) => e.trainLoss),
          train_acc1: summary.epochs.map((e) => e.trainAcc1),
          val_loss: summary.epochs.map((e) => e.valLoss),
          val_acc1: summary.epochs.map((e) => e.valAcc1),
          val_acc5: summary.epochs.map((e) => e.valAcc5),
        },
        summary: {
          arch: config.arch,
          classes: summary.classes.length,
          steps: summary.steps,
          img_per_s: summary.imagesPerSecond,
          final_train_loss: last?.trainLoss ?? null,
          final_val_acc1: last?.valAcc1 ?? null,
          seed: summary.seed,
        },
        details: { release: summary.release, checkpoint: summary.checkpoint },
      });
      console.error(`=> run record ${written.json}`);
      console.log(
        `done: ${summary.steps} steps, ${summary.imagesPerSecond.toFixed(1)} img/s, ` +
          `${summary.totalSeconds.toFixed(1)} s` +
          (last && !Number.isNaN(last.valAcc1) ? `, val acc@1 ${last.valAcc1.toFixed(2)} %` : "") +
          `, seed ${summary.seed}; release ${summary.release}`,
      );
    } finally {
      gpu.destroy();
    }
  }, { arch: SUPERVISED_FLAGS.arch });
}
