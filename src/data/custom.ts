/**
 * The user's own datasets, evaluated with the original protocol (docs/downstream.md#your-own-dataset,
 * docs/realworld.md#your-own-groups):
 *
 * - `folder:PATH` for `eval:downstream`: `PATH/train/` and `PATH/test/` as ImageFolders
 *   (classification, logistic probe, accuracy), or a CSV per split (`PATH/train.csv`, or the one
 *   `.csv` inside `PATH/train/`) of image paths and numeric targets (regression, ridge, R²);
 * - `groups:PATH` for `eval:realworld`: one sub-folder of PATH per group, its images the views.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join } from "node:path";
import { DataError, UsageError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { GroupedDataset, SupervisedDataset } from "./dataset.ts";
import { makeGroupedDataset } from "./grouped.ts";
import { imageFolder, type ImageFolderDataset } from "./image_folder.ts";
import { listedImageDataset } from "./listed_images.ts";

/** A `--dataset` value naming the user's own data. */
export interface CustomDatasetRef {
  /** `folder` (downstream) or `groups` (real-world). */
  kind: "folder" | "groups";
  /** The folder given. */
  path: string;
  /** The name used in result files: `folder-<base name>` or `groups-<base name>`. */
  name: string;
}

/**
 * Parses `folder:PATH` / `groups:PATH`; undefined for any other value. A prefix without a folder
 * is a UsageError about `dataset` (the evaluation scripts report it as `--dataset`).
 */
export function parseCustomDataset(value: string): CustomDatasetRef | undefined {
  const m = value.match(/^(folder|groups):(.*)$/);
  if (!m) return undefined;
  const path = m[2].replace(/\/+$/, "");
  if (path === "") {
    throw new UsageError(`dataset: give a folder after '${m[1]}:' (got '${value}')`);
  }
  const base = basename(path).replace(/[^\w.-]+/g, "_") || "root";
  return { kind: m[1] as "folder" | "groups", path, name: `${m[1]}-${base}` };
}

/** A user's downstream task: the splits, the probe and the metric the protocol gives them. */
export interface CustomDownstreamTask {
  /** `folder-<name>`. */
  key: string;
  /** The `train` split. */
  trainval: SupervisedDataset;
  /** The `test` split. */
  test: SupervisedDataset;
  /** Logistic for ImageFolders, ridge for CSV targets. */
  probe: "logistic" | "ridge";
  /** Accuracy or R². */
  metric: "accuracy" | "r2";
}

const LAYOUT = "PATH/{train,test}/<class>/<image> (classification) or PATH/{train,test}.csv " +
  "with rows 'image,target…' (regression)";

async function stat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}

/** The CSV of a split, if the split is given as one. */
async function splitCsv(root: string, split: string): Promise<string | undefined> {
  if ((await stat(`${root}/${split}.csv`))?.isFile) return `${root}/${split}.csv`;
  const dir = `${root}/${split}`;
  if (!(await stat(dir))?.isDirectory) return undefined;
  const csvs: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".csv")) csvs.push(e.name);
  }
  if (csvs.length > 1) {
    throw new DataError(`${dir}: ${csvs.length} CSV files (${csvs.sort().join(", ")}); keep one`);
  }
  return csvs.length === 1 ? join(dir, csvs[0]) : undefined;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') cell += c, i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") cells.push(cell.trim()), cell = "";
    else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

/** Reads a regression CSV: image paths (relative to the CSV's folder) and numeric targets. */
export async function csvRegressionDataset(file: string, name: string): Promise<SupervisedDataset> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new DataError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((l, i) => [i + 1, l] as const).filter(([, l]) => l.trim());
  if (lines.length === 0) throw new DataError(`${file}: empty; expected rows 'image,target…'`);
  const numeric = (s: string) => s !== "" && Number.isFinite(Number(s));
  const first = splitCsvLine(lines[0][1]);
  const rows = first.slice(1).every(numeric) && first.length > 1 ? lines : lines.slice(1);
  const width = first.length - 1;
  if (width < 1) throw new DataError(`${file}:${lines[0][0]}: expected 'image,target…'`);
  const paths: string[] = [];
  const targets: number[] = [];
  for (const [no, line] of rows) {
    const cells = splitCsvLine(line);
    if (cells.length !== width + 1) {
      throw new DataError(`${file}:${no}: ${cells.length - 1} targets, expected ${width}`);
    }
    const bad = cells.slice(1).find((c) => !numeric(c));
    if (bad !== undefined) throw new DataError(`${file}:${no}: target '${bad}' is not a number`);
    const path = isAbsolute(cells[0]) ? cells[0] : join(dirname(file), cells[0]);
    if (!(await stat(path))?.isFile) throw new DataError(`${file}:${no}: ${path} does not exist`);
    paths.push(path);
    targets.push(...cells.slice(1).map(Number));
  }
  if (paths.length === 0) throw new DataError(`${file}: no rows`);
  const sizes = await Promise.all(paths.map(async (p) => {
    const s = await Deno.stat(p);
    return `${s.size}:${s.mtime?.getTime() ?? 0}`;
  }));
  return listedImageDataset(paths, {
    name,
    contentKey: sha256Hex(`csv\n${text}\n${sizes.join("\n")}`),
    kind: "regression",
    targetDim: width,
    targets: Float64Array.from(targets),
  });
}

/**
 * Loads `folder:PATH` (see the module documentation). A missing split, mixed layouts, class
 * names that differ between the splits or a malformed CSV row is one DataError naming the file.
 */
export async function loadCustomDownstream(ref: CustomDatasetRef): Promise<CustomDownstreamTask> {
  const root = ref.path;
  if (!(await stat(root))?.isDirectory) {
    throw new DataError(`${root} is not a folder; expected ${LAYOUT}`);
  }
  const splits: SupervisedDataset[] = [];
  let kinds = "";
  for (const split of ["train", "test"]) {
    const csv = await splitCsv(root, split);
    if (csv) {
      splits.push(await csvRegressionDataset(csv, `${ref.name}-${split}`));
      kinds += "r";
    } else if ((await stat(`${root}/${split}`))?.isDirectory) {
      splits.push(await imageFolder(`${root}/${split}`, { name: `${ref.name}-${split}` }));
      kinds += "c";
    } else {
      throw new DataError(`${root}: no '${split}' split; expected ${LAYOUT}`);
    }
  }
  if (kinds === "rc" || kinds === "cr") {
    throw new DataError(
      `${root}: one split is a CSV and the other an ImageFolder; expected ${LAYOUT}`,
    );
  }
  const [train, test] = splits;
  if (kinds === "cc") {
    const [a, b] = [train as ImageFolderDataset, test as ImageFolderDataset];
    if (a.classes.join("\n") !== b.classes.join("\n")) {
      throw new DataError(
        `${root}: train and test have different classes (${a.classes.join(", ")} vs ` +
          `${b.classes.join(", ")})`,
      );
    }
  } else if (train.targetDim !== test.targetDim) {
    throw new DataError(
      `${root}: train has ${train.targetDim} targets per image, test ${test.targetDim}`,
    );
  }
  return {
    key: ref.name,
    trainval: train,
    test,
    probe: kinds === "cc" ? "logistic" : "ridge",
    metric: kinds === "cc" ? "accuracy" : "r2",
  };
}

/**
 * Loads `groups:PATH`: each sub-folder (sorted as ImageFolder sorts classes) is a group whose
 * images (found recursively, ImageFolder extensions) are its views.
 */
export async function loadCustomGroups(ref: CustomDatasetRef): Promise<GroupedDataset> {
  if (!(await stat(ref.path))?.isDirectory) {
    throw new DataError(`${ref.path} is not a folder; expected ${ref.path}/<group>/<image>`);
  }
  const folder = await imageFolder(ref.path, { name: ref.name });
  const groups = folder.classes.map((name) => ({ name, paths: [] as string[] }));
  folder.paths.forEach((p, i) => groups[folder.targets[i]].paths.push(p));
  const empty = groups.find((g) => g.paths.length === 0);
  if (empty) throw new DataError(`${ref.path}/${empty.name}: a group without images`);
  return await makeGroupedDataset(ref.name, ref.path, groups);
}
