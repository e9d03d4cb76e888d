/**
 * The tensor of a PyTorch checkpoint: {@link TorchTensor} (dtype, shape and a contiguous typed
 * array; views, storage offsets and strides are materialised on read), the state dict type, and
 * a tensor's bytes as the file stores them.
 *
 * @module
 */
import { PyExternal } from "../pickle.ts";
import {
  DTYPES,
  f32BitsToBf16,
  f32BitsToF16,
  type TorchDType,
  type TorchTensorData,
} from "./dtypes.ts";

/**
 * The placeholder data of a tensor whose bytes are not read yet: the reader creates tensors while
 * unpickling and fills them once the storages are read. The constructor skips its checks for it.
 */
export const UNFILLED: TorchTensorData = new Float32Array(0);

/** Options of the {@link TorchTensor} constructor. */
export interface TorchTensorOptions {
  /** `requires_grad` as stored in the file. Default false. */
  requiresGrad?: boolean;
  /** Whether it was (and will be written as) a `torch.nn.Parameter`. Default false. */
  isParameter?: boolean;
}

/** A dense, contiguous (row-major) CPU tensor as stored in a checkpoint. */
export class TorchTensor extends PyExternal {
  /** The Python type name shown in messages: `torch.Tensor`. */
  readonly pyType = "torch.Tensor";
  /** Element type as stored in the file. */
  readonly dtype: TorchDType;
  /** Sizes, outermost first (`[]` for a scalar). */
  readonly shape: readonly number[];
  /**
   * Row-major elements. float16/bfloat16 hold their values widened to float32; int64 is a
   * `BigInt64Array`; bool is a `Uint8Array` of 0/1. Replace only with an array of the same
   * type and length.
   */
  data: TorchTensorData;
  /** `requires_grad` as stored. */
  requiresGrad: boolean;
  /** Whether it is (written as) a `torch.nn.Parameter`. */
  isParameter: boolean;

  /** Throws `RangeError` when `data` does not match the dtype or the shape's element count. */
  constructor(
    dtype: TorchDType,
    shape: readonly number[],
    data: TorchTensorData,
    options: TorchTensorOptions = {},
  ) {
    super();
    if (!(dtype in DTYPES)) throw new RangeError(`unknown dtype '${dtype}'`);
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`bad shape [${shape}]`);
    }
    this.dtype = dtype;
    this.shape = [...shape];
    this.data = data;
    this.requiresGrad = options.requiresGrad ?? false;
    this.isParameter = options.isParameter ?? false;
    if (data === UNFILLED) return;
    const want = DTYPES[dtype].array;
    if (
      !(data instanceof want) ||
      (dtype === "uint8" || dtype === "bool") !== (data instanceof Uint8Array)
    ) {
      throw new RangeError(`${dtype} tensor needs a ${want.name}, got ${data.constructor.name}`);
    }
    if (data.length !== this.numel) {
      throw new RangeError(
        `shape [${shape}] needs ${this.numel} elements, data has ${data.length}`,
      );
    }
  }

  /**
   * A tensor over `data` with the dtype its array type implies (`Float32Array` → float32,
   * `Uint8Array` → uint8, …).
   */
  static fromArray(
    data: TorchTensorData,
    shape: readonly number[],
    options?: TorchTensorOptions,
  ): TorchTensor {
    const dtype: TorchDType | undefined = data instanceof Float32Array
      ? "float32"
      : data instanceof Float64Array
      ? "float64"
      : data instanceof BigInt64Array
      ? "int64"
      : data instanceof Int32Array
      ? "int32"
      : data instanceof Int16Array
      ? "int16"
      : data instanceof Int8Array
      ? "int8"
      : data instanceof Uint8Array
      ? "uint8"
      : undefined;
    if (dtype === undefined) throw new RangeError("unsupported tensor data array");
    return new TorchTensor(dtype, shape, data, options);
  }

  /** Number of elements (1 for a scalar). */
  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** The elements as float32 (the array itself for float32/float16/bfloat16, else a copy). */
  toFloat32(): Float32Array {
    if (this.data instanceof Float32Array) return this.data;
    const out = new Float32Array(this.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(this.data[i]);
    return out;
  }
}

/** A state dict: parameter/buffer name → tensor, in file order. */
export type StateDict = Map<string, TorchTensor>;

/** Row-major strides of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** A tensor's elements as little-endian bytes of its own dtype (float16/bfloat16 narrowed). */
export function tensorBytes(t: TorchTensor): Uint8Array {
  const d = t.data;
  if (t.dtype === "float16" || t.dtype === "bfloat16") {
    const src = new Uint32Array(d.buffer, d.byteOffset, d.length);
    const out = new Uint16Array(d.length);
    const narrow = t.dtype === "float16" ? f32BitsToF16 : f32BitsToBf16;
    for (let i = 0; i < out.length; i++) out[i] = narrow(src[i]);
    return new Uint8Array(out.buffer);
  }
  if (t.dtype === "bool") {
    const src = d as Uint8Array;
    return src.every((v) => v <= 1) ? src : src.map((v) => (v ? 1 : 0));
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
