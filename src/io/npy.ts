/**
 * NumPy `.npy` files: a reader for the Causal3DIdent `latents_*.npy` and the 300W / LSP split
 * index files, and a writer that produces the same bytes as `np.save` for the split files the
 * original creates (format 1.0, header padded with spaces to a multiple of 64 bytes, `\n` last,
 * as numpy 1.24 writes it).
 *
 * @module
 */
import { writeFileAtomic } from "./atomic.ts";
import { DataError } from "../util/errors.ts";

/** The element types the reader understands (NumPy `descr` without the byte-order mark). */
export type NpyType = "f8" | "f4" | "i8" | "i4" | "i2" | "i1" | "u8" | "u4" | "u2" | "u1" | "b1";

/** A decoded array: values as doubles in C (row-major) order, whatever the file's layout. */
export interface NpyArray {
  /** The element type stored in the file. */
  readonly type: NpyType;
  /** The array's shape (`[]` for a 0-d array). */
  readonly shape: readonly number[];
  /** Values in row-major order. 64-bit integers must be exact doubles (|v| ≤ 2⁵³). */
  readonly data: Float64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const SIZES: Record<NpyType, number> = {
  f8: 8,
  f4: 4,
  i8: 8,
  i4: 4,
  i2: 2,
  i1: 1,
  u8: 8,
  u4: 4,
  u2: 2,
  u1: 1,
  b1: 1,
};

/** Reads and decodes a `.npy` file; DataError naming `path` when it is missing or malformed. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

/** Decodes `.npy` bytes; `name` is used in error messages. */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const fail = (what: string): never => {
    throw new DataError(`${name}: not a readable .npy file: ${what}`);
  };
  if (bytes.length < 10 || !MAGIC.every((v, i) => bytes[i] === v)) fail("bad magic bytes");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail("truncated header");
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    return fail(`unsupported format version ${major}.${bytes[7]}`);
  }
  if (start + headerLen > bytes.length) fail("truncated header");
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    return fail(`header is not a NumPy array description: ${header.trim()}`);
  }
  const order = descr[0];
  const type = descr.slice(1) as NpyType;
  if (!(type in SIZES) || !"<>|=".includes(order) || descr.length < 2) {
    return fail(`unsupported dtype '${descr}' (expected a plain integer, float or bool type)`);
  }
  const little = order !== ">";
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const size = SIZES[type];
  const offset = start + headerLen;
  if (bytes.length < offset + count * size) {
    fail(
      `data holds ${bytes.length - offset} bytes, shape (${shapeText}) of ${descr} needs ${
        count * size
      }`,
    );
  }
  const raw = new Float64Array(count);
  for (let i = 0; i < count; i++) raw[i] = readElement(view, offset + i * size, type, little);
  if (type === "i8" || type === "u8") {
    for (let i = 0; i < count; i++) {
      const at = offset + i * size;
      const v = type === "i8" ? view.getBigInt64(at, little) : view.getBigUint64(at, little);
      if (BigInt(raw[i]) !== v) fail(`64-bit integer ${v} does not fit a double exactly`);
    }
  }
  const data = fortran === "True" ? fortranToC(raw, shape) : raw;
  return { type, shape, data };
}

function readElement(view: DataView, at: number, type: NpyType, little: boolean): number {
  switch (type) {
    case "f8":
      return view.getFloat64(at, little);
    case "f4":
      return view.getFloat32(at, little);
    case "i8":
      return Number(view.getBigInt64(at, little));
    case "u8":
      return Number(view.getBigUint64(at, little));
    case "i4":
      return view.getInt32(at, little);
    case "u4":
      return view.getUint32(at, little);
    case "i2":
      return view.getInt16(at, little);
    case "u2":
      return view.getUint16(at, little);
    case "i1":
      return view.getInt8(at);
    case "u1":
      return view.getUint8(at);
    case "b1":
      return view.getUint8(at) !== 0 ? 1 : 0;
  }
}

/** Column-major values of an array with `shape` → row-major. */
function fortranToC(src: Float64Array, shape: readonly number[]): Float64Array {
  const out = new Float64Array(src.length);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  for (let c = 0; c < src.length; c++) {
    // `index` walks row-major order; its column-major linear position is the source element.
    let f = 0;
    for (let d = rank - 1; d >= 0; d--) f = f * shape[d] + index[d];
    out[c] = src[f];
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Element types the writer produces (little-endian, as `np.save` on x86). */
export type NpyWriteType = "<i8" | "<i4" | "<f8" | "<f4";

/**
 * Encodes values as `.npy` bytes identical to `np.save(path, np.asarray(values, dtype))`:
 * format 1.0, C order, header padded with spaces so the data starts at a multiple of 64.
 */
export function encodeNpy(
  values: ArrayLike<number>,
  shape: readonly number[] = [values.length],
  type: NpyWriteType = "<i8",
): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== values.length) {
    throw new RangeError(`shape (${shape.join(", ")}) needs ${count} values, got ${values.length}`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${type}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy ≥ 1.23 leaves room for the first axis to grow to 21 digits, then pads to 64 bytes.
  if (shape.length > 0) header += " ".repeat(Math.max(0, 21 - String(shape[0]).length));
  header += " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
  const size = type === "<i8" || type === "<f8" ? 8 : 4;
  const out = new Uint8Array(10 + header.length + count * size);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const base = 10 + header.length;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    const at = base + i * size;
    if (type === "<i8" || type === "<i4") {
      if (!Number.isSafeInteger(v)) throw new RangeError(`${v} is not an integer`);
      if (type === "<i8") view.setBigInt64(at, BigInt(v), true);
      else view.setInt32(at, v, true);
    } else if (type === "<f8") view.setFloat64(at, v, true);
    else view.setFloat32(at, v, true);
  }
  return out;
}

/** Writes a `.npy` file atomically (see {@link encodeNpy}). */
export function writeNpy(
  path: string,
  values: ArrayLike<number>,
  shape?: readonly number[],
  type?: NpyWriteType,
): Promise<void> {
  return writeFileAtomic(path, encodeNpy(values, shape, type));
}
