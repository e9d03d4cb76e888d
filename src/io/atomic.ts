/**
 * Atomic file writes: write a temp file beside the target, then rename it over the target, so a
 * crash never leaves a half-written result or checkpoint.
 *
 * @module
 */
import { dirname } from "node:path";

/**
 * Writes `data` to `path` atomically, creating the parent directory when needed. A list of chunks
 * is written one after another, so a multi-gigabyte checkpoint never needs a second, concatenated
 * copy in memory.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else if (data instanceof Uint8Array) await Deno.writeFile(temp, data);
    else await writeChunks(temp, data);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
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
