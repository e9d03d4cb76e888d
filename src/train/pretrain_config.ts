/**
 * The settings of a pretraining run ({@link PretrainConfig}) and the checks made on them before
 * anything is allocated: the configuration on its own, against the ranks of a data-parallel run,
 * and against the checkpoint a run resumes from.
 *
 * Errors name the offending option through an {@link OptionNamer}: by default the
 * {@link PretrainConfig} field (`batchSize 16 must divide mocoK 40`), so a library caller reads
 * the names it wrote; scripts/main_moco.ts passes its flag table so the command line reads
 * `--batch-size 16 must divide --moco-k 40`. The library never spells a flag itself.
 *
 * @module
 */
import type { BadImagePolicy } from "../data/bad_images.ts";
import { AUGMENT_POLICIES, type AugmentPolicy } from "../transforms/augment.ts";
import { UsageError } from "../util/errors.ts";
import type { TrainState } from "./checkpoint.ts";
import { checkCacheMb, checkPositiveIntegers } from "./config_checks.ts";

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

/** A field of {@link PretrainConfig}: what an error about a setting names. */
export type PretrainOption = keyof PretrainConfig;

/** How errors name an option: the field itself by default, a flag in scripts/main_moco.ts. */
export type OptionNamer = (option: PretrainOption) => string;

/** The default {@link OptionNamer}: the {@link PretrainConfig} field. */
export const fieldName: OptionNamer = (option) => option;

/**
 * Checks a configuration before anything is allocated.
 *
 * @throws UsageError naming the option (through `name`) and what is wrong with it.
 */
export function validatePretrainConfig(c: PretrainConfig, name: OptionNamer = fieldName): void {
  if (!AUGMENT_POLICIES.includes(c.model)) {
    throw new UsageError(
      `${name("model")}: '${c.model}' is not one of ${AUGMENT_POLICIES.join(", ")} (it selects ` +
        `the augmentation policy)`,
    );
  }
  checkCacheMb(c.cacheMb, "cacheMb", name);
  checkPositiveIntegers<PretrainOption>([
    ["batchSize", c.batchSize],
    ["epochs", c.epochs],
    ["mocoDim", c.mocoDim],
    ["mocoK", c.mocoK],
    ["bnGroups", c.bnGroups],
    ["printFreq", c.printFreq],
    ["workers", c.workers],
    ["imageSize", c.imageSize],
    ["baseWidth", c.baseWidth],
    ["maxStepsPerEpoch", c.maxStepsPerEpoch],
  ], name);
  // torch.optim.SGD's checks ("Invalid weight_decay value: -1", …).
  if (!(c.weightDecay >= 0) || !Number.isFinite(c.weightDecay)) {
    throw new UsageError(
      `${name("weightDecay")}: invalid weight decay ${c.weightDecay} (must be ≥ 0, as in torch)`,
    );
  }
  if (!(c.momentum >= 0) || !Number.isFinite(c.momentum)) {
    throw new UsageError(
      `${name("momentum")}: invalid momentum ${c.momentum} (must be ≥ 0, as in torch)`,
    );
  }
  checkPositiveIntegers([["saveEvery", c.saveEvery]], name);
  if (!Number.isInteger(c.startEpoch) || c.startEpoch < 0) {
    throw new UsageError(
      `${name("startEpoch")} must be a non-negative integer, got ${c.startEpoch}`,
    );
  }
  const batch = `${name("batchSize")} ${c.batchSize}`;
  const groups = `${name("bnGroups")} ${c.bnGroups}`;
  if (c.mocoK % c.batchSize !== 0) {
    throw new UsageError(
      `${batch} must divide ${name("mocoK")} ${c.mocoK} (the queue is filled in whole batches)`,
    );
  }
  if (c.batchSize % c.bnGroups !== 0) {
    throw new UsageError(`${groups} must divide ${batch}`);
  }
  if (c.batchSize / c.bnGroups < 2) {
    // BatchNorm needs 2 samples per group for a variance (torch: "Expected more than 1 value
    // per channel when training").
    let g = Math.min(c.bnGroups, Math.floor(c.batchSize / 2));
    while (g > 1 && c.batchSize % g !== 0) g--;
    throw new UsageError(
      `${groups} leaves ${c.batchSize / c.bnGroups} image per BatchNorm group with ${batch} ` +
        `(at least 2 are needed); ` +
        (c.batchSize >= 2
          ? `use ${name("bnGroups")} ${g} or a larger ${name("batchSize")}`
          : `use ${name("batchSize")} 2 or more`),
    );
  }
  if (!(c.mocoT > 0)) throw new UsageError(`${name("mocoT")} must be positive, got ${c.mocoT}`);
  if (!(c.mocoM >= 0 && c.mocoM <= 1)) {
    throw new UsageError(`${name("mocoM")} must be in [0, 1], got ${c.mocoM}`);
  }
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) {
    throw new UsageError(`${name("lr")} must be positive and finite, got ${c.lr}`);
  }
}

/**
 * Checks that a data-parallel run of `ranks` ranks can split every global batch and its BN
 * groups evenly.
 *
 * @throws UsageError naming the option (through `name`).
 */
export function validateRanks(
  c: PretrainConfig,
  ranks: number,
  name: OptionNamer = fieldName,
): void {
  if (c.batchSize % ranks !== 0) {
    throw new UsageError(
      `${name("batchSize")} ${c.batchSize} must be divisible by the ${ranks} ranks`,
    );
  }
  if (c.bnGroups % ranks !== 0) {
    throw new UsageError(
      `${name("bnGroups")} ${c.bnGroups} must be a multiple of the ${ranks} ranks (each rank ` +
        `computes BN over its own rows)`,
    );
  }
}

/**
 * Checks that a checkpoint of `arch` with resume information `state` continues the experiment
 * `c` describes: the same architecture, batch size, policy and BN grouping.
 *
 * @throws UsageError naming the option (through `name`) that differs.
 */
export function checkResumable(
  arch: string,
  state: TrainState | undefined,
  c: PretrainConfig,
  name: OptionNamer = fieldName,
): void {
  if (arch !== c.arch) {
    throw new UsageError(
      `${name("resume")}: the checkpoint is a ${arch}, but ${name("arch")} is ${c.arch}`,
    );
  }
  if (!state) return;
  const same: [PretrainOption, string | number, string | number][] = [
    ["batchSize", state.batchSize, c.batchSize],
    ["model", state.policy, c.model],
    ["bnGroups", state.bnGroups, c.bnGroups],
  ];
  for (const [option, was, now] of same) {
    if (was !== now) {
      throw new UsageError(
        `${name("resume")}: the checkpoint was trained with ${name(option)} ${was}, not ${now}`,
      );
    }
  }
}
