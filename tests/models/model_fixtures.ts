/**
 * Readers for the model golden fixtures written by `tests/fixtures/make_model_fixtures.py`:
 * `<case>.json` (array offsets and shapes, metadata) beside `<case>.bin` (little-endian f32).
 *
 * @module
 */
import type { Gpu } from "../../src/gpu/device.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";

/** The fixture folder. */
export const MODEL_FIXTURES: string = new URL("../fixtures/models/", import.meta.url).pathname;

/** One fixture case: named float32 arrays and metadata. */
export interface ModelCase {
  arrays: Map<string, { data: Float32Array; shape: number[] }>;
  meta: Record<string, unknown>;
  /** The array `name`, or an error naming the case. */
  get(name: string): Float32Array;
  shape(name: string): number[];
}

/** Loads `<name>.json` + `<name>.bin` from the fixture folder. */
export async function loadModelCase(name: string): Promise<ModelCase> {
  const index = JSON.parse(await Deno.readTextFile(`${MODEL_FIXTURES}${name}.json`)) as {
    arrays: Record<string, { offset: number; shape: number[] }>;
    meta: Record<string, unknown>;
  };
  const bytes = await Deno.readFile(`${MODEL_FIXTURES}${name}.bin`);
  const arrays = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [key, { offset, shape }] of Object.entries(index.arrays)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(bytes.buffer.slice(offset, offset + 4 * n));
    arrays.set(key, { data, shape });
  }
  const lookup = (key: string) => {
    const a = arrays.get(key);
    if (!a) throw new Error(`fixture ${name} has no array '${key}'`);
    return a;
  };
  return {
    arrays,
    meta: index.meta,
    get: (key) => lookup(key).data,
    shape: (key) => lookup(key).shape,
  };
}

/** Reads tensors back with one sync, then releases them (outputs made only to be checked). */
export async function readAndRelease(gpu: Gpu, tensors: Tensor[]): Promise<Float32Array[]> {
  const data = await gpu.recorder.read(tensors);
  for (const t of tensors) t.release();
  return data as Float32Array[];
}
