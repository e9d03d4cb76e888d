import { join } from "node:path";
import {
  cachedStatistics,
  covarianceF64,
  covarianceGpu,
  type StatisticsKeyParts,
  statisticsPaths,
} from "../../src/eval/statistics.ts";
import { readTorchCheckpoint } from "../../src/io/torch/read.ts";
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";

interface Golden {
  n: number;
  d: number;
  features: number[];
  mean64: number[];
  mean32: number[];
  cov: number[];
}
const golden: Golden = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/eval/statistics.json", import.meta.url)),
);

/** max |a − b| / √(b_ii·b_jj): the error of each entry relative to its scale. */
function covError(a: ArrayLike<number>, b: ArrayLike<number>, d: number): number {
  let worst = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const scale = Math.sqrt(b[i * d + i] * b[j * d + j]);
      worst = Math.max(worst, Math.abs(a[i * d + j] - b[i * d + j]) / scale);
    }
  }
  return worst;
}

/** The golden features with their rows in a fresh random order (the statistics do not change). */
function shuffledGolden(name: string): Float32Array {
  const { n, d } = golden;
  const order = testRng(name).shuffle(Array.from({ length: n }, (_, i) => i));
  const x = new Float32Array(n * d);
  order.forEach((src, r) => x.set(golden.features.slice(src * d, (src + 1) * d), r * d));
  return x;
}

Deno.test("covarianceF64() matches np.cov(rowvar=False) and the mean within 1e-9", () => {
  const { n, d } = golden;
  const s = covarianceF64(shuffledGolden("cov f64"), n, d);
  const err = covError(s.cov, golden.cov, d);
  assert(err <= 1e-9, `covariance error ${err}`);
  for (let j = 0; j < d; j++) {
    assert(
      Math.abs(s.mean[j] - golden.mean64[j]) <= 1e-9 * Math.abs(golden.mean64[j]) + 1e-12,
      "mean",
    );
  }
});

Deno.test("covarianceF64() agrees with a direct two-pass sum across row blocks", () => {
  const rng = testRng("cov blocks");
  const n = 4099, d = 5; // more rows than one CPU block
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() * (1 + (i % d)) + 100;
  const s = covarianceF64(x, n, d);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  const ref = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) {
        ref[a * d + b] += (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b]) / (n - 1);
      }
    }
  }
  assert(covError(s.cov, ref, d) <= 1e-11, `error ${covError(s.cov, ref, d)}`);
});

Deno.test({
  name: "covarianceGpu() matches np.cov within the f32-partial bound (1e-5 of each entry's scale)",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const { n, d } = golden;
    const s = await covarianceGpu(gpu, shuffledGolden("cov gpu"), n, d, 97);
    const err = covError(s.cov, golden.cov, d);
    assert(err <= 1e-5, `gpu covariance error ${err}`);
  },
});

function parts(model: string): StatisticsKeyParts {
  return {
    model,
    featureLayer: "backbone",
    dataset: "ds1",
    preprocessing: { resize: 8, cropSize: 8 },
  };
}

Deno.test("cachedStatistics() reuses a matching cache, recomputes for another checkpoint or a damaged file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "stats-" });
  const rng = testRng("stats cache");
  const n = 40, d = 6;
  const x = Float32Array.from({ length: n * d }, () => rng.normal());
  const count: { n: number } = { n: 0 };
  const compute = () => {
    count.n++;
    return Promise.resolve({ features: x, rows: n, dim: d });
  };
  const log: string[] = [];
  const opts = (model: string) => ({
    dir,
    modelName: "m",
    featureLayer: "backbone",
    parts: parts(model),
    log: (l: string) => log.push(l),
  });
  try {
    const first = await cachedStatistics(opts("sha-a"), compute);
    assert(!first.cached && calls(count) === 1, "first run computes");
    const paths = statisticsPaths(dir, "m", "backbone");
    const mean = await readTorchCheckpoint(paths.mean);
    const cov = await readTorchCheckpoint(paths.cov);
    assert(
      mean instanceof TorchTensor && mean.dtype === "float32" && mean.shape.join() === `${d}`,
      "mean file",
    );
    assert(
      cov instanceof TorchTensor && cov.dtype === "float64" && cov.shape.join() === `${d},${d}`,
      "cov file",
    );
    assertArrayEqual(cov.data as Float64Array, first.stats.cov, "cov file content");

    const second = await cachedStatistics(opts("sha-a"), compute);
    assert(second.cached && calls(count) === 1, "second run reuses the cache");
    assertArrayEqual(second.stats.cov, first.stats.cov, "cached cov");

    const other = await cachedStatistics(opts("sha-b"), compute);
    assert(!other.cached && calls(count) === 2, "another checkpoint recomputes");
    assert(log.some((l) => /another checkpoint/.test(l)), `log says why: ${log}`);

    const bytes = await Deno.readFile(paths.cov);
    bytes[bytes.length - 40] ^= 0xff;
    await Deno.writeFile(paths.cov, bytes);
    const damaged = await cachedStatistics(opts("sha-b"), compute);
    assert(!damaged.cached && calls(count) === 3, "a damaged file recomputes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cachedStatistics() --faithful checks the hard-coded results/ path, then reads --results-dir", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "stats-faithful-" });
  const old = Deno.cwd();
  Deno.chdir(cwd);
  try {
    const n = 10, d = 3;
    const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7));
    const count: { n: number } = { n: 0 };
    const compute = () => {
      count.n++;
      return Promise.resolve({ features: x, rows: n, dim: d });
    };
    const opts = {
      dir: join(cwd, "elsewhere"),
      modelName: "m",
      featureLayer: "backbone",
      parts: parts("a"),
      faithful: true,
      log: () => {},
    };
    await cachedStatistics(opts, compute);
    await cachedStatistics(opts, compute);
    assert(calls(count) === 2, "a non-default results dir always recomputes (docs/quirks.md#q18)");
    const opts2 = { ...opts, dir: join(cwd, "results") };
    await cachedStatistics(opts2, compute);
    const again = await cachedStatistics({ ...opts2, parts: parts("changed") }, compute);
    assert(again.cached && calls(count) === 3, "the name-only rule reuses stale statistics");
  } finally {
    Deno.chdir(old);
    await Deno.remove(cwd, { recursive: true });
  }
});

function calls(count: { n: number }): number {
  return count.n;
}
