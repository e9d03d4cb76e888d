/**
 * The random streams of a training run, all derived from its one seed (stored in every
 * checkpoint), so a resumed run and every rank of a data-parallel run draw what a single
 * uninterrupted process draws: each image's two views, and each batch's shuffle-BN permutation.
 *
 * @module
 */

/** Stream of the shuffle-BN permutation of one batch. */
export const STREAM_SHUFFLE_BN = 2;
/** Stream of the views of one image. */
export const STREAM_VIEWS = 3;

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
