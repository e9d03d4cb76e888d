/**
 * The registry of the 11 real-world invariance datasets (docs/realworld.md#datasets, the original's `DATA_INFO`):
 * key → folder under `--data-root`, loader and mode, expected group count and size.
 *
 * @module
 */
import { DataError, UsageError } from "../util/errors.ts";
import { aloiLayout, type AloiMode, loadAloi } from "./aloi.ts";
import { alotLayout, type AlotMode, loadAlot } from "./alot.ts";
import { coil100Layout, loadCoil100 } from "./coil100.ts";
import { daliLayout, loadDali } from "./dali.ts";
import type { GroupedDataset } from "./dataset.ts";
import { exposureErrorsLayout, loadExposureErrors } from "./exposure_errors.ts";
import { flickr1024Layout, loadFlickr1024 } from "./flickr1024.ts";
import { loadRealBlur, realBlurLayout } from "./real_blur.ts";

/** The `--dataset` keys of the real-world script (case-sensitive, as in the original). */
export type RealWorldKey =
  | "COIL100"
  | "ALOI-viewpoint"
  | "ALOI-illumination"
  | "ALOI-temperature"
  | "ALOT-viewpoint"
  | "ALOT-illumination"
  | "ALOT-temperature"
  | "ExposureErrors"
  | "DaLI"
  | "Flickr1024"
  | "RealBlur";

/** All keys, in the original's `DATA_INFO` order. */
export const REALWORLD_KEYS: readonly RealWorldKey[] = [
  "COIL100",
  "ALOI-viewpoint",
  "ALOI-illumination",
  "ALOI-temperature",
  "ALOT-viewpoint",
  "ALOT-illumination",
  "ALOT-temperature",
  "ExposureErrors",
  "DaLI",
  "Flickr1024",
  "RealBlur",
];

/** True when `name` is one of the 11 keys (exact, case-sensitive match). */
export function isRealWorldKey(name: string): name is RealWorldKey {
  return (REALWORLD_KEYS as readonly string[]).includes(name);
}

/**
 * `name` as a key, or a UsageError listing the keys that starts with `option` (the argument by
 * default; a script passes its flag, e.g. `--dataset`).
 */
export function parseRealWorldKey(name: string, option = "dataset"): RealWorldKey {
  if (isRealWorldKey(name)) return name;
  throw new UsageError(
    `${option}: unknown dataset '${name}'; expected one of ${REALWORLD_KEYS.join(", ")}`,
  );
}

/** Options for {@link loadRealWorld}. */
export interface RealWorldOptions {
  /**
   * Reproduce the original's behaviour where it differs from its intent (docs/quirks.md): the
   * ALOT-viewpoint light index bug (item 22), ExposureErrors' unsorted globs and substring id
   * match and Flickr1024's unsorted glob (item 24), and RealBlur's unchecked position pairing.
   * Default false: the intended behaviour. The other keys do not depend on it.
   */
  faithful?: boolean;
}

/** What the registry knows about one key. */
export interface RealWorldInfo {
  /** The `--dataset` key. */
  readonly key: RealWorldKey;
  /** Folder under the data root (the original's `root`). */
  readonly folder: string;
  /** Which factor varies within a group. */
  readonly varies: "viewpoint" | "illumination" | "temperature" | "exposure" | "blur";
  /**
   * Number of groups on the full dataset (the original's `num_classes`), or undefined where it
   * is the number of files found (ExposureErrors, Flickr1024, RealBlur).
   */
  readonly fullGroups?: number;
  /** Images per group on the full dataset (the original's unused `k`). */
  readonly groupSize: number;
  /** The expected layout under the dataset folder `root`, for messages. */
  layout(root: string): string;
  /** Loads the groups from the dataset folder `root`. */
  load(root: string, faithful: boolean): Promise<GroupedDataset>;
}

const aloi = (
  mode: AloiMode,
  fullGroups: number,
  groupSize: number,
): Omit<RealWorldInfo, "key"> => ({
  folder: "ALOI",
  varies: mode,
  fullGroups,
  groupSize,
  layout: (root) => aloiLayout(root, mode),
  load: (root) => loadAloi(root, mode),
});

const alot = (
  mode: AlotMode,
  fullGroups: number,
  groupSize: number,
): Omit<RealWorldInfo, "key"> => ({
  folder: "ALOT",
  varies: mode,
  fullGroups,
  groupSize,
  layout: alotLayout,
  load: (root, faithful) => loadAlot(root, mode, { faithful }),
});

const INFO: Record<RealWorldKey, Omit<RealWorldInfo, "key">> = {
  "COIL100": {
    folder: "COIL100",
    varies: "viewpoint",
    fullGroups: 100,
    groupSize: 72,
    layout: coil100Layout,
    load: (root) => loadCoil100(root),
  },
  "ALOI-viewpoint": aloi("viewpoint", 1000, 72),
  "ALOI-illumination": aloi("illumination", 3000, 8),
  "ALOI-temperature": aloi("temperature", 1000, 12),
  "ALOT-viewpoint": alot("viewpoint", 1500, 16),
  "ALOT-illumination": alot("illumination", 4000, 6),
  "ALOT-temperature": alot("temperature", 1000, 2),
  "ExposureErrors": {
    folder: "ExposureErrors",
    varies: "exposure",
    groupSize: 6,
    layout: exposureErrorsLayout,
    load: (root, faithful) => loadExposureErrors(root, { faithful }),
  },
  "DaLI": {
    folder: "DaLI",
    varies: "illumination",
    fullGroups: 12,
    groupSize: 32,
    layout: daliLayout,
    load: (root) => loadDali(root),
  },
  "Flickr1024": {
    folder: "Flickr1024",
    varies: "viewpoint",
    groupSize: 2,
    layout: flickr1024Layout,
    load: (root, faithful) => loadFlickr1024(root, { faithful }),
  },
  "RealBlur": {
    folder: "RealBlur",
    varies: "blur",
    groupSize: 2,
    layout: realBlurLayout,
    load: (root, faithful) => loadRealBlur(root, { faithful }),
  },
};

/** Registry entry for `key`. */
export function realWorldInfo(key: RealWorldKey): RealWorldInfo {
  const info = INFO[key];
  if (info === undefined) throw new UsageError(`unknown real-world dataset '${key}'`);
  return { key, ...info };
}

/** The dataset folder for `key` under `dataRoot` (`<dataRoot>/<folder>`, trailing `/` dropped). */
export function realWorldRoot(key: RealWorldKey, dataRoot: string): string {
  const base = dataRoot.length > 1 ? dataRoot.replace(/\/+$/, "") : dataRoot;
  return `${base === "/" ? "" : base}/${realWorldInfo(key).folder}`;
}

/** A loaded real-world dataset with its registry facts. */
export interface RealWorldDataset extends GroupedDataset {
  /** The key it was loaded for (also `name`). */
  readonly key: RealWorldKey;
  /** Groups on the full dataset, when fixed (compare with `groups.length` to spot a subset). */
  readonly fullGroups?: number;
  /** Images per group on the full dataset. */
  readonly groupSize: number;
  /** Whether the original's buggy behaviour was reproduced. */
  readonly faithful: boolean;
}

/**
 * Loads the groups of dataset `key` from `<dataRoot>/<folder>` with the original's group order
 * and membership rules (see each loader's documentation and docs/realworld.md#datasets). A missing folder or an
 * unexpected layout is one DataError naming the path and the layout expected, e.g.
 * `COIL100: ../data/COIL100 does not exist; expected ../data/COIL100/obj<N>__<angle>.png …`.
 *
 * @example
 * ```ts
 * const ds = await loadRealWorld("COIL100", "../data/");
 * console.log(ds.groups.length, ds.groups[0].paths.length); // 100 72
 * ```
 */
export async function loadRealWorld(
  key: RealWorldKey,
  dataRoot: string,
  options: RealWorldOptions = {},
): Promise<RealWorldDataset> {
  const info = realWorldInfo(parseRealWorldKey(key, "dataset key"));
  const faithful = options.faithful ?? false;
  if (dataRoot === "") throw new UsageError("dataRoot: empty path");
  const root = realWorldRoot(key, dataRoot);
  const loaded = await info.load(root, faithful);
  if (loaded.groups.length === 0) {
    throw new DataError(`${key}: no groups found in ${root}; expected ${info.layout(root)}`);
  }
  return {
    ...loaded,
    name: key,
    key,
    fullGroups: info.fullGroups,
    groupSize: info.groupSize,
    faithful,
  };
}
