/**
 * One MoCo v2 training step, recorded entirely on the GPU (docs/common.md#moco, docs/pretraining.md#optimisation), in the order of
 * MoCo's `builder.py` + `main_moco.py`:
 *
 * 1. q = normalize(encoder_q(x_q)), query BN statistics per group of N/G consecutive rows;
 * 2. without gradients: momentum update θ_k ← m·θ_k + (1 − m)·θ_q over parameters only (before
 *    the key forward, with θ_q as left by the previous SGD step); shuffle-BN: permute x_k, encode
 *    with BN per group, normalise, un-permute;
 * 3. InfoNCE of [q·k | q·queue]/T against the queue as it was before this step;
 * 4. enqueue k at queue_ptr (PyTorch does it inside the forward; the logits use a detached clone
 *    of the old queue, so the order does not change any value);
 * 5. backward through normalize and encoder_q, then SGD with momentum and weight decay.
 *
 * Nothing is read back: the caller reads `loss` and `correct` when it wants to log.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { enqueue, infoNce } from "../ops/contrastive.ts";
import { l2NormalizeBackward, l2NormalizeForward } from "../ops/normalize.ts";
import { emaUpdate } from "../ops/sgd.ts";
import type { MomentumSgd, TrainParameter } from "./optimizer.ts";
import { checkBnGroups, type ShufflePermutation, shuffleRows } from "./shuffle_bn.ts";

/** What the step needs of an encoder (ResNet in src/models/resnet.ts has this shape). */
export interface TrainableEncoder {
  /**
   * Train-mode forward (batch-statistics BN per group, running stats updated). With `keepTape`
   * false (the key encoder) it keeps no activations for a backward pass.
   */
  forwardTrain(x: Tensor, options?: { bnGroups?: number; keepTape?: boolean }): Tensor;
  /** Accumulates parameter gradients from dL/d(output) and frees the saved activations. */
  backward(dy: Tensor): void;
  /** Parameters in PyTorch's `named_parameters()` order. */
  parameters(): TrainParameter[];
  /** Records zeroing every parameter gradient. */
  zeroGrad(): void;
  /** Tells the model its parameters changed outside its own ops (the EMA), if it caches. */
  invalidateFolded?(): void;
}

/** The MoCo state a step reads and updates (src/models/moco.ts's MoCo has this shape). */
export interface MocoTrainable {
  /** The query encoder (trained by SGD). */
  readonly encoderQ: TrainableEncoder;
  /** The key encoder (moved by the EMA only). */
  readonly encoderK: TrainableEncoder;
  /** [dim, K] negatives as columns. */
  readonly queue: Tensor;
  /** Next column to write. */
  queuePtr: number;
}

/** Hyper-parameters of one step. */
export interface MocoStepOptions {
  /** Learning rate of the current epoch. */
  lr: number;
  /** Softmax temperature (`--moco-t`). */
  temperature: number;
  /** Key-encoder momentum m (`--moco-m`, 0.999). */
  keyMomentum: number;
  /** Emulated GPUs G for BN statistics (`--bn-groups`); 1 disables shuffle-BN. */
  bnGroups: number;
  /** The key batch's shuffle (draw it with `randomPermutation`). */
  shuffle: ShufflePermutation;
  /** Keep q and k (normalised, [N, dim]) in the result for inspection; default false. */
  keepEmbeddings?: boolean;
}

/** Tensors produced by one step; the caller releases them. */
export interface MocoStepResult {
  /** [1] mean InfoNCE loss. */
  loss: Tensor;
  /** [2] u32 counts of rows whose positive ranks top-1 / within top-5. */
  correct: Tensor;
  /** Normalised queries [N, dim] (only with `keepEmbeddings`). */
  q?: Tensor;
  /** Normalised, un-shuffled keys [N, dim] (only with `keepEmbeddings`). */
  k?: Tensor;
}

/**
 * Records one full MoCo step: forward of both encoders, InfoNCE, enqueue, backward of the
 * query encoder and the SGD update. `xq`/`xk` are NHWC [N, H, W, 3] normalised views.
 *
 * @throws RangeError when the views differ in shape, G does not divide N, or K is not a multiple
 *   of N.
 * @example
 * ```ts
 * const { loss, correct } = recordMocoStep(gpu, moco, sgd, q, k, {
 *   lr: 0.03, temperature: 0.2, keyMomentum: 0.999, bnGroups: 8,
 *   shuffle: randomPermutation(rng, q.shape[0]),
 * });
 * const [l, c] = await gpu.recorder.read([loss, correct]);
 * ```
 */
export function recordMocoStep(
  gpu: Gpu,
  moco: MocoTrainable,
  sgd: MomentumSgd,
  xq: Tensor,
  xk: Tensor,
  options: MocoStepOptions,
): MocoStepResult {
  const n = xq.shape[0];
  if (xq.shape.join() !== xk.shape.join()) {
    throw new RangeError(`MoCo step: query views [${xq.shape}] and key views [${xk.shape}] differ`);
  }
  checkBnGroups(n, options.bnGroups);
  const kq = moco.queue.shape[1];
  if (kq % n !== 0) {
    throw new RangeError(`MoCo step: the queue size K=${kq} must be divisible by the batch ${n}`);
  }
  const groups = { bnGroups: options.bnGroups };
  const { encoderQ, encoderK } = moco;

  // 1. Query path (the only one with gradients).
  encoderQ.zeroGrad();
  const outQ = encoderQ.forwardTrain(xq, groups);
  const q = l2NormalizeForward(gpu, outQ);

  // 2. Key path: momentum update first, then the shuffled forward.
  recordKeyMomentumUpdate(gpu, moco, options.keyMomentum);
  const xkShuffled = shuffleRows(gpu, xk, options.shuffle.perm);
  const outK = encoderK.forwardTrain(xkShuffled, { ...groups, keepTape: false });
  xkShuffled.release();
  const kShuffled = l2NormalizeForward(gpu, outK);
  outK.release();
  const k = shuffleRows(gpu, kShuffled, options.shuffle.inverse);
  kShuffled.release();

  // 3–4. Loss against the old queue, then the enqueue.
  const { loss, dq, correct } = infoNce(gpu, q, k, moco.queue, {
    temperature: options.temperature,
  });
  moco.queuePtr = enqueue(gpu, moco.queue, k, moco.queuePtr);

  // 5. Backward and update.
  recordQueryBackward(gpu, encoderQ, dq, outQ);
  sgd.step(options.lr);

  if (options.keepEmbeddings) return { loss, correct, q, k };
  q.release();
  k.release();
  return { loss, correct };
}

/**
 * MoCo's key-encoder update θ_k ← m·θ_k + (1 − m)·θ_q over the parameters (not the BN running
 * statistics), recorded into the current step; returns encoder_q's parameters.
 */
export function recordKeyMomentumUpdate(
  gpu: Gpu,
  moco: MocoTrainable,
  momentum: number,
): TrainParameter[] {
  const paramsQ = moco.encoderQ.parameters();
  const paramsK = moco.encoderK.parameters();
  if (paramsQ.length !== paramsK.length) {
    throw new RangeError(
      `MoCo step: encoder_q has ${paramsQ.length} parameters, encoder_k ${paramsK.length}`,
    );
  }
  emaUpdate(gpu, paramsK.map((p) => p.value), paramsQ.map((p) => p.value), momentum);
  moco.encoderK.invalidateFolded?.();
  return paramsQ;
}

/**
 * Back-propagates InfoNCE's gradient `dq` (w.r.t. the normalised queries) through the L2
 * normalisation and encoder_q, accumulating parameter gradients; releases `dq` and `outQ`.
 */
export function recordQueryBackward(
  gpu: Gpu,
  encoderQ: TrainableEncoder,
  dq: Tensor,
  outQ: Tensor,
): void {
  const dOut = l2NormalizeBackward(gpu, dq, outQ);
  dq.release();
  encoderQ.backward(dOut);
  dOut.release();
  outQ.release();
}
