/**
 * Oxford Flowers-102 (docs/downstream.md#datasets): `<root>/imagelabels.mat` (`labels`, 1…102 per image),
 * `<root>/setid.mat` (1-based image ids `trnid`, `valid`, `tstid`) and
 * `<root>/jpg/image_{id:05d}.jpg`.
 *
 * Labels: the original ranks the unique labels present in the requested split (0…k−1), which
 * equals `label − 1` only because every real split holds all 102 classes. The default here is
 * `label − 1` (one mapping for every split); `faithful` ranks within the split as the Python did.
 *
 * @module
 */
import { matNumeric, readMat } from "../io/matlab.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { filesContentKey, requireDirectory, requireFile } from "./files.ts";
import { listedImageDataset } from "./listed_images.ts";

/** Flowers split names and the setid.mat variable each reads. */
export const FLOWERS_SPLITS: Readonly<Record<"train" | "val" | "test", string>> = {
  train: "trnid",
  val: "valid",
  test: "tstid",
};

/** Options for {@link loadFlowers}. */
export interface FlowersOptions {
  /** Rank labels within the split, as the original did (default: `label − 1`). */
  faithful?: boolean;
}

/**
 * Loads split `train`, `val` or `test` of `<root>` (= `<data_root>/Flowers`). Missing files, ids
 * outside 1…N, non-integer labels and missing images are DataErrors naming the file.
 */
export async function loadFlowers(
  root: string,
  split: "train" | "val" | "test",
  options: FlowersOptions = {},
): Promise<SupervisedDataset> {
  const base = root.replace(/\/+$/, "");
  const layout = `${base}/imagelabels.mat, ${base}/setid.mat and ${base}/jpg/image_NNNNN.jpg`;
  const variable = FLOWERS_SPLITS[split];
  if (variable === undefined) {
    throw new DataError(`Flowers split must be train, val or test, got '${split}'`);
  }
  const labelFile = `${base}/imagelabels.mat`;
  const setFile = `${base}/setid.mat`;
  await requireFile(labelFile, layout);
  await requireFile(setFile, layout);
  await requireDirectory(`${base}/jpg`, layout);
  const allLabels = matNumeric(await readMat(labelFile), "labels", labelFile).data;
  const ids = matNumeric(await readMat(setFile), variable, setFile).data;
  for (const l of allLabels) {
    if (!Number.isInteger(l) || l < 1) {
      throw new DataError(`${labelFile}: label ${l} is not an integer ≥ 1`);
    }
  }
  const paths: string[] = [];
  const raw: number[] = [];
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 1 || id > allLabels.length) {
      throw new DataError(
        `${setFile}: '${variable}' holds image id ${id}, outside 1…${allLabels.length} ` +
          `(the images labelled in ${labelFile})`,
      );
    }
    paths.push(`${base}/jpg/image_${String(id).padStart(5, "0")}.jpg`);
    raw.push(allLabels[id - 1]);
  }
  let targets: Float64Array;
  let numClasses: number;
  if (options.faithful) {
    const unique = [...new Set(raw)].sort((a, b) => a - b);
    const rank = new Map(unique.map((l, i) => [l, i]));
    targets = Float64Array.from(raw, (l) => rank.get(l)!);
    numClasses = unique.length;
  } else {
    targets = Float64Array.from(raw, (l) => l - 1);
    numClasses = allLabels.reduce((m, l) => Math.max(m, l), 0);
  }
  let contentKey: string;
  try {
    contentKey = await filesContentKey(base, paths);
  } catch (e) {
    throw new DataError(`${setFile} '${variable}': ${(e as Error).message}`);
  }
  return listedImageDataset(paths, {
    name: `flowers-${split}`,
    contentKey: sha256Hex(`flowers\n${contentKey}\n${Array.from(targets).join(",")}`),
    kind: "classification",
    targetDim: 1,
    numClasses,
    targets,
  });
}
