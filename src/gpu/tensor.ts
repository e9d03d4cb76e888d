/**
 * GPU tensors: a storage buffer with a shape and an element type. Data stays on the GPU; ops
 * record kernels that read and write tensors, and readback happens only at the end of a step.
 *
 * @module
 */
import type { Gpu } from "./device.ts";

/** Element types a tensor can hold (all 4 bytes wide). */
export type DType = "f32" | "i32" | "u32";

/** The typed array that holds a dtype's values on the CPU. */
export type TypedArrayFor<D extends DType> = D extends "f32" ? Float32Array
  : D extends "i32" ? Int32Array
  : Uint32Array;

/** Any CPU array a tensor can be made from. */
export type TensorData = Float32Array | Int32Array | Uint32Array;

/** Bytes per element (every dtype here is 4 bytes). */
export const BYTES_PER_ELEMENT = 4;

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad tensor shape [${shape}]`);
    n *= d;
  }
  return n;
}

/** The dtype matching a typed array. */
export function dtypeOf(data: TensorData): DType {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Int32Array) return "i32";
  return "u32";
}

/** A typed array of `n` elements of `dtype`. */
export function allocTyped<D extends DType>(dtype: D, n: number): TypedArrayFor<D> {
  const ctor = dtype === "f32" ? Float32Array : dtype === "i32" ? Int32Array : Uint32Array;
  return new ctor(n) as TypedArrayFor<D>;
}

/**
 * A GPU tensor. Its buffer comes from the GPU's pool (at least `byteSize` bytes, often more);
 * `release()` gives it back. A view made with {@link Tensor.reshape} shares the buffer and does
 * not own it.
 */
export class Tensor {
  #released = false;

  /**
   * Wraps `buffer` (at least `byteSize` bytes) as a tensor of `shape` and `dtype`; with
   * `ownsBuffer` false, `release()` leaves the buffer alone. Use {@link Tensor.from} or {@link
   * Tensor.empty} to allocate.
   */
  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType = "f32",
    readonly ownsBuffer = true,
  ) {
    if (this.byteSize > buffer.size) {
      throw new RangeError(
        `tensor [${shape}] needs ${this.byteSize} bytes, buffer has ${buffer.size}`,
      );
    }
  }

  /** Number of elements. */
  get size(): number {
    return shapeSize(this.shape);
  }

  /** Bytes the elements occupy (≤ the buffer's size). */
  get byteSize(): number {
    return this.size * BYTES_PER_ELEMENT;
  }

  /** Whether {@link release} was called. */
  get released(): boolean {
    return this.#released;
  }

  /** A tensor of the given shape whose contents are undefined (whatever the pool had). */
  static empty(gpu: Gpu, shape: readonly number[], dtype: DType = "f32", label = "tensor"): Tensor {
    const bytes = Math.max(shapeSize(shape) * BYTES_PER_ELEMENT, 4);
    return new Tensor(gpu, gpu.pool.acquire(bytes, label), [...shape], dtype);
  }

  /** A tensor filled with zeros (cleared in the current command encoder). */
  static zeros(gpu: Gpu, shape: readonly number[], dtype: DType = "f32", label = "zeros"): Tensor {
    const t = Tensor.empty(gpu, shape, dtype, label);
    gpu.recorder.clear(t.buffer, 0, t.buffer.size);
    return t;
  }

  /**
   * A tensor holding a copy of `data`. The upload is recorded in the current command encoder, so
   * it is ordered after every dispatch recorded before it (a buffer reused from the pool is not
   * overwritten while an earlier kernel still reads it).
   */
  static from(gpu: Gpu, data: TensorData, shape?: readonly number[], label = "upload"): Tensor {
    const s = shape ?? [data.length];
    if (shapeSize(s) !== data.length) {
      throw new RangeError(`Tensor.from: ${data.length} values do not fill shape [${s}]`);
    }
    const t = Tensor.empty(gpu, s, dtypeOf(data), label);
    gpu.recorder.upload(t.buffer, 0, data);
    return t;
  }

  /** A view with another shape of the same size, sharing the buffer (release the original). */
  reshape(shape: readonly number[]): Tensor {
    if (shapeSize(shape) !== this.size) {
      throw new RangeError(`reshape: [${this.shape}] has ${this.size} elements, not [${shape}]`);
    }
    return new Tensor(this.gpu, this.buffer, [...shape], this.dtype, false);
  }

  /** Returns the buffer to the pool. Safe to call once; views ignore it. */
  release(): void {
    if (!this.ownsBuffer || this.#released) return;
    this.#released = true;
    this.gpu.pool.release(this.buffer);
  }

  /** Copies the tensor to the CPU (one GPU sync). Prefer batching with `gpu.recorder.read`. */
  async read(): Promise<TypedArrayFor<DType>> {
    const [out] = await this.gpu.recorder.read([this]);
    return out;
  }
}
