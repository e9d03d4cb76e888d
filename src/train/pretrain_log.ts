/**
 * What the pretraining loop (src/train/pretrain.ts) reports while it runs: every step's loss is
 * copied into a small GPU window without a readback; every `printFreq` steps and at the end of
 * each epoch the window and the step's counts are read back (the loop's only readbacks), summed
 * over ranks, checked for divergence, kept as a {@link StepLog}, appended to the training log
 * (src/train/training_log.ts: `log.csv`, `log.jsonl`) and printed as MoCo's progress line with
 * throughput, data wait and ETA.
 *
 * @module
 */
import type { Communicator } from "../dist/communicator.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { DataError } from "../util/errors.ts";
import { formatDuration } from "../util/progress.ts";
import type { MocoStepResult } from "./moco_step.ts";
import type { OptionNamer } from "./pretrain_config.ts";
import { TrainingLog } from "./training_log.ts";

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

/** Options of {@link PretrainLog.open}. */
export interface PretrainLogOptions {
  /** Where `log.csv` and `log.jsonl` go; undefined: no files (the ranks other than 0). */
  dir?: string;
  /** The global step of the checkpoint a run resumes from (the files continue after it). */
  resumeGlobalStep?: number;
  /** Read back and log every this many steps (and at the end of each epoch). */
  printFreq: number;
  /** Steps per epoch. */
  perEpoch: number;
  /** Steps this process will take (for the ETA). */
  totalSteps: number;
  /** Image pairs per global batch. */
  batchSize: number;
  /** The ranks whose losses and counts are summed; undefined: one process. */
  comm?: Communicator;
  /** Base learning rate, named in a divergence error's advice. */
  baseLr: number;
  /** How the divergence error names the learning rate option. */
  optionName: OptionNamer;
  /** Where progress lines go. */
  log: (line: string) => void;
  /** `performance.now()` when training began (throughput and ETA count from it). */
  start: number;
}

/** Where one step stands, as the loop knows it after the step. */
export interface StepPosition {
  /** 0-based epoch. */
  epoch: number;
  /** Steps done in the epoch, this one included. */
  index: number;
  /** Steps since the start of training, this one included. */
  globalStep: number;
  /** Steps taken in this process, this one included. */
  steps: number;
  /** Learning rate of the epoch. */
  lr: number;
}

/** The loop's log: logged steps, `log.csv`/`log.jsonl` and the progress lines. */
export class PretrainLog {
  /** Logged steps (every `printFreq`, and the last step of each epoch). */
  readonly logs: StepLog[] = [];
  readonly #gpu: Gpu;
  readonly #o: PretrainLogOptions;
  readonly #file?: TrainingLog;
  readonly #lossWindow: Tensor;
  #waitMs = 0;
  #windowStart: number;
  #windowWait = 0;
  #windowSteps = 0;

  private constructor(gpu: Gpu, options: PretrainLogOptions, file: TrainingLog | undefined) {
    this.#gpu = gpu;
    this.#o = options;
    this.#file = file;
    this.#windowStart = options.start;
    // Every step's loss is copied into this window (no readback), read with the logged step, so
    // the first non-finite loss is found exactly, not only at a logged step.
    this.#lossWindow = Tensor.zeros(gpu, [
      Math.max(1, Math.min(options.printFreq, options.perEpoch)),
    ]);
  }

  /**
   * Opens the log: `<dir>/log.csv` and `log.jsonl` start over, or continue after
   * `resumeGlobalStep` for a resumed run.
   */
  static async open(gpu: Gpu, options: PretrainLogOptions): Promise<PretrainLog> {
    const file = options.dir === undefined
      ? undefined
      : await TrainingLog.open(options.dir, { resumeGlobalStep: options.resumeGlobalStep });
    return new PretrainLog(gpu, options, file);
  }

  /** Seconds spent waiting for data over the whole run. */
  get dataWaitSeconds(): number {
    return this.#waitMs / 1000;
  }

  /** Counts `ms` spent waiting for the next batch. */
  waited(ms: number): void {
    this.#waitMs += ms;
    this.#windowWait += ms;
  }

  /**
   * Records a finished step: its loss joins the window; every `printFreq` steps and at the end
   * of an epoch the window is read back and logged, otherwise the recorded work is submitted.
   *
   * @throws DataError when a loss in the window is not finite (training diverged).
   */
  async stepDone(result: MocoStepResult, at: StepPosition): Promise<void> {
    const gpu = this.#gpu;
    const o = this.#o;
    const { epoch, index, globalStep, lr } = at;
    this.#windowSteps++;
    const windowSteps = this.#windowSteps;
    if (windowSteps <= this.#lossWindow.size) {
      gpu.recorder.copy(result.loss, this.#lossWindow, 4, 0, 4 * (windowSteps - 1));
    }
    if (index % o.printFreq !== 0 && index !== o.perEpoch) {
      gpu.recorder.flush();
      return;
    }
    const ranks = o.comm?.size ?? 1;
    const [lossData, correctData, windowData] = await gpu.recorder.read([
      result.loss,
      result.correct,
      this.#lossWindow,
    ]);
    // Over ranks: the loss is the mean of the per-rank means, the counts add up.
    const stats = Float64Array.of(lossData[0], correctData[0], correctData[1]);
    o.comm?.allreduceSum(stats);
    const losses = Float64Array.from(windowData.subarray(0, windowSteps));
    o.comm?.allreduceSum(losses);
    const firstBad = losses.findIndex((v) => !Number.isFinite(v));
    if (firstBad >= 0) {
      const step = index - windowSteps + firstBad;
      throw new DataError(
        `training diverged: the loss is ${losses[firstBad]} at epoch ${epoch}, step ${step} ` +
          `(global step ${globalStep - windowSteps + firstBad + 1}); stopped without writing ` +
          `a checkpoint for it; lower ${o.optionName("lr")} (${o.baseLr}) or check the data`,
      );
    }
    const now = performance.now();
    const entry: StepLog = {
      epoch,
      step: index - 1,
      globalStep,
      loss: stats[0] / ranks,
      acc1: (100 * stats[1]) / o.batchSize,
      acc5: (100 * stats[2]) / o.batchSize,
    };
    this.logs.push(entry);
    const windowSec = (now - this.#windowStart) / 1000;
    const rate = (windowSteps * o.batchSize) / windowSec;
    const done = at.steps / o.totalSteps;
    const eta = done > 0 ? ((now - o.start) / 1000) * (1 - done) / done : NaN;
    this.#file?.step({
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
      data_wait_s: this.#windowWait / 1000,
    });
    o.log(
      `Epoch: [${epoch}][${index}/${o.perEpoch}] lr ${lr.toExponential(3)} ` +
        `loss ${entry.loss.toFixed(4)} acc@1 ${entry.acc1.toFixed(2)} ` +
        `acc@5 ${entry.acc5.toFixed(2)} | ${rate.toFixed(2)} pairs/s, data wait ` +
        `${(this.#windowWait / 1000).toFixed(2)} s of ${windowSec.toFixed(2)} s, ETA ` +
        formatDuration(eta),
    );
    this.#windowStart = now;
    this.#windowWait = 0;
    this.#windowSteps = 0;
  }

  /** Appends the summary row of `epoch`, which ended after `steps` steps at `globalStep`. */
  endEpoch(epoch: number, steps: number, globalStep: number, lr: number): void {
    this.#file?.endEpoch(epoch, steps, globalStep, lr);
  }

  /** Closes the files and frees the loss window. */
  close(): void {
    this.#file?.close();
    this.#lossWindow.release();
  }
}
