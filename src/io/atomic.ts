/**
 * Atomic file writes: write a temp file beside the target, then rename it over the target, so a
 * crash never leaves a half-written result or checkpoint. A target the file system refuses (a
 * directory in the way, no permission, a full disk) is a `DataError` naming it.
 *
 * @module
 */
import { dirname } from "node:path";
import { DataError } from "../util/errors.ts";

/**
 * Writes `data` to `path` atomically, creating the parent directory when needed. A list of chunks
 * is written one after another, so a multi-gigabyte checkpoint never needs a second, concatenated
 * copy in memory.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
): Promise<void> {
  try {
    if ((await Deno.lstat(path)).isDirectory) {
      throw new DataError(`${path}: is a directory, cannot write a file there (move it away)`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw asDataError(error, path);
  }
  const temp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else if (data instanceof Uint8Array) await Deno.writeFile(temp, data);
    else await writeChunks(temp, data);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw asDataError(error, path);
  }
}

/**
 * The file system refusing a write (a directory in the way, no permission, a full or read-only
 * disk, a file where a folder should be) is a problem with the place, not a bug: one line.
 */
function asDataError(error: unknown, path: string): unknown {
  if (error instanceof DataError) return error;
  const fsErrors = [
    Deno.errors.IsADirectory,
    Deno.errors.NotADirectory,
    Deno.errors.PermissionDenied,
    Deno.errors.AlreadyExists,
    Deno.errors.NotFound,
  ];
  const code = (error as { code?: string }).code ?? "";
  const known = fsErrors.some((E) => error instanceof E) ||
    ["ENOSPC", "EROFS", "EDQUOT", "ENOTEMPTY", "EISDIR", "ENOTDIR", "EACCES", "EPERM"]
      .includes(code);
  if (!known) return error;
  return new DataError(`cannot write ${path}: ${(error as Error).message.split("\n")[0]}`);
}

/** Writes `value` as pretty JSON to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

async function writeChunks(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += await file.write(chunk.subarray(done));
    }
  } finally {
    file.close();
  }
}
