/**
 * Hostile files for the fault suite, made in TypeScript (no Python in CI): checkpoints with
 * stride-0 views, zip bombs, duplicate entries and foreign globals; images whose headers declare
 * absurd sizes; seeded byte-flip mutations.
 *
 * @module
 */
import { deflateRawSync } from "node:zlib";
import {
  OrderedDict,
  pickle,
  PyGlobal,
  type PyInput,
  PyPersistent,
  PyReduce,
  PyTuple,
} from "../../src/io/pickle.ts";
import { buildZip, concatChunks, crc32 } from "../../src/io/zip.ts";
import { ROOT } from "./harness.ts";

/** Fixture checkpoints to truncate and mutate. */
export const FIXTURES = {
  zip: `${ROOT}/tests/fixtures/checkpoints/moco_r18_w2.pth.tar`,
  legacy: `${ROOT}/tests/fixtures/checkpoints/moco_r18_w2_legacy.pth.tar`,
  small: `${ROOT}/tests/fixtures/checkpoints/tensors.pth`,
  deflated: `${ROOT}/tests/fixtures/checkpoints/tensors_deflated.pth`,
  smallLegacy: `${ROOT}/tests/fixtures/checkpoints/tensors_legacy.pth`,
};

const REBUILD = new PyGlobal("torch._utils", "_rebuild_tensor_v2");

/** `_rebuild_tensor_v2(storage key, offset, size, stride)` of a float32 storage of `numel`. */
export function tensorReduce(
  key: string,
  numel: number,
  shape: number[],
  stride: number[],
  offset = 0,
): PyReduce {
  const pid = new PyTuple(["storage", new PyGlobal("torch", "FloatStorage"), key, "cpu", numel]);
  return new PyReduce(REBUILD, [
    new PyPersistent(pid),
    offset,
    new PyTuple(shape),
    new PyTuple(stride),
    false,
    new OrderedDict(),
  ]);
}

/** A zip checkpoint with `value` as its pickle and the given storages (float32 zeros). */
export function zipCheckpoint(
  value: PyInput,
  storages: Record<string, number>,
  extra: { name: string; data: Uint8Array }[] = [],
): Uint8Array {
  const enc = new TextEncoder();
  return concatChunks(buildZip([
    { name: "archive/data.pkl", data: pickle(value) },
    { name: "archive/byteorder", data: enc.encode("little") },
    ...Object.entries(storages).map(([k, n]) => ({
      name: `archive/data/${k}`,
      data: new Uint8Array(4 * n),
    })),
    ...extra,
    { name: "archive/version", data: enc.encode("3\n") },
  ]));
}

/** One zip entry for {@link rawZip}: stored or deflated, with sizes that may lie. */
export interface RawEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Declared uncompressed size (default: the real one). */
  declaredSize?: number;
}

/** A zip archive written by hand, so directory fields can lie (bombs, wrong sizes). */
export function rawZip(entries: RawEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const name = enc.encode(e.name);
    const size = e.declaredSize ?? e.data.length;
    const crc = crc32(e.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, e.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, e.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local, body);
    centrals.push(central);
    offset += local.length + body.length;
  }
  let cdSize = 0;
  for (const c of centrals) cdSize += c.length;
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concatChunks([...locals, ...centrals, end]);
}

/** A pickle calling `module.name(arg)`: what a malicious checkpoint does to run code. */
export function foreignCall(module: string, name: string, arg: string): Uint8Array {
  return pickle(new PyReduce(new PyGlobal(module, name), [arg]));
}

/** A legacy (torch < 1.6) checkpoint whose main pickle is `main` (no storages). */
export function legacyCheckpoint(main: Uint8Array): Uint8Array {
  const magic = pickle(0x1950a86a20f9469cfc6cn);
  const protocol = pickle(1001);
  const sysInfo = pickle(new Map([["little_endian", true]]));
  const keys = pickle([]);
  return concatChunks([magic, protocol, sysInfo, main, keys]);
}

/** xorshift32: the fuzz's seeded stream. */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/**
 * Mutation `i` of `bytes` from `seed`: 1–8 random bytes set to random values, sometimes a 32-bit
 * field set to a large value (sizes, offsets, counts), sometimes a truncation.
 */
export function mutate(bytes: Uint8Array, seed: number, i: number): Uint8Array {
  const next = xorshift((seed * 1_000_003 + i * 7919) >>> 0);
  next();
  const kind = next() % 10;
  if (kind === 0) return bytes.slice(0, next() % bytes.length);
  const out = bytes.slice();
  if (kind === 1 && out.length >= 4) {
    const at = next() % (out.length - 3);
    const big = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0xfffffff0][next() % 5];
    new DataView(out.buffer).setUint32(at, big, true);
    return out;
  }
  const flips = 1 + (next() % 8);
  for (let k = 0; k < flips; k++) out[next() % out.length] = next() & 0xff;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Images

function le(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A BMP header (BITMAPINFOHEADER) declaring `w × h` at `bits`, followed by `body`. */
export function bmp(
  w: number,
  h: number,
  bits: number,
  compression: number,
  body: Uint8Array,
  palette = bits <= 8 ? 4 * 2 ** bits : 0,
): Uint8Array {
  const out = new Uint8Array(54 + palette + body.length);
  const v = le(out);
  out[0] = 0x42;
  out[1] = 0x4d;
  v.setUint32(2, out.length, true);
  v.setUint32(10, 54 + palette, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, w, true);
  v.setInt32(22, h, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, bits, true);
  v.setUint32(30, compression, true);
  out.set(body, 54 + palette);
  return out;
}

/** An RLE8 BMP of `w × h` whose data is one run and an end-of-bitmap (≈ 1 KB at any size). */
export function rleBomb(w: number, h: number): Uint8Array {
  return bmp(w, h, 8, 1, Uint8Array.of(255, 7, 0, 1));
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = le(out);
  v.setUint32(0, data.length);
  const td = new Uint8Array(4 + data.length);
  td.set(new TextEncoder().encode(type));
  td.set(data, 4);
  out.set(td, 4);
  v.setUint32(8 + data.length, crc32(td));
  return out;
}

/** A PNG whose IHDR declares `w × h` RGB, with a tiny IDAT (a bomb by its header). */
export function pngHeader(w: number, h: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = le(ihdr);
  v.setUint32(0, w);
  v.setUint32(4, h);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const idat = new Uint8Array(deflateRawSync(new Uint8Array(64)));
  return concatChunks([
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", Uint8Array.of(0x78, 0x9c, ...idat)),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
}

/** A GIF whose screen and image descriptor declare `w × h`. */
export function gifHeader(w: number, h: number): Uint8Array {
  const out = new Uint8Array(6 + 7 + 10 + 4);
  out.set(new TextEncoder().encode("GIF89a"));
  const v = le(out);
  v.setUint16(6, w, true);
  v.setUint16(8, h, true);
  out[13] = 0x2c; // image descriptor
  v.setUint16(18, w, true);
  v.setUint16(20, h, true);
  out[23] = 2; // LZW minimum code size
  out[24] = 0; // no data
  out[25] = 0x3b;
  return out;
}

/** A Netpbm file: `header` then `body`. */
export function netpbm(header: string, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concatChunks([new TextEncoder().encode(header), body]);
}
