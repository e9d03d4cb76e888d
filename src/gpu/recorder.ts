/**
 * Records many dispatches, copies and uploads into one command encoder, submits them together,
 * and reads results back with a single GPU→CPU sync. In Deno 2.9 every sync (`mapAsync`,
 * `onSubmittedWorkDone`) costs at least ~11 ms, so a training or evaluation step records
 * everything first and syncs once at the end.
 *
 * @module
 */
import { GpuError } from "../util/errors.ts";
import type { Kernel } from "./kernel.ts";
import {
  allocTyped,
  type DType,
  type Tensor,
  type TensorData,
  type TypedArrayFor,
} from "./tensor.ts";

/** Something a kernel binding can point at. */
export type Binding = Tensor | GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Workgroup counts: a 1-D total (split into 2-D when needed) or an explicit 3-D grid. */
export type Workgroups = number | readonly [number, number?, number?];

/** Bytes per parameter arena; many small uniform blocks share one buffer per arena. */
const ARENA_BYTES = 1 << 16;
/** Uniform offsets must be multiples of this on every WebGPU implementation. */
const UNIFORM_ALIGN = 256;

/**
 * Splits a 1-D count of workgroups into an (x, y) grid with x ≤ `maxPerDim`. Kernels dispatched
 * this way compute their linear workgroup index as `wid.x + wid.y * num_workgroups.x` and must
 * ignore indices at or past the real count (the grid can overshoot by less than one row).
 */
export function splitWorkgroups(count: number, maxPerDim = 65535): [number, number, number] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`bad workgroup count ${count}`);
  if (count <= maxPerDim) return [count, 1, 1];
  const rows = Math.ceil(count / maxPerDim);
  if (rows > maxPerDim) throw new RangeError(`${count} workgroups exceed a 2-D grid`);
  return [Math.ceil(count / rows), rows, 1];
}

interface Arena {
  buffer: GPUBuffer;
  shadow: Uint8Array<ArrayBuffer>;
  used: number;
}

/**
 * What a recorder needs from its device: the `GPUDevice` and the sticky failure state it
 * raises from (`throwIfFailed`) and feeds (`fail`). A `Gpu` is one; the recorder does not
 * import it.
 */
export interface RecorderHost {
  /** The device commands are recorded for and submitted to. */
  readonly device: GPUDevice;
  /** Throws the first asynchronous GPU error seen, if any. */
  throwIfFailed(): void;
  /** Remembers an asynchronous GPU error for the next `throwIfFailed`. */
  fail(error: Error): void;
}

/** The command recorder of one `Gpu`. Ops call {@link dispatch}; readers call {@link read}. */
export class CommandRecorder {
  #encoder: GPUCommandEncoder | undefined;
  #pass: GPUComputePassEncoder | undefined;
  #arenas: Arena[] = [];
  #arenaIndex = 0;
  #pending: Promise<void>[] = [];
  #recentKernels: string[] = [];
  #staging: GPUBuffer[] = [];
  /** Dispatches recorded since the recorder was created. */
  dispatchCount = 0;
  /** Submits made since the recorder was created. */
  submitCount = 0;

  /** A recorder with nothing recorded, submitting to `gpu`'s queue. */
  constructor(readonly gpu: RecorderHost) {}

  /**
   * Records one dispatch of `kernel`. `bindings[i]` goes to `@binding(i)` of group 0; when
   * `params` is given it is uploaded as a uniform block and bound at `@binding(0)`, shifting the
   * others by one. Validation errors (a wrong or missing binding) are raised, naming the kernel,
   * by the next sync or readback.
   */
  dispatch(
    kernel: Kernel,
    bindings: readonly Binding[],
    workgroups: Workgroups,
    params?: ArrayBufferView,
  ): void {
    this.gpu.throwIfFailed();
    const device = this.gpu.device;
    const entries: GPUBindGroupEntry[] = [];
    if (params) entries.push({ binding: 0, resource: this.#param(params) });
    for (const b of bindings) entries.push({ binding: entries.length, resource: resourceOf(b) });
    const max = device.limits.maxComputeWorkgroupsPerDimension;
    const grid = typeof workgroups === "number"
      ? splitWorkgroups(workgroups, max)
      : [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    if (grid.some((g) => g > max)) {
      throw new RangeError(`${kernel.label}: grid [${grid}] exceeds ${max} workgroups per dim`);
    }
    device.pushErrorScope("validation");
    const group = device.createBindGroup({ label: kernel.label, layout: kernel.layout, entries });
    const pass = this.#computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, group);
    if (grid[0] > 0 && grid[1] > 0 && grid[2] > 0) {
      pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    }
    this.watch(device.popErrorScope(), `dispatching kernels/${kernel.label}`);
    this.dispatchCount++;
    this.#recentKernels.push(kernel.label);
    if (this.#recentKernels.length > 8) this.#recentKernels.shift();
  }

  /** Records a buffer-to-buffer copy (byte counts must be multiples of 4). */
  copy(src: Binding, dst: Binding, byteSize: number, srcOffset = 0, dstOffset = 0): void {
    const s = resourceOf(src);
    const d = resourceOf(dst);
    this.#commandEncoder().copyBufferToBuffer(
      s.buffer,
      (s.offset ?? 0) + srcOffset,
      d.buffer,
      (d.offset ?? 0) + dstOffset,
      byteSize,
    );
  }

  /** Records zero-filling `size` bytes of `buffer` from `offset`. */
  clear(buffer: GPUBuffer, offset = 0, size = buffer.size - offset): void {
    this.#commandEncoder().clearBuffer(buffer, offset, size);
  }

  /** Records an upload of `data` into `buffer` at `offset`, ordered with the other commands. */
  upload(buffer: GPUBuffer, offset: number, data: TensorData): void {
    const bytes = data.byteLength;
    if (bytes === 0) return;
    const staging = this.gpu.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
      label: "upload staging",
    });
    new Uint8Array(staging.getMappedRange()).set(
      new Uint8Array(data.buffer, data.byteOffset, bytes),
    );
    staging.unmap();
    this.#commandEncoder().copyBufferToBuffer(staging, 0, buffer, offset, bytes);
    this.#staging.push(staging);
  }

  /** Submits everything recorded so far (no sync). */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    const device = this.gpu.device;
    for (let i = 0; i <= this.#arenaIndex && i < this.#arenas.length; i++) {
      const arena = this.#arenas[i];
      if (arena.used > 0) device.queue.writeBuffer(arena.buffer, 0, arena.shadow, 0, arena.used);
      arena.used = 0;
    }
    this.#arenaIndex = 0;
    device.pushErrorScope("validation");
    const commands = this.#encoder.finish();
    device.queue.submit([commands]);
    this.watch(
      device.popErrorScope(),
      `submitting commands (last kernels: ${this.#recentKernels.join(", ") || "none"})`,
    );
    this.#encoder = undefined;
    this.submitCount++;
    for (const s of this.#staging) s.destroy();
    this.#staging = [];
  }

  /**
   * Copies `tensors` to the CPU with one submit and one sync, then raises any error a recorded
   * command produced. The values are copied out of the mapped range before `unmap()`.
   */
  async read<T extends Tensor>(tensors: readonly T[]): Promise<TypedArrayFor<DType>[]> {
    const device = this.gpu.device;
    const stagings = tensors.map((t) => {
      const staging = device.createBuffer({
        size: Math.max(4, t.byteSize),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: "readback staging",
      });
      if (t.byteSize > 0) {
        this.#commandEncoder().copyBufferToBuffer(t.buffer, 0, staging, 0, t.byteSize);
      }
      return staging;
    });
    this.flush();
    try {
      await Promise.all(stagings.map((s) => s.mapAsync(GPUMapMode.READ)));
    } catch (error) {
      await this.settleErrors();
      this.gpu.throwIfFailed();
      throw new GpuError(`readback failed: ${(error as Error).message}`);
    }
    const out = tensors.map((t, i) => {
      const copy = allocTyped(t.dtype, t.size);
      if (t.byteSize > 0) {
        new Uint8Array(copy.buffer).set(new Uint8Array(stagings[i].getMappedRange(0, t.byteSize)));
      }
      stagings[i].unmap();
      stagings[i].destroy();
      return copy;
    });
    await this.settleErrors();
    this.gpu.throwIfFailed();
    return out;
  }

  /** Tracks an error-scope result; a reported error fails the GPU with `what` in the message. */
  watch(scope: Promise<GPUError | null>, what: string): void {
    this.#pending.push(scope.then((error) => {
      if (error) this.gpu.fail(new GpuError(`${what}: ${error.message.trim()}`));
    }, (error) => this.gpu.fail(new GpuError(`${what}: ${String(error)}`))));
    if (this.#pending.length > 4096) this.#pending = [Promise.all(this.#pending).then(() => {})];
  }

  /** Waits for every tracked error scope to report (no GPU round trip). */
  async settleErrors(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    await Promise.all(pending);
  }

  /** Frees the parameter arenas. */
  destroy(): void {
    for (const a of this.#arenas) a.buffer.destroy();
    this.#arenas = [];
  }

  #param(params: ArrayBufferView): GPUBufferBinding {
    const size = Math.ceil(params.byteLength / 16) * 16;
    if (size > ARENA_BYTES) throw new RangeError(`uniform block of ${size} bytes is too large`);
    let arena = this.#arenas[this.#arenaIndex];
    if (arena && arena.used + size > ARENA_BYTES) arena = this.#arenas[++this.#arenaIndex];
    if (!arena) {
      arena = {
        buffer: this.gpu.device.createBuffer({
          size: ARENA_BYTES,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
          label: "params arena",
        }),
        shadow: new Uint8Array(ARENA_BYTES),
        used: 0,
      };
      this.#arenas[this.#arenaIndex] = arena;
    }
    const offset = arena.used;
    arena.shadow.fill(0, offset, offset + size);
    arena.shadow.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), offset);
    arena.used = Math.ceil((offset + size) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    return { buffer: arena.buffer, offset, size };
  }

  #commandEncoder(): GPUCommandEncoder {
    this.#endPass();
    return this.#encoder ??= this.gpu.device.createCommandEncoder();
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) {
      this.#encoder ??= this.gpu.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    return this.#pass;
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = undefined;
  }
}

function resourceOf(b: Binding): GPUBufferBinding {
  if (b instanceof GPUBuffer) return { buffer: b };
  if ("gpu" in b) {
    const t = b as Tensor;
    if (t.released) throw new Error("a released tensor was bound to a kernel");
    const size = Math.min(t.buffer.size, Math.max(16, Math.ceil(t.byteSize / 16) * 16));
    return { buffer: t.buffer, offset: 0, size };
  }
  return b;
}
