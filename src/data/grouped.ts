/**
 * Assembly and checks shared by the real-world loaders: one DataError wording for a missing or
 * malformed tree, dense 1-based object ids, non-empty groups and the content key.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import { sha256Hex, stableStringify } from "../util/hash.ts";
import type { GroupedDataset, ImageGroup } from "./dataset.ts";
import { filesContentKey } from "./files.ts";
import { globOneLevelDown, isDirectory, parentName, parsePythonInt } from "./python_glob.ts";

/**
 * Throws `<key>: <dir> does not exist; expected <layout>` unless `dir` is a directory. `layout`
 * spells out the file pattern with real paths (e.g. `../data/COIL100/obj<N>__<angle>.png`).
 */
export async function requireDatasetDirectory(
  key: string,
  dir: string,
  layout: string,
): Promise<void> {
  if (await isDirectory(dir)) return;
  let exists = true;
  try {
    await Deno.stat(dir);
  } catch {
    exists = false;
  }
  const what = exists ? "is not a directory" : "does not exist";
  throw new DataError(`${key}: ${dir} ${what}; expected ${layout}`);
}

/** Throws when a glob found nothing: the folder exists but holds no file in the layout. */
export function requireSomeFiles(
  key: string,
  files: readonly string[],
  dir: string,
  layout: string,
): void {
  if (files.length === 0) {
    throw new DataError(`${key}: found no images in ${dir}; expected ${layout}`);
  }
}

/** A DataError for one file whose name or folder does not follow the layout. */
export function layoutError(key: string, file: string, problem: string, layout: string): DataError {
  return new DataError(`${key}: ${file}: ${problem}; expected ${layout}`);
}

/**
 * Parses an object/texture id the way the original does (`int(text)`) and requires it to be ≥ 1,
 * since group g holds id g + 1.
 */
export function parseId(
  key: string,
  text: string,
  file: string,
  what: string,
  layout: string,
): number {
  const id = parsePythonInt(text);
  if (id === undefined) throw layoutError(key, file, `${what} '${text}' is not an integer`, layout);
  if (id < 1) throw layoutError(key, file, `${what} ${id} is below 1 (ids start at 1)`, layout);
  return id;
}

/**
 * The number of objects for id-indexed groups: the largest id, after checking that every id
 * 1…max occurs. The original hard-codes the full dataset's count (e.g. 100 for COIL100) and
 * crashes on the empty group a missing id leaves; here the count follows the data and a gap is
 * reported with the missing ids.
 */
export function denseIdCount(
  key: string,
  ids: Iterable<number>,
  dir: string,
  what: string,
): number {
  const seen = new Set(ids);
  let max = 0;
  for (const id of seen) max = Math.max(max, id);
  const missing: number[] = [];
  for (let id = 1; id <= max; id++) if (!seen.has(id)) missing.push(id);
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).join(", ") + (missing.length > 10 ? ", …" : "");
    throw new DataError(
      `${key}: ${dir} has ${what} ids up to ${max} but none for ${shown}; ` +
        `ids must run 1…N without gaps (each id is one group)`,
    );
  }
  return max;
}

/** Throws `<dataset>: unknown mode '<mode>'; expected one of …` unless `mode` is one of `modes`. */
export function requireMode(dataset: string, mode: string, modes: readonly string[]): void {
  if (!modes.includes(mode)) {
    throw new DataError(`${dataset}: unknown mode '${mode}'; expected one of ${modes.join(", ")}`);
  }
}

/** The files of a tree of numbered folders, each with the 1-based id its folder name gives. */
export interface NumberedFolderFiles {
  /** `sorted(glob(dir/<id>/*.png))`: one folder level, sorted by full path. */
  files: string[];
  /** Each file's folder number. */
  idOf: Map<string, number>;
  /** The number of folders N (ids run 1…N without gaps). */
  count: number;
}

/**
 * Lists `dir/<id>/*.png` as the ALOI and ALOT loaders of the original do, parsing each file's
 * folder as its id (`what` names it in errors, e.g. "object folder"). A missing or empty `dir`,
 * a folder name that is not an integer ≥ 1, or a gap in the ids is a DataError.
 */
export async function numberedFolderFiles(
  key: string,
  dir: string,
  layout: string,
  what: string,
): Promise<NumberedFolderFiles> {
  await requireDatasetDirectory(key, dir, layout);
  const files = await globOneLevelDown(dir, ".png", "sorted");
  requireSomeFiles(key, files, dir, layout);
  const idOf = new Map<string, number>();
  for (const f of files) idOf.set(f, parseId(key, parentName(f), f, what, layout));
  return { files, idOf, count: denseIdCount(key, idOf.values(), dir, what) };
}

/**
 * Throws for the first empty group (the original crashes on one: `torch.stack([])`). `describe`
 * says which files the group should have held.
 */
export function requireNonEmptyGroups(
  key: string,
  groups: readonly ImageGroup[],
  describe: (index: number) => string,
): void {
  const empty = groups.findIndex((g) => g.paths.length === 0);
  if (empty >= 0) {
    throw new DataError(
      `${key}: group ${empty} (${groups[empty].name}) has no images; expected ${describe(empty)}`,
    );
  }
}

/**
 * A GroupedDataset whose content key covers every member file (path, size, mtime), the group
 * boundaries and names, and `variant` (e.g. the faithful switch), so any change in membership or
 * content changes the key.
 */
export async function makeGroupedDataset(
  name: string,
  root: string,
  groups: readonly ImageGroup[],
  variant: Record<string, unknown> = {},
): Promise<GroupedDataset> {
  const files = groups.flatMap((g) => g.paths);
  const filesKey = await filesContentKey(root, files);
  const contentKey = sha256Hex(stableStringify({
    name,
    variant,
    groups: groups.map((g) => [g.name, g.paths.length]),
    files: filesKey,
  }));
  return { name, root, groups, contentKey };
}

/** Members of `files` bucketed into `count` groups by `groupOf` (file order kept within groups). */
export function bucket(
  files: readonly string[],
  count: number,
  groupOf: (file: string) => number | readonly number[] | undefined,
): string[][] {
  const out: string[][] = Array.from({ length: count }, () => []);
  for (const f of files) {
    const g = groupOf(f);
    if (g === undefined) continue;
    for (const i of typeof g === "number" ? [g] : g) if (i >= 0 && i < count) out[i].push(f);
  }
  return out;
}
