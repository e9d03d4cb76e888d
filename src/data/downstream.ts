/**
 * The six downstream datasets of `eval_downstream.py` (docs/downstream.md#datasets): key → trainval / test splits,
 * the probe (logistic or ridge) and the metric.
 *
 * trainval is the train split alone for CIFAR-10, Caltech-101 and LSP, and train ‖ valid for
 * Flowers, 300W and CelebA, in that order (the original's ConcatDataset). Metrics follow the
 * intent by default; `faithful` reproduces what the Python did (docs/quirks.md): Flowers scored with
 * plain accuracy (item 30), Flowers labels ranked per split, CelebA landmarks truncated to int
 * (item 35).
 *
 * @module
 */
import type { RgbImage } from "../image/image.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { loadCaltech101 } from "./caltech101.ts";
import { loadCelebA } from "./celeba.ts";
import { loadCifar10 } from "./cifar10.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { loadFaces300W } from "./faces300w.ts";
import { loadFlowers } from "./flowers.ts";
import { loadLeedsSportsPose } from "./leeds_sports_pose.ts";

/** The `--dataset` keys (after lower-casing). */
export type DownstreamKey =
  | "cifar10"
  | "flowers"
  | "caltech101"
  | "300w"
  | "celeba"
  | "leeds_sports_pose";

/** All keys, in the original's table order. */
export const DOWNSTREAM_KEYS: readonly DownstreamKey[] = [
  "cifar10",
  "flowers",
  "caltech101",
  "300w",
  "celeba",
  "leeds_sports_pose",
];

/** The probe fitted on the features. */
export type DownstreamProbe = "logistic" | "ridge";

/** The score reported on the test split. */
export type DownstreamMetric = "accuracy" | "mean_per_class_accuracy" | "r2";

/** Static facts about one downstream dataset. */
export interface DownstreamInfo {
  /** Folder under the data root. */
  dir: string;
  probe: DownstreamProbe;
  /** The metric the original evidently intended. */
  metric: DownstreamMetric;
  /** The metric the original's code actually used (differs for Flowers, docs/quirks.md#q30). */
  metricAsCoded: DownstreamMetric;
  /** Whether trainval is train ‖ valid (else the train split alone). */
  trainPlusValid: boolean;
}

/** The dataset table of docs/downstream.md#datasets. */
export const DOWNSTREAM_INFO: Readonly<Record<DownstreamKey, DownstreamInfo>> = {
  cifar10: {
    dir: "CIFAR10",
    probe: "logistic",
    metric: "accuracy",
    metricAsCoded: "accuracy",
    trainPlusValid: false,
  },
  flowers: {
    dir: "Flowers",
    probe: "logistic",
    metric: "mean_per_class_accuracy",
    metricAsCoded: "accuracy",
    trainPlusValid: true,
  },
  caltech101: {
    dir: "Caltech101",
    probe: "logistic",
    metric: "mean_per_class_accuracy",
    metricAsCoded: "mean_per_class_accuracy",
    trainPlusValid: false,
  },
  "300w": { dir: "300W", probe: "ridge", metric: "r2", metricAsCoded: "r2", trainPlusValid: true },
  celeba: {
    dir: "CelebA",
    probe: "ridge",
    metric: "r2",
    metricAsCoded: "r2",
    trainPlusValid: true,
  },
  leeds_sports_pose: {
    dir: "LeedsSportsPose",
    probe: "ridge",
    metric: "r2",
    metricAsCoded: "r2",
    trainPlusValid: false,
  },
};

/** True when `name` is one of {@link DOWNSTREAM_KEYS} (callers lower-case `--dataset` first). */
export function isDownstreamKey(name: string): name is DownstreamKey {
  return (DOWNSTREAM_KEYS as readonly string[]).includes(name);
}

/** A loaded downstream task. */
export interface DownstreamTask {
  /** Which of the six datasets this is (`--dataset`). */
  key: DownstreamKey;
  /**
   * The split the probe is fitted and cross-validated on (train ‖ valid where the original joins
   * them).
   */
  trainval: SupervisedDataset;
  /** The held-out split the chosen probe is scored on once. */
  test: SupervisedDataset;
  /** `logistic` for class labels, `ridge` for continuous targets (keypoints, attributes). */
  probe: DownstreamProbe;
  /** The score reported on `test` (the original's as-coded metric under `--faithful`). */
  metric: DownstreamMetric;
}

/** Options for {@link loadDownstream}. */
export interface DownstreamOptions {
  /** Reproduce the original's behaviour where it departs from its intent (docs/quirks.md#q30, docs/quirks.md#q35). */
  faithful?: boolean;
  /** Network input side the landmark/joint targets are mapped to (`--crop-size`, default 224). */
  size?: number;
  /** Where notes such as "created split files" go (default: stderr). */
  log?: (line: string) => void;
}

/**
 * Loads the trainval and test splits of downstream dataset `key` from `<dataRoot>/<dir>`.
 * Missing folders or files are DataErrors naming the path and the expected layout.
 *
 * @example
 * ```ts
 * const task = await loadDownstream("flowers", "../data");
 * console.log(task.trainval.length, task.test.length, task.metric); // 2040 6149 mean_per_class_accuracy
 * ```
 */
export async function loadDownstream(
  key: DownstreamKey,
  dataRoot: string,
  options: DownstreamOptions = {},
): Promise<DownstreamTask> {
  if (!isDownstreamKey(key)) {
    throw new DataError(
      `unknown downstream dataset '${key}'; expected one of ${DOWNSTREAM_KEYS.join(", ")}`,
    );
  }
  const info = DOWNSTREAM_INFO[key];
  const root = `${dataRoot.replace(/\/+$/, "")}/${info.dir}`;
  const faithful = options.faithful ?? false;
  const size = options.size ?? 224;
  let train: SupervisedDataset;
  let valid: SupervisedDataset | undefined;
  let test: SupervisedDataset;
  switch (key) {
    case "cifar10":
      train = await loadCifar10(root, true);
      test = await loadCifar10(root, false);
      break;
    case "flowers":
      train = await loadFlowers(root, "train", { faithful });
      valid = await loadFlowers(root, "val", { faithful });
      test = await loadFlowers(root, "test", { faithful });
      break;
    case "caltech101":
      train = await loadCaltech101(root, "train", { log: options.log });
      test = await loadCaltech101(root, "test", { log: options.log });
      break;
    case "300w":
      train = await loadFaces300W(root, "train", { size });
      valid = await loadFaces300W(root, "valid", { size });
      test = await loadFaces300W(root, "test", { size });
      break;
    case "celeba":
      train = await loadCelebA(root, "train", { faithful, size });
      valid = await loadCelebA(root, "valid", { faithful, size });
      test = await loadCelebA(root, "test", { faithful, size });
      break;
    case "leeds_sports_pose":
      train = await loadLeedsSportsPose(root, "train", { size });
      test = await loadLeedsSportsPose(root, "test", { size });
      break;
  }
  const trainval = valid === undefined
    ? train
    : concatSupervised(`${key}-trainval`, [train, valid]);
  return {
    key,
    trainval,
    test,
    probe: info.probe,
    metric: faithful ? info.metricAsCoded : info.metric,
  };
}

/**
 * The datasets one after another (torch's ConcatDataset): targets concatenated, index i of the
 * result is index i − offset of the part holding it. All parts must share kind and target size.
 */
export function concatSupervised(
  name: string,
  parts: readonly SupervisedDataset[],
): SupervisedDataset {
  if (parts.length === 0) throw new RangeError("concatSupervised needs at least one dataset");
  const { kind, targetDim } = parts[0];
  for (const p of parts) {
    if (p.kind !== kind || p.targetDim !== targetDim) {
      throw new RangeError(
        `cannot concatenate ${p.name} (${p.kind}, ${p.targetDim} targets) ` +
          `with ${parts[0].name} (${kind}, ${targetDim} targets)`,
      );
    }
  }
  const starts: number[] = [];
  let length = 0;
  for (const p of parts) {
    starts.push(length);
    length += p.length;
  }
  const targets = new Float64Array(length * targetDim);
  parts.forEach((p, k) => targets.set(p.targets, starts[k] * targetDim));
  const locate = (index: number): [SupervisedDataset, number] | undefined => {
    if (!Number.isInteger(index) || index < 0 || index >= length) return undefined;
    let k = parts.length - 1;
    while (starts[k] > index) k--;
    return [parts[k], index - starts[k]];
  };
  const classes = parts.map((p) => p.numClasses).filter((c): c is number => c !== undefined);
  return {
    name,
    length,
    contentKey: sha256Hex(`concat\n${parts.map((p) => p.contentKey).join("\n")}`),
    kind,
    targetDim,
    ...(classes.length > 0 ? { numClasses: Math.max(...classes) } : {}),
    targets,
    image(index: number): Promise<RgbImage> {
      const at = locate(index);
      if (at === undefined) {
        return Promise.reject(
          new RangeError(`${name}: image index ${index} outside 0…${length - 1}`),
        );
      }
      return at[0].image(at[1]);
    },
    describe(index: number): string {
      const at = locate(index);
      return at === undefined ? `${name}[${index}]` : at[0].describe(at[1]);
    },
  };
}
