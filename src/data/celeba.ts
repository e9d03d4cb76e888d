/**
 * CelebA aligned landmarks (docs/downstream.md#datasets): `<root>/celeba/list_eval_partition.txt` (0 train,
 * 1 valid, 2 test), `<root>/celeba/list_landmarks_align_celeba.txt` (count line, header line,
 * then `<file> lefteye_x lefteye_y righteye_x … rightmouth_y`) and the 178×218 images in
 * `<root>/celeba/img_align_celeba/`.
 *
 * Targets map each landmark to the `size`-pixel input as the original does,
 * x′ = ((x − (w − m)/2) / m) · size and y′ = ((y − (h − m)/2) / m) · size with w×h = 178×218 and
 * m = 178 (so y is shifted by 20). The original writes these into an integer tensor, truncating
 * them after float32 arithmetic (docs/quirks.md#q35); `faithful` reproduces that, the default keeps
 * the float64 values. The other annotation files the original checks (identity, bbox, attributes,
 * with MD5 sums) are not needed for landmarks and are not read; nothing is downloaded.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { filesContentKey, requireDirectory, requireFile } from "./files.ts";
import { listedImageDataset } from "./listed_images.ts";

/** CelebA split names and their partition codes. */
export const CELEBA_SPLITS: Readonly<Record<"train" | "valid" | "test", number>> = {
  train: 0,
  valid: 1,
  test: 2,
};

/** Size of the aligned-and-cropped images the landmarks refer to. */
export const CELEBA_ALIGNED_WIDTH = 178;
/** Height of the aligned-and-cropped images. */
export const CELEBA_ALIGNED_HEIGHT = 218;

/** Options for {@link loadCelebA}. */
export interface CelebAOptions {
  /** Truncate the mapped landmarks to integers after float32 arithmetic, as the original. */
  faithful?: boolean;
  /** Side of the network input the targets are mapped to (`--crop-size`, default 224). */
  size?: number;
}

/**
 * Maps one landmark coordinate (`x` horizontal when `horizontal`) of a 178×218 aligned image to a
 * `size`-pixel input; `faithful` = float32 steps then truncation toward zero, as the original.
 */
export function celebaTarget(
  value: number,
  horizontal: boolean,
  size: number,
  faithful: boolean,
): number {
  const m = Math.min(CELEBA_ALIGNED_WIDTH, CELEBA_ALIGNED_HEIGHT);
  const offset = ((horizontal ? CELEBA_ALIGNED_WIDTH : CELEBA_ALIGNED_HEIGHT) - m) / 2;
  if (!faithful) return ((value - offset) / m) * size;
  const f = Math.fround;
  return Math.trunc(f(f(f(value - offset) / m) * size));
}

/** Lines of a CelebA annotation file split on runs of spaces (csv with skipinitialspace). */
function rows(text: string): string[][] {
  return text.split(/\r\n|\r|\n/).filter((l) => l.trim() !== "").map((l) => l.trim().split(/\s+/));
}

/**
 * Loads split `train`, `valid` or `test` of `<root>` (= `<data_root>/CelebA`). Missing files,
 * malformed lines, and a landmark file whose rows do not list the same images in the same order
 * as the partition file are DataErrors naming the file and line.
 */
export async function loadCelebA(
  root: string,
  split: "train" | "valid" | "test",
  options: CelebAOptions = {},
): Promise<SupervisedDataset> {
  const code = CELEBA_SPLITS[split];
  if (code === undefined) {
    throw new DataError(`CelebA split must be train, valid or test, got '${split}'`);
  }
  const size = options.size ?? 224;
  const faithful = options.faithful ?? false;
  const base = `${root.replace(/\/+$/, "")}/celeba`;
  const layout = `${base}/img_align_celeba/, ${base}/list_eval_partition.txt and ` +
    `${base}/list_landmarks_align_celeba.txt`;
  const partitionFile = `${base}/list_eval_partition.txt`;
  const landmarkFile = `${base}/list_landmarks_align_celeba.txt`;
  const imageDir = `${base}/img_align_celeba`;
  await requireDirectory(imageDir, layout);
  await requireFile(partitionFile, layout);
  await requireFile(landmarkFile, layout);
  const partition = rows(await Deno.readTextFile(partitionFile));
  const landmarks = rows(await Deno.readTextFile(landmarkFile)).slice(2); // count, header
  if (landmarks.length !== partition.length) {
    throw new DataError(
      `${landmarkFile} has ${landmarks.length} landmark rows but ` +
        `${partitionFile} lists ${partition.length} images`,
    );
  }
  const paths: string[] = [];
  const values: number[] = [];
  partition.forEach((p, n) => {
    const part = Number(p[1]);
    if (p.length !== 2 || !Number.isInteger(part)) {
      throw new DataError(
        `${partitionFile} line ${n + 1}: expected '<file> <0|1|2>', got '${p.join(" ")}'`,
      );
    }
    const l = landmarks[n];
    if (l[0] !== p[0]) {
      throw new DataError(
        `${landmarkFile} line ${n + 3} is for ${l[0]}, but line ${n + 1} of ` +
          `${partitionFile} is ${p[0]}; the files must list the images in the same order`,
      );
    }
    if (part !== code) return;
    const coords = l.slice(1).map(Number);
    if (coords.length !== 10 || coords.some((v) => !Number.isInteger(v))) {
      throw new DataError(`${landmarkFile} line ${n + 3}: expected a file name and 10 integers`);
    }
    paths.push(`${imageDir}/${p[0]}`);
    coords.forEach((v, k) => values.push(celebaTarget(v, k % 2 === 0, size, faithful)));
  });
  let contentKey: string;
  try {
    contentKey = await filesContentKey(base, [partitionFile, landmarkFile, ...paths]);
  } catch (e) {
    throw new DataError(`${partitionFile}: a listed image is missing: ${(e as Error).message}`);
  }
  return listedImageDataset(paths, {
    name: `celeba-${split}`,
    contentKey: sha256Hex(`celeba\n${size}\n${faithful}\n${contentKey}`),
    kind: "regression",
    targetDim: 10,
    targets: Float64Array.from(values),
    adjust: (img, index) => {
      if (img.width !== CELEBA_ALIGNED_WIDTH || img.height !== CELEBA_ALIGNED_HEIGHT) {
        throw new DataError(
          `${paths[index]} is ${img.width}x${img.height}; the landmark targets ` +
            `assume the aligned ${CELEBA_ALIGNED_WIDTH}x${CELEBA_ALIGNED_HEIGHT} images`,
        );
      }
      return img;
    },
  });
}
