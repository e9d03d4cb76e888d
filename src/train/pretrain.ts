/**
 * The MoCo v2 pretraining loop of `main_moco.py` on one WebGPU device (docs/pretraining.md): per epoch, set
 * the learning rate, shuffle the images (seeded by epoch), decode and augment two views per image
 * while the previous step runs, record one MoCo step per batch, log loss / acc@1 / acc@5 every
 * `printFreq` steps (the only readbacks), and save a checkpoint in the original's layout after
 * every epoch. `resume` restores weights, momentum buffers, queue, pointer, epoch and the seed
 * from which every random draw of the run derives, so an interrupted run (even `kill -9`)
 * continues exactly as an uninterrupted one.
 *
 * The loop is the composition of its rooms: the settings and their checks
 * (src/train/pretrain_config.ts), one optimisation step (src/train/pretrain_step.ts), the log
 * (src/train/pretrain_log.ts) and the checkpoints with resume (src/train/pretrain_checkpoints.ts);
 * every random draw comes from the run seed (src/train/seeds.ts).
 *
 * Data-parallel (`deps.comm`, `--dist mpi`): every rank walks the same seeded global order,
 * takes rows [r·b, (r+1)·b) of each global batch (PyTorch's DistributedSampler role), renders
 * each image's views from a seed of (run seed, epoch, row in the epoch), runs
 * src/train/moco_step_distributed.ts (cross-rank shuffle-BN, gradient all-reduce) and only rank 0
 * logs and saves. BN running statistics never enter a training step; rank 0's are the ones saved,
 * as DDP's buffer broadcast makes them on every rank. The result equals one process over the same
 * global batch with `--bn-groups` = the rank count (up to float summation order).
 *
 * The model, the augmentations and the dataset come in through {@link PretrainDeps} so the loop
 * can be driven by the real ResNet/MoCo, policies and ImageFolder (scripts/main_moco.ts) or by
 * small stand-ins in tests.
 *
 * @module
 */
import { BadImageLog, type SkippedImage } from "../data/bad_images.ts";
import { cachedImages } from "../data/cached_images.ts";
import type { ImageDataset } from "../data/dataset.ts";
import { BatchLoader } from "../data/loader.ts";
import type { Communicator } from "../dist/communicator.ts";
import type { Gpu } from "../gpu/device.ts";
import type { RgbImage } from "../image/image.ts";
import type { AugmentPolicy } from "../transforms/augment.ts";
import { DataError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import type { TrainingCheckpoint } from "./checkpoint.ts";
import { checkTrainingFits, type FootprintOption } from "./limits.ts";
import type { MocoTrainable } from "./moco_step.ts";
import { MomentumSgd } from "./optimizer.ts";
import {
  type CheckpointedMoco,
  loadResumeCheckpoint,
  PretrainCheckpoints,
  restoreCheckpoint,
  type ResumePoint,
} from "./pretrain_checkpoints.ts";
import {
  fieldName,
  type OptionNamer,
  type PretrainConfig,
  type PretrainOption,
  validatePretrainConfig,
  validateRanks,
} from "./pretrain_config.ts";
import { PretrainLog, type StepLog } from "./pretrain_log.ts";
import { type CommunicationSummary, PretrainStep, type TwoViews } from "./pretrain_step.ts";
import { learningRate } from "./schedule.ts";
import { imageSeed } from "./seeds.ts";

/**
 * Makes the two views of a batch on the GPU (src/train/two_views.ts's `augmentPerImage`):
 * image i's query and key views draw from `rngs[i]`, seeded by `imageSeed`
 * (src/train/seeds.ts).
 */
export type AugmentFn = (
  gpu: Gpu,
  images: RgbImage[],
  policy: AugmentPolicy,
  rngs: readonly Rng[],
  options: { size: number },
) => Promise<TwoViews>;

/** What the loop needs of a MoCo model (src/models/moco.ts's MoCo has this shape). */
export interface MocoModel extends MocoTrainable, CheckpointedMoco {
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
  /**
   * How errors name a setting (default: the {@link PretrainConfig} field; scripts/main_moco.ts
   * names its flags).
   */
  optionName?: OptionNamer;
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

/** The pretraining option behind each field of the footprint that `checkTrainingFits` names. */
const FOOTPRINT_OPTIONS: Record<FootprintOption, PretrainOption> = {
  arch: "arch",
  baseWidth: "baseWidth",
  batch: "batchSize",
  imageSize: "imageSize",
  dim: "mocoDim",
  queueSize: "mocoK",
  mlp: "mlp",
};

/**
 * Runs (or resumes) MoCo v2 pretraining and returns the logged steps and timings.
 *
 * @throws UsageError for bad settings or a model too large for the adapter (naming the setting
 *   through `deps.optionName`); DataError for a missing/empty data folder, an unreadable image or
 *   checkpoint, or a diverged run.
 */
export async function pretrain(
  gpu: Gpu,
  config: PretrainConfig,
  deps: PretrainDeps,
): Promise<PretrainSummary> {
  const optionName = deps.optionName ?? fieldName;
  validatePretrainConfig(config, optionName);
  const comm = deps.comm;
  const ranks = comm?.size ?? 1;
  if (comm) validateRanks(config, ranks, optionName);
  const leader = !comm || comm.rank === 0;
  const log = leader ? deps.log ?? ((line: string) => console.log(line)) : () => {};
  const localBatch = config.batchSize / ranks;
  checkTrainingFits(
    {
      arch: config.arch,
      baseWidth: config.baseWidth,
      batch: localBatch,
      imageSize: config.imageSize,
      dim: config.mocoDim,
      queueSize: config.mocoK,
      mlp: config.mlp,
    },
    gpu.device.limits,
    (o) => optionName(FOOTPRINT_OPTIONS[o]),
  );
  const root = `${config.data.replace(/\/+$/, "")}/${config.split}`;
  const dataset = await openTrainingSet(root, config, deps);
  const resumed = await loadResumeCheckpoint(config, optionName);
  const seed = runSeed(resumed, config, comm);
  const rng = new Rng(seed);
  const moco = deps.createMoco(gpu, {
    arch: config.arch,
    baseWidth: config.baseWidth,
    dim: config.mocoDim,
    queueSize: config.mocoK,
    mlp: config.mlp,
  }, rng);
  const sgd = new MomentumSgd(gpu, moco.encoderQ.parameters(), {
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  try {
    const from: ResumePoint = resumed
      ? restoreCheckpoint(resumed, config.resume!, moco, sgd, rng, log)
      : { epoch: config.startEpoch, stepInEpoch: 0, globalStep: 0 };
    const badLog = new BadImageLog();
    const loader = viewLoader(gpu, dataset, config, deps, seed, badLog);
    const perEpoch = Math.min(loader.batchesPerEpoch, config.maxStepsPerEpoch ?? Infinity);
    log(
      `=> ${dataset.length} images in ${root}, ${perEpoch} steps per epoch of ` +
        `${config.batchSize} pairs, epochs ${from.epoch}…${config.epochs - 1}, seed ${seed}` +
        (comm ? `, ${ranks} ranks of ${localBatch} pairs` : ""),
    );
    const step = new PretrainStep(gpu, moco, sgd, {
      seed,
      batchSize: config.batchSize,
      temperature: config.mocoT,
      keyMomentum: config.mocoM,
      bnGroups: config.bnGroups,
    }, comm);
    const checkpoints = leader
      ? new PretrainCheckpoints({ config, optionName, moco, sgd, rng, seed, log })
      : undefined;
    const schedule = {
      baseLr: config.lr,
      epochs: config.epochs,
      cos: config.cos,
      milestones: config.milestones,
    };
    const t0 = performance.now();
    const logger = await PretrainLog.open(gpu, {
      // <out-dir>/log.csv and log.jsonl; a resumed run continues them after its step.
      dir: leader ? config.outDir.replace(/\/+$/, "") || "." : undefined,
      resumeGlobalStep: resumed ? from.globalStep : undefined,
      printFreq: config.printFreq,
      perEpoch,
      totalSteps: perEpoch * Math.max(0, config.epochs - from.epoch) - from.stepInEpoch,
      batchSize: config.batchSize,
      comm,
      baseLr: config.lr,
      optionName,
      log,
      start: t0,
    });
    try {
      let steps = 0;
      let globalStep = from.globalStep;
      // One stream of batches over all remaining epochs: prefetch crosses epoch boundaries, so
      // the next epoch's first batch is prepared while the checkpoint is written.
      const stream = loader.batches(
        { epoch: from.epoch, index: from.stepInEpoch },
        config.epochs,
        perEpoch,
      );
      for await (const batch of stream) {
        const epoch = batch.epoch;
        const lr = learningRate(epoch, schedule);
        logger.waited(batch.waitMs);
        const result = await step.run(epoch, batch.index, lr, batch.value);
        const index = batch.index + 1;
        const last = index === perEpoch;
        steps++;
        globalStep++;
        await logger.stepDone(result, { epoch, index, globalStep, steps, lr });
        result.loss.release();
        result.correct.release();
        deps.afterStep?.(globalStep);
        if (last) logger.endEpoch(epoch, index, globalStep, lr);
        await checkpoints?.afterStep(epoch, index, globalStep, lr, last);
      }
      const totalSeconds = (performance.now() - t0) / 1000;
      return {
        logs: logger.logs,
        checkpoints: checkpoints?.written ?? [],
        steps,
        dataWaitSeconds: logger.dataWaitSeconds,
        totalSeconds,
        pairsPerSecond: (steps * config.batchSize) / totalSeconds,
        seed,
        skipped: badLog.skipped,
        communication: step.communication(steps),
      };
    } finally {
      logger.close();
    }
  } finally {
    sgd.release();
    moco.release();
  }
}

/** Opens `<data>/<split>` behind the decoded-image cache and checks that it fills a batch. */
async function openTrainingSet(
  root: string,
  config: PretrainConfig,
  deps: PretrainDeps,
): Promise<ImageDataset> {
  const dataset = cachedImages(await deps.openDataset(root), {
    bytes: (config.cacheMb ?? 0) * 2 ** 20,
  });
  if (dataset.length < config.batchSize) {
    throw new DataError(
      `${root}: ${dataset.length} image(s) do not fill one batch of ${config.batchSize}`,
    );
  }
  return dataset;
}

/**
 * The run's seed: the checkpoint's when resuming, else `config.seed`, else drawn at random;
 * with a communicator rank 0's (a seed drawn at random differs per rank).
 */
function runSeed(
  resumed: TrainingCheckpoint | undefined,
  config: PretrainConfig,
  comm: Communicator | undefined,
): number {
  const seed = resumed?.trainState?.seed ?? config.seed ??
    crypto.getRandomValues(new Uint32Array(1))[0];
  if (!comm) return seed;
  const shared = new Float64Array([seed]);
  comm.broadcast(shared, 0);
  return shared[0];
}

/**
 * The batches of two views: each rank decodes its rows of every global batch and renders image
 * i's views from its own seed (run seed, epoch, row in the epoch's global order).
 */
function viewLoader(
  gpu: Gpu,
  dataset: ImageDataset,
  config: PretrainConfig,
  deps: PretrainDeps,
  seed: number,
  badLog: BadImageLog,
): BatchLoader<TwoViews> {
  const comm = deps.comm;
  return new BatchLoader(dataset, {
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
}
