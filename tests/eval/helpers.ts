/**
 * In-memory datasets for evaluation tests.
 *
 * @module
 */
import type { ImageDataset } from "../../src/data/dataset.ts";
import { createImage, type RgbImage } from "../../src/image/image.ts";
import { DataError } from "../../src/util/errors.ts";
import type { Rng } from "../../src/util/rng.ts";

/** A random RGB image. */
export function randomImage(rng: Rng, width: number, height: number): RgbImage {
  const img = createImage(width, height);
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
  return img;
}

/** An ImageDataset over fixed images; indices in `bad` fail to decode with a DataError. */
export function memoryDataset(
  images: RgbImage[],
  bad: ReadonlySet<number> = new Set(),
  name = "mem",
): ImageDataset & { loads: number } {
  const ds = {
    name,
    length: images.length,
    contentKey: `mem-${images.length}-${images.map((i) => i.data[0]).join(".")}`,
    loads: 0,
    image(index: number): Promise<RgbImage> {
      ds.loads++;
      if (bad.has(index)) return Promise.reject(new DataError(`img${index}.png: truncated file`));
      return Promise.resolve(images[index]);
    },
    describe(index: number): string {
      return `img${index}.png`;
    },
  };
  return ds;
}
