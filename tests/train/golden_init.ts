/**
 * The deterministic initial values of tests/fixtures/make_moco_step_fixtures.py, computed
 * bit-identically in TypeScript: numpy's legacy MT19937 seeded per tensor by FNV-1a of its name,
 * `random_sample`, float64 arithmetic, then rounding to float32.
 *
 * @module
 */
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { NumpyLegacyRandom } from "../../src/util/mt19937.ts";

/** FNV-1a (32-bit) of the UTF-8 bytes of `text`. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** `np.random.RandomState(seed).random_sample(n)`. */
export function uniform(seed: number, n: number): Float64Array {
  const rs = new NumpyLegacyRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rs.randomSample();
  return out;
}

/** The fixture's `init_value(name, shape)` (name relative to an encoder). */
export function initValue(name: string, shape: readonly number[]): TorchTensor {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (name.endsWith("num_batches_tracked")) {
    return new TorchTensor("int64", shape, new BigInt64Array(numel));
  }
  const u = uniform(fnv1a(name), numel);
  const out = new Float32Array(numel);
  let f: (u: number) => number;
  if (shape.length === 4) {
    const bound = Math.sqrt(3.0) * Math.sqrt(2.0 / (shape[0] * shape[2] * shape[3]));
    f = (x) => (2 * x - 1) * bound;
  } else if (shape.length === 2) {
    const bound = 1.0 / Math.sqrt(shape[1]);
    f = (x) => (2 * x - 1) * bound;
  } else if (name.startsWith("fc") && name.endsWith("bias")) f = (x) => 0.05 * (2 * x - 1);
  else if (name.endsWith("running_mean")) f = (x) => 0.1 * (2 * x - 1);
  else if (name.endsWith("running_var")) f = (x) => 1 + 0.5 * x;
  else if (name.endsWith("weight")) f = (x) => 1 + 0.2 * (2 * x - 1);
  else f = (x) => 0.1 * (2 * x - 1);
  for (let i = 0; i < numel; i++) out[i] = f(u[i]);
  return new TorchTensor("float32", shape, out);
}

/** The fixture's input batch `inputs(seed)`, NCHW [n, 3, size, size] → NHWC. */
export function inputsNhwc(seed: number, n: number, size: number): Float32Array {
  const u = uniform(seed, n * 3 * size * size);
  const out = new Float32Array(u.length);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const src = ((b * 3 + c) * size + y) * size + x;
          out[((b * size + y) * size + x) * 3 + c] = (2 * u[src] - 1) * 1.5;
        }
      }
    }
  }
  return out;
}
