/**
 * The MoCo v2 pretraining loop of `main_moco.py` on one WebGPU device (docs/pretraining.md): per epoch, set
 * the learning rate, shuffle the images (seeded by epoch), decode and augment two views per image
 * while the previous step runs, record one MoCo step per batch, log loss / acc@1 / acc@5 every
 * `printFreq` steps (the only readbacks), and save a checkpoint in the original's layout after
 * every epoch. `resume` restores weights, momentum buffers, queue, pointer, epoch and the seed
 * from which every random draw of the run derives, so an interrupted run (even `kill -9`)
 * continues exactly as an uninterrupted one.
 *
 * Data-parallel (`deps.comm`, `--dist mpi`): every rank walks the same seeded global order,
 * takes rows [r·b, (r+1)·b) of each global batch (PyTorch's DistributedSampler role), renders
 * each image's views from a seed of (run seed, epoch, row in the epoch), runs
 * src/train/moco_step_distributed.ts (cross-rank shuffle-BN, gradient all-reduce) and only rank 0 logs and
 * saves. BN running statistics never enter a training step; rank 0's are the ones saved, as
 * DDP's buffer broadcast makes them on every rank. The result equals one process over the same
 * global batch with `--bn-groups` = the rank count (up to float summation order).
 *
 * The model, the augmentations and the dataset come in through {@link PretrainDeps} so the loop
 * can be driven by the real ResNet/MoCo, policies and ImageFolder (scripts/main_moco.ts) or by
 * small stand-ins in tests.
 *
 * @module
 */
import { BadImageLog, type BadImagePolicy, type SkippedImage } from "../data/bad_images.ts";
import { cachedImages } from "../data/cached_images.ts";
import { BatchLoader } from "../data/loader.ts";
import type { Communicator } from "../dist/communicator.ts";
import { distributedMocoStep, type StepCommTimes } from "./moco_step_distributed.ts";
import type { ImageDataset } from "../data/dataset.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import type { RgbImage } from "../image/image.ts";
import { assertFiniteTensors, findNonFinite, type StateDict } from "../io/torch_checkpoint.ts";
import { DataError, UsageError } from "../util/errors.ts";
import { formatDuration } from "../util/progress.ts";
import { AUGMENT_POLICIES, type AugmentPolicy } from "../transforms/augment.ts";
import { Rng } from "../util/rng.ts";
import {
  checkpointFileName,
  latestFileName,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { checkTrainingFits } from "./limits.ts";
import { type MocoTrainable, recordMocoStep } from "./moco_step.ts";
import { TrainingLog } from "./training_log.ts";
import { MomentumSgd } from "./optimizer.ts";
import { learningRate } from "./schedule.ts";
import { permutationFrom, randomPermutation } from "./shuffle_bn.ts";

/** Two independently augmented, normalised NHWC views [N, size, size, 3] of a batch. */
export interface TwoViews {
  /** Query views. */
  q: Tensor;
  /** Key views. */
  k: Tensor;
}

/**
 * Makes the two views of a batch on the GPU (src/train/two_views.ts's `augmentPerImage`):
 * image i's query and key views draw from `rngs[i]`, seeded by {@link imageSeed}.
 */
export type AugmentFn = (
  gpu: Gpu,
  images: RgbImage[],
  policy: AugmentPolicy,
  rngs: readonly Rng[],
  options: { size: number },
) => Promise<TwoViews>;

/** What the loop needs of a MoCo model (src/models/moco.ts's MoCo has this shape). */
export interface MocoModel extends MocoTrainable {
  /** `encoder_q.*`, `encoder_k.*`, `queue`, `queue_ptr` in PyTorch layout (no `module.`). */
  stateDict(): Promise<StateDict>;
  /** Replaces every weight, buffer, the queue and its pointer. */
  loadStateDict(sd: StateDict, source: string): void;
  /** Frees every GPU tensor of the model. */
  release(): void;
}

/** The architecture part of a MoCo model. */
export interface MocoSpec {
  /** Architecture name (`resnet50`, `resnet50w3`, …). */
  arch: string;
  /** Narrow networks for tests; default 64. */
  baseWidth?: number;
  /** Embedding size (`--moco-dim`). */
  dim: number;
  /** Queue length K (`--moco-k`). */
  queueSize: number;
  /** MLP projection head (`--mlp`). */
  mlp: boolean;
}

/** Dependencies of {@link pretrain}. */
export interface PretrainDeps {
  /** Opens `<data>/<split>` (ImageFolder). */
  openDataset: (root: string) => Promise<ImageDataset>;
  /** Makes the two augmented views of a batch on the GPU. */
  augment: AugmentFn;
  /** A freshly initialised MoCo model (weights and queue drawn from `rng`). */
  createMoco: (gpu: Gpu, spec: MocoSpec, rng: Rng) => MocoModel;
  /** Where log lines go (default: stdout); only rank 0 logs in a data-parallel run. */
  log?: (line: string) => void;
  /**
   * Data-parallel training over these ranks (`--dist mpi`): each rank takes its slice of every
   * global batch of `batchSize` pairs, and `bnGroups` counts BN groups over all ranks.
   */
  comm?: Communicator;
  /** Called after every optimiser step with the global step count (test hooks). */
  afterStep?: (globalStep: number) => void;
}

/** Settings of a run; the flags of `main_moco.py` (docs/pretraining.md#flags) plus ours. */
export interface PretrainConfig {
  /** Dataset root (positional `data`); images come from `<data>/<split>`. */
  data: string;
  /** Sub-folder of `data` (`--split`, `train`). */
  split: string;
  /** `--model`: augmentation policy and checkpoint name. */
  model: AugmentPolicy;
  /** Architecture name (`resnet50`, `resnet50w3`, …). */
  arch: string;
  /** Narrow networks (tests, benchmarks); default 64. */
  baseWidth?: number;
  /** Total epochs (`--epochs`, 200). */
  epochs: number;
  /** First epoch (`--start-epoch`); a resume overrides it. */
  startEpoch: number;
  /** Image pairs per step (`--batch-size`). */
  batchSize: number;
  /** Base learning rate (`--lr`). */
  lr: number;
  /** Step-schedule milestones (`--schedule`). */
  milestones: readonly number[];
  /** Cosine schedule (`--cos`). */
  cos: boolean;
  /** SGD momentum (`--momentum`). */
  momentum: number;
  /** Weight decay on every parameter (`--wd`). */
  weightDecay: number;
  /** Log (and read back) every this many steps (`--print-freq`). */
  printFreq: number;
  /** Checkpoint to resume from ('' or undefined: none). */
  resume?: string;
  /** Run seed; drawn at random (and stored in checkpoints) when undefined. */
  seed?: number;
  /** `--moco-dim`. */
  mocoDim: number;
  /** `--moco-k`. */
  mocoK: number;
  /** Key-encoder momentum (`--moco-m`). */
  mocoM: number;
  /** Softmax temperature (`--moco-t`). */
  mocoT: number;
  /** MLP projection head (`--mlp`). */
  mlp: boolean;
  /** Emulated GPUs for shuffle-BN (`--bn-groups`, 8). */
  bnGroups: number;
  /** View side (224). */
  imageSize: number;
  /** Where checkpoints go (the original: the working directory). */
  outDir: string;
  /** Faithful checkpoint names (`_0000.pth.tar` for non-w3 runs, docs/quirks.md#q1). */
  faithfulNames?: boolean;
  /** Decodes in flight (`-j/--workers`). */
  workers: number;
  /** Keep decoded training images in memory up to this many MiB (`--cache-mb`; default 0: decode every epoch). */
  cacheMb?: number;
  /** Stop each epoch after this many steps (benchmarks, smoke tests); default: all. */
  maxStepsPerEpoch?: number;
  /**
   * Also save `{model}[_w3]_latest.pth.tar` every this many steps inside an epoch (ours: an
   * ImageNet epoch takes long on a software adapter); `--resume` continues from its step.
   */
  saveEvery?: number;
  /** Unreadable images: `fail` (default) stops the run naming the file; `skip` substitutes. */
  onBadImage?: BadImagePolicy;
}

/** One logged step. */
export interface StepLog {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based step inside the epoch. */
  step: number;
  /** Steps since the start of training (1 after the first). */
  globalStep: number;
  /** InfoNCE loss of the step. */
  loss: number;
  /** Contrastive top-1 accuracy in percent. */
  acc1: number;
  /** Contrastive top-5 accuracy in percent. */
  acc5: number;
}

/** What {@link pretrain} returns. */
export interface PretrainSummary {
  /** Logged steps (every `printFreq`, and the last step of each epoch). */
  logs: StepLog[];
  /** Checkpoint files written, in order. */
  checkpoints: string[];
  /** Optimiser steps taken in this process. */
  steps: number;
  /** Wall seconds waiting for data vs the rest. */
  dataWaitSeconds: number;
  /** Wall seconds of the run in this process. */
  totalSeconds: number;
  /** Image pairs per second over the whole run in this process. */
  pairsPerSecond: number;
  /** The run's seed (stored in every checkpoint). */
  seed: number;
  /** Images left out under `onBadImage: "skip"`. */
  skipped: readonly SkippedImage[];
  /** Data-parallel runs: this rank's communication (totals over the run). */
  communication?: CommunicationSummary;
}

/** Where a data-parallel rank's communication time went. */
export interface CommunicationSummary {
  /** Number of ranks. */
  ranks: number;
  /** Payload bytes this rank moved in collectives. */
  bytes: number;
  /** Seconds inside collectives. */
  seconds: number;
  /** Gathering key views and keys (readbacks included). */
  gatherSeconds: number;
  /** Waiting for backward and reading the gradients back. */
  gradientReadbackSeconds: number;
  /** Inside the gradient `MPI_Allreduce` (waiting for the slowest rank included). */
  allreduceSeconds: number;
  /** Gradient bytes all-reduced per step. */
  gradientBytesPerStep: number;
}

/** Checks a configuration before anything is allocated; `UsageError` names the flag. */
export function validatePretrainConfig(c: PretrainConfig): void {
  if (!AUGMENT_POLICIES.includes(c.model)) {
    throw new UsageError(
      `--model: '${c.model}' is not one of ${AUGMENT_POLICIES.join(", ")} (it selects the ` +
        `augmentation policy)`,
    );
  }
  const positive: [string, number][] = [
    ["--batch-size", c.batchSize],
    ["--epochs", c.epochs],
    ["--moco-dim", c.mocoDim],
    ["--moco-k", c.mocoK],
    ["--bn-groups", c.bnGroups],
    ["--print-freq", c.printFreq],
    ["--workers", c.workers],
  ];
  positive.push(["--image-size", c.imageSize]);
  if (c.baseWidth !== undefined) positive.push(["--base-width", c.baseWidth]);
  if (c.maxStepsPerEpoch !== undefined) {
    positive.push(["--max-steps-per-epoch", c.maxStepsPerEpoch]);
  }
  if (c.cacheMb !== undefined && !(c.cacheMb >= 0 && Number.isFinite(c.cacheMb))) {
    throw new UsageError(`--cache-mb must be a non-negative number, got ${c.cacheMb}`);
  }
  for (const [flag, v] of positive) {
    if (!Number.isInteger(v) || v < 1) {
      throw new UsageError(`${flag} must be a positive integer, got ${v}`);
    }
  }
  // torch.optim.SGD's checks ("Invalid weight_decay value: -1", …).
  if (!(c.weightDecay >= 0) || !Number.isFinite(c.weightDecay)) {
    throw new UsageError(`--wd: invalid weight decay ${c.weightDecay} (must be ≥ 0, as in torch)`);
  }
  if (!(c.momentum >= 0) || !Number.isFinite(c.momentum)) {
    throw new UsageError(`--momentum: invalid momentum ${c.momentum} (must be ≥ 0, as in torch)`);
  }
  if (c.saveEvery !== undefined && (!Number.isInteger(c.saveEvery) || c.saveEvery < 1)) {
    throw new UsageError(`--save-every must be a positive integer, got ${c.saveEvery}`);
  }
  if (!Number.isInteger(c.startEpoch) || c.startEpoch < 0) {
    throw new UsageError(`--start-epoch must be a non-negative integer, got ${c.startEpoch}`);
  }
  if (c.mocoK % c.batchSize !== 0) {
    throw new UsageError(
      `--batch-size ${c.batchSize} must divide --moco-k ${c.mocoK} (the queue is filled in ` +
        `whole batches)`,
    );
  }
  if (c.batchSize % c.bnGroups !== 0) {
    throw new UsageError(`--bn-groups ${c.bnGroups} must divide --batch-size ${c.batchSize}`);
  }
  if (c.batchSize / c.bnGroups < 2) {
    // BatchNorm needs 2 samples per group for a variance (torch: "Expected more than 1 value
    // per channel when training").
    let g = Math.min(c.bnGroups, Math.floor(c.batchSize / 2));
    while (g > 1 && c.batchSize % g !== 0) g--;
    throw new UsageError(
      `--bn-groups ${c.bnGroups} leaves ${c.batchSize / c.bnGroups} image per BatchNorm group ` +
        `with --batch-size ${c.batchSize} (at least 2 are needed); ` +
        (c.batchSize >= 2
          ? `use --bn-groups ${g} or a larger --batch-size`
          : "use --batch-size 2 or more"),
    );
  }
  if (!(c.mocoT > 0)) throw new UsageError(`--moco-t must be positive, got ${c.mocoT}`);
  if (!(c.mocoM >= 0 && c.mocoM <= 1)) {
    throw new UsageError(`--moco-m must be in [0, 1], got ${c.mocoM}`);
  }
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) {
    throw new UsageError(`--lr must be positive and finite, got ${c.lr}`);
  }
}

/** A 32-bit seed for one stream of one batch, from the run seed (splitmix-style mixing). */
export function batchSeed(seed: number, epoch: number, index: number, stream: number): number {
  let h = (seed >>> 0) ^ 0x243f6a88;
  for (const v of [epoch, index, stream]) {
    h = Math.imul(h ^ (v >>> 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/**
 * The seed of one image's two views: from the run seed, the epoch and the image's row in the
 * epoch's global order (batch · batchSize + row). It does not depend on how a batch is split
 * over ranks, so every rank renders the views a single process would.
 */
export function imageSeed(seed: number, epoch: number, position: number): number {
  return batchSeed(seed, epoch, position, STREAM_VIEWS);
}

const STREAM_SHUFFLE_BN = 2;
const STREAM_VIEWS = 3;

/**
 * Runs (or resumes) MoCo v2 pretraining and returns the logged steps and timings.
 *
 * @throws UsageError for bad settings or a model too large for the adapter; DataError for a
 *   missing/empty data folder, an unreadable image or checkpoint.
 */
export async function pretrain(
  gpu: Gpu,
  config: PretrainConfig,
  deps: PretrainDeps,
): Promise<PretrainSummary> {
  validatePretrainConfig(config);
  const comm = deps.comm;
  const ranks = comm?.size ?? 1;
  if (comm) {
    if (config.batchSize % ranks !== 0) {
      throw new UsageError(
        `--batch-size ${config.batchSize} must be divisible by the ${ranks} ranks`,
      );
    }
    if (config.bnGroups % ranks !== 0) {
      throw new UsageError(
        `--bn-groups ${config.bnGroups} must be a multiple of the ${ranks} ranks (each rank ` +
          `computes BN over its own rows)`,
      );
    }
  }
  const leader = !comm || comm.rank === 0;
  const log = leader ? deps.log ?? ((line: string) => console.log(line)) : () => {};
  const localBatch = config.batchSize / ranks;
  const spec: MocoSpec = {
    arch: config.arch,
    baseWidth: config.baseWidth,
    dim: config.mocoDim,
    queueSize: config.mocoK,
    mlp: config.mlp,
  };
  checkTrainingFits({
    arch: config.arch,
    baseWidth: config.baseWidth,
    batch: localBatch,
    imageSize: config.imageSize,
    dim: config.mocoDim,
    queueSize: config.mocoK,
    mlp: config.mlp,
  }, gpu.device.limits);

  const root = `${config.data.replace(/\/+$/, "")}/${config.split}`;
  const dataset = cachedImages(await deps.openDataset(root), {
    bytes: (config.cacheMb ?? 0) * 2 ** 20,
  });
  if (dataset.length < config.batchSize) {
    throw new DataError(
      `${root}: ${dataset.length} image(s) do not fill one batch of ${config.batchSize}`,
    );
  }

  const resumed = config.resume ? await loadTrainingCheckpoint(config.resume) : undefined;
  if (resumed) {
    checkResumable(resumed.arch, resumed.trainState, config);
    assertFiniteTensors(resumed.stateDict, config.resume!);
  }
  let seed = resumed?.trainState?.seed ?? config.seed ??
    crypto.getRandomValues(new Uint32Array(1))[0];
  if (comm) {
    // A seed drawn at random differs per rank: rank 0's is the run's.
    const shared = new Float64Array([seed]);
    comm.broadcast(shared, 0);
    seed = shared[0];
  }
  const rng = new Rng(seed);
  const moco = deps.createMoco(gpu, spec, rng);
  const sgd = new MomentumSgd(gpu, moco.encoderQ.parameters(), {
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  let startEpoch = config.startEpoch;
  let resumeStep = 0;
  let globalStep = 0;
  if (resumed) {
    try {
      moco.loadStateDict(resumed.stateDict, config.resume!);
      if (resumed.optimizer) sgd.loadStateDict(resumed.optimizer, config.resume!);
    } catch (error) {
      sgd.release();
      moco.release();
      throw error;
    }
    startEpoch = resumed.epoch;
    resumeStep = resumed.trainState?.stepInEpoch ?? 0;
    globalStep = resumed.trainState?.globalStep ?? 0;
    if (resumed.trainState) rng.setState(resumed.trainState.rng);
    log(
      `=> resumed '${config.resume}' (epoch ${resumed.epoch}, step ${resumeStep} of it, ` +
        `${globalStep} in all)`,
    );
  }

  const badLog = new BadImageLog();
  const loader = new BatchLoader(dataset, {
    batchSize: config.batchSize,
    badImages: { policy: config.onBadImage ?? "fail", log: badLog },
    seed,
    concurrency: config.workers,
    shard: comm ? { rank: comm.rank, size: comm.size } : undefined,
    prepare: (images, info) => {
      const first = info.index * config.batchSize + info.offset;
      const rngs = images.map((_, i) => new Rng(imageSeed(seed, info.epoch, first + i)));
      return deps.augment(gpu, images, config.model, rngs, { size: config.imageSize });
    },
    dispose: (views) => {
      views.q.release();
      views.k.release();
    },
  });
  const perEpoch = Math.min(loader.batchesPerEpoch, config.maxStepsPerEpoch ?? Infinity);
  const totalSteps = perEpoch * Math.max(0, config.epochs - startEpoch) - resumeStep;
  log(
    `=> ${dataset.length} images in ${root}, ${perEpoch} steps per epoch of ${config.batchSize}` +
      ` pairs, epochs ${startEpoch}…${config.epochs - 1}, seed ${seed}` +
      (comm ? `, ${ranks} ranks of ${localBatch} pairs` : ""),
  );
  const commTimes: StepCommTimes = {
    gatherSeconds: 0,
    gradientReadbackSeconds: 0,
    allreduceSeconds: 0,
    gradientBytes: 0,
  };

  const schedule = {
    baseLr: config.lr,
    epochs: config.epochs,
    cos: config.cos,
    milestones: config.milestones,
  };
  const logs: StepLog[] = [];
  const checkpoints: string[] = [];
  const t0 = performance.now();
  let waitMs = 0;
  let steps = 0;
  let windowStart = t0;
  let windowWait = 0;
  let windowSteps = 0;
  const outDir = config.outDir.replace(/\/+$/, "");
  // <out-dir>/log.csv and log.jsonl; a resumed run continues them after the checkpoint's step.
  const trainingLog = leader
    ? await TrainingLog.open(outDir || ".", { resumeGlobalStep: resumed ? globalStep : undefined })
    : undefined;
  // Every step's loss is copied into this window (no readback), read with the logged step, so
  // the first non-finite loss is found exactly, not only at a logged step.
  const lossWindow = Tensor.zeros(gpu, [Math.max(1, Math.min(config.printFreq, perEpoch))]);
  const save = async (file: string, epochsDone: number, stepInEpoch: number, lr: number) => {
    const trainState: TrainState = {
      seed,
      rng: rng.getState(),
      globalStep,
      stepInEpoch,
      policy: config.model,
      bnGroups: config.bnGroups,
      batchSize: config.batchSize,
    };
    const mocoState = await moco.stateDict();
    const bad = findNonFinite(mocoState);
    if (bad !== undefined) {
      throw new DataError(
        `training diverged by global step ${globalStep} (epoch ${
          stepInEpoch === 0 ? epochsDone - 1 : epochsDone
        }): '${bad.name}' holds ${bad.count} non-finite value(s), so ${file} was not written; ` +
          `lower --lr (${config.lr}) or check the data`,
      );
    }
    await saveTrainingCheckpoint(file, {
      epoch: epochsDone,
      arch: config.arch,
      mocoState,
      optimizer: await sgd.stateDict(lr, 2 * moco.encoderQ.parameters().length),
      trainState,
    });
  };
  try {
    // One stream of batches over all remaining epochs: prefetch crosses epoch boundaries, so
    // the next epoch's first batch is prepared while the checkpoint is written.
    const stream = loader.batches(
      { epoch: startEpoch, index: resumeStep },
      config.epochs,
      perEpoch,
    );
    for await (const batch of stream) {
      const epoch = batch.epoch;
      const lr = learningRate(epoch, schedule);
      let index = batch.index;
      waitMs += batch.waitMs;
      windowWait += batch.waitMs;
      const { q: xq, k: xk } = batch.value;
      const shuffleRng = new Rng(batchSeed(seed, epoch, index, STREAM_SHUFFLE_BN));
      let shuffle = randomPermutation(shuffleRng, config.batchSize);
      const stepOptions = {
        lr,
        temperature: config.mocoT,
        keyMomentum: config.mocoM,
        bnGroups: config.bnGroups,
        shuffle,
      };
      let result;
      try {
        if (comm) {
          // The original draws the permutation on rank 0 and broadcasts it.
          const perm = Int32Array.from(shuffle.perm);
          comm.broadcast(perm, 0);
          shuffle = permutationFrom(perm);
          result = await distributedMocoStep(
            gpu,
            moco,
            sgd,
            comm,
            xq,
            xk,
            { ...stepOptions, shuffle },
            commTimes,
          );
        } else {
          result = recordMocoStep(gpu, moco, sgd, xq, xk, stepOptions);
        }
      } finally {
        xq.release();
        xk.release();
      }
      index++;
      steps++;
      globalStep++;
      windowSteps++;
      const last = index === perEpoch;
      if (windowSteps <= lossWindow.size) {
        gpu.recorder.copy(result.loss, lossWindow, 4, 0, 4 * (windowSteps - 1));
      }
      if (index % config.printFreq === 0 || last) {
        const [lossData, correctData, windowData] = await gpu.recorder.read([
          result.loss,
          result.correct,
          lossWindow,
        ]);
        // Over ranks: the loss is the mean of the per-rank means, the counts add up.
        const stats = Float64Array.of(lossData[0], correctData[0], correctData[1]);
        comm?.allreduceSum(stats);
        const losses = Float64Array.from(windowData.subarray(0, windowSteps));
        comm?.allreduceSum(losses);
        const firstBad = losses.findIndex((v) => !Number.isFinite(v));
        if (firstBad >= 0) {
          const at = index - windowSteps + firstBad;
          throw new DataError(
            `training diverged: the loss is ${losses[firstBad]} at epoch ${epoch}, step ${at} ` +
              `(global step ${globalStep - windowSteps + firstBad + 1}); stopped without writing ` +
              `a checkpoint for it; lower --lr (${config.lr}) or check the data`,
          );
        }
        const now = performance.now();
        const entry: StepLog = {
          epoch,
          step: index - 1,
          globalStep,
          loss: stats[0] / ranks,
          acc1: (100 * stats[1]) / config.batchSize,
          acc5: (100 * stats[2]) / config.batchSize,
        };
        logs.push(entry);
        const windowSec = (now - windowStart) / 1000;
        const rate = (windowSteps * config.batchSize) / windowSec;
        const done = steps / totalSteps;
        const eta = done > 0 ? ((now - t0) / 1000) * (1 - done) / done : NaN;
        trainingLog?.step({
          epoch,
          step: index,
          global_step: globalStep,
          loss: entry.loss,
          // Every step's loss since the previous row: the epoch row's mean covers all steps.
          window_loss: losses.reduce((a, b) => a + b, 0) / ranks / losses.length,
          window_steps: losses.length,
          acc1: entry.acc1,
          acc5: entry.acc5,
          lr,
          img_per_s: rate,
          data_wait_s: windowWait / 1000,
        });
        log(
          `Epoch: [${epoch}][${index}/${perEpoch}] lr ${lr.toExponential(3)} ` +
            `loss ${entry.loss.toFixed(4)} acc@1 ${entry.acc1.toFixed(2)} ` +
            `acc@5 ${entry.acc5.toFixed(2)} | ${rate.toFixed(2)} pairs/s, data wait ` +
            `${(windowWait / 1000).toFixed(2)} s of ${windowSec.toFixed(2)} s, ETA ` +
            formatDuration(eta),
        );
        windowStart = now;
        windowWait = 0;
        windowSteps = 0;
      } else {
        gpu.recorder.flush();
      }
      result.loss.release();
      result.correct.release();
      deps.afterStep?.(globalStep);
      if (config.saveEvery && globalStep % config.saveEvery === 0 && !last && leader) {
        // Mid-epoch: `epoch` counts completed epochs, the step inside this one is in our key.
        const file = `${outDir}/${latestFileName(config.model, config.arch)}`;
        await save(file, epoch, index, lr);
        log(`=> saved ${file} (epoch ${epoch}, step ${index})`);
      }
      if (last) trainingLog?.endEpoch(epoch, index, globalStep, lr);
      if (last && leader) {
        const file = `${outDir}/${
          checkpointFileName(config.model, config.arch, epoch, config.faithfulNames)
        }`;
        await save(file, epoch + 1, 0, lr);
        checkpoints.push(file);
        log(`=> saved ${file}`);
      }
    }
  } finally {
    trainingLog?.close();
    lossWindow.release();
    sgd.release();
    moco.release();
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  return {
    logs,
    checkpoints,
    steps,
    dataWaitSeconds: waitMs / 1000,
    totalSeconds,
    pairsPerSecond: (steps * config.batchSize) / totalSeconds,
    seed,
    skipped: badLog.skipped,
    communication: comm
      ? {
        ranks,
        bytes: comm.bytesCommunicated,
        seconds: comm.secondsCommunicating,
        gatherSeconds: commTimes.gatherSeconds,
        gradientReadbackSeconds: commTimes.gradientReadbackSeconds,
        allreduceSeconds: commTimes.allreduceSeconds,
        gradientBytesPerStep: steps > 0 ? commTimes.gradientBytes / steps : 0,
      }
      : undefined,
  };
}

function checkResumable(arch: string, state: TrainState | undefined, c: PretrainConfig): void {
  if (arch !== c.arch) {
    throw new UsageError(`--resume: the checkpoint is a ${arch}, but --arch is ${c.arch}`);
  }
  if (!state) return;
  const same: [string, string | number, string | number][] = [
    ["--batch-size", state.batchSize, c.batchSize],
    ["--model", state.policy, c.model],
    ["--bn-groups", state.bnGroups, c.bnGroups],
  ];
  for (const [flag, was, now] of same) {
    if (was !== now) {
      throw new UsageError(`--resume: the checkpoint was trained with ${flag} ${was}, not ${now}`);
    }
  }
}
