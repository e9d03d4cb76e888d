/**
 * One data-parallel MoCo v2 step on one rank, as MoCo's `builder.py` runs under PyTorch DDP with
 * one process per GPU and plain per-GPU BatchNorm (docs/common.md#moco,
 * docs/pretraining.md#optimisation). It lives beside the single-process step
 * (src/train/moco_step.ts), whose key update and backward it reuses; src/dist/ only carries the
 * messages (src/dist/communicator.ts):
 *
 * 1. q = normalize(encoder_q(x_q)) over this rank's b = N/size rows (query BN per rank);
 * 2. momentum update of encoder_k (its parameters are identical on every rank);
 * 3. shuffle-BN across ranks: all key views are gathered in rank order, permuted by the global
 *    permutation (rank 0's, broadcast by the caller), this rank encodes its slice of the shuffled
 *    batch with local BN, the keys are gathered again and un-shuffled; the rank keeps the keys of
 *    its own rows for its loss and fills the queue with all N keys in rank order;
 * 4. InfoNCE against the old queue (mean over the rank's rows), enqueue;
 * 5. backward, then the gradients are averaged over ranks through host buffers (one readback,
 *    one `allreduceMean`, one upload) before SGD, so weight decay and momentum act on the same
 *    averaged gradient everywhere.
 *
 * The key views are read back first and the key path is recorded before the query path (the EMA
 * reads θ_q, which the query forward does not change), so the key readback overlaps the query
 * forward; the values are those of the order above. Three syncs per step: key views, keys,
 * gradients.
 *
 * With BN groups G = size (× any local groups) every rank computes what a single process with
 * `--bn-groups G` computes for the same rows: the same query groups, the same shuffled key
 * groups, and the mean of the per-rank mean losses is the global mean loss.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { enqueue, infoNce } from "../ops/contrastive.ts";
import { l2NormalizeForward } from "../ops/normalize.ts";
import type { Communicator } from "../dist/communicator.ts";
import {
  type MocoStepOptions,
  type MocoStepResult,
  type MocoTrainable,
  recordKeyMomentumUpdate,
  recordQueryBackward,
} from "./moco_step.ts";
import type { MomentumSgd, TrainParameter } from "./optimizer.ts";
import { checkBnGroups } from "./shuffle_bn.ts";

/** Where one rank's step time went around the collectives (accumulated, for benchmarks). */
export interface StepCommTimes {
  /** Gathering key views and keys, readbacks (GPU waits) included. */
  gatherSeconds: number;
  /** Waiting for the backward pass and reading the packed gradients back. */
  gradientReadbackSeconds: number;
  /** Inside `MPI_Allreduce` of the gradients (includes waiting for the slowest rank). */
  allreduceSeconds: number;
  /** Gradient bytes all-reduced. */
  gradientBytes: number;
}

/**
 * Runs one data-parallel step on this rank. `xq`/`xk` are this rank's NHWC views [b, H, W, 3];
 * `options.shuffle` is the permutation of the global batch of N = b·size rows and
 * `options.bnGroups` the global number of BN groups (a multiple of `comm.size`). Every rank must
 * call it with the same options, in the same order (collectives inside). The returned loss and
 * counts cover this rank's rows only.
 *
 * @throws RangeError when shapes, groups or the queue size do not fit.
 */
export async function distributedMocoStep(
  gpu: Gpu,
  moco: MocoTrainable,
  sgd: MomentumSgd,
  comm: Communicator,
  xq: Tensor,
  xk: Tensor,
  options: MocoStepOptions,
  times?: StepCommTimes,
): Promise<MocoStepResult> {
  const b = xq.shape[0];
  const n = b * comm.size;
  if (xq.shape.join() !== xk.shape.join()) {
    throw new RangeError(`MoCo step: query views [${xq.shape}] and key views [${xk.shape}] differ`);
  }
  checkBnGroups(n, options.bnGroups);
  if (options.bnGroups % comm.size !== 0) {
    throw new RangeError(
      `BN groups ${options.bnGroups} must be a multiple of the ${comm.size} ranks`,
    );
  }
  if (options.shuffle.perm.length !== n) {
    throw new RangeError(`MoCo step: a shuffle of ${options.shuffle.perm.length} rows for N=${n}`);
  }
  const kq = moco.queue.shape[1];
  if (kq % n !== 0) {
    throw new RangeError(`MoCo step: the queue size K=${kq} must be divisible by the batch ${n}`);
  }
  const local = { bnGroups: options.bnGroups / comm.size };
  const { encoderQ, encoderK } = moco;
  const rowLen = xk.size / b;
  const first = comm.rank * b;

  // 0. The key views of every rank, in rank order, then this rank's slice of the shuffled batch.
  // Read before the query forward is recorded, so this sync waits only for the augmentation.
  const t0 = performance.now();
  const [xkHost] = await gpu.recorder.read([xk]);
  const allViews = comm.allgather(xkHost as Float32Array);
  const mine = new Float32Array(b * rowLen);
  for (let i = 0; i < b; i++) {
    const src = options.shuffle.perm[first + i] * rowLen;
    mine.set(allViews.subarray(src, src + rowLen), i * rowLen);
  }
  let gatherMs = performance.now() - t0;

  // 1. Momentum update (θ_q is the same before and after the query forward, so the key path is
  // recorded first and its readback overlaps the query forward).
  const paramsQ = recordKeyMomentumUpdate(gpu, moco, options.keyMomentum);

  // 2. Shuffle-BN across ranks: encode this rank's shuffled slice (submitted with its readback),
  // record the query path while it runs, then gather the keys and un-shuffle them.
  const xkMine = Tensor.from(gpu, mine, xk.shape, "shuffled key views");
  const outK = encoderK.forwardTrain(xkMine, { ...local, keepTape: false });
  xkMine.release();
  const kShuffledMine = l2NormalizeForward(gpu, outK);
  outK.release();
  const dim = kShuffledMine.shape[1];
  const keysRead = gpu.recorder.read([kShuffledMine]);
  kShuffledMine.release();

  // 3. Query path (the only one with gradients).
  encoderQ.zeroGrad();
  const outQ = encoderQ.forwardTrain(xq, local);
  const q = l2NormalizeForward(gpu, outQ);
  gpu.recorder.flush();

  const t1 = performance.now();
  const [kHost] = await keysRead;
  const kShuffled = comm.allgather(kHost as Float32Array);
  const kAll = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const src = options.shuffle.inverse[i] * dim;
    kAll.set(kShuffled.subarray(src, src + dim), i * dim);
  }
  gatherMs += performance.now() - t1;
  if (times) times.gatherSeconds += gatherMs / 1000;
  const k = Tensor.from(gpu, kAll.subarray(first * dim, (first + b) * dim), [b, dim], "keys");
  const kGlobal = Tensor.from(gpu, kAll, [n, dim], "gathered keys");

  // 4. Loss against the old queue, then the enqueue of every rank's keys in rank order.
  const { loss, dq, correct } = infoNce(gpu, q, k, moco.queue, {
    temperature: options.temperature,
  });
  moco.queuePtr = enqueue(gpu, moco.queue, kGlobal, moco.queuePtr);
  kGlobal.release();

  // 5. Backward, gradient averaging over ranks, update.
  recordQueryBackward(gpu, encoderQ, dq, outQ);
  const averaged = await averageGradients(gpu, comm, paramsQ);
  if (times) {
    times.gradientReadbackSeconds += averaged.readbackSeconds;
    times.allreduceSeconds += averaged.allreduceSeconds;
    times.gradientBytes += averaged.bytes;
  }
  sgd.step(options.lr);

  if (options.keepEmbeddings) return { loss, correct, q, k };
  q.release();
  k.release();
  return { loss, correct };
}

/**
 * Replaces every parameter gradient by its mean over ranks: the gradients are packed into one
 * GPU buffer and read back with one sync, averaged with one `allreduceMean`, uploaded once and
 * copied back. Returns the bytes all-reduced and where the time went.
 */
export async function averageGradients(
  gpu: Gpu,
  comm: Communicator,
  params: readonly TrainParameter[],
): Promise<{ bytes: number; readbackSeconds: number; allreduceSeconds: number }> {
  const t0 = performance.now();
  const total = params.reduce((s, p) => s + p.grad.size, 0);
  const packed = Tensor.empty(gpu, [total], "f32", "packed gradients");
  let offset = 0;
  for (const p of params) {
    gpu.recorder.copy(p.grad, packed, p.grad.byteSize, 0, offset * 4);
    offset += p.grad.size;
  }
  const [host] = await gpu.recorder.read([packed]);
  const grads = host as Float32Array;
  const t1 = performance.now();
  comm.allreduceMean(grads);
  const t2 = performance.now();
  gpu.recorder.upload(packed.buffer, 0, grads);
  offset = 0;
  for (const p of params) {
    gpu.recorder.copy(packed, p.grad, p.grad.byteSize, offset * 4, 0);
    offset += p.grad.size;
  }
  packed.release();
  return {
    bytes: grads.byteLength,
    readbackSeconds: (t1 - t0) / 1000,
    allreduceSeconds: (t2 - t1) / 1000,
  };
}
