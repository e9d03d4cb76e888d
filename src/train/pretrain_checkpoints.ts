/**
 * The pretraining loop's checkpoints (src/train/pretrain.ts), in the MoCo checkpoint schema of
 * src/train/checkpoint.ts: one `{model}[_w3]_{epoch:04d}.pth.tar` after every epoch, a rolling
 * `{model}[_w3]_latest.pth.tar` every `saveEvery` steps inside an epoch, and `resume`, which
 * reads either back (weights, momentum buffers, queue, pointer, epoch, the step inside it and the
 * random state) so an interrupted run continues exactly as an uninterrupted one. A model holding
 * NaN or ±Infinity is never written: the run stops with the first such tensor named.
 *
 * @module
 */
import type { StateDict } from "../io/torch/tensor.ts";
import { assertFiniteTensors, findNonFinite } from "../io/torch/state_dict.ts";
import { DataError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import {
  checkpointFileName,
  latestFileName,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainingCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import type { TrainableEncoder } from "./moco_step.ts";
import type { MomentumSgd } from "./optimizer.ts";
import { checkResumable, type OptionNamer, type PretrainConfig } from "./pretrain_config.ts";

/** What checkpointing needs of a MoCo model (src/models/moco.ts's MoCo has this shape). */
export interface CheckpointedMoco {
  /** The query encoder, whose parameters the optimiser state covers. */
  readonly encoderQ: TrainableEncoder;
  /** `encoder_q.*`, `encoder_k.*`, `queue`, `queue_ptr` in PyTorch layout (no `module.`). */
  stateDict(): Promise<StateDict>;
  /** Replaces every weight, buffer, the queue and its pointer. */
  loadStateDict(sd: StateDict, source: string): void;
}

/** Where a resumed run continues. */
export interface ResumePoint {
  /** The epoch to continue (epochs completed in the checkpoint). */
  epoch: number;
  /** Steps of that epoch already taken (0 after an end-of-epoch checkpoint). */
  stepInEpoch: number;
  /** Optimiser steps taken before the checkpoint. */
  globalStep: number;
}

/**
 * Reads `config.resume` (undefined when there is nothing to resume) and checks that it continues
 * the same experiment with finite weights, before the run allocates anything.
 *
 * @throws DataError for a missing, unreadable or non-finite checkpoint; UsageError (naming the
 *   option through `name`) for one of another architecture, batch size, policy or BN grouping.
 */
export async function loadResumeCheckpoint(
  config: PretrainConfig,
  name: OptionNamer,
): Promise<TrainingCheckpoint | undefined> {
  if (!config.resume) return undefined;
  const resumed = await loadTrainingCheckpoint(config.resume);
  checkResumable(resumed.arch, resumed.trainState, config, name);
  assertFiniteTensors(resumed.stateDict, config.resume);
  return resumed;
}

/**
 * Puts `resumed` (read from `source`) into the model, the optimiser and the run's master
 * generator, logs where the run continues and returns that point.
 */
export function restoreCheckpoint(
  resumed: TrainingCheckpoint,
  source: string,
  moco: CheckpointedMoco,
  sgd: MomentumSgd,
  rng: Rng,
  log: (line: string) => void,
): ResumePoint {
  moco.loadStateDict(resumed.stateDict, source);
  if (resumed.optimizer) sgd.loadStateDict(resumed.optimizer, source);
  const at: ResumePoint = {
    epoch: resumed.epoch,
    stepInEpoch: resumed.trainState?.stepInEpoch ?? 0,
    globalStep: resumed.trainState?.globalStep ?? 0,
  };
  if (resumed.trainState) rng.setState(resumed.trainState.rng);
  log(
    `=> resumed '${source}' (epoch ${at.epoch}, step ${at.stepInEpoch} of it, ` +
      `${at.globalStep} in all)`,
  );
  return at;
}

/** What {@link PretrainCheckpoints} saves and where. */
export interface PretrainCheckpointsOptions {
  /** The run's settings (names, `saveEvery`, what the train state records). */
  config: PretrainConfig;
  /** How a divergence error names the learning rate option. */
  optionName: OptionNamer;
  /** The model saved. */
  moco: CheckpointedMoco;
  /** The optimiser whose momentum buffers are saved. */
  sgd: MomentumSgd;
  /** The run's master generator (its state is saved). */
  rng: Rng;
  /** The run's seed. */
  seed: number;
  /** Where progress lines go. */
  log: (line: string) => void;
}

/** Saves the checkpoints of one run (rank 0's job in a data-parallel run). */
export class PretrainCheckpoints {
  /** End-of-epoch checkpoint files written, in order. */
  readonly written: string[] = [];
  readonly #o: PretrainCheckpointsOptions;
  readonly #outDir: string;

  /** Saves into `options.config.outDir`. */
  constructor(options: PretrainCheckpointsOptions) {
    this.#o = options;
    this.#outDir = options.config.outDir.replace(/\/+$/, "");
  }

  /**
   * Saves what is due after step `index` (1-based in the epoch) of `epoch`, `globalStep` in all:
   * the epoch's checkpoint after its last step, otherwise the rolling latest one every
   * `saveEvery` global steps.
   */
  async afterStep(
    epoch: number,
    index: number,
    globalStep: number,
    lr: number,
    last: boolean,
  ): Promise<void> {
    const c = this.#o.config;
    if (c.saveEvery && globalStep % c.saveEvery === 0 && !last) {
      // Mid-epoch: `epoch` counts completed epochs, the step inside this one is in our key.
      const file = `${this.#outDir}/${latestFileName(c.model, c.arch)}`;
      await this.#save(file, epoch, index, globalStep, lr);
      this.#o.log(`=> saved ${file} (epoch ${epoch}, step ${index})`);
    }
    if (last) {
      const file = `${this.#outDir}/${checkpointFileName(c.model, c.arch, epoch, c.faithfulNames)}`;
      await this.#save(file, epoch + 1, 0, globalStep, lr);
      this.written.push(file);
      this.#o.log(`=> saved ${file}`);
    }
  }

  async #save(
    file: string,
    epochsDone: number,
    stepInEpoch: number,
    globalStep: number,
    lr: number,
  ): Promise<void> {
    const { config, moco, sgd, rng, seed } = this.#o;
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
          `lower ${this.#o.optionName("lr")} (${config.lr}) or check the data`,
      );
    }
    await saveTrainingCheckpoint(file, {
      epoch: epochsDone,
      arch: config.arch,
      mocoState,
      optimizer: await sgd.stateDict(lr, 2 * moco.encoderQ.parameters().length),
      trainState,
    });
  }
}
