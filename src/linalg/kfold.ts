/**
 * scikit-learn's `KFold` cross-validation splitter.
 *
 * Fold sizes follow sklearn: every fold has ⌊n/k⌋ test samples and the first n mod k folds one
 * more; the test folds are consecutive chunks of the (optionally shuffled) index list. Both the
 * train and the test indices of each split are returned in ascending order, as sklearn builds
 * them from boolean masks.
 *
 * Shuffling: pass `random` as
 * - an integer: a fresh numpy-legacy `RandomState(seed)` is created on every `split()` call and
 *   `shuffle`d, exactly what `KFold(shuffle=True, random_state=seed)` does, so the folds are
 *   bit-identical to sklearn's (the same folds on every call);
 * - a {@link NumpyLegacyRandom} instance: it is used and advanced, like passing a `RandomState`;
 * - an {@link Rng} (or anything with a Fisher–Yates `shuffle`): our own seeded permutation, which
 *   the evaluation scripts use for the intended `seededFolds` behaviour (docs/quirks.md#q28, docs/quirks.md#q33).
 * The original scripts pass no random_state (unseeded folds); that cannot be matched, so any
 * seeded choice is a documented departure.
 *
 * @module
 */
import { NumpyLegacyRandom } from "../util/mt19937.ts";

/** Anything that permutes an array in place (Rng, NumpyLegacyRandom). */
export interface Shuffler {
  /** Permutes `items` in place and returns it. */
  shuffle<T>(items: T[]): T[];
}

/** One train/test split, indices ascending. */
export interface Fold {
  /** Training sample indices. */
  train: Int32Array;
  /** Held-out sample indices. */
  test: Int32Array;
}

/** Options of {@link KFold}. */
export interface KFoldOptions {
  /** Shuffle the indices before chunking (default false). */
  shuffle?: boolean;
  /** Seed (numpy-legacy, sklearn-compatible) or a generator; required when `shuffle` is true. */
  random?: number | Shuffler;
}

/** The k-fold splitter. */
export class KFold {
  /** Number of folds k ≥ 2. */
  readonly nSplits: number;
  /** Whether indices are shuffled before chunking. */
  readonly shuffle: boolean;
  readonly #random: number | Shuffler | undefined;

  /**
   * A splitter into `nSplits` folds (scikit-learn's `KFold`): unshuffled unless `options.shuffle`.
   *
   * @param nSplits number of folds (≥ 2)
   * @throws RangeError on a bad fold count, or `shuffle` without a source of randomness
   */
  constructor(nSplits: number, options: KFoldOptions = {}) {
    if (!Number.isInteger(nSplits) || nSplits < 2) {
      throw new RangeError(`KFold: n_splits must be an integer ≥ 2, got ${nSplits}`);
    }
    this.nSplits = nSplits;
    this.shuffle = options.shuffle ?? false;
    this.#random = options.random;
    if (this.shuffle && this.#random === undefined) {
      throw new RangeError(
        "KFold: shuffle needs `random` (an integer seed or a generator); unseeded folds are not " +
          "reproducible",
      );
    }
  }

  /**
   * The k splits of n samples, in fold order.
   *
   * @throws RangeError when n < k
   */
  split(n: number): Fold[] {
    const k = this.nSplits;
    if (!Number.isInteger(n) || n < k) {
      throw new RangeError(`KFold: cannot split ${n} samples into ${k} folds`);
    }
    const order = Array.from({ length: n }, (_, i) => i);
    if (this.shuffle) {
      const r = this.#random!;
      const shuffler = typeof r === "number" ? new NumpyLegacyRandom(r) : r;
      shuffler.shuffle(order);
    }
    const folds: Fold[] = [];
    const base = Math.floor(n / k);
    const extra = n % k;
    let start = 0;
    const inTest = new Uint8Array(n);
    for (let f = 0; f < k; f++) {
      const size = base + (f < extra ? 1 : 0);
      inTest.fill(0);
      for (let p = start; p < start + size; p++) inTest[order[p]] = 1;
      start += size;
      const test = new Int32Array(size);
      const train = new Int32Array(n - size);
      let a = 0, b = 0;
      for (let i = 0; i < n; i++) {
        if (inTest[i]) test[a++] = i;
        else train[b++] = i;
      }
      folds.push({ train, test });
    }
    return folds;
  }
}

/** Gathers rows `indices` of a row-major [n, cols] array into a new array of the same type. */
export function takeRows<T extends Float32Array | Float64Array | Int32Array>(
  data: T,
  cols: number,
  indices: ArrayLike<number>,
): T {
  const ctor = data.constructor as { new (length: number): T };
  const out = new ctor(indices.length * cols);
  const n = data.length / cols;
  for (let r = 0; r < indices.length; r++) {
    const idx = indices[r];
    if (!(idx >= 0 && idx < n) || !Number.isInteger(idx)) {
      throw new RangeError(`takeRows: index ${idx} out of range [0, ${n})`);
    }
    const src = idx * cols;
    out.set(data.subarray(src, src + cols) as T, r * cols);
  }
  return out;
}
