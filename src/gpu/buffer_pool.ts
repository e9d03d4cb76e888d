/**
 * A size-bucketed pool of storage buffers. Training allocates the same activation shapes every
 * step; reusing buffers avoids creating and destroying hundreds of GPU buffers per step.
 *
 * @module
 */

/** Usage of every pooled buffer: kernels read and write it, copies move data in and out. */
export const POOLED_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/**
 * The bucket a request of `byteSize` bytes falls in: the next of 2^k, 1.25·2^k, 1.5·2^k,
 * 1.75·2^k (at most 25 % waste), and never below 256 bytes so vec4 bindings always fit.
 */
export function bucketSize(byteSize: number): number {
  if (!(byteSize >= 0) || !Number.isFinite(byteSize)) {
    throw new RangeError(`bucketSize: bad size ${byteSize}`);
  }
  if (byteSize <= 256) return 256;
  const pow = 2 ** Math.floor(Math.log2(byteSize));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const candidate = pow * step;
    if (candidate >= byteSize) return candidate;
  }
  return pow * 2;
}

/** Pool of GPU storage buffers, keyed by bucket size, with live and peak byte counters. */
export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #owned = new WeakSet<GPUBuffer>();
  #liveBytes = 0;
  #peakBytes = 0;
  #freeBytes = 0;
  #created = 0;

  /** An empty pool allocating from `device`. */
  constructor(readonly device: GPUDevice) {}

  /** Bytes handed out and not yet released. */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** Highest `liveBytes` seen since creation or the last {@link resetPeak}. */
  get peakBytes(): number {
    return this.#peakBytes;
  }

  /** Bytes held in free lists, ready for reuse. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** Number of GPU buffers this pool ever created. */
  get createdCount(): number {
    return this.#created;
  }

  /** Starts a new peak measurement at the current live size. */
  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
  }

  /** A buffer of at least `byteSize` bytes (its real size is the bucket size). */
  acquire(byteSize: number, label = "pooled"): GPUBuffer {
    const size = bucketSize(byteSize);
    const maxSize = this.device.limits.maxBufferSize;
    if (size > maxSize && byteSize <= maxSize) {
      return this.#track(this.#create(Math.min(maxSize, Math.ceil(byteSize / 16) * 16), label));
    }
    if (byteSize > maxSize) {
      throw new RangeError(
        `buffer '${label}' of ${byteSize} bytes exceeds this device's maxBufferSize ${maxSize}`,
      );
    }
    const list = this.#free.get(size);
    const buffer = list?.pop();
    if (buffer) {
      this.#freeBytes -= size;
      return this.#track(buffer);
    }
    return this.#track(this.#create(size, label));
  }

  /** Returns a buffer from {@link acquire} to its free list. */
  release(buffer: GPUBuffer): void {
    if (!this.#owned.has(buffer)) throw new Error("BufferPool.release: buffer is not live here");
    this.#owned.delete(buffer);
    this.#liveBytes -= buffer.size;
    let list = this.#free.get(buffer.size);
    if (!list) this.#free.set(buffer.size, list = []);
    list.push(buffer);
    this.#freeBytes += buffer.size;
  }

  /** Destroys every free buffer (live ones stay valid). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#freeBytes = 0;
  }

  #create(size: number, label: string): GPUBuffer {
    this.#created++;
    return this.device.createBuffer({ size, usage: POOLED_USAGE, label });
  }

  #track(buffer: GPUBuffer): GPUBuffer {
    this.#owned.add(buffer);
    this.#liveBytes += buffer.size;
    if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
    return buffer;
  }
}
