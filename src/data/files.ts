/**
 * File-system helpers shared by the dataset loaders: checked folders, sorted listings and content
 * keys, so every loader reports a missing or malformed tree the same way.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { comparePythonStrings } from "./python_glob.ts";

/** Image extensions torchvision's ImageFolder accepts (lower case, with the dot). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
];

/** True when `name` ends with one of `extensions` (case-insensitive, like torchvision). */
export function hasExtension(name: string, extensions: readonly string[]): boolean {
  const lower = name.toLowerCase();
  return extensions.some((ext) => lower.endsWith(ext));
}

/**
 * Throws a DataError unless `path` is a directory. `expected` describes the layout the caller
 * wanted (e.g. "COIL100: <root>/obj<N>__<angle>.png"), so the user learns what to put there.
 */
export async function requireDirectory(path: string, expected: string): Promise<void> {
  if (!(await statOrThrow(path, expected)).isDirectory) {
    throw new DataError(`${path} is not a directory; expected ${expected}`);
  }
}

/** Throws a DataError unless `path` is a regular file. */
export async function requireFile(path: string, expected: string): Promise<void> {
  if (!(await statOrThrow(path, expected)).isFile) {
    throw new DataError(`${path} is not a file; expected ${expected}`);
  }
}

async function statOrThrow(path: string, expected: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch {
    throw new DataError(`${path} does not exist; expected ${expected}`);
  }
}

/** True when something exists at `path` (file, folder or link target); false when stat fails. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Python `sorted` order of strings (code points, not UTF-16 units or locale). */
export function compareCodePoints(a: string, b: string): number {
  return comparePythonStrings(a, b);
}

/** Entries of a directory, split into sorted file and folder names (Python `sorted` order). */
export async function listDirectory(
  path: string,
): Promise<{ files: string[]; dirs: string[] }> {
  const files: string[] = [];
  const dirs: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isDirectory) dirs.push(entry.name);
      else if (entry.isFile || entry.isSymlink) files.push(entry.name);
    }
  } catch (e) {
    throw new DataError(`cannot list ${path}: ${(e as Error).message}`);
  }
  files.sort(compareCodePoints);
  dirs.sort(compareCodePoints);
  return { files, dirs };
}

/**
 * All files under `root` whose names end with one of `extensions`, in torchvision's order:
 * `sorted(os.walk(root))` sorts the visited folders by their whole path string (so `sub-2/`
 * precedes `sub/deep/`, since "-" < "/"), then files by name within each folder. Paths are
 * joined with `/`.
 */
export async function walkFiles(root: string, extensions: readonly string[]): Promise<string[]> {
  const folders: { dir: string; files: string[] }[] = [];
  const visit = async (dir: string): Promise<void> => {
    const { files, dirs } = await listDirectory(dir);
    folders.push({ dir, files: files.filter((f) => hasExtension(f, extensions)) });
    for (const d of dirs) await visit(`${dir}/${d}`);
  };
  await visit(root.replace(/\/+$/, ""));
  folders.sort((a, b) => comparePythonStrings(a.dir, b.dir));
  return folders.flatMap(({ dir, files }) => files.map((f) => `${dir}/${f}`));
}

/**
 * A content key for a list of files: sha256 over each path (relative to `root`), size and
 * modification time. Cheap (stat only) yet changes whenever a file is replaced or edited.
 */
export async function filesContentKey(root: string, paths: readonly string[]): Promise<string> {
  const base = root.replace(/\/+$/, "") + "/";
  const parts: string[] = [];
  for (const p of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(p);
    } catch {
      throw new DataError(`${p} disappeared while reading the dataset`);
    }
    const rel = p.startsWith(base) ? p.slice(base.length) : p;
    parts.push(`${rel}\t${info.size}\t${info.mtime?.getTime() ?? 0}`);
  }
  return sha256Hex(parts.join("\n"));
}
