/**
 * The element types of PyTorch checkpoints: the dtype names, their storage classes and sizes,
 * and the exact conversions between float16/bfloat16 bits and float32 (half-precision data is
 * held widened to float32 in memory and narrowed again on write; both directions are exact for
 * values that came from the narrow type).
 *
 * @module
 */

/** Tensor element types that checkpoints hold. */
export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** The typed array behind a tensor of each dtype (float16/bfloat16 are widened to float32). */
export interface TensorDataOf {
  /** `torch.float32`: Float32Array. */
  float32: Float32Array;
  /** `torch.float64`: Float64Array. */
  float64: Float64Array;
  /** `torch.float16`: Float32Array, widened from IEEE half precision. */
  float16: Float32Array;
  /** `torch.bfloat16`: Float32Array, widened from bfloat16 (exact). */
  bfloat16: Float32Array;
  /** `torch.int64`: BigInt64Array. */
  int64: BigInt64Array;
  /** `torch.int32`: Int32Array. */
  int32: Int32Array;
  /** `torch.int16`: Int16Array. */
  int16: Int16Array;
  /** `torch.int8`: Int8Array. */
  int8: Int8Array;
  /** `torch.uint8`: Uint8Array. */
  uint8: Uint8Array;
  /** `torch.bool`: Uint8Array of 0/1. */
  bool: Uint8Array;
}

/** Any tensor's data. */
export type TorchTensorData = TensorDataOf[TorchDType];

/** How a dtype is stored: element size on disk, PyTorch storage class, in-memory array type. */
export interface DTypeInfo {
  /** Bytes per element in the file (2 for float16/bfloat16, though held widened in memory). */
  size: number;
  /** The storage class name (`FloatStorage`, …) in the pickle. */
  storage: string;
  /** The typed array that holds the elements in memory. */
  array: new (n: number) => TorchTensorData;
}

/** Every dtype's storage details. */
export const DTYPES: Record<TorchDType, DTypeInfo> = {
  float32: { size: 4, storage: "FloatStorage", array: Float32Array },
  float64: { size: 8, storage: "DoubleStorage", array: Float64Array },
  float16: { size: 2, storage: "HalfStorage", array: Float32Array },
  bfloat16: { size: 2, storage: "BFloat16Storage", array: Float32Array },
  int64: { size: 8, storage: "LongStorage", array: BigInt64Array },
  int32: { size: 4, storage: "IntStorage", array: Int32Array },
  int16: { size: 2, storage: "ShortStorage", array: Int16Array },
  int8: { size: 1, storage: "CharStorage", array: Int8Array },
  uint8: { size: 1, storage: "ByteStorage", array: Uint8Array },
  bool: { size: 1, storage: "BoolStorage", array: Uint8Array },
};

/** Storage class name in a pickle → dtype of its elements. */
export const STORAGE_DTYPES: ReadonlyMap<string, TorchDType> = new Map([
  ...Object.entries(DTYPES).map(([d, info]) => [info.storage, d as TorchDType] as const),
  // An untyped storage is raw bytes; the tensor's dtype comes from the rebuild call.
  ["UntypedStorage", "uint8"],
]);

/** `torch.<name>` dtype globals (`torch.float`, `torch.half`, …) → dtype. */
export const TORCH_DTYPE_NAMES: ReadonlyMap<string, TorchDType> = new Map([
  ["float32", "float32"],
  ["float", "float32"],
  ["float64", "float64"],
  ["double", "float64"],
  ["float16", "float16"],
  ["half", "float16"],
  ["bfloat16", "bfloat16"],
  ["int64", "int64"],
  ["long", "int64"],
  ["int32", "int32"],
  ["int", "int32"],
  ["int16", "int16"],
  ["short", "int16"],
  ["int8", "int8"],
  ["uint8", "uint8"],
  ["bool", "bool"],
]);

// ---------------------------------------------------------------------------------------------
// float16 / bfloat16 ↔ float32

/** float16 bit patterns → float32 values (exact: every half is a float32). */
export function float16ToFloat32(h: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = table[h[i]];
  return new Float32Array(out.buffer);
}

/** bfloat16 bit patterns → float32 values (exact: a bfloat16 is a float32's high half). */
export function bfloat16ToFloat32(h: Uint16Array): Float32Array {
  const out = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = h[i] << 16;
  return new Float32Array(out.buffer);
}

let HALF_TABLE: Uint32Array | undefined;

/** float16 bit pattern → float32 bit pattern, for all 65536 halves. */
function halfTable(): Uint32Array {
  if (HALF_TABLE) return HALF_TABLE;
  const t = new Uint32Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      f[0] = mant * 2 ** -24;
      t[h] = (sign | u[0]) >>> 0;
    } else if (exp === 31) t[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    else t[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  }
  HALF_TABLE = t;
  return t;
}

/** float32 bits → float16 bits, round to nearest even (what `tensor.half()` does). */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** float32 bits → bfloat16 bits, round to nearest even, NaN kept quiet. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
