/**
 * Atomic file writes: write a temp file beside the target, then rename it over the target, so a
 * crash never leaves a half-written result or checkpoint.
 *
 * @module
 */
import { dirname } from "node:path";

/** Writes `data` to `path` atomically, creating the parent directory when needed. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
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
