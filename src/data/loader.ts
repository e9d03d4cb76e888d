/**
 * Mini-batches for training: a seeded per-epoch shuffle with `drop_last` (docs/pretraining.md#data), images
 * decoded concurrently (sharp decodes on its own thread pool, so several decodes in flight keep
 * the CPU cores busy without blocking the event loop), and the next batch prepared while the
 * caller works on the current one (prefetch depth 1). Each batch reports how long the caller
 * waited for it, so the training log can separate data-wait from compute time. With `shard`, a
 * data-parallel rank decodes only its rows of each global batch.
 *
 * @module
 */
import type { RgbImage } from "../image/image.ts";
import { DataError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import { type BadImageLog, type BadImagePolicy, readOrSkip } from "./bad_images.ts";
import type { ImageDataset } from "./dataset.ts";

/** How many following images are tried in place of an unreadable one before giving up. */
const MAX_SUBSTITUTES = 16;

/** Options of {@link BatchLoader}. */
export interface BatchLoaderOptions<T> {
  /** Images per batch. */
  batchSize: number;
  /** Seed of the per-epoch shuffle (combined with the epoch, like DistributedSampler). */
  seed: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Drop the last incomplete batch (default true, as main_moco.py). */
  dropLast?: boolean;
  /** Decodes in flight at once (default 8). */
  concurrency?: number;
  /**
   * Turns decoded images into what the consumer needs (e.g. the two augmented views on the GPU).
   * Called in batch order, one batch at a time, so a generator drawn inside stays deterministic.
   */
  prepare: (images: RgbImage[], batch: BatchInfo) => Promise<T>;
  /** Frees a prepared batch the consumer never received (it stopped early). */
  dispose?: (value: T) => void;
  /**
   * Unreadable images (`--on-bad-image`): `fail` (default) rejects with the decoder's DataError;
   * `skip` records the file in `log` once and uses the next readable image of the dataset in its
   * place, so batches keep their size and a resumed run makes the same substitutions.
   */
  badImages?: { policy: BadImagePolicy; log: BadImageLog };
  /**
   * Data-parallel training (PyTorch's DistributedSampler role): every rank walks the same global
   * seeded order and batches of `batchSize`, and decodes only rows [rank·b, (rank+1)·b) of each
   * global batch, b = batchSize / size. Ranks together see exactly the batches one process would.
   */
  shard?: { rank: number; size: number };
}

/** Where a batch sits in its epoch. */
export interface BatchInfo {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based batch index within the epoch. */
  index: number;
  /** Dataset indices of the batch's images (this rank's rows only, when sharded). */
  indices: readonly number[];
  /** Row of `indices[0]` in the global batch (rank·b when sharded, else 0). */
  offset: number;
}

/** One prepared batch and how long the consumer waited for it. */
export interface LoadedBatch<T> extends BatchInfo {
  /** What `prepare` returned. */
  value: T;
  /** Milliseconds between asking for this batch and getting it (0 when prefetch kept up). */
  waitMs: number;
}

/**
 * The order of one epoch: a permutation of 0…n−1 from a generator seeded by (seed, epoch), or
 * the identity without shuffling. The same (seed, epoch) always gives the same order, so a
 * resumed run sees the batches an uninterrupted one would have.
 */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (!shuffle) return order;
  const rng = new Rng(((seed >>> 0) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  return rng.shuffle(order);
}

/** Maps `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapConcurrent<A, B>(
  items: readonly A[],
  limit: number,
  fn: (item: A, i: number) => Promise<B>,
): Promise<B[]> {
  const out = new Array<B>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Batches of a dataset with decode concurrency and one batch of prefetch. */
export class BatchLoader<T> {
  /** Images per batch. */
  readonly batchSize: number;
  readonly #options: BatchLoaderOptions<T>;
  readonly #bad = new Set<number>();

  /**
   * A loader over `dataset` (nothing is decoded until a batch is asked for).
   *
   * @throws DataError when the dataset has fewer images than one batch (with `dropLast`), or is
   *   empty.
   */
  constructor(readonly dataset: ImageDataset, options: BatchLoaderOptions<T>) {
    const b = options.batchSize;
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`batch size must be ≥ 1, got ${b}`);
    if (dataset.length === 0) throw new DataError(`${dataset.name}: the dataset has no images`);
    if ((options.dropLast ?? true) && dataset.length < b) {
      throw new DataError(
        `${dataset.name}: ${dataset.length} image(s) do not fill one batch of ${b} ` +
          `(the last incomplete batch is dropped)`,
      );
    }
    const shard = options.shard;
    if (shard) {
      const { rank, size } = shard;
      if (
        !Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size
      ) {
        throw new RangeError(`shard: rank ${rank} of ${size} is not a valid rank`);
      }
      if (b % size !== 0) {
        throw new RangeError(`batch size ${b} is not divisible by the ${size} ranks`);
      }
    }
    this.batchSize = b;
    this.#options = options;
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return (this.#options.dropLast ?? true)
      ? Math.floor(n / this.batchSize)
      : Math.ceil(n / this.batchSize);
  }

  /**
   * The batches of `epoch`, starting at batch `from` (default 0). The next batch is decoded and
   * prepared while the consumer handles the current one. A failed decode rejects with the
   * dataset's `DataError` (naming the file) when its batch is reached.
   */
  epoch(epoch: number, from = 0): AsyncGenerator<LoadedBatch<T>> {
    return this.batches({ epoch, index: from }, epoch + 1);
  }

  /**
   * Every batch from batch `start.index` of epoch `start.epoch` up to (not including) epoch
   * `endEpoch`, at most `perEpoch` batches per epoch (default: all). Prefetch runs across epoch
   * boundaries, so the next epoch's first batch is decoded while the consumer saves its
   * end-of-epoch checkpoint.
   */
  async *batches(
    start: { epoch: number; index: number },
    endEpoch: number,
    perEpoch = this.batchesPerEpoch,
  ): AsyncGenerator<LoadedBatch<T>> {
    const o = this.#options;
    const count = Math.min(perEpoch, this.batchesPerEpoch);
    const orders = new Map<number, number[]>();
    const orderOf = (epoch: number) => {
      let order = orders.get(epoch);
      if (!order) {
        order = epochOrder(this.dataset.length, o.seed, epoch, o.shuffle ?? true);
        orders.clear();
        orders.set(epoch, order);
      }
      return order;
    };
    const load = (epoch: number, index: number): Promise<LoadedBatch<T>> => {
      const global = orderOf(epoch).slice(index * this.batchSize, (index + 1) * this.batchSize);
      const local = o.shard ? this.batchSize / o.shard.size : this.batchSize;
      const offset = o.shard ? o.shard.rank * local : 0;
      const indices = global.slice(offset, offset + local);
      const info = { epoch, index, indices, offset };
      return mapConcurrent(indices, o.concurrency ?? 8, (i) => this.#decode(i))
        .then((images) => o.prepare(images, info))
        .then((value) => ({ ...info, value, waitMs: 0 }));
    };
    const next = (epoch: number, index: number): [number, number] | undefined => {
      const [e, i] = index + 1 < count ? [epoch, index + 1] : [epoch + 1, 0];
      return e < endEpoch ? [e, i] : undefined;
    };
    let pending: Promise<LoadedBatch<T>> | undefined;
    const settle = (p: Promise<LoadedBatch<T>>) => p.catch(() => undefined);
    let at: [number, number] | undefined = start.index < count && start.epoch < endEpoch
      ? [start.epoch, start.index]
      : next(start.epoch, count - 1);
    try {
      while (at) {
        const started = performance.now();
        const current = await (pending ?? load(at[0], at[1]));
        current.waitMs = performance.now() - started;
        at = next(at[0], at[1]);
        pending = at ? load(at[0], at[1]) : undefined;
        // A prefetch may fail while the consumer is busy: mark it handled now (Deno would end
        // the process on an unhandled rejection) and let the await below rethrow it.
        pending?.catch(() => undefined);
        yield current;
      }
    } finally {
      // A consumer that stops early must not leave an unhandled rejection behind.
      if (pending) {
        const dispose = o.dispose;
        settle(pending).then((b) => b && dispose?.(b.value));
      }
    }
  }

  /** Image `i`, or under the skip policy the next readable one after it. */
  async #decode(i: number): Promise<RgbImage> {
    const bad = this.#options.badImages;
    if (!bad) return await this.dataset.image(i);
    // Under `fail` the first unreadable image (j = i) throws; under `skip` the next readable
    // one stands in for it.
    const n = this.dataset.length;
    for (let k = 0; k <= MAX_SUBSTITUTES; k++) {
      const j = (i + k) % n;
      if (this.#bad.has(j)) continue;
      const image = await readOrSkip(() => this.dataset.image(j), bad.policy, (error) => {
        // Concurrent decodes may meet the same file; it is logged once.
        if (!this.#bad.has(j)) bad.log.record(this.dataset.describe(j), error);
        this.#bad.add(j);
      });
      if (image) return image;
    }
    throw new DataError(
      `${this.dataset.describe(i)} and the ${MAX_SUBSTITUTES} images after it are unreadable`,
    );
  }
}
