/**
 * Leeds Sports Pose (docs/downstream.md#datasets): `<root>/images/*.jpg` (sorted: im0001 … im2000) and
 * `<root>/joints.mat` (`joints`, 3×14×N: x, y, visibility), split by `<root>/{train,test}.npy`,
 * created when missing as the original does (numpy seed 0, legacy shuffle of 0…N−1, first 60 %
 * train; same bytes as `np.save`).
 *
 * Each item is the centred square of side m = min(W, H) (left = ⌊(W − m)/2⌋,
 * top = ⌊(H − m)/2⌋), which `image(i)` yields. Targets are the 14 joints shifted by that offset,
 * visibility dropped, scaled to the `size`-pixel input: `(x − left) / m · size` (float64, as the
 * original's numpy → torch path). Joints outside the crop keep their out-of-range values (§9
 * item 36). Image sizes are read from the file headers at load time, since targets depend on them.
 *
 * @module
 */
import { cropBox } from "../image/crop.ts";
import { loadSharp } from "../image/sharp.ts";
import { matNumeric, readMat } from "../io/matlab.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { NumpyLegacyRandom } from "../util/mt19937.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { filesContentKey, requireDirectory, requireFile } from "./files.ts";
import { listedImageDataset } from "./listed_images.ts";
import { npySplitIndices } from "./split_files.ts";
import { globFiles } from "./python_glob.ts";

/** Options for {@link loadLeedsSportsPose}. */
export interface LeedsSportsPoseOptions {
  /** Side of the network input the targets are mapped to (`--crop-size`, default 224). */
  size?: number;
}

/** The original's split of n images: seed 0, legacy shuffle, first int(0.6·n) train. */
export function leedsSportsPoseSplits(n: number): { train: number[]; test: number[] } {
  const idx = Array.from({ length: n }, (_, i) => i);
  new NumpyLegacyRandom(0).shuffle(idx);
  const s1 = Math.floor(n * 0.6);
  return { train: idx.slice(0, s1), test: idx.slice(s1) };
}

/** Width and height from the image header (no decode), as PIL reports them (no EXIF rotation). */
async function imageSize(path: string): Promise<{ width: number; height: number }> {
  const sharp = await loadSharp();
  try {
    const meta = await sharp(path).metadata();
    if (!meta.width || !meta.height) throw new Error("no dimensions in the header");
    return { width: meta.width, height: meta.height };
  } catch (e) {
    throw new DataError(`${path}: cannot read the image size: ${(e as Error).message}`);
  }
}

/**
 * Loads split `train` or `test` of `<root>` (= `<data_root>/LeedsSportsPose`). A joints array
 * that is not 3×J×N with N = number of images, or split indices out of range, is a DataError
 * naming the file.
 */
export async function loadLeedsSportsPose(
  root: string,
  split: "train" | "test",
  options: LeedsSportsPoseOptions = {},
): Promise<SupervisedDataset> {
  const base = root.replace(/\/+$/, "");
  const size = options.size ?? 224;
  if (split !== "train" && split !== "test") {
    throw new DataError(`LeedsSportsPose split must be train or test, got '${split}'`);
  }
  const layout = `${base}/images/im<NNNN>.jpg and ${base}/joints.mat`;
  await requireDirectory(`${base}/images`, layout);
  const jointsFile = `${base}/joints.mat`;
  await requireFile(jointsFile, layout);
  const images = await globFiles(`${base}/images`, ".jpg", "sorted");
  if (images.length === 0) {
    throw new DataError(`${base}/images: no .jpg images; expected ${layout}`);
  }
  const joints = matNumeric(await readMat(jointsFile), "joints", jointsFile);
  const [rows, numJoints, n] = joints.dims;
  if (joints.dims.length !== 3 || rows !== 3 || n !== images.length) {
    throw new DataError(
      `${jointsFile}: 'joints' has shape ${
        joints.dims.join("x")
      }, expected 3x14x${images.length} ` +
        `(x, y, visibility per joint, one column per image in ${base}/images)`,
    );
  }
  const splitFile = `${base}/${split}.npy`;
  const indices = await npySplitIndices(
    { train: `${base}/train.npy`, test: `${base}/test.npy` },
    split,
    () => leedsSportsPoseSplits(images.length),
    images.length,
    "delete train.npy and test.npy to recreate them",
  );
  const paths: string[] = [];
  const boxes: { left: number; top: number; side: number; width: number; height: number }[] = [];
  const dim = numJoints * 2;
  const targets = new Float64Array(indices.length * dim);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    const { width, height } = await imageSize(images[i]);
    const side = Math.min(width, height);
    const left = Math.floor((width - side) / 2);
    const top = Math.floor((height - side) / 2);
    for (let j = 0; j < numJoints; j++) {
      // Row-major [3, J, N]: x = joints[0, j, i], y = joints[1, j, i].
      const x = joints.data[(0 * numJoints + j) * n + i];
      const y = joints.data[(1 * numJoints + j) * n + i];
      targets[k * dim + 2 * j] = ((x - left - 0) / side) * size;
      targets[k * dim + 2 * j + 1] = ((y - top - 0) / side) * size;
    }
    paths.push(images[i]);
    boxes.push({ left, top, side, width, height });
  }
  const contentKey = await filesContentKey(base, [...paths, jointsFile, splitFile]);
  return listedImageDataset(paths, {
    name: `leeds_sports_pose-${split}`,
    contentKey: sha256Hex(`leeds_sports_pose\n${size}\n${contentKey}`),
    kind: "regression",
    targetDim: dim,
    targets,
    adjust: (img, index) => {
      const b = boxes[index];
      if (img.width !== b.width || img.height !== b.height) {
        throw new DataError(
          `${paths[index]} decodes to ${img.width}x${img.height}, but its ` +
            `header said ${b.width}x${b.height} when the targets were computed`,
        );
      }
      return cropBox(img, b.left, b.top, b.left + b.side, b.top + b.side);
    },
  });
}
