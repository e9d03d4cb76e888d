/**
 * Python's file-listing semantics as the original dataset classes used them (docs/common.md#python-glob): `glob`
 * patterns of the form `<dir>/*.<ext>` and `<dir>/<star>/<star>.<ext>` (the original writes `**`
 * without `recursive=True`, which matches exactly one level), `sorted()` in code-point order, and
 * `int()` on parts of file names.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";

/** How a listing is ordered: Python `sorted()` order, or the OS directory order a bare glob has. */
export type ListingOrder = "sorted" | "os";

/**
 * Python `str` ordering (code points). JavaScript's `<` compares UTF-16 code units, which puts
 * characters above U+FFFF (surrogate pairs) before U+E000–U+FFFF; this corrects that.
 */
export function comparePythonStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return codePointRank(ca) - codePointRank(cb);
  }
  return a.length - b.length;
}

/** Maps a UTF-16 code unit so that surrogates (code points ≥ 0x10000) sort above U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/**
 * Python's `int(text)` for the plain decimal forms file names use: optional surrounding
 * whitespace, optional sign, ASCII digits with single underscores between them. Anything else
 * (where Python raises ValueError) gives `undefined`.
 */
export function parsePythonInt(text: string): number | undefined {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(text);
  if (m === null) return undefined;
  const value = Number(m[2].replaceAll("_", ""));
  return m[1] === "-" ? -value : value;
}

/** One directory entry, resolved through symbolic links as Python's `os.scandir().is_dir()`. */
interface Entry {
  name: string;
  isDirectory: boolean;
  isFile: boolean;
}

/** Entries of `dir` in OS order; symbolic links are followed (a broken link is neither kind). */
async function readEntries(dir: string): Promise<Entry[]> {
  const out: Entry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      let isDirectory = e.isDirectory;
      let isFile = e.isFile;
      if (e.isSymlink) {
        try {
          const info = await Deno.stat(`${dir}/${e.name}`);
          isDirectory = info.isDirectory;
          isFile = info.isFile;
        } catch {
          isDirectory = false;
          isFile = false;
        }
      }
      out.push({ name: e.name, isDirectory, isFile });
    }
  } catch (e) {
    throw new DataError(`cannot list ${dir}: ${(e as Error).message}`);
  }
  return out;
}

/** Sorts in place in Python order when asked; returns the array. */
function ordered(paths: string[], order: ListingOrder): string[] {
  if (order === "sorted") paths.sort(comparePythonStrings);
  return paths;
}

/**
 * `glob("<dir>/<star><suffix>")`: files directly in `dir` whose names end with `suffix`
 * (case-sensitive, as on Linux) and do not start with a dot (glob skips hidden names). Returns
 * `<dir>/<name>` paths, sorted or in OS order. A missing `dir` gives an empty list, like glob.
 */
export async function globFiles(
  dir: string,
  suffix: string,
  order: ListingOrder,
): Promise<string[]> {
  if (!(await isDirectory(dir))) return [];
  const out: string[] = [];
  for (const e of await readEntries(dir)) {
    if (e.isFile && !e.name.startsWith(".") && e.name.endsWith(suffix)) {
      out.push(`${dir}/${e.name}`);
    }
  }
  return ordered(out, order);
}

/**
 * Non-hidden sub-directories of `dir` (following links), as `<dir>/<name>` paths in OS order or
 * sorted. A missing `dir` gives an empty list.
 */
export async function globDirectories(dir: string, order: ListingOrder): Promise<string[]> {
  if (!(await isDirectory(dir))) return [];
  const out: string[] = [];
  for (const e of await readEntries(dir)) {
    if (e.isDirectory && !e.name.startsWith(".")) out.push(`${dir}/${e.name}`);
  }
  return ordered(out, order);
}

/**
 * `glob("<dir>/<star>/<star><suffix>")` (also what `"<dir>/**\/<star><suffix>"` does without
 * `recursive=True`): matching files exactly one directory level below `dir`. `"sorted"` sorts the
 * full paths as Python's `sorted(glob(...))` does (so `1/…` < `1-a/…` < `10/…`); `"os"` keeps
 * glob's own order: sub-directories in OS order, files within each in OS order.
 */
export async function globOneLevelDown(
  dir: string,
  suffix: string,
  order: ListingOrder,
): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await globDirectories(dir, "os")) {
    out.push(...await globFiles(sub, suffix, "os"));
  }
  return ordered(out, order);
}

/** True when `path` exists and is a directory (following links). */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** True when `path` exists and is a regular file (following links). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The last component of a `/`-separated path (Python's `path.split('/')[-1]`). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The name of the directory holding `path` (Python's `path.split('/')[-2]`). */
export function parentName(path: string): string {
  const end = path.lastIndexOf("/");
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}
