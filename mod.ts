/**
 * ssl-invariances for Deno + WebGPU: the public API.
 *
 * @example
 * ```ts
 * import { openGpu, Tensor } from "./mod.ts";
 * const gpu = await openGpu();
 * const t = Tensor.from(gpu, new Float32Array([1, 2, 3]));
 * console.log(await t.read());
 * gpu.destroy();
 * ```
 *
 * @module
 */
export { type AdapterSummary, Gpu, openGpu, type OpenGpuOptions } from "./src/gpu/device.ts";
export { type DType, Tensor } from "./src/gpu/tensor.ts";
export { bucketSize, BufferPool } from "./src/gpu/buffer_pool.ts";
export { type Kernel, KernelCache, type KernelSpec } from "./src/gpu/kernel.ts";
export { CommandRecorder, splitWorkgroups } from "./src/gpu/recorder.ts";
export { axpby, fill, poison } from "./src/ops/elementwise.ts";
export { DataError, GpuError, GpuUnavailableError, UsageError } from "./src/util/errors.ts";
export { parseCli } from "./src/util/cli.ts";
export { Rng } from "./src/util/rng.ts";
export { writeFileAtomic, writeJsonAtomic } from "./src/io/atomic.ts";
