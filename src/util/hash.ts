/**
 * Content hashes for cache keys and result records.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DataError } from "./errors.ts";

/** Hex sha256 of bytes or a string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Hex sha256 of a file's bytes, streamed so large checkpoints do not sit in memory twice. */
export async function sha256File(path: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const hash = createHash("sha256");
  try {
    for await (const chunk of file.readable) hash.update(chunk);
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return hash.digest("hex");
}

/**
 * A short, stable key for a JSON-serialisable description (object keys sorted), e.g. the
 * parameters a cache entry depends on.
 */
export function stableKey(value: unknown, length = 16): string {
  return sha256Hex(stableStringify(value)).slice(0, length);
}

/** JSON with object keys sorted at every level, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(",")}}`;
}
