/**
 * MoCo v2 pretraining (`deno task pretrain`), the counterpart of the original
 * `pretraining/main_moco.py` with its flags and defaults (docs/pretraining.md#flags), on one WebGPU device.
 *
 * ```sh
 * deno task pretrain --model ventral --lr 0.03 --batch-size 256 --mlp --moco-t 0.2 --cos \
 *   ../data/imagenet
 * ```
 *
 * Data-parallel over MPI (PyTorch DDP's role), one rank per device, each rank opening its own
 * adapter (the one WebGPU offers that process; on a multi-GPU node restrict each rank's view of
 * the devices through the launcher's per-rank environment):
 *
 * ```sh
 * mpirun -np 8 deno run -A scripts/main_moco.ts --dist mpi --mlp --moco-t 0.2 --cos ../data/imagenet
 * srun --ntasks 8 deno run -A scripts/main_moco.ts --dist mpi ...
 * ```
 *
 * Differences from the original, all deliberate:
 * - one device: shuffle-BN is emulated with `--bn-groups` (default 8, MoCo's reference setting);
 *   with `--dist mpi` the default is the number of ranks (DDP's per-GPU BN); PyTorch's
 *   distributed flags are accepted and ignored with a note (mpirun/srun place the ranks);
 * - an unknown `--model` is a usage error at start (the original crashed later, docs/quirks.md#q2);
 * - checkpoints are named `{model}[_w3]_{epoch:04d}.pth.tar` (`--faithful-names` gives the
 *   original's `_0000.pth.tar`), written atomically into `--out-dir` (default: the working
 *   directory, as the original);
 * - `--seed` is drawn at random when absent and stored in every checkpoint, so `--resume` always
 *   continues exactly; `--save-every N` adds a rolling mid-epoch `<model>_latest.pth.tar`.
 *
 * @module
 */
import { BAD_IMAGE_POLICIES, parseBadImagePolicy } from "../src/data/bad_images.ts";
import { imageFolder } from "../src/data/image_folder.ts";
import { openGpu } from "../src/gpu/device.ts";
import { modelFileRecords, newRunId, runtimeVersions, writeRunRecord } from "../src/io/results.ts";
import { MoCo } from "../src/models/moco.ts";
import { parseArch } from "../src/models/resnet.ts";
import { pretrain } from "../src/train/pretrain.ts";
import {
  type OptionNamer,
  type PretrainConfig,
  type PretrainOption,
  validatePretrainConfig,
} from "../src/train/pretrain_config.ts";
import { AUGMENT_POLICIES, type AugmentPolicy } from "../src/transforms/augment.ts";
import { parseMilestones } from "../src/train/schedule.ts";
import { augmentPerImage } from "../src/train/two_views.ts";
import { parseCli } from "../src/util/cli.ts";
import { exitCodeFor, UsageError } from "../src/util/errors.ts";
import type { Communicator } from "../src/dist/communicator.ts";
import { runMain } from "../src/util/main.ts";

const ARCHS = ["resnet18", "resnet18w3", "resnet50", "resnet50w3"] as const;

const SPEC = {
  name: "main_moco",
  summary: "MoCo v2 pretraining with the default, ventral (spatial) or dorsal (appearance) " +
    "augmentation policy. Images come from <data>/<split> (ImageFolder); a checkpoint in the " +
    "original's layout is written after every epoch.",
  flags: {
    split: { type: "string", default: "train", help: "sub-folder of data used for training" },
    model: {
      type: "string",
      default: "default",
      help: `augmentation policy and checkpoint name: ${AUGMENT_POLICIES.join(", ")}`,
    },
    arch: { type: "string", short: "a", default: "resnet50", choices: ARCHS, help: "backbone" },
    workers: { type: "int", short: "j", default: 32, help: "images decoded in parallel" },
    "cache-mb": {
      type: "number",
      default: 0,
      help: "keep decoded training images in memory up to this many MiB (0: decode every epoch)",
    },
    epochs: { type: "int", default: 200, help: "total epochs" },
    "start-epoch": { type: "int", default: 0, help: "first epoch (overridden by --resume)" },
    "batch-size": { type: "int", short: "b", default: 256, help: "image pairs per step" },
    lr: { type: "number", default: 0.03, help: "base learning rate" },
    "learning-rate": { type: "number", help: "same as --lr" },
    schedule: {
      type: "int",
      nargs: "+",
      default: "120,160",
      help: "epochs at which lr drops 10× (without --cos): --schedule 120 160 or 120,160",
    },
    momentum: { type: "number", default: 0.9, help: "SGD momentum" },
    wd: { type: "number", default: 1e-4, help: "weight decay (all parameters)" },
    "weight-decay": { type: "number", help: "same as --wd" },
    "print-freq": { type: "int", short: "p", default: 10, help: "log every N steps" },
    resume: { type: "string", default: "", help: "checkpoint to resume from" },
    seed: { type: "int", help: "seed of every random draw (random and recorded when absent)" },
    "moco-dim": { type: "int", default: 128, help: "embedding size (384 for w3 in the paper)" },
    "moco-k": { type: "int", default: 65536, help: "queue size" },
    "moco-m": { type: "number", default: 0.999, help: "key-encoder momentum" },
    "moco-t": { type: "number", default: 0.07, help: "softmax temperature (paper: 0.2)" },
    mlp: { type: "boolean", default: false, help: "MLP projection head (MoCo v2)" },
    "aug-plus": { type: "boolean", default: false, help: "accepted and ignored, as the original" },
    cos: { type: "boolean", default: false, help: "cosine learning-rate schedule" },
    "bn-groups": {
      type: "int",
      help: "emulated GPUs for shuffle-BN: BN statistics per group of batch/G images (default 8; " +
        "with --dist mpi the number of ranks)",
    },
    dist: {
      type: "string",
      default: "none",
      choices: ["none", "mpi"],
      help: "data-parallel over the ranks of mpirun/srun (Open MPI): batch split over ranks, " +
        "gradients averaged with MPI_Allreduce, rank 0 logs and saves",
    },
    "image-size": { type: "int", default: 224, help: "side of the augmented views" },
    "base-width": { type: "int", default: 64, help: "ResNet base width (narrow nets for tests)" },
    "out-dir": { type: "string", default: ".", help: "where checkpoints are written" },
    "results-dir": {
      type: "string",
      default: "./results",
      help: "run record: <results-dir>/main_moco/<run-id>.json and runs.csv",
    },
    "faithful-names": {
      type: "boolean",
      default: false,
      help: "the original's checkpoint names (_0000.pth.tar without the model for non-w3)",
    },
    "max-steps-per-epoch": { type: "int", help: "cut epochs short (smoke tests, benchmarks)" },
    "on-bad-image": {
      type: "string",
      default: "fail",
      choices: BAD_IMAGE_POLICIES,
      help: "unreadable image: fail naming it, or skip it (the next image takes its place)",
    },
    "save-every": {
      type: "int",
      help: "also save <model>_latest.pth.tar every N steps inside an epoch (resumable there)",
    },
    "world-size": {
      type: "int",
      default: -1,
      help: "PyTorch launcher flag (ignored: mpirun/srun place the ranks of --dist mpi)",
    },
    rank: {
      type: "int",
      default: -1,
      help: "PyTorch launcher flag (ignored: mpirun/srun place the ranks of --dist mpi)",
    },
    "dist-url": {
      type: "string",
      help: "PyTorch launcher flag (ignored: mpirun/srun place the ranks of --dist mpi)",
    },
    "dist-backend": {
      type: "string",
      help: "PyTorch launcher flag (ignored: mpirun/srun place the ranks of --dist mpi)",
    },
    "multiprocessing-distributed": {
      type: "boolean",
      default: false,
      help: "PyTorch launcher flag (ignored: mpirun/srun place the ranks of --dist mpi)",
    },
    gpu: {
      type: "int",
      help: "PyTorch launcher flag (ignored: mpirun/srun place the ranks of --dist mpi)",
    },
  },
  positionals: [{ name: "data", help: "dataset root containing <split>/", required: true }],
} as const;

/**
 * The flag of every {@link PretrainConfig} option: the library's errors name options through
 * {@link pretrainFlag}, so the command line reads `--batch-size 16 must divide --moco-k 40`.
 */
export const PRETRAIN_FLAGS: Readonly<Record<PretrainOption, string>> = {
  data: "data",
  split: "--split",
  model: "--model",
  arch: "--arch",
  baseWidth: "--base-width",
  epochs: "--epochs",
  startEpoch: "--start-epoch",
  batchSize: "--batch-size",
  lr: "--lr",
  milestones: "--schedule",
  cos: "--cos",
  momentum: "--momentum",
  weightDecay: "--wd",
  printFreq: "--print-freq",
  resume: "--resume",
  seed: "--seed",
  mocoDim: "--moco-dim",
  mocoK: "--moco-k",
  mocoM: "--moco-m",
  mocoT: "--moco-t",
  mlp: "--mlp",
  bnGroups: "--bn-groups",
  imageSize: "--image-size",
  outDir: "--out-dir",
  faithfulNames: "--faithful-names",
  workers: "--workers",
  cacheMb: "--cache-mb",
  maxStepsPerEpoch: "--max-steps-per-epoch",
  saveEvery: "--save-every",
  onBadImage: "--on-bad-image",
};

/** Names a {@link PretrainConfig} option by its flag (pass as `PretrainDeps.optionName`). */
export const pretrainFlag: OptionNamer = (option) => PRETRAIN_FLAGS[option];

/** What {@link parseMainMocoArgs} returns. */
export interface MainMocoArgs {
  /** The training settings. */
  config: PretrainConfig;
  /** Where the run record goes. */
  resultsDir: string;
  /** Notes for stderr (ignored flags). */
  notes: string[];
  /** `--dist`: `mpi` for data-parallel ranks. */
  dist: "none" | "mpi";
  /** Whether `--bn-groups` was given (otherwise a data-parallel run uses the rank count). */
  bnGroupsGiven: boolean;
}

/** Parses the command line into a {@link PretrainConfig}; `UsageError` names the bad flag. */
export function parseMainMocoArgs(args: string[]): MainMocoArgs {
  const { flags: f, positionals } = parseCli(args, SPEC);
  const notes: string[] = [];
  const distributed = f["multiprocessing-distributed"] || f["world-size"] !== -1 ||
    f.rank !== -1 || f["dist-url"] !== undefined || f["dist-backend"] !== undefined ||
    f.gpu !== undefined;
  if (distributed) {
    notes.push(
      "note: PyTorch's distributed flags are ignored: mpirun/srun place the ranks of " +
        "--dist mpi; without it one WebGPU device emulates " +
        `--bn-groups ${f["bn-groups"] ?? 8} GPUs for shuffle-BN`,
    );
  }
  if (f["aug-plus"]) notes.push("note: --aug-plus is ignored, as in the original");
  if (!(AUGMENT_POLICIES as readonly string[]).includes(f.model)) {
    throw new UsageError(
      `--model: '${f.model}' is not one of ${AUGMENT_POLICIES.join(", ")} (it selects the ` +
        "augmentation policy)",
    );
  }
  let milestones: number[];
  try {
    milestones = parseMilestones(f.schedule.join(","));
  } catch (e) {
    throw new UsageError(`--schedule: ${(e as Error).message}`);
  }
  parseArch(f.arch);
  const config: PretrainConfig = {
    data: positionals[0],
    split: f.split,
    model: f.model as AugmentPolicy,
    arch: f.arch,
    baseWidth: f["base-width"],
    epochs: f.epochs,
    startEpoch: f["start-epoch"],
    batchSize: f["batch-size"],
    lr: f["learning-rate"] ?? f.lr,
    milestones,
    cos: f.cos,
    momentum: f.momentum,
    weightDecay: f["weight-decay"] ?? f.wd,
    printFreq: f["print-freq"],
    resume: f.resume || undefined,
    seed: f.seed,
    mocoDim: f["moco-dim"],
    mocoK: f["moco-k"],
    mocoM: f["moco-m"],
    mocoT: f["moco-t"],
    mlp: f.mlp,
    bnGroups: f["bn-groups"] ?? 8,
    imageSize: f["image-size"],
    outDir: f["out-dir"],
    faithfulNames: f["faithful-names"],
    workers: f.workers,
    cacheMb: f["cache-mb"],
    maxStepsPerEpoch: f["max-steps-per-epoch"],
    saveEvery: f["save-every"],
    onBadImage: parseBadImagePolicy(f["on-bad-image"]),
  };
  // Bad flags are usage errors before the GPU opens (with --dist mpi the BN groups default to
  // the rank count later, so only a given --bn-groups is checked here).
  validatePretrainConfig({
    ...config,
    bnGroups: f["bn-groups"] ?? (f.dist === "mpi" ? 1 : config.bnGroups),
  }, pretrainFlag);
  return {
    config,
    resultsDir: f["results-dir"],
    notes,
    dist: f.dist as "none" | "mpi",
    bnGroupsGiven: f["bn-groups"] !== undefined,
  };
}

/**
 * Test hook: `SSL_DIST_TEST_KILL=<rank>:<step>` makes that rank SIGKILL itself after global step
 * `step`, to check that the job fails promptly instead of hanging.
 */
function killHook(comm: Communicator | undefined): ((step: number) => void) | undefined {
  const spec = Deno.env.get("SSL_DIST_TEST_KILL");
  if (!spec || !comm) return undefined;
  const [rank, step] = spec.split(":").map(Number);
  if (rank !== comm.rank) return undefined;
  return (globalStep) => {
    if (globalStep >= step) Deno.kill(Deno.pid, "SIGKILL");
  };
}

/**
 * Opens Open MPI for `--dist mpi` (loaded only then, so single-process runs need no MPI).
 *
 * @throws UsageError when the process was not started by mpirun/srun.
 */
async function openCommunicator(): Promise<Communicator & { finalize(): void }> {
  const { Mpi, launchedByMpi } = await import("../src/dist/mpi.ts");
  if (!launchedByMpi()) {
    throw new UsageError(
      "--dist mpi: start the ranks with mpirun or srun (e.g. `mpirun -np 2 deno run -A " +
        "scripts/main_moco.ts --dist mpi ...`)",
    );
  }
  return Mpi.init();
}

if (import.meta.main) {
  await runMain("main_moco", async () => {
    const { config, resultsDir, notes, dist, bnGroupsGiven } = parseMainMocoArgs(Deno.args);
    const comm = dist === "mpi" ? await openCommunicator() : undefined;
    if (comm && !bnGroupsGiven) config.bnGroups = comm.size;
    const leader = !comm || comm.rank === 0;
    if (leader) { for (const n of notes) console.error(n); }
    try {
      await train(config, resultsDir, comm, leader);
    } catch (error) {
      if (!comm) throw error;
      // One rank failing must end the whole job (the others wait in a collective).
      const where = `main_moco (rank ${comm.rank} of ${comm.size})`;
      const code = exitCodeFor(error);
      console.error(
        code !== undefined
          ? `${where}: ${(error as Error).message}`
          : `${where}: ${(error as Error).stack ?? error}`,
      );
      comm.abort(code ?? 1);
    }
    comm?.finalize();
  }, { onBadImage: PRETRAIN_FLAGS.onBadImage, arch: PRETRAIN_FLAGS.arch });
}

async function train(
  config: PretrainConfig,
  resultsDir: string,
  comm: Communicator | undefined,
  leader: boolean,
): Promise<void> {
  const startedAt = new Date();
  const gpu = await openGpu();
  try {
    const summary = await pretrain(gpu, config, {
      openDataset: (root) => imageFolder(root),
      augment: (g, images, policy, rngs, options) =>
        augmentPerImage(g, images, policy, rngs, options),
      createMoco: (g, spec, rng) =>
        MoCo.create(g, {
          ...parseArch(spec.arch),
          baseWidth: spec.baseWidth,
          dim: spec.dim,
          K: spec.queueSize,
          mlp: spec.mlp,
        }, rng),
      comm,
      afterStep: killHook(comm),
      optionName: pretrainFlag,
    });
    if (!leader) return;
    if (summary.skipped.length > 0) {
      console.error(`${summary.skipped.length} unreadable image(s) were skipped:`);
      for (const s of summary.skipped.slice(0, 20)) console.error(`  ${s.path}: ${s.reason}`);
    }
    const last = summary.logs.at(-1);
    const written = await writeRunRecord(resultsDir, {
      script: "main_moco",
      runId: newRunId(startedAt),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      arguments: { ...config, args: Deno.args },
      model: {
        name: config.model,
        featureLayer: "backbone",
        contentKey: `${config.arch}-seed-${summary.seed}`,
        files: await modelFileRecords(summary.checkpoints.slice(-1)),
      },
      versions: runtimeVersions(),
      adapter: gpu.summary.description,
      timings: {
        total: summary.totalSeconds,
        data_wait: summary.dataWaitSeconds,
        ...(summary.communication
          ? {
            communication: summary.communication.seconds,
            gradient_allreduce: summary.communication.allreduceSeconds,
            key_gather: summary.communication.gatherSeconds,
            gradient_readback: summary.communication.gradientReadbackSeconds,
          }
          : {}),
      },
      arrays: {
        global_step: summary.logs.map((l) => l.globalStep),
        loss: summary.logs.map((l) => l.loss),
        acc1: summary.logs.map((l) => l.acc1),
        acc5: summary.logs.map((l) => l.acc5),
      },
      summary: {
        arch: config.arch,
        steps: summary.steps,
        pairs_per_s: summary.pairsPerSecond,
        final_loss: last?.loss ?? null,
        final_acc1: last?.acc1 ?? null,
        seed: summary.seed,
        ranks: comm?.size ?? 1,
        ...(summary.communication
          ? {
            bytes_communicated: summary.communication.bytes,
            gradient_bytes_per_step: summary.communication.gradientBytesPerStep,
          }
          : {}),
      },
      details: { checkpoints: summary.checkpoints, skipped: summary.skipped },
    });
    console.log(`=> run record ${written.json}`);
    console.log(
      `done: ${summary.steps} steps, ${summary.pairsPerSecond.toFixed(2)} pairs/s, ` +
        `data wait ${summary.dataWaitSeconds.toFixed(1)} s of ${
          summary.totalSeconds.toFixed(1)
        } s, seed ${summary.seed}`,
    );
  } finally {
    gpu.destroy();
  }
}
