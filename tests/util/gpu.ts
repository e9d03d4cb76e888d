/**
 * One GPU per test file, opened lazily and shared by its tests.
 *
 * @module
 */
import { type Gpu, openGpu } from "../../src/gpu/device.ts";

let shared: Promise<Gpu> | undefined;

/** The test file's shared GPU. */
export function testGpu(): Promise<Gpu> {
  return shared ??= openGpu();
}

/** Options for GPU tests: the device and its pipelines live for the whole file. */
export const GPU_TEST = { sanitizeResources: false, sanitizeOps: false } as const;
