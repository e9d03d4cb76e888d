/**
 * A decoded-image cache in front of any {@link ImageDataset}: training reads the same files every
 * epoch, and decoding them again costs more CPU than the GPU step on a small world (half of a
 * MoCo step's time was spent waiting for decodes on the 2-core machine). The cache holds the
 * decoded RGB bytes while a shared byte budget lasts; images past the budget decode every time.
 *
 * @module
 */
import type { RgbImage } from "../image/image.ts";
import type { ImageDataset } from "./dataset.ts";

/** A byte budget shared by every dataset wrapped with the same object. */
export interface CacheBudget {
  /** Bytes still free; decreases as images are kept. */
  bytes: number;
}

/**
 * `dataset` with its decoded images kept in memory while `budget.bytes` lasts (shared by the
 * datasets given the same budget object); images past the budget decode every time. A failed
 * decode is not kept, so the bad-image policy sees it again next epoch. With a budget of 0 the
 * dataset itself is returned.
 *
 * @example
 * ```ts
 * const train = cachedImages(await imageFolder("data/train"), { bytes: 512 * 2 ** 20 });
 * ```
 */
export function cachedImages<T extends ImageDataset>(dataset: T, budget: CacheBudget): T {
  if (budget.bytes <= 0) return dataset;
  const cache = new Map<number, Promise<RgbImage>>();
  const image = (index: number): Promise<RgbImage> => {
    const hit = cache.get(index);
    if (hit) return hit;
    const decoded = dataset.image(index);
    if (budget.bytes <= 0) return decoded;
    cache.set(index, decoded);
    decoded.then(
      (img) => (budget.bytes -= img.data.byteLength),
      () => cache.delete(index),
    );
    return decoded;
  };
  // A prototype-based wrapper keeps every other field (targets, classes, paths …) as it is.
  const wrapped = Object.create(dataset) as T;
  Object.defineProperty(wrapped, "image", { value: image });
  return wrapped;
}
