/**
 * A content-keyed cache of extracted features, so a grid search or a second run never re-runs the
 * network. The key is a hash of everything the features depend on (model weights' content key,
 * feature layer, dataset content key, preprocessing, subset); files are written atomically and
 * carry a sha256 of their payload, so a truncated or corrupted file is detected, reported and
 * recomputed instead of being read as wrong numbers.
 *
 * File layout (little-endian): magic `SSLFEAT1` (8 bytes), u32 header length, the header as UTF-8
 * JSON ({key, rows, dim, targetDim, payloadSha256, meta}), zero padding to a multiple of 4, then
 * float32 features [rows, dim], int32 dataset indices [rows], float64 targets [rows, targetDim]
 * (8-byte aligned).
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { sha256Hex, stableKey } from "../util/hash.ts";

const MAGIC = "SSLFEAT1";

/** What a cache entry holds. */
export interface CachedFeatures {
  /** Row-major [rows, dim] float32. */
  features: Float32Array;
  /** Number of feature rows (images). */
  rows: number;
  /** Features per row. */
  dim: number;
  /** Dataset index of each row. */
  indices: Int32Array;
  /** Optional per-row targets [rows, targetDim] (float64). */
  targets?: Float64Array;
  /** Targets per row when `targets` is present. */
  targetDim?: number;
  /** Free-form description stored with the entry (model name, dataset, timings …). */
  meta?: Record<string, unknown>;
}

/** The parts a feature cache key is made of. */
export interface FeatureKeyParts {
  /** The model's content key (checkpoint sha256s …). */
  model: string;
  /** Feature layer. */
  featureLayer: string;
  /** The dataset's content key. */
  dataset: string;
  /** Resize / crop sizes. */
  preprocessing: { resize: number; cropSize: number };
  /** Anything else that selects the rows (split, subset seed, `--quick` …). */
  subset?: unknown;
}

/** A 32-hex-digit key for {@link FeatureKeyParts}. */
export function featureCacheKey(parts: FeatureKeyParts): string {
  return stableKey({ kind: "features/v1", ...parts }, 32);
}

/** Outcome of {@link FeatureCache.load}. */
export type CacheLookup =
  | { status: "hit"; entry: CachedFeatures }
  | { status: "miss" }
  | { status: "corrupt"; reason: string };

/** Features cached as files `<dir>/<key>.feat`. */
export class FeatureCache {
  /** Cache hits, misses and corrupt files seen by this instance (tests and logs read them). */
  readonly stats = { hits: 0, misses: 0, corrupt: 0, writes: 0 };

  /** Opens (lazily: nothing is created until the first write) the cache in folder `dir`. */
  constructor(readonly dir: string) {}

  /** The file of `key`. */
  path(key: string): string {
    if (!/^[0-9a-f]{8,64}$/.test(key)) throw new RangeError(`bad feature cache key '${key}'`);
    return join(this.dir, `${key}.feat`);
  }

  /** Reads entry `key`; a damaged file is reported as `corrupt` (never thrown). */
  async lookup(key: string): Promise<CacheLookup> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.path(key));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { status: "miss" };
      throw error;
    }
    try {
      return { status: "hit", entry: decodeEntry(bytes, key) };
    } catch (error) {
      return { status: "corrupt", reason: (error as Error).message };
    }
  }

  /**
   * The entry for `key`, or `undefined` on a miss; a corrupt file is reported through `warn` and
   * treated as a miss (the caller recomputes and overwrites it).
   */
  async load(
    key: string,
    warn: (line: string) => void = (l) => console.error(l),
  ): Promise<CachedFeatures | undefined> {
    const r = await this.lookup(key);
    if (r.status === "hit") {
      this.stats.hits++;
      return r.entry;
    }
    if (r.status === "corrupt") {
      this.stats.corrupt++;
      warn(`warning: feature cache ${this.path(key)} is damaged (${r.reason}); recomputing`);
    } else this.stats.misses++;
    return undefined;
  }

  /** Writes entry `key` atomically. */
  async save(key: string, entry: CachedFeatures): Promise<void> {
    await writeFileAtomic(this.path(key), encodeEntry(key, entry));
    this.stats.writes++;
  }

  /**
   * The cached entry for `key`, or the result of `compute()` (then stored). Returns whether it
   * came from the cache.
   */
  async getOrCompute(
    key: string,
    compute: () => Promise<CachedFeatures>,
    warn?: (line: string) => void,
  ): Promise<{ entry: CachedFeatures; cached: boolean }> {
    const hit = await this.load(key, warn);
    if (hit) return { entry: hit, cached: true };
    const entry = await compute();
    await this.save(key, entry);
    return { entry, cached: false };
  }
}

function payloadOf(entry: CachedFeatures): Uint8Array[] {
  const parts: Uint8Array[] = [
    new Uint8Array(entry.features.buffer, entry.features.byteOffset, entry.features.byteLength),
    new Uint8Array(entry.indices.buffer, entry.indices.byteOffset, entry.indices.byteLength),
  ];
  if (entry.targets) {
    // float64 alignment after the 4-byte arrays.
    if ((entry.features.length + entry.indices.length) % 2 === 1) parts.push(new Uint8Array(4));
    parts.push(
      new Uint8Array(entry.targets.buffer, entry.targets.byteOffset, entry.targets.byteLength),
    );
  }
  return parts;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encodes an entry as the bytes of one cache file (chunks). */
export function encodeEntry(key: string, entry: CachedFeatures): Uint8Array[] {
  const { rows, dim } = entry;
  if (entry.features.length !== rows * dim || entry.indices.length !== rows) {
    throw new RangeError(`feature cache: entry arrays do not match [${rows}, ${dim}]`);
  }
  const targetDim = entry.targets ? (entry.targetDim ?? 1) : 0;
  if (entry.targets && entry.targets.length !== rows * targetDim) {
    throw new RangeError(`feature cache: targets do not match [${rows}, ${targetDim}]`);
  }
  const payload = concat(payloadOf(entry));
  const header = new TextEncoder().encode(JSON.stringify({
    key,
    rows,
    dim,
    targetDim,
    payloadBytes: payload.length,
    payloadSha256: sha256Hex(payload),
    meta: entry.meta ?? {},
  }));
  const headerPadded = new Uint8Array(Math.ceil((12 + header.length) / 8) * 8 - 12);
  headerPadded.set(header);
  headerPadded.fill(0x20, header.length); // spaces keep the JSON parseable
  const prefix = new Uint8Array(12);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(8, headerPadded.length, true);
  return [prefix, headerPadded, payload];
}

/** Decodes one cache file; throws an Error saying what is wrong with it. */
export function decodeEntry(bytes: Uint8Array, expectedKey?: string): CachedFeatures {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error("not a feature cache file");
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + headerLength > bytes.length) throw new Error("truncated header");
  let header: {
    key: string;
    rows: number;
    dim: number;
    targetDim: number;
    payloadBytes: number;
    payloadSha256: string;
    meta: Record<string, unknown>;
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw new Error("unreadable header");
  }
  if (expectedKey !== undefined && header.key !== expectedKey) {
    throw new Error(`holds key ${header.key}, expected ${expectedKey}`);
  }
  const start = 12 + headerLength;
  const payload = bytes.subarray(start);
  if (payload.length !== header.payloadBytes) {
    throw new Error(`payload is ${payload.length} bytes, header says ${header.payloadBytes}`);
  }
  if (sha256Hex(payload) !== header.payloadSha256) throw new Error("payload checksum mismatch");
  const { rows, dim, targetDim } = header;
  const nf = rows * dim;
  // The header is padded so the payload starts 8-byte aligned: views, no copy (unless the
  // caller's bytes are themselves misaligned).
  const base = (bytes.byteOffset + start) % 8 === 0 ? bytes : bytes.slice();
  const buf = base.buffer;
  const off = base === bytes ? bytes.byteOffset + start : start;
  const features = new Float32Array(buf, off, nf);
  const indices = new Int32Array(buf, off + nf * 4, rows);
  let targets: Float64Array | undefined;
  if (targetDim > 0) {
    targets = new Float64Array(buf, off + Math.ceil(((nf + rows) * 4) / 8) * 8, rows * targetDim);
  }
  return {
    features,
    rows,
    dim,
    indices,
    targets,
    targetDim: targetDim || undefined,
    meta: header.meta,
  };
}
