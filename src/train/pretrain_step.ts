/**
 * One optimisation step of the pretraining loop (src/train/pretrain.ts): draw the batch's
 * shuffle-BN permutation from the run seed, then record the single-process MoCo step
 * (src/train/moco_step.ts) or, with a communicator, run the data-parallel one
 * (src/train/moco_step_distributed.ts) after sharing rank 0's permutation, and free the views.
 * Nothing is read back here; the step's loss and counts are left for the logger.
 *
 * @module
 */
import type { Communicator } from "../dist/communicator.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { Rng } from "../util/rng.ts";
import { type MocoStepResult, type MocoTrainable, recordMocoStep } from "./moco_step.ts";
import { distributedMocoStep, type StepCommTimes } from "./moco_step_distributed.ts";
import type { MomentumSgd } from "./optimizer.ts";
import { batchSeed, STREAM_SHUFFLE_BN } from "./seeds.ts";
import { permutationFrom, randomPermutation } from "./shuffle_bn.ts";

/** Two independently augmented, normalised NHWC views [N, size, size, 3] of a batch. */
export interface TwoViews {
  /** Query views. */
  q: Tensor;
  /** Key views. */
  k: Tensor;
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

/** The settings every step of a run shares. */
export interface PretrainStepSettings {
  /** The run seed, from which each batch's shuffle-BN permutation derives. */
  seed: number;
  /** Image pairs per global batch (over all ranks). */
  batchSize: number;
  /** Softmax temperature. */
  temperature: number;
  /** Key-encoder momentum. */
  keyMomentum: number;
  /** BN groups over the global batch. */
  bnGroups: number;
}

/** Runs the optimisation steps of one run and totals their communication. */
export class PretrainStep {
  readonly #gpu: Gpu;
  readonly #moco: MocoTrainable;
  readonly #sgd: MomentumSgd;
  readonly #settings: PretrainStepSettings;
  readonly #comm?: Communicator;
  readonly #times: StepCommTimes = {
    gatherSeconds: 0,
    gradientReadbackSeconds: 0,
    allreduceSeconds: 0,
    gradientBytes: 0,
  };

  /** Steps `moco` with `sgd`; with `comm`, as one rank of a data-parallel run. */
  constructor(
    gpu: Gpu,
    moco: MocoTrainable,
    sgd: MomentumSgd,
    settings: PretrainStepSettings,
    comm?: Communicator,
  ) {
    this.#gpu = gpu;
    this.#moco = moco;
    this.#sgd = sgd;
    this.#settings = settings;
    this.#comm = comm;
  }

  /**
   * Takes step `index` of `epoch` at learning rate `lr` on this rank's `views`, which it
   * releases. The caller reads back and releases the result's `loss` and `correct`.
   */
  async run(epoch: number, index: number, lr: number, views: TwoViews): Promise<MocoStepResult> {
    const s = this.#settings;
    const { q: xq, k: xk } = views;
    const shuffleRng = new Rng(batchSeed(s.seed, epoch, index, STREAM_SHUFFLE_BN));
    let shuffle = randomPermutation(shuffleRng, s.batchSize);
    const options = {
      lr,
      temperature: s.temperature,
      keyMomentum: s.keyMomentum,
      bnGroups: s.bnGroups,
      shuffle,
    };
    try {
      const comm = this.#comm;
      if (!comm) return recordMocoStep(this.#gpu, this.#moco, this.#sgd, xq, xk, options);
      // The original draws the permutation on rank 0 and broadcasts it.
      const perm = Int32Array.from(shuffle.perm);
      comm.broadcast(perm, 0);
      shuffle = permutationFrom(perm);
      return await distributedMocoStep(
        this.#gpu,
        this.#moco,
        this.#sgd,
        comm,
        xq,
        xk,
        { ...options, shuffle },
        this.#times,
      );
    } finally {
      xq.release();
      xk.release();
    }
  }

  /** This rank's communication over the `steps` steps taken; undefined in a single process. */
  communication(steps: number): CommunicationSummary | undefined {
    const comm = this.#comm;
    if (!comm) return undefined;
    const t = this.#times;
    return {
      ranks: comm.size,
      bytes: comm.bytesCommunicated,
      seconds: comm.secondsCommunicating,
      gatherSeconds: t.gatherSeconds,
      gradientReadbackSeconds: t.gradientReadbackSeconds,
      allreduceSeconds: t.allreduceSeconds,
      gradientBytesPerStep: steps > 0 ? t.gradientBytes / steps : 0,
    };
  }
}
