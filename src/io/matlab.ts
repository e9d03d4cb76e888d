/**
 * A reader for MATLAB MAT-files, level 5 (what `save -v7` and `scipy.io.savemat` write), enough
 * for the dataset annotations the original reads with `scipy.io.loadmat`: Flowers'
 * `imagelabels.mat` / `setid.mat` and LSP's `joints.mat`.
 *
 * Supported: both byte orders; the small-data-element tag format; numeric arrays of every
 * integer class, single and double (real and complex), logical; char arrays; cell arrays;
 * structs; `miCOMPRESSED` elements (zlib, via `node:zlib`). Values come back in row-major
 * (C) order with MATLAB's dimensions kept, i.e. what `loadmat(..., squeeze_me=False)` returns.
 * MATLAB v7.3 files are HDF5 and are refused with a DataError telling how to re-save them;
 * sparse matrices, objects and function handles are refused too.
 *
 * @module
 */
import { inflateSync } from "node:zlib";
import { DataError } from "../util/errors.ts";

/** MATLAB array classes a numeric array can have. */
export type MatNumericClass =
  | "double"
  | "single"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64";

/** A numeric or logical array. */
export interface MatNumeric {
  /** Discriminant. */
  readonly kind: "numeric";
  /** The MATLAB class (logical arrays have class `uint8` and `logical: true`). */
  readonly mclass: MatNumericClass;
  /** MATLAB dimensions (at least two). */
  readonly dims: readonly number[];
  /** Real parts in row-major order. 64-bit integers must be exact doubles. */
  readonly data: Float64Array;
  /** Imaginary parts in row-major order, for complex arrays. */
  readonly imag?: Float64Array;
  /** True for MATLAB `logical` arrays. */
  readonly logical: boolean;
}

/** A char array: one string per row (MATLAB stores an N×L char matrix as N strings). */
export interface MatChar {
  /** Discriminant. */
  readonly kind: "char";
  /** MATLAB dimensions (rows × characters per row). */
  readonly dims: readonly number[];
  /** The rows of a 2-D char array, in order. */
  readonly rows: readonly string[];
}

/** A cell array; items in row-major order. */
export interface MatCell {
  /** Discriminant. */
  readonly kind: "cell";
  /** MATLAB dimensions. */
  readonly dims: readonly number[];
  /** The cells, row-major. */
  readonly items: readonly MatValue[];
}

/** A struct array; elements in row-major order, each a map from field name to value. */
export interface MatStruct {
  /** Discriminant. */
  readonly kind: "struct";
  /** MATLAB dimensions of the struct array. */
  readonly dims: readonly number[];
  /** Field names in file order. */
  readonly fieldNames: readonly string[];
  /** The struct elements, row-major. */
  readonly elements: readonly ReadonlyMap<string, MatValue>[];
}

/** Any value a MAT-file variable can hold here. */
export type MatValue = MatNumeric | MatChar | MatCell | MatStruct;

// Data types of element tags (MAT-File Format, table 1-1).
const MI_INT8 = 1;
const MI_UINT8 = 2;
const MI_INT16 = 3;
const MI_UINT16 = 4;
const MI_INT32 = 5;
const MI_UINT32 = 6;
const MI_SINGLE = 7;
const MI_DOUBLE = 9;
const MI_INT64 = 12;
const MI_UINT64 = 13;
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
const MI_UTF8 = 16;
const MI_UTF16 = 17;
const MI_UTF32 = 18;

const NUMERIC_CLASSES: Record<number, MatNumericClass> = {
  6: "double",
  7: "single",
  8: "int8",
  9: "uint8",
  10: "int16",
  11: "uint16",
  12: "int32",
  13: "uint32",
  14: "int64",
  15: "uint64",
};
const MX_CELL = 1;
const MX_STRUCT = 2;
const MX_CHAR = 4;
const OTHER_CLASSES: Record<number, string> = {
  3: "object",
  5: "sparse",
  16: "function handle",
  17: "opaque object",
};

/** Reads a MAT-file; DataError naming `path` when it is missing, malformed or unsupported. */
export async function readMat(path: string): Promise<Map<string, MatValue>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseMat(bytes, path);
}

/** Decodes MAT-file bytes into its variables (in file order); `name` is used in messages. */
export function parseMat(bytes: Uint8Array, name: string): Map<string, MatValue> {
  return new MatParser(bytes, name).variables();
}

/**
 * The numeric variable `variable` of a parsed file, or a DataError naming `file` and what was
 * found instead (missing variable, or a char/cell/struct).
 */
export function matNumeric(
  vars: ReadonlyMap<string, MatValue>,
  variable: string,
  file: string,
): MatNumeric {
  const value = vars.get(variable);
  if (value === undefined) {
    const have = [...vars.keys()].join(", ") || "none";
    throw new DataError(`${file}: no variable '${variable}' (variables: ${have})`);
  }
  if (value.kind !== "numeric") {
    throw new DataError(`${file}: variable '${variable}' is a ${value.kind} array, not numeric`);
  }
  return value;
}

interface Element {
  type: number;
  data: Uint8Array;
}

class MatParser {
  #bytes: Uint8Array;
  #name: string;
  #little = true;

  constructor(bytes: Uint8Array, name: string) {
    this.#bytes = bytes;
    this.#name = name;
  }

  #fail(what: string): never {
    throw new DataError(`${this.#name}: not a readable MAT-file: ${what}`);
  }

  variables(): Map<string, MatValue> {
    const b = this.#bytes;
    if (b.length < 128) this.#fail("shorter than the 128-byte header");
    const text = new TextDecoder("latin1").decode(b.subarray(0, 116));
    const hdf5 = b.length >= 520 && b[512] === 0x89 && b[513] === 0x48 && b[514] === 0x44 &&
      b[515] === 0x46;
    if (text.startsWith("MATLAB 7.3") || hdf5) {
      throw new DataError(
        `${this.#name} is a MATLAB v7.3 (HDF5) file, which this reader does not support; ` +
          `re-save it as a v7 file (MATLAB: save(..., '-v7'); Python: scipy.io.savemat)`,
      );
    }
    if (b[0] === 0 || b[1] === 0 || b[2] === 0 || b[3] === 0) {
      this.#fail("no level-5 text header (a MATLAB v4 file?); re-save it with save -v7");
    }
    const endian = String.fromCharCode(b[126], b[127]);
    if (endian === "IM") this.#little = true;
    else if (endian === "MI") this.#little = false;
    else this.#fail(`bad endian indicator '${endian}'`);
    const vars = new Map<string, MatValue>();
    let pos = 128;
    while (pos < b.length) {
      if (b.length - pos < 8) break; // trailing padding
      const { element, next } = this.#element(b, pos, true);
      pos = next;
      let el = element;
      if (el.type === MI_COMPRESSED) {
        let inflated: Uint8Array;
        try {
          inflated = new Uint8Array(inflateSync(el.data));
        } catch (e) {
          return this.#fail(`corrupt compressed element: ${(e as Error).message}`);
        }
        el = this.#element(inflated, 0, false).element;
      }
      if (el.type !== MI_MATRIX) continue; // MATLAB ignores other top-level elements
      if (el.data.length === 0) continue;
      const { name, value } = this.#matrix(el.data);
      vars.set(name, value);
    }
    return vars;
  }

  /** One tagged element at `pos` of `buf`, and where the next one starts. */
  #element(buf: Uint8Array, pos: number, topLevel: boolean): { element: Element; next: number } {
    if (pos + 8 > buf.length) this.#fail(`truncated element tag at byte ${pos}`);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const first = view.getUint32(pos, this.#little);
    if (first >>> 16 !== 0) {
      // Small data element: type and size share the first word, data sits in the second.
      const type = first & 0xffff;
      const n = first >>> 16;
      if (n > 4) this.#fail(`small data element of ${n} bytes at byte ${pos}`);
      return { element: { type, data: buf.subarray(pos + 4, pos + 4 + n) }, next: pos + 8 };
    }
    const type = first;
    const n = view.getUint32(pos + 4, this.#little);
    const start = pos + 8;
    if (start + n > buf.length) {
      this.#fail(`element at byte ${pos} claims ${n} bytes, only ${buf.length - start} remain`);
    }
    // Compressed top-level elements are not padded; everything else is to 8 bytes.
    const padded = topLevel && type === MI_COMPRESSED ? n : Math.ceil(n / 8) * 8;
    return {
      element: { type, data: buf.subarray(start, start + n) },
      next: Math.min(buf.length, start + padded),
    };
  }

  /** The sub-elements of an miMATRIX's data, in order. */
  #subElements(data: Uint8Array): Element[] {
    const out: Element[] = [];
    let pos = 0;
    while (pos + 8 <= data.length) {
      const { element, next } = this.#element(data, pos, false);
      out.push(element);
      pos = next;
    }
    return out;
  }

  #matrix(data: Uint8Array): { name: string; value: MatValue } {
    const parts = this.#subElements(data);
    if (parts.length < 3) this.#fail("matrix element without flags, dimensions and name");
    const flags = this.#numbers(parts[0]);
    const mclass = flags[0] & 0xff;
    const complex = (flags[0] & 0x800) !== 0;
    const logical = (flags[0] & 0x200) !== 0;
    const dims = Array.from(this.#numbers(parts[1]));
    const name = new TextDecoder("latin1").decode(parts[2].data);
    const count = dims.reduce((a, b) => a * b, 1);
    const where = name === "" ? "a nested value" : `variable '${name}'`;
    if (mclass in NUMERIC_CLASSES) {
      const real = parts[3] === undefined ? new Float64Array(0) : this.#numbers(parts[3]);
      if (real.length !== count) {
        this.#fail(`${where} has dims ${dims.join("x")} but ${real.length} values`);
      }
      const value: MatNumeric = {
        kind: "numeric",
        mclass: NUMERIC_CLASSES[mclass],
        dims,
        data: columnToRowMajor(real, dims),
        logical,
        ...(complex && parts[4] !== undefined
          ? { imag: columnToRowMajor(this.#numbers(parts[4]), dims) }
          : {}),
      };
      return { name, value };
    }
    if (mclass === MX_CHAR) {
      const codes = parts[3] === undefined ? new Float64Array(0) : this.#chars(parts[3]);
      if (codes.length !== count) {
        this.#fail(`${where} has dims ${dims.join("x")} but ${codes.length} characters`);
      }
      const rm = columnToRowMajor(codes, dims);
      const rows: string[] = [];
      const rowLen = dims.length === 0 ? 0 : count / Math.max(1, dims[0]);
      for (let r = 0; r < (dims[0] ?? 0); r++) {
        rows.push(String.fromCodePoint(...rm.subarray(r * rowLen, (r + 1) * rowLen)));
      }
      return { name, value: { kind: "char", dims, rows } };
    }
    if (mclass === MX_CELL) {
      const items = parts.slice(3).map((p) => this.#nested(p, where));
      if (items.length !== count) {
        this.#fail(`${where} has dims ${dims.join("x")} but ${items.length} cells`);
      }
      return { name, value: { kind: "cell", dims, items: reorder(items, dims) } };
    }
    if (mclass === MX_STRUCT) {
      if (parts.length < 5) this.#fail(`${where}: struct without field names`);
      const fieldLen = this.#numbers(parts[3])[0];
      const namesData = parts[4].data;
      const fieldNames: string[] = [];
      for (let at = 0; fieldLen > 0 && at + fieldLen <= namesData.length; at += fieldLen) {
        const raw = namesData.subarray(at, at + fieldLen);
        const end = raw.indexOf(0);
        fieldNames.push(new TextDecoder("latin1").decode(end < 0 ? raw : raw.subarray(0, end)));
      }
      const values = parts.slice(5).map((p) => this.#nested(p, where));
      if (values.length !== count * fieldNames.length) {
        this.#fail(
          `${where}: struct of ${count} elements and ${fieldNames.length} fields holds ${values.length} values`,
        );
      }
      const elements: Map<string, MatValue>[] = [];
      for (let e = 0; e < count; e++) {
        const m = new Map<string, MatValue>();
        fieldNames.forEach((f, i) => m.set(f, values[e * fieldNames.length + i]));
        elements.push(m);
      }
      return {
        name,
        value: { kind: "struct", dims, fieldNames, elements: reorder(elements, dims) },
      };
    }
    const what = OTHER_CLASSES[mclass] ?? `class ${mclass}`;
    return this.#fail(`${where} is a MATLAB ${what}, which this reader does not support`);
  }

  #nested(el: Element, where: string): MatValue {
    if (el.type !== MI_MATRIX) this.#fail(`${where}: cell/struct item is not a matrix element`);
    if (el.data.length === 0) {
      // An empty item is written as a matrix element with no content: MATLAB's [].
      return {
        kind: "numeric",
        mclass: "double",
        dims: [0, 0],
        data: new Float64Array(0),
        logical: false,
      };
    }
    return this.#matrix(el.data).value;
  }

  /** The values of a numeric element, converted to doubles (element order). */
  #numbers(el: Element): Float64Array {
    const { type, data } = el;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const le = this.#little;
    const size = elementSize(type);
    if (size === 0) this.#fail(`unexpected element type ${type} where numbers were expected`);
    if (data.length % size !== 0) {
      this.#fail(`element of ${data.length} bytes for ${size}-byte values`);
    }
    const n = data.length / size;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const at = i * size;
      switch (type) {
        case MI_INT8:
          out[i] = view.getInt8(at);
          break;
        case MI_UINT8:
        case MI_UTF8:
          out[i] = view.getUint8(at);
          break;
        case MI_INT16:
          out[i] = view.getInt16(at, le);
          break;
        case MI_UINT16:
        case MI_UTF16:
          out[i] = view.getUint16(at, le);
          break;
        case MI_INT32:
          out[i] = view.getInt32(at, le);
          break;
        case MI_UINT32:
        case MI_UTF32:
          out[i] = view.getUint32(at, le);
          break;
        case MI_SINGLE:
          out[i] = view.getFloat32(at, le);
          break;
        case MI_DOUBLE:
          out[i] = view.getFloat64(at, le);
          break;
        case MI_INT64:
        case MI_UINT64: {
          const v = type === MI_INT64 ? view.getBigInt64(at, le) : view.getBigUint64(at, le);
          const d = Number(v);
          if (BigInt(d) !== v) this.#fail(`64-bit integer ${v} does not fit a double exactly`);
          out[i] = d;
          break;
        }
      }
    }
    return out;
  }

  /** Character codes of a char array's data element (UTF-8 is decoded to code points). */
  #chars(el: Element): Float64Array {
    if (el.type === MI_UTF8) {
      const text = new TextDecoder().decode(el.data);
      return Float64Array.from(Array.from(text, (c) => c.codePointAt(0)!));
    }
    return this.#numbers(el);
  }
}

function elementSize(type: number): number {
  switch (type) {
    case MI_INT8:
    case MI_UINT8:
    case MI_UTF8:
      return 1;
    case MI_INT16:
    case MI_UINT16:
    case MI_UTF16:
      return 2;
    case MI_INT32:
    case MI_UINT32:
    case MI_SINGLE:
    case MI_UTF32:
      return 4;
    case MI_DOUBLE:
    case MI_INT64:
    case MI_UINT64:
      return 8;
    default:
      return 0;
  }
}

/** Row-major position → column-major position, for each row-major index of `dims`. */
function columnMajorIndex(dims: readonly number[]): Int32Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const out = new Int32Array(count);
  const rank = dims.length;
  const index = new Array<number>(rank).fill(0);
  for (let r = 0; r < count; r++) {
    let f = 0;
    for (let d = rank - 1; d >= 0; d--) f = f * dims[d] + index[d];
    out[r] = f;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

function columnToRowMajor(src: Float64Array, dims: readonly number[]): Float64Array {
  const map = columnMajorIndex(dims);
  const out = new Float64Array(src.length);
  for (let r = 0; r < map.length; r++) out[r] = src[map[r]];
  return out;
}

function reorder<T>(items: readonly T[], dims: readonly number[]): T[] {
  const map = columnMajorIndex(dims);
  return Array.from(map, (f) => items[f]);
}
