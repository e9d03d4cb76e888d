/**
 * The shapes every dataset loader returns, so evaluation code can treat ImageNet-style folders,
 * the real-world invariance sets, the downstream sets and the built-in world alike.
 *
 * @module
 */
import type { RgbImage } from "../image/image.ts";

/** A finite, indexable collection of RGB images. */
export interface ImageDataset {
  /** Short name used in messages and result files (e.g. `cifar10-train`). */
  readonly name: string;
  /** Number of images. */
  readonly length: number;
  /**
   * Stable description of the content for cache keys: changes when the files change. Loaders
   * build it from sorted relative paths plus sizes and modification times (or a content hash for
   * archive-backed sets such as the CIFAR-10 pickles).
   */
  readonly contentKey: string;
  /** Decodes image `index` (0 ≤ index < length) to 8-bit RGB. */
  image(index: number): Promise<RgbImage>;
  /** Where image `index` comes from (a file path, or `file#entry` for archives), for messages. */
  describe(index: number): string;
}

/** What a supervised target is. */
export type TargetKind = "classification" | "regression";

/** An image dataset with one target (class index or real vector) per image. */
export interface SupervisedDataset extends ImageDataset {
  /** `classification`: targets are class indices; `regression`: real vectors. */
  readonly kind: TargetKind;
  /** Values per target: 1 for classification, e.g. 2·68 for 300W landmarks. */
  readonly targetDim: number;
  /** Number of classes (classification only). */
  readonly numClasses?: number;
  /** Row-major [length, targetDim] targets, already normalised as docs/causal3dident.md, docs/downstream.md prescribe. */
  readonly targets: Float64Array;
}

/** Images grouped by identity: the real-world invariance sets (docs/realworld.md#datasets). */
export interface GroupedDataset {
  /** The dataset key (e.g. `COIL100`). */
  readonly name: string;
  /** Root folder it was read from. */
  readonly root: string;
  /** One entry per group, in the original's group order. */
  readonly groups: readonly ImageGroup[];
  /** Stable description of the content for cache keys. */
  readonly contentKey: string;
}

/** One group: views of the same object/scene under the varied factor. */
export interface ImageGroup {
  /** Group name (object id, scene name …). */
  readonly name: string;
  /** Image files of this group, in the original's order. */
  readonly paths: readonly string[];
}
