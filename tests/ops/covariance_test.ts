import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import {
  covariance,
  CovarianceAccumulator,
  type CovarianceOptions,
  type CovarianceResult,
  type CovarianceVariant,
} from "../../src/ops/covariance.ts";
import { poison } from "../../src/ops/elementwise.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { refCovariance } from "./covariance_reference.ts";

/** Fills the pool buckets of the given element counts with NaN-poisoned buffers. */
function poisonPool(gpu: Gpu, sizes: number[], copies: number): void {
  const held: Tensor[] = [];
  for (const size of sizes) {
    for (let r = 0; r < copies; r++) {
      const t = Tensor.empty(gpu, [size]);
      poison(gpu, t);
      held.push(t);
    }
  }
  for (const t of held) t.release();
}

/** Correlated features with a large per-column offset (so that centring matters). */
function makeBatches(rng: Rng, dim: number, sizes: number[]): Float32Array[] {
  const offset = rng.normalArray(dim, 50);
  const mix = rng.normalArray(dim, 1);
  return sizes.map((rows) => {
    const x = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      const common = rng.normal();
      for (let d = 0; d < dim; d++) {
        x[r * dim + d] = offset[d] + mix[d] * common + (0.5 + (d % 7) / 7) * rng.normal();
      }
    }
    return x;
  });
}

async function run(
  gpu: Gpu,
  data: Float32Array[],
  dim: number,
  options: CovarianceOptions,
): Promise<CovarianceResult> {
  const acc = new CovarianceAccumulator(gpu, dim, options);
  // Poison the buckets of every partial (blocks, column sums) before the kernels run.
  const side = acc.blockSize;
  const sizes = [dim, side * side];
  const last = dim - (acc.blocksPerSide - 1) * side;
  sizes.push(side * last, last * last);
  const segments = data.reduce((s, x) => s + Math.ceil(x.length / dim / 256), 0);
  poisonPool(gpu, sizes, Math.min(segments, acc.segmentsPerReadback) * acc.blocksPerSide ** 2);
  const tensors = data.map((x) => Tensor.from(gpu, x, [x.length / dim, dim]));
  for (const t of tensors) await acc.addMeanBatch(t);
  await acc.finishMean();
  for (const t of tensors) await acc.addCentredBatch(t);
  const result = await acc.finish();
  for (const t of tensors) t.release();
  return result;
}

async function checkAgainstReference(
  gpu: Gpu,
  dim: number,
  sizes: number[],
  options: CovarianceOptions,
  what: string,
): Promise<void> {
  const rng = testRng(`covariance ${what}`);
  const data = makeBatches(rng, dim, sizes);
  const ref = refCovariance(data, dim);
  const variants: CovarianceVariant[] = dim % 4 === 0 ? ["scalar", "vec4"] : ["scalar"];
  const results: CovarianceResult[] = [];
  for (const variant of variants) {
    const r = await run(gpu, data, dim, { ...options, variant });
    assert(r.n === ref.n, `${what}: n ${r.n} vs ${ref.n}`);
    // The mean comes from f32 column sums of ≤ 256 rows added in f64: f32-level error.
    assertRelClose(r.mean, ref.mean, 1e-6, `${what} ${variant}: mean`);
    assertRelClose(r.cov, ref.cov, 1e-5, `${what} ${variant}: covariance`);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < i; j++) {
        assert(r.cov[i * dim + j] === r.cov[j * dim + i], `${what}: symmetric at ${i}, ${j}`);
      }
    }
    results.push(r);
  }
  if (results.length === 2) {
    assertArrayEqual(results[1].cov, results[0].cov, `${what}: vec4 vs scalar`);
  }
}

Deno.test({
  name: "CovarianceAccumulator matches the float64 two-pass reference (D = 67, uneven batches)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    // 301 rows span two 256-row segments; a 1-row batch is its own segment.
    await checkAgainstReference(gpu, 67, [37, 301, 1, 64], {}, "D67");
    await checkAgainstReference(gpu, 5, [2, 3], {}, "D5");
    await checkAgainstReference(gpu, 132, [100, 157, 9], {}, "D132");
  },
});

Deno.test({
  name: "CovarianceAccumulator splits into blocks and reads back in groups when forced",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    // 48 × 48 blocks: D = 150 gives 4 blocks per side (48, 48, 48, 6), D = 152 likewise (…, 8).
    const small = { maxBlockBytes: 48 * 48 * 4, pendingBytes: 2 * 150 * 150 * 4 };
    const acc = new CovarianceAccumulator(gpu, 150, small);
    assert(acc.blockSize <= 48 && acc.blocksPerSide === 4, `blocks ${acc.blockSize}`);
    acc.release();
    await checkAgainstReference(gpu, 150, [70, 260, 33, 3], small, "D150 blocks");
    await checkAgainstReference(gpu, 152, [70, 200, 33], small, "D152 blocks");
    // One segment per readback.
    await checkAgainstReference(
      gpu,
      77,
      [40, 41],
      { maxBlockBytes: 20 * 20 * 4, pendingBytes: 1 },
      "D77 tiny blocks",
    );
  },
});

Deno.test({
  name: "CovarianceAccumulator is bit-identical on two runs",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("covariance determinism");
    const dim = 96;
    const data = makeBatches(rng, dim, [120, 256, 77]);
    const options = { maxBlockBytes: 40 * 40 * 4 };
    const a = await run(gpu, data, dim, options);
    const b = await run(gpu, data, dim, options);
    assertArrayEqual(a.mean, b.mean, "mean");
    assertArrayEqual(a.cov, b.cov, "covariance");
  },
});

Deno.test({
  name: "covariance() runs both passes; misuse of the accumulator is reported",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("covariance misuse");
    const dim = 12;
    const data = makeBatches(rng, dim, [10, 20]);
    const tensors = data.map((x) => Tensor.from(gpu, x, [x.length / dim, dim]));
    const r = await covariance(gpu, tensors);
    const ref = refCovariance(data, dim);
    assertRelClose(r.cov, ref.cov, 1e-5, "covariance()");
    const acc = new CovarianceAccumulator(gpu, dim);
    await assertRejects(() => acc.addCentredBatch(tensors[0]), /finishMean/, "centred first");
    await acc.addMeanBatch(tensors[0]);
    await acc.addMeanBatch(tensors[1]);
    await acc.finishMean();
    await acc.addCentredBatch(tensors[0]);
    await assertRejects(() => acc.finish(), /centred pass saw 10 rows, the mean pass 30/, "rows");
    const wrong = Tensor.from(gpu, new Float32Array(3 * 5), [3, 5]);
    await assertRejects(
      () => new CovarianceAccumulator(gpu, dim).addMeanBatch(wrong),
      /\[n, 12\]/,
      "shape",
    );
    for (const t of [...tensors, wrong]) t.release();
    acc.release();
  },
});
