/**
 * One GPU per test file, opened lazily and shared by its tests.
 *
 * @module
 */
import { type Gpu, openGpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { poison } from "../../src/ops/elementwise.ts";

let shared: Promise<Gpu> | undefined;

/**
 * The test file's shared GPU. It is destroyed when the file's module unloads, so devices do not
 * pile up until process exit (tearing down many live llvmpipe devices at exit has crashed).
 */
export function testGpu(): Promise<Gpu> {
  return shared ??= openGpu().then((gpu) => {
    globalThis.addEventListener("unload", () => gpu.destroy());
    return gpu;
  });
}

/** Options for GPU tests: the device and its pipelines live for the whole file. */
export const GPU_TEST = { sanitizeResources: false, sanitizeOps: false } as const;

/**
 * Makes the next pool allocations of these element counts NaN-filled buffers: allocates `copies`
 * tensors per size, poisons them and gives them back (the pool hands them out first), so an op
 * that allocates its own outputs is caught if it leaves an element unwritten.
 */
export function poisonPool(gpu: Gpu, sizes: readonly number[], copies = 3): void {
  const held: Tensor[] = [];
  for (const n of sizes) {
    for (let k = 0; k < copies; k++) {
      const t = Tensor.empty(gpu, [n]);
      poison(gpu, t);
      held.push(t);
    }
  }
  for (const t of held.reverse()) t.release();
}
