/**
 * Supervised classification training of a torchvision ResNet with a linear head on an
 * ImageFolder (`deno task train:supervised`), with the project's own kernels: the reference
 * network of "how far can this architecture get with the labels". Per epoch: set the learning
 * rate (half-cosine or step schedule, constant within the epoch, as MoCo's), walk the images in
 * a seeded order, render each image's view on the GPU (RandomResizedCrop + horizontal flip, the
 * ventral policy's draws with `cropScale`), record forward → softmax cross-entropy → backward →
 * SGD with momentum and weight decay, log loss / accuracy / img/s / ETA every `printFreq` steps
 * (the only readbacks besides one per epoch), evaluate on the `val` split when present, and save
 * a training checkpoint atomically. The end writes the release checkpoint that `loadModel` reads
 * as an encoder.
 *
 * Every random draw derives from the run seed: the epoch's order from (seed, epoch), each view
 * from (seed, epoch, position in the epoch). A `resume` from the end-of-epoch checkpoint
 * therefore continues exactly as the uninterrupted run.
 *
 * @module
 */
import type { SupervisedDataset } from "../data/dataset.ts";
import { cachedImages } from "../data/cached_images.ts";
import { BatchLoader } from "../data/loader.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { centerCrop } from "../image/crop.ts";
import type { RgbImage } from "../image/image.ts";
import { resizeShortSide } from "../image/resize.ts";
import { toNormalizedTensor } from "../image/to_tensor.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { softmaxCrossEntropy } from "../ops/cross_entropy.ts";
import { fill } from "../ops/elementwise.ts";
import { linearForward } from "../ops/linear.ts";
import { parseArch, ResNet } from "../models/resnet.ts";
import { applyAugmentParams, drawAugmentParams } from "../transforms/augment.ts";
import { DataError, UsageError } from "../util/errors.ts";
import { formatDuration } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import { checkCacheMb, checkPositiveIntegers } from "./config_checks.ts";
import { MomentumSgd } from "./optimizer.ts";
import { imageSeed } from "./seeds.ts";
import { learningRate } from "./schedule.ts";
import {
  loadSupervisedCheckpoint,
  saveSupervisedCheckpoint,
  type SupervisedCheckpoint,
  type SupervisedTrainState,
} from "./supervised_checkpoint.ts";

/** A classification dataset with class names (an ImageFolder). */
export interface ClassificationDataset extends SupervisedDataset {
  /** Class names in label order. */
  readonly classes: readonly string[];
}

/** Settings of a supervised run (the flags of `deno task train:supervised`). */
export interface SupervisedConfig {
  /** Dataset root; images come from `<data>/<split>` and `<data>/<valSplit>`. */
  data: string;
  /** Training sub-folder (`--split`, `train`). */
  split: string;
  /** Validation sub-folder (`--val-split`, `val`); skipped when absent, '' for none. */
  valSplit: string;
  /** Architecture (`-a`, `resnet18`, `resnet50w3`, …). */
  arch: string;
  /** Stem width at w = 1 (`--base-width`, 64). */
  baseWidth: number;
  /** Total epochs. */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Base learning rate. */
  lr: number;
  /** Half-cosine schedule over the run (`--cos`); else step decay at `milestones`. */
  cos: boolean;
  /** Epochs at which the learning rate drops 10× (without `cos`). */
  milestones: readonly number[];
  /** SGD momentum. */
  momentum: number;
  /** Weight decay on every parameter. */
  weightDecay: number;
  /** Side of the training views and of the validation crop. */
  imageSize: number;
  /** Short side the validation images are resized to before the centre crop (`imageSize`). */
  valResize: number;
  /** RandomResizedCrop area range; [1, 1] keeps the whole image (flips only). */
  cropScale: readonly [number, number];
  /** Log every this many steps. */
  printFreq: number;
  /** Run seed; drawn at random (and stored in checkpoints) when undefined. */
  seed?: number;
  /** Training checkpoint to resume from. */
  resume?: string;
  /** Where `checkpoint.pth.tar`, `log.csv` and the release checkpoint go. */
  outDir: string;
  /** File name (without `.pth.tar`) of the release checkpoint in `outDir`. */
  name: string;
  /** Images decoded in parallel. */
  workers: number;
  /**
   * Keep decoded training and validation images in memory up to this many MiB (default 0:
   * decode every epoch). A small set such as the built-in world (26 MiB at 64 px) then decodes
   * once.
   */
  cacheMb?: number;
  /** Stop each epoch after this many steps (smoke tests); default all. */
  maxStepsPerEpoch?: number;
}

/** A field of {@link SupervisedConfig}: what an error about a setting names. */
export type SupervisedOption = keyof SupervisedConfig;

/**
 * How errors name an option: the {@link SupervisedConfig} field by default, its flag in
 * scripts/train_supervised.ts (so the command line reads `--lr must be a positive number`).
 */
export type SupervisedOptionNamer = (option: SupervisedOption) => string;

/** The default {@link SupervisedOptionNamer}: the {@link SupervisedConfig} field. */
export const supervisedFieldName: SupervisedOptionNamer = (option) => option;

/** Dependencies of {@link trainSupervised}. */
export interface SupervisedDeps {
  /** Opens an ImageFolder root. */
  openDataset: (root: string) => Promise<ClassificationDataset>;
  /** Whether a split folder exists (default: `Deno.stat`). */
  exists?: (path: string) => Promise<boolean>;
  /** Where progress lines go (default stderr). */
  log?: (line: string) => void;
  /** How errors name a setting (default {@link supervisedFieldName}: the config field). */
  optionName?: SupervisedOptionNamer;
}

/** One epoch's numbers. */
export interface EpochLog {
  /** 0-based epoch. */
  epoch: number;
  /** Learning rate of the epoch. */
  lr: number;
  /** Mean training loss over the epoch's images. */
  trainLoss: number;
  /** Training top-1 accuracy in percent (on the augmented views). */
  trainAcc1: number;
  /** Validation mean loss (NaN without a validation split). */
  valLoss: number;
  /** Validation top-1 accuracy in percent (NaN without a validation split). */
  valAcc1: number;
  /** Validation top-5 accuracy in percent. */
  valAcc5: number;
  /** Wall seconds of the epoch (training and validation). */
  seconds: number;
}

/** What {@link trainSupervised} returns. */
export interface SupervisedSummary {
  /** One entry per epoch run in this process. */
  epochs: EpochLog[];
  /** The training checkpoint (`<outDir>/checkpoint.pth.tar`). */
  checkpoint: string;
  /** The release checkpoint (`<outDir>/<name>.pth.tar`). */
  release: string;
  /** Class names in label order. */
  classes: readonly string[];
  /** Optimiser steps taken in this process. */
  steps: number;
  /** Training images per second over the run (validation excluded). */
  imagesPerSecond: number;
  /** Wall seconds of the run in this process. */
  totalSeconds: number;
  /** Seconds spent waiting for decoded batches. */
  dataWaitSeconds: number;
  /** The run seed. */
  seed: number;
}

/** The loss became NaN or infinite: the run stops instead of training on garbage. */
export class TrainingDivergedError extends DataError {
  override name = "TrainingDivergedError";
}

/**
 * Checks a configuration before anything is allocated.
 *
 * @throws UsageError naming the option (through `name`: the config field by default).
 */
export function validateSupervisedConfig(
  c: SupervisedConfig,
  name: SupervisedOptionNamer = supervisedFieldName,
): void {
  parseArch(c.arch);
  checkPositiveIntegers<SupervisedOption>([
    ["epochs", c.epochs],
    ["batchSize", c.batchSize],
    ["imageSize", c.imageSize],
    ["valResize", c.valResize],
    ["baseWidth", c.baseWidth],
    ["printFreq", c.printFreq],
    ["workers", c.workers],
  ], name);
  checkCacheMb(c.cacheMb, "cacheMb", name);
  checkPositiveIntegers([["maxStepsPerEpoch", c.maxStepsPerEpoch]], name);
  if (c.valResize < c.imageSize) {
    throw new UsageError(
      `${name("valResize")} ${c.valResize} must be at least ${name("imageSize")} ` +
        `${c.imageSize} (the centre crop)`,
    );
  }
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) {
    throw new UsageError(`${name("lr")} must be a positive number, got ${c.lr}`);
  }
  if (!(c.momentum >= 0 && c.momentum < 1)) {
    throw new UsageError(`${name("momentum")} must be in [0, 1), got ${c.momentum}`);
  }
  if (!(c.weightDecay >= 0) || !Number.isFinite(c.weightDecay)) {
    throw new UsageError(
      `${name("weightDecay")} must be a non-negative number, got ${c.weightDecay}`,
    );
  }
  const [lo, hi] = c.cropScale;
  if (!(lo > 0 && lo <= hi && hi <= 1)) {
    throw new UsageError(
      `${name("cropScale")} must be 'lo,hi' with 0 < lo <= hi <= 1, got ${lo},${hi}`,
    );
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(c.name) || c.name === "checkpoint") {
    throw new UsageError(
      `${name("name")} '${c.name}' must be a plain file name of letters, digits, '_', '.', '-' ` +
        `(not 'checkpoint')`,
    );
  }
}

/** Results of one recorded training step; the caller reads and releases them. */
export interface SupervisedStepResult {
  /** [1] mean cross-entropy of the batch. */
  loss: Tensor;
  /** [2] u32 top-1 / top-5 counts. */
  correct: Tensor;
}

/**
 * Records one supervised step: train-mode forward of `x` [N, H, W, 3], softmax cross-entropy
 * against `labels` [N] (added to `totals` when given, see {@link softmaxCrossEntropy}), backward
 * and the SGD update. Nothing is read back.
 *
 * @example
 * ```ts
 * const { loss, correct } = recordSupervisedStep(gpu, net, sgd, views, labels, 0.1);
 * const [l, c] = await gpu.recorder.read([loss, correct]);
 * ```
 */
export function recordSupervisedStep(
  gpu: Gpu,
  net: ResNet,
  sgd: MomentumSgd,
  x: Tensor,
  labels: Tensor,
  lr: number,
  totals?: Tensor,
): SupervisedStepResult {
  net.zeroGrad();
  const logits = net.forwardTrain(x);
  const { loss, dlogits, correct } = softmaxCrossEntropy(gpu, logits, labels, { totals });
  net.backward(dlogits!);
  dlogits!.release();
  logits.release();
  sgd.step(lr);
  return { loss, correct };
}

/**
 * Logits of the eval-mode network (BN with running statistics) for `x`: pooled features through
 * the `fc` head. The caller releases the result.
 */
export function evalLogits(gpu: Gpu, net: ResNet, x: Tensor): Tensor {
  const params = net.parameters();
  const w = params.find((p) => p.name === "fc.weight");
  const b = params.find((p) => p.name === "fc.bias");
  if (!w || !b) throw new RangeError("evalLogits: the network has no linear 'fc' head");
  const features = net.forwardEval(x);
  const logits = linearForward(gpu, features, w.value, b.value);
  features.release();
  return logits;
}

/** A prepared batch: views on the GPU and their labels. */
interface Batch {
  x: Tensor;
  labels: Tensor;
}

function labelsOf(dataset: SupervisedDataset, indices: readonly number[]): Int32Array {
  return Int32Array.from(indices, (i) => dataset.targets[i]);
}

async function defaultExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function checkResumable(
  ckpt: SupervisedCheckpoint,
  state: SupervisedTrainState,
  c: SupervisedConfig,
  classes: readonly string[],
  file: string,
  name: SupervisedOptionNamer,
): void {
  const same: [SupervisedOption, string | number, string | number][] = [
    ["arch", ckpt.arch, c.arch],
    ["baseWidth", state.baseWidth, c.baseWidth],
    ["batchSize", state.batchSize, c.batchSize],
  ];
  for (const [option, was, now] of same) {
    if (was !== now) {
      throw new UsageError(
        `${name("resume")}: ${file} was trained with ${name(option)} ${was}, not ${now}`,
      );
    }
  }
  if (state.classes.join("\n") !== classes.join("\n")) {
    throw new DataError(
      `${name("resume")}: ${file} was trained on classes [${
        state.classes.join(", ")
      }], the data has ` +
        `[${classes.join(", ")}]`,
    );
  }
}

const CSV_HEADER = "epoch,lr,train_loss,train_acc1,val_loss,val_acc1,val_acc5,seconds";

function csvRow(e: EpochLog): string {
  const f = (v: number) => (Number.isNaN(v) ? "" : String(v));
  return [e.epoch, e.lr, e.trainLoss, e.trainAcc1, e.valLoss, e.valAcc1, e.valAcc5, e.seconds]
    .map(f).join(",");
}

async function readCsvRows(path: string, before: number): Promise<string[]> {
  try {
    const lines = (await Deno.readTextFile(path)).split("\n").slice(1);
    return lines.filter((l) => l !== "" && Number(l.split(",")[0]) < before);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/**
 * Runs (or resumes) supervised training and returns the per-epoch numbers and timings.
 *
 * @throws UsageError for bad settings or a `resume` that does not fit them; DataError for a
 *   missing/empty data folder, an unreadable image or checkpoint; TrainingDivergedError when the
 *   loss stops being finite.
 */
export async function trainSupervised(
  gpu: Gpu,
  config: SupervisedConfig,
  deps: SupervisedDeps,
): Promise<SupervisedSummary> {
  const optionName = deps.optionName ?? supervisedFieldName;
  validateSupervisedConfig(config, optionName);
  const log = deps.log ?? ((line: string) => console.error(line));
  const exists = deps.exists ?? defaultExists;
  const dataRoot = config.data.replace(/\/+$/, "") || ".";
  const trainRoot = `${dataRoot}/${config.split}`;
  if (!(await exists(trainRoot))) {
    throw new DataError(`${trainRoot}: no such folder (the training split, --split)`);
  }
  const budget = { bytes: (config.cacheMb ?? 0) * 2 ** 20 };
  const train = cachedImages(await deps.openDataset(trainRoot), budget);
  if (train.kind !== "classification" || !train.numClasses) {
    throw new DataError(`${trainRoot}: not a classification dataset`);
  }
  if (train.length < config.batchSize) {
    throw new DataError(
      `${trainRoot}: ${train.length} image(s) do not fill one batch of ${config.batchSize}`,
    );
  }
  const classes = train.classes;
  const valRoot = config.valSplit ? `${dataRoot}/${config.valSplit}` : "";
  const val = valRoot && (await exists(valRoot))
    ? cachedImages(await deps.openDataset(valRoot), budget)
    : undefined;
  if (val && val.classes.join("\n") !== classes.join("\n")) {
    throw new DataError(
      `${valRoot}: classes [${val.classes.join(", ")}] differ from ${trainRoot}'s ` +
        `[${classes.join(", ")}]`,
    );
  }

  const resumed = config.resume ? await loadSupervisedCheckpoint(config.resume) : undefined;
  if (resumed) {
    if (!resumed.trainState || !resumed.optimizer) {
      throw new DataError(
        `${
          optionName("resume")
        }: ${config.resume} is a release checkpoint (no optimizer state); resume from ` +
          `checkpoint.pth.tar`,
      );
    }
    checkResumable(resumed, resumed.trainState, config, classes, config.resume!, optionName);
  }
  const seed = resumed?.trainState?.seed ?? config.seed ??
    crypto.getRandomValues(new Uint32Array(1))[0];
  const net = ResNet.create(gpu, {
    ...parseArch(config.arch),
    baseWidth: config.baseWidth,
    head: "linear",
    numClasses: classes.length,
  }, new Rng(seed));
  const sgd = new MomentumSgd(gpu, net.parameters(), {
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  const totals = Tensor.zeros(gpu, [4], "f32", "train totals");
  const valTotals = Tensor.zeros(gpu, [4], "f32", "val totals");
  const release = () => {
    totals.release();
    valTotals.release();
    sgd.release();
    net.release();
  };
  let startEpoch = 0;
  let globalStep = 0;
  let lastValAcc1 = NaN;
  try {
    if (resumed) {
      net.loadStateDict(resumed.stateDict, config.resume!);
      sgd.loadStateDict(resumed.optimizer!, config.resume!);
      startEpoch = resumed.epoch;
      globalStep = resumed.trainState!.globalStep;
      lastValAcc1 = resumed.valAcc1;
      log(`=> resumed '${config.resume}' (${startEpoch} epochs done, ${globalStep} steps)`);
    }
  } catch (error) {
    release();
    throw error;
  }

  const size = config.imageSize;
  const loader = new BatchLoader<Batch>(train, {
    batchSize: config.batchSize,
    seed,
    concurrency: config.workers,
    prepare: (images, info) => {
      const views = images.map((img, i) =>
        drawAugmentParams(
          "ventral",
          new Rng(imageSeed(seed, info.epoch, info.index * config.batchSize + i)),
          img.width,
          img.height,
          { scale: [config.cropScale[0], config.cropScale[1]] },
        )
      );
      // applyAugmentParams renders a (query, key) pair; both get the same view and the second
      // is dropped (rendering is a small part of a step at these sizes).
      const { q, k } = applyAugmentParams(gpu, images, views, views, size);
      k.release();
      const labels = Tensor.from(gpu, labelsOf(train, info.indices), [images.length], "labels");
      return Promise.resolve({ x: q, labels });
    },
    dispose: (b) => {
      b.x.release();
      b.labels.release();
    },
  });
  const perEpoch = Math.min(loader.batchesPerEpoch, config.maxStepsPerEpoch ?? Infinity);
  const totalSteps = perEpoch * Math.max(0, config.epochs - startEpoch);
  log(
    `=> ${train.length} images of ${classes.length} classes in ${trainRoot}` +
      (val ? `, ${val.length} in ${valRoot}` : ", no validation split") +
      `; ${perEpoch} steps per epoch of ${config.batchSize}, epochs ${startEpoch}…` +
      `${config.epochs - 1}, seed ${seed}`,
  );

  const outDir = config.outDir.replace(/\/+$/, "") || ".";
  await Deno.mkdir(outDir, { recursive: true });
  const checkpointPath = `${outDir}/checkpoint.pth.tar`;
  const releasePath = `${outDir}/${config.name}.pth.tar`;
  const csvPath = `${outDir}/log.csv`;
  const csvRows = await readCsvRows(csvPath, startEpoch);
  const schedule = {
    baseLr: config.lr,
    epochs: config.epochs,
    cos: config.cos,
    milestones: config.milestones,
  };
  const epochs: EpochLog[] = [];
  const t0 = performance.now();
  let trainMs = 0;
  let waitMs = 0;
  let steps = 0;
  let epochStart = t0;
  let windowStart = t0;
  let windowSteps = 0;
  let windowWait = 0;
  const diverged = (epoch: number, step: number, loss: number) =>
    new TrainingDivergedError(
      `the training loss became ${loss} at epoch ${epoch}, step ${step}: lower --lr` +
        (startEpoch > 0 || epoch > 0 ? ` (${checkpointPath} holds the last finished epoch)` : ""),
    );

  try {
    const stream = loader.batches({ epoch: startEpoch, index: 0 }, config.epochs, perEpoch);
    for await (const batch of stream) {
      const epoch = batch.epoch;
      const lr = learningRate(epoch, schedule);
      if (batch.index === 0) {
        epochStart = performance.now();
        fill(gpu, totals, 0);
      }
      waitMs += batch.waitMs;
      windowWait += batch.waitMs;
      const stepStart = performance.now();
      let result: SupervisedStepResult;
      try {
        result = recordSupervisedStep(
          gpu,
          net,
          sgd,
          batch.value.x,
          batch.value.labels,
          lr,
          totals,
        );
      } finally {
        batch.value.x.release();
        batch.value.labels.release();
      }
      const index = batch.index + 1;
      steps++;
      globalStep++;
      windowSteps++;
      const last = index === perEpoch;
      if (index % config.printFreq === 0 || last) {
        const [lossData, correctData] = await gpu.recorder.read([result.loss, result.correct]);
        const loss = lossData[0];
        if (!Number.isFinite(loss)) throw diverged(epoch, index - 1, loss);
        const now = performance.now();
        const rate = (windowSteps * config.batchSize) / ((now - windowStart) / 1000);
        const done = steps / totalSteps;
        const eta = ((now - t0) / 1000) * (1 - done) / done;
        log(
          `epoch ${epoch} [${index}/${perEpoch}] lr ${lr.toExponential(3)} loss ` +
            `${loss.toFixed(4)} acc@1 ${(100 * correctData[0] / config.batchSize).toFixed(2)} | ` +
            `${rate.toFixed(1)} img/s, data wait ${(windowWait / 1000).toFixed(1)} s of ` +
            `${((now - windowStart) / 1000).toFixed(1)} s, ETA ${formatDuration(eta)}`,
        );
        windowStart = now;
        windowSteps = 0;
        windowWait = 0;
      } else {
        gpu.recorder.flush();
      }
      result.loss.release();
      result.correct.release();
      trainMs += performance.now() - stepStart;
      if (!last) continue;

      // End of epoch: training totals, validation, checkpoint, log row.
      const [t] = await gpu.recorder.read([totals]);
      const trainLoss = t[1] / t[0];
      if (!Number.isFinite(trainLoss)) throw diverged(epoch, index - 1, trainLoss);
      const v = val ? await evaluate(gpu, net, val, config, valTotals) : undefined;
      const entry: EpochLog = {
        epoch,
        lr,
        trainLoss,
        trainAcc1: (100 * t[2]) / t[0],
        valLoss: v?.loss ?? NaN,
        valAcc1: v?.acc1 ?? NaN,
        valAcc5: v?.acc5 ?? NaN,
        seconds: (performance.now() - epochStart) / 1000,
      };
      epochs.push(entry);
      lastValAcc1 = entry.valAcc1;
      const trainState: SupervisedTrainState = {
        seed,
        globalStep,
        batchSize: config.batchSize,
        baseWidth: config.baseWidth,
        classes: [...classes],
      };
      await saveSupervisedCheckpoint(checkpointPath, {
        epoch: epoch + 1,
        arch: config.arch,
        stateDict: await net.stateDict(),
        valAcc1: entry.valAcc1,
        optimizer: await sgd.stateDict(lr),
        trainState,
        classes,
      });
      csvRows.push(csvRow(entry));
      await writeFileAtomic(csvPath, `${CSV_HEADER}\n${csvRows.join("\n")}\n`);
      log(
        `=> epoch ${epoch}: train loss ${entry.trainLoss.toFixed(4)} acc@1 ` +
          `${entry.trainAcc1.toFixed(2)}` +
          (v
            ? ` | val loss ${v.loss.toFixed(4)} acc@1 ${v.acc1.toFixed(2)} acc@5 ` +
              `${v.acc5.toFixed(2)} (${v.count} images)`
            : "") +
          ` | ${formatDuration(entry.seconds)}; saved ${checkpointPath}`,
      );
    }
    // The release form: weights (head included), class names and the last validation accuracy.
    await saveSupervisedCheckpoint(releasePath, {
      epoch: Math.max(startEpoch, config.epochs),
      arch: config.arch,
      stateDict: await net.stateDict(),
      valAcc1: lastValAcc1,
      classes,
    });
    log(`=> wrote ${releasePath}`);
  } finally {
    release();
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  return {
    epochs,
    checkpoint: checkpointPath,
    release: releasePath,
    classes,
    steps,
    imagesPerSecond: trainMs > 0 ? (steps * config.batchSize) / (trainMs / 1000) : 0,
    totalSeconds,
    dataWaitSeconds: waitMs / 1000,
    seed,
  };
}

/** Validation loss and accuracy of the eval-mode network. */
export interface EvalResult {
  /** Mean cross-entropy. */
  loss: number;
  /** Top-1 accuracy in percent. */
  acc1: number;
  /** Top-5 accuracy in percent. */
  acc5: number;
  /** Images evaluated. */
  count: number;
}

/**
 * The eval-mode network on every image of `dataset` (Resize(valResize) → CenterCrop(imageSize) →
 * Normalize, on the CPU; decoding overlaps the GPU), in batches of `config.batchSize`.
 */
export async function evaluate(
  gpu: Gpu,
  net: ResNet,
  dataset: ClassificationDataset,
  config: Pick<SupervisedConfig, "batchSize" | "imageSize" | "valResize" | "workers">,
  totals?: Tensor,
): Promise<EvalResult> {
  const own = totals ? undefined : Tensor.zeros(gpu, [4], "f32", "eval totals");
  try {
    return await evaluateInto(gpu, net, dataset, config, (totals ?? own)!);
  } finally {
    own?.release();
  }
}

async function evaluateInto(
  gpu: Gpu,
  net: ResNet,
  dataset: ClassificationDataset,
  config: Pick<SupervisedConfig, "batchSize" | "imageSize" | "valResize" | "workers">,
  totals: Tensor,
): Promise<EvalResult> {
  const size = config.imageSize;
  const per = size * size * 3;
  fill(gpu, totals, 0);
  const loader = new BatchLoader<Batch>(dataset, {
    batchSize: Math.min(config.batchSize, dataset.length),
    seed: 0,
    shuffle: false,
    dropLast: false,
    concurrency: config.workers,
    prepare: (images: RgbImage[], info) => {
      const data = new Float32Array(images.length * per);
      images.forEach((img, i) => {
        const view = centerCrop(resizeShortSide(img, config.valResize), size);
        toNormalizedTensor(view, { layout: "HWC", out: data, offset: i * per });
      });
      return Promise.resolve({
        x: Tensor.from(gpu, data, [images.length, size, size, 3], "val views"),
        labels: Tensor.from(gpu, labelsOf(dataset, info.indices), [images.length], "labels"),
      });
    },
    dispose: (b) => {
      b.x.release();
      b.labels.release();
    },
  });
  for await (const batch of loader.epoch(0)) {
    const { x, labels } = batch.value;
    const logits = evalLogits(gpu, net, x);
    const r = softmaxCrossEntropy(gpu, logits, labels, { gradient: false, totals });
    gpu.recorder.flush();
    for (const t of [x, labels, logits, r.loss, r.correct]) t.release();
  }
  const [t] = await gpu.recorder.read([totals]);
  return { loss: t[1] / t[0], acc1: (100 * t[2]) / t[0], acc5: (100 * t[3]) / t[0], count: t[0] };
}
