/**
 * `--save-features DIR`: the features an evaluation script used, in files `numpy.load` reads
 * without `allow_pickle` (layout in docs/outputs.md#saved-features):
 *
 * - `features.npy`: float32 [rows, dim], one row per evaluated image, in the order used;
 * - `labels.npy`: int64 [rows] class or group indices (classification, grouped sets), or
 *   `targets.npy`: float64 [rows, targetDim] regression targets;
 * - `indices.npy`: int64 [rows], the image's index in its dataset;
 * - `paths.npy`: fixed-width unicode [rows] (`<U…`), the image each row comes from;
 * - `index.csv`: `row,index,label_or_targets…,path` for humans and spreadsheets;
 * - `meta.json`: model, layer, dataset, split, preprocessing.
 *
 * Every file is written atomically. {@link readSavedFeatures} reads a folder back.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { encodeNpy, readNpy, writeNpy } from "../io/npy.ts";
import type { GroupedDataset, ImageDataset, SupervisedDataset } from "../data/dataset.ts";
import { listedImageDataset } from "../data/listed_images.ts";
import { sha256Hex } from "../util/hash.ts";
import { DataError } from "../util/errors.ts";

/** What a `--save-features` folder holds. */
export interface SavedFeatures {
  /** Row-major [rows, dim] float32. */
  features: Float32Array;
  /** Rows (images). */
  rows: number;
  /** Feature dimension. */
  dim: number;
  /** Class or group index per row (classification, grouped sets). */
  labels?: Int32Array;
  /** Row-major [rows, targetDim] regression targets. */
  targets?: Float64Array;
  /** Values per target row. */
  targetDim?: number;
  /** Index of each row's image in its dataset. */
  indices: Int32Array;
  /** The image of each row (a file path, or `file#entry` for archives). */
  paths: string[];
  /** Free-form description (model, layer, dataset, split, preprocessing). */
  meta?: Record<string, unknown>;
}

/**
 * `.npy` bytes of a fixed-width unicode array (`<U{width}`, UTF-32 little-endian), which
 * `numpy.load` reads without pickles: `np.load("paths.npy")[i]` is `strings[i]`.
 */
export function encodeStringNpy(strings: readonly string[]): Uint8Array {
  const points = strings.map((s) => Array.from(s, (c) => c.codePointAt(0)!));
  const width = Math.max(1, ...points.map((p) => p.length));
  // The magic and version bytes of an encodeNpy file; the header is written here.
  const template = encodeNpy([], [0], "<f4");
  const shape = `(${strings.length},)`;
  let header = `{'descr': '<U${width}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += " ".repeat(Math.max(0, 21 - String(strings.length).length));
  header += " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + strings.length * width * 4);
  out.set(template.subarray(0, 8), 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const view = new DataView(out.buffer, 10 + header.length);
  points.forEach((p, i) => p.forEach((c, j) => view.setUint32((i * width + j) * 4, c, true)));
  return out;
}

/** Decodes a `<U…` `.npy` file written by {@link encodeStringNpy} (or numpy). */
export function parseStringNpy(bytes: Uint8Array, name: string): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const m = header.match(/'descr':\s*'<U(\d+)'.*'shape':\s*\((\d+),?\)/);
  if (!m) throw new DataError(`${name}: not a 1-d little-endian unicode .npy array`);
  const [width, count] = [Number(m[1]), Number(m[2])];
  const base = start + headerLen;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    for (let j = 0; j < width; j++) {
      const c = view.getUint32(base + (i * width + j) * 4, true);
      if (c === 0) break;
      s += String.fromCodePoint(c);
    }
    out.push(s);
  }
  return out;
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Writes `saved` into `dir` (created if needed) as described in the module documentation. */
export async function saveFeatures(dir: string, saved: SavedFeatures): Promise<void> {
  const { rows, dim } = saved;
  if (saved.features.length !== rows * dim || saved.indices.length !== rows) {
    throw new RangeError(`saveFeatures: ${rows} rows of ${dim} do not match the arrays given`);
  }
  await Deno.mkdir(dir, { recursive: true });
  // A folder reused for another dataset must not keep the previous run's labels or targets.
  for (const [file, keep] of [["labels.npy", saved.labels], ["targets.npy", saved.targets]]) {
    if (!keep) await Deno.remove(join(dir, file as string)).catch(() => {});
  }
  await writeNpy(join(dir, "features.npy"), saved.features, [rows, dim], "<f4");
  const header = ["row", "index"];
  const cells: string[][] = Array.from(
    { length: rows },
    (_, i) => [String(i), String(saved.indices[i])],
  );
  if (saved.labels) {
    await writeNpy(join(dir, "labels.npy"), saved.labels, [rows], "<i8");
    header.push("label");
    cells.forEach((c, i) => c.push(String(saved.labels![i])));
  }
  if (saved.targets) {
    const t = saved.targetDim ?? 1;
    await writeNpy(join(dir, "targets.npy"), saved.targets, [rows, t], "<f8");
    for (let j = 0; j < t; j++) header.push(`target_${j}`);
    cells.forEach((c, i) => {
      for (let j = 0; j < t; j++) c.push(String(saved.targets![i * t + j]));
    });
  }
  await writeNpy(join(dir, "indices.npy"), saved.indices, [rows], "<i8");
  await writeFileAtomic(join(dir, "paths.npy"), encodeStringNpy(saved.paths));
  header.push("path");
  cells.forEach((c, i) => c.push(csvCell(saved.paths[i])));
  await writeFileAtomic(
    join(dir, "index.csv"),
    [header, ...cells].map((c) => c.join(",")).join("\n") + "\n",
  );
  await writeJsonAtomic(join(dir, "meta.json"), { rows, dim, ...saved.meta });
}

/** Reads a folder written by {@link saveFeatures}; a missing or malformed file is a DataError. */
export async function readSavedFeatures(dir: string): Promise<SavedFeatures> {
  const exists = (f: string) => Deno.stat(join(dir, f)).then(() => true, () => false);
  const features = await readNpy(join(dir, "features.npy"));
  if (features.shape.length !== 2) {
    throw new DataError(
      `${join(dir, "features.npy")}: expected a 2-d array, got ${features.shape}`,
    );
  }
  const [rows, dim] = features.shape;
  const out: SavedFeatures = {
    features: Float32Array.from(features.data),
    rows,
    dim,
    indices: Int32Array.from((await readNpy(join(dir, "indices.npy"))).data),
    paths: parseStringNpy(await Deno.readFile(join(dir, "paths.npy")), join(dir, "paths.npy")),
  };
  if (await exists("labels.npy")) {
    out.labels = Int32Array.from((await readNpy(join(dir, "labels.npy"))).data);
  }
  if (await exists("targets.npy")) {
    const t = await readNpy(join(dir, "targets.npy"));
    out.targets = t.data;
    out.targetDim = t.shape[1] ?? 1;
  }
  if (await exists("meta.json")) {
    out.meta = JSON.parse(await Deno.readTextFile(join(dir, "meta.json")));
  }
  for (const [what, n] of [["indices", out.indices.length], ["paths", out.paths.length]] as const) {
    if (n !== rows) throw new DataError(`${dir}: ${what} has ${n} rows, features.npy ${rows}`);
  }
  return out;
}

/** One line describing a saved folder (for `deno task report`). */
export function describeSavedFeatures(dir: string, s: SavedFeatures): string {
  const y = s.labels
    ? `labels (${new Set(s.labels).size} distinct)`
    : s.targets
    ? `targets [${s.rows}, ${s.targetDim}]`
    : "no labels";
  return `${dir}: features [${s.rows}, ${s.dim}] float32, ${y}, ${s.paths.length} image paths`;
}

/** What an evaluation script knows about one block of extracted features. */
export interface FeatureRows {
  /** Row-major [rows, dim] float32. */
  features: Float32Array;
  /** Rows. */
  rows: number;
  /** Feature dimension. */
  dim: number;
  /** Dataset index of each row. */
  indices: Int32Array | readonly number[];
}

/**
 * Saves `rows` of dataset `ds` into `dir`: labels for classification sets, targets for regression
 * sets, each row's image path from `ds.describe`.
 */
export async function saveDatasetFeatures(
  dir: string,
  ds: ImageDataset | SupervisedDataset,
  rows: FeatureRows,
  meta: Record<string, unknown> = {},
): Promise<void> {
  const indices = Int32Array.from(rows.indices);
  const saved: SavedFeatures = {
    features: rows.features,
    rows: rows.rows,
    dim: rows.dim,
    indices,
    paths: Array.from(indices, (i) => ds.describe(i)),
    meta: { dataset: ds.name, ...meta },
  };
  if ("targets" in ds) {
    const t = ds.targetDim;
    if (ds.kind === "classification" && t === 1) {
      saved.labels = Int32Array.from(indices, (i) => ds.targets[i]);
    } else {
      const y = new Float64Array(rows.rows * t);
      indices.forEach((idx, r) => y.set(ds.targets.subarray(idx * t, idx * t + t), r * t));
      saved.targets = y;
      saved.targetDim = t;
    }
  }
  await saveFeatures(dir, saved);
}

/**
 * Every view of every group of `ds` as one labelled dataset (label = group index, in group
 * order), for `--save-features` of the real-world evaluation.
 */
export function groupsAsDataset(ds: GroupedDataset): SupervisedDataset {
  const paths = ds.groups.flatMap((g) => g.paths);
  const labels = ds.groups.flatMap((g, i) => g.paths.map(() => i));
  return listedImageDataset(paths, {
    name: ds.name,
    contentKey: sha256Hex(`groups-as-dataset\n${ds.contentKey}`),
    kind: "classification",
    targetDim: 1,
    numClasses: ds.groups.length,
    targets: Float64Array.from(labels),
  });
}
