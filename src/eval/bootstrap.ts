/**
 * Percentile bootstrap intervals for the report's numbers: an invariance number is a mean over
 * images (synthetic) or groups (real-world), a probe's spread a mean over CV folds, so each
 * interval resamples those units with replacement, recomputes the statistic, and takes the
 * 2.5 % and 97.5 % points of the resampled statistics (numpy's default linear interpolation).
 *
 * Differences between two models are bootstrapped *paired*: both models' values of the same
 * resampled units enter each replicate, so the interval is that of the difference itself, not a
 * comparison of two separate intervals. Everything is seeded: the same inputs give the same
 * interval.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";

/** A point estimate and its interval. */
export interface Interval {
  /** The statistic on the original sample. */
  estimate: number;
  /** Lower and upper end of the interval (NaN when no finite value was resampled). */
  lo: number;
  hi: number;
}

/** Options of the bootstrap functions. */
export interface BootstrapOptions {
  /** Bootstrap replicates (default 2000). */
  resamples?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
}

/**
 * The `q`-quantile (0 ≤ q ≤ 1) of an ascending array, linearly interpolated between the two
 * nearest order statistics at position q·(n − 1) (numpy's default `linear` method).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside [0, 1]`);
  const pos = q * (n - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < n ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/** The mean of the finite entries of `xs` (NaN when there are none). */
export function finiteMean(xs: ArrayLike<number>): number {
  let s = 0, n = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

/**
 * The percentile interval of `statistic` over bootstrap resamples of `n` units: each replicate
 * draws n unit indices uniformly with replacement and calls `statistic` with them; `estimate` is
 * `statistic` on the units 0…n−1 as they are. Replicates whose statistic is not finite are left
 * out of the percentiles.
 *
 * @throws RangeError for n < 1, fewer than one resample, or a level outside (0, 1)
 */
export function bootstrapInterval(
  n: number,
  statistic: (indices: Int32Array) => number,
  options: BootstrapOptions = {},
): Interval {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`cannot bootstrap ${n} units`);
  const identity = new Int32Array(n);
  for (let i = 0; i < n; i++) identity[i] = i;
  const idx = new Int32Array(n);
  return replicate(statistic(identity), (rng) => {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    return statistic(idx);
  }, options);
}

/** Runs `draw` once per replicate (seeded) and returns the percentile interval around `estimate`. */
function replicate(
  estimate: number,
  draw: (rng: Rng) => number,
  options: BootstrapOptions,
): Interval {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bad number of resamples ${resamples}`);
  }
  if (!(level > 0 && level < 1)) throw new RangeError(`bad interval level ${level}`);
  const rng = new Rng(options.seed ?? 0);
  const stats: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const s = draw(rng);
    if (Number.isFinite(s)) stats.push(s);
  }
  stats.sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return { estimate, lo: quantileSorted(stats, tail), hi: quantileSorted(stats, 1 - tail) };
}

/** The mean of the finite values of `units[indices]`. */
function meanAt(units: ArrayLike<number>, indices: Int32Array): number {
  let s = 0, n = 0;
  for (let i = 0; i < indices.length; i++) {
    const v = units[indices[i]];
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

/**
 * The interval of the mean of `values` (one per image, group or fold; non-finite values are
 * skipped, like numpy's `nanmean`).
 *
 * @example
 * ```ts
 * const ci = bootstrapMean(perImageSimilarity, { seed: 1 });
 * console.log(`${ci.estimate} [${ci.lo}, ${ci.hi}]`);
 * ```
 */
export function bootstrapMean(values: ArrayLike<number>, options: BootstrapOptions = {}): Interval {
  if (values.length === 0) return { estimate: NaN, lo: NaN, hi: NaN };
  return bootstrapInterval(values.length, (idx) => meanAt(values, idx), options);
}

/**
 * The interval of the mean over items of each item's mean over units, where `units[item]` holds
 * one value per unit (e.g. per image, for each transform family). When every item has the same
 * number of units, unit j is taken to be the same image (group, fold) in every item and the
 * units are resampled jointly; otherwise each item is resampled on its own within a replicate.
 */
export function bootstrapMeanOfMeans(
  units: readonly ArrayLike<number>[],
  options: BootstrapOptions = {},
): Interval {
  return pairedBootstrapDifference(units, undefined, options);
}

/**
 * The interval of the difference `a − b` of two models' mean-of-means (see
 * {@link bootstrapMeanOfMeans}), paired: `a[item][j]` and `b[item][j]` are the same unit, and
 * each replicate resamples the units once for both models. Without `b`, the interval of `a`'s
 * mean-of-means alone.
 *
 * @throws RangeError when `a` and `b` do not have the same shape
 * @example
 * ```ts
 * // Spatial families, per-image similarity of two models on the same sampled images:
 * const d = pairedBootstrapDifference(ventralPerImage, defaultPerImage, { seed: 3 });
 * if (d.lo > 0) console.log("ventral is more invariant");
 * ```
 */
export function pairedBootstrapDifference(
  a: readonly ArrayLike<number>[],
  b?: readonly ArrayLike<number>[],
  options: BootstrapOptions = {},
): Interval {
  if (b && (b.length !== a.length || b.some((row, i) => row.length !== a[i].length))) {
    throw new RangeError("paired bootstrap: the two models' unit arrays differ in shape");
  }
  const items = a.map((row, i) => {
    const v = new Float64Array(row.length);
    for (let j = 0; j < row.length; j++) v[j] = row[j] - (b ? b[i][j] : 0);
    return v;
  }).filter((v) => v.length > 0);
  if (items.length === 0) return { estimate: NaN, lo: NaN, hi: NaN };
  const n = items[0].length;
  const joint = items.every((v) => v.length === n);
  const meanOfMeans = (pick: (v: Float64Array, item: number) => number) => {
    let s = 0, k = 0;
    for (let i = 0; i < items.length; i++) {
      const m = pick(items[i], i);
      if (Number.isFinite(m)) {
        s += m;
        k++;
      }
    }
    return k > 0 ? s / k : NaN;
  };
  if (joint) {
    return bootstrapInterval(n, (idx) => meanOfMeans((v) => meanAt(v, idx)), options);
  }
  // Unequal unit counts: resample each item separately inside one replicate.
  const scratch = items.map((v) => new Int32Array(v.length));
  return replicate(meanOfMeans((v) => finiteMean(v)), (rng) =>
    meanOfMeans((v, i) => {
      const idx = scratch[i];
      for (let j = 0; j < idx.length; j++) idx[j] = rng.int(v.length);
      return meanAt(v, idx);
    }), options);
}
