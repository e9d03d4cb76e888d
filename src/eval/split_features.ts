/**
 * Features of one dataset split through the content-keyed feature cache: what the probe scripts
 * (`eval:downstream`, `eval:causal3dident`) do for each split, so re-running or changing the probe
 * never re-runs the network.
 *
 * @module
 */
import type { BadImagePolicy } from "../data/bad_images.ts";
import type { ImageDataset } from "../data/dataset.ts";
import type { Gpu } from "../gpu/device.ts";
import type { FeatureExtractor } from "../models/feature_extractor.ts";
import { Rng } from "../util/rng.ts";
import { type CachedFeatures, type FeatureCache, featureCacheKey } from "./feature_cache.ts";
import { extractFeatures, type Preprocessing } from "./features.ts";

/** Options of {@link cachedSplitFeatures}. */
export interface SplitFeatureOptions {
  /** Split name, for the progress line and the entry's metadata. */
  split: string;
  /** What selects the rows (split, subset size, seed …): part of the cache key. */
  subset: Record<string, unknown>;
  /** Dataset indices to use, in this order (default: all). */
  indices?: readonly number[];
  /** Images per forward pass. */
  batchSize: number;
  /** Resize / crop sizes. */
  preprocessing: Preprocessing;
  /** Where entries are kept. */
  cache: FeatureCache;
  /** What an undecodable image does. */
  onBadImage: BadImagePolicy;
}

/**
 * The features of `ds` (rows `o.indices`) under `model`, from `o.cache` when an entry with the
 * same model, layer, dataset, preprocessing and subset exists, else extracted and stored.
 * `cached` says which.
 */
export async function cachedSplitFeatures(
  gpu: Gpu,
  model: FeatureExtractor,
  ds: ImageDataset,
  o: SplitFeatureOptions,
): Promise<{ entry: CachedFeatures; cached: boolean }> {
  const key = featureCacheKey({
    model: model.contentKey,
    featureLayer: model.featureLayer,
    dataset: ds.contentKey,
    preprocessing: o.preprocessing,
    subset: o.subset,
  });
  return await o.cache.getOrCompute(key, async () => {
    const f = await extractFeatures(gpu, model, ds, {
      batchSize: o.batchSize,
      preprocessing: o.preprocessing,
      indices: o.indices,
      onBadImage: o.onBadImage,
      progress: `features ${o.split}`,
    });
    return {
      features: f.features,
      rows: f.rows,
      dim: f.dim,
      indices: f.indices,
      meta: { model: model.name, split: o.split, skipped: f.skipped },
    };
  });
}

/** The first `count` of 0…n−1 after a seeded shuffle: the probe scripts' random subsets. */
export function shuffledPrefix(n: number, count: number, seed: number): number[] {
  return new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, count);
}
