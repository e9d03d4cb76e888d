/**
 * Shuffle-BN emulated on one device (docs/pretraining.md#optimisation). MoCo trains with one process per GPU and plain
 * per-GPU BatchNorm; the key batch is gathered, permuted with one random permutation, split into
 * G chunks (one per GPU), encoded, gathered again and un-permuted. On one device the same
 * statistics come from: permute the key images, run the key encoder with BN statistics per group
 * of N/G consecutive rows, then un-permute the keys. Query BN uses groups of consecutive rows
 * without a permutation (each GPU's own sub-batch).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { gatherRows } from "../ops/gather.ts";
import type { Rng } from "../util/rng.ts";

/** One shuffle: `perm[i]` is the source row of shuffled row i; `inverse` undoes it. */
export interface ShufflePermutation {
  /** shuffled[i] = x[perm[i]] (PyTorch's `idx_shuffle`). */
  readonly perm: Uint32Array;
  /** unshuffled[i] = shuffled[inverse[i]] (PyTorch's `idx_unshuffle = argsort(idx_shuffle)`). */
  readonly inverse: Uint32Array;
}

/**
 * Checks that `perm` is a permutation of 0..n−1 and returns it with its inverse.
 *
 * @throws RangeError naming the first repeated or out-of-range entry.
 */
export function permutationFrom(perm: ArrayLike<number>): ShufflePermutation {
  const n = perm.length;
  const p = new Uint32Array(n);
  const inverse = new Uint32Array(n).fill(0xffffffff);
  for (let i = 0; i < n; i++) {
    const v = perm[i];
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new RangeError(`shuffle permutation: entry ${i} is ${v}, outside [0, ${n})`);
    }
    if (inverse[v] !== 0xffffffff) {
      throw new RangeError(`shuffle permutation: ${v} appears twice (entries ${inverse[v]}, ${i})`);
    }
    p[i] = v;
    inverse[v] = i;
  }
  return { perm: p, inverse };
}

/** A uniformly random permutation of n rows (Fisher–Yates over `rng`), with its inverse. */
export function randomPermutation(rng: Rng, n: number): ShufflePermutation {
  const order = Array.from({ length: n }, (_, i) => i);
  rng.shuffle(order);
  return permutationFrom(order);
}

/** The identity "shuffle": what G = 1 (no shuffle-BN) uses. */
export function identityPermutation(n: number): ShufflePermutation {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  return { perm: p, inverse: p.slice() };
}

/**
 * Checks the BN grouping of a batch: G must divide N and leave at least one sample per group
 * (BatchNorm needs more than one value per channel, so 1×1 feature maps need two).
 *
 * @throws RangeError with the batch, the group count and why they do not fit.
 */
export function checkBnGroups(batch: number, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1) {
    throw new RangeError(`BN groups must be a positive integer, got ${groups}`);
  }
  if (batch % groups !== 0) {
    throw new RangeError(`BN groups ${groups} must divide the batch size ${batch}`);
  }
}

/**
 * Records the key path's row shuffle on the GPU: returns x[perm[i]] for every row i. The index
 * upload is recorded in the current encoder and its buffer released after recording.
 */
export function shuffleRows(gpu: Gpu, x: Tensor, order: Uint32Array): Tensor {
  if (order.length !== x.shape[0]) {
    throw new RangeError(`shuffleRows: ${order.length} indices for a batch of ${x.shape[0]}`);
  }
  const index = Tensor.from(gpu, order, [order.length], "shuffle index");
  const out = gatherRows(gpu, x, index);
  index.release();
  return out;
}
