/**
 * A supervised dataset over a fixed list of image files: the part every list-backed loader
 * (ImageFolder, Caltech-101, Flowers, CelebA, 300W, Leeds Sports Pose) shares — the index check,
 * the decode, an optional per-item adjustment (a crop, a size check) and `describe`.
 *
 * @module
 */
import { loadImage } from "../image/decode.ts";
import type { RgbImage } from "../image/image.ts";
import type { SupervisedDataset, TargetKind } from "./dataset.ts";

/** Everything of a {@link listedImageDataset} besides its files. */
export interface ListedImagesSpec {
  /** Short name for messages (e.g. `flowers-train`). */
  name: string;
  /** Content key for caches. */
  contentKey: string;
  /** What the targets are. */
  kind: TargetKind;
  /** Values per target. */
  targetDim: number;
  /** Number of classes (classification only). */
  numClasses?: number;
  /** Row-major [files, targetDim] targets. */
  targets: Float64Array;
  /** Turns decoded image `index` into the item (default: the image as decoded). */
  adjust?: (img: RgbImage, index: number) => RgbImage;
}

/**
 * The dataset whose item `i` is `paths[i]` decoded (then adjusted). An index outside the list
 * rejects with a RangeError naming the dataset; `describe(i)` is the file path.
 */
export function listedImageDataset(
  paths: readonly string[],
  spec: ListedImagesSpec,
): SupervisedDataset {
  const { name, adjust } = spec;
  return {
    name,
    length: paths.length,
    contentKey: spec.contentKey,
    kind: spec.kind,
    targetDim: spec.targetDim,
    ...(spec.numClasses === undefined ? {} : { numClasses: spec.numClasses }),
    targets: spec.targets,
    image(index: number): Promise<RgbImage> {
      if (!Number.isInteger(index) || index < 0 || index >= paths.length) {
        return Promise.reject(
          new RangeError(`${name}: image index ${index} outside 0…${paths.length - 1}`),
        );
      }
      const img = loadImage(paths[index]);
      return adjust ? img.then((decoded) => adjust(decoded, index)) : img;
    },
    describe: (index: number) => paths[index] ?? `${name}[${index}]`,
  };
}
