/**
 * Feature statistics for whitening (docs/synthetic.md#statistics): the mean and the unbiased covariance of a model's
 * features over a dataset (ImageNet val in the paper), equal to numpy's `X.mean(0)` and
 * `np.cov(X, rowvar=False)` on the float32 features.
 *
 * Two engines compute the covariance from the [n, D] float32 features:
 * - `"f64"` (default): centre with the float64 mean and accumulate (X − μ)ᵀ(X − μ) in float64 on
 *   the CPU, in row blocks through SYRK (lower triangle only) on the engine of
 *   `src/linalg/blas.ts` (OpenBLAS, else the JavaScript kernels). This matches numpy to ~1e-13
 *   relative; it costs n·D² flops (50 000 × 2048: seconds on OpenBLAS, ≈ 40 s in JavaScript).
 * - `"gpu"`: `src/ops/covariance.ts` (f32 cross-products over segments of ≤ 256 rows, float64
 *   sums across segments). Measured on 50 000 × 2048 rectified features: max |error| / √(Σᵢᵢ·Σⱼⱼ)
 *   = 9e-8 (the f64 engine: 2e-15 against numpy). Fine for Σ itself, but Σ⁻¹ amplifies it by
 *   cond(Σ), which for ResNet features is large; use it when D·n makes
 *   the CPU pass the bottleneck on a real GPU.
 *
 * Caching. The statistics are written to `--results-dir` under the original's file names
 * (`{model}_{layer}_mean_feature.pth`: float32 [D]; `{model}_{layer}_feature_cov_matrix.pth`:
 * float64 [D, D], as torch tensors) plus a sidecar `{model}_{layer}_feature_stats.json` holding the
 * content key (checkpoint sha256s, feature layer, dataset content key, preprocessing) and the
 * sha256 of both files. A cache is reused only when the key and both hashes match, so a changed
 * checkpoint, dataset or preprocessing recomputes, and a damaged file is detected. With
 * `faithful`, the original's rule applies instead (docs/synthetic.md#statistics, docs/quirks.md#q18): the "already computed?"
 * test looks at the hard-coded `results/…_feature_cov_matrix.pth`, and the files are then read
 * from the results directory whatever model made them.
 *
 * @module
 */
import { join } from "node:path";
import { pathExists } from "../data/files.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { CovarianceAccumulator } from "../ops/covariance.ts";
import { mirrorLower } from "../linalg/dense.ts";
import { syrk, syrkAsync } from "../linalg/blas.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { loadTorchCheckpoint } from "../io/torch/read.ts";
import { TorchTensor } from "../io/torch/tensor.ts";
import { encodeTorchCheckpoint } from "../io/torch/write.ts";
import { DataError } from "../util/errors.ts";
import { sha256File, stableKey } from "../util/hash.ts";

/** Mean and covariance of features. */
export interface FeatureStatistics {
  /** [D] float64 mean (the original stores it as float32; see {@link meanAsStored}). */
  mean: Float64Array;
  /** [D, D] row-major, unbiased (÷ (n − 1)), float64. */
  cov: Float64Array;
  /** Number of feature rows. */
  n: number;
  /** D. */
  dim: number;
}

/** Which covariance engine to use (see the module notes). */
export type CovarianceEngine = "f64" | "gpu";

/** Rows per CPU block: rows·D·8 bytes of centred panel (64 MiB at D = 2048). */
const BLOCK_ROWS = 4096;

/** One block of centred rows and the covariance sum it is to be added to. */
interface CovarianceBlock {
  /** x[r0 + r, j] − μ_j, row-major [rows, D]. */
  panel: Float64Array;
  rows: number;
  /** The running Σ (x − μ)ᵀ(x − μ), lower triangle. */
  sum: Float64Array;
}

/** Centres the rows block by block; the caller adds each panelᵀ·panel to `sum` (SYRK). */
function* covarianceBlocks(
  x: Float32Array | Float64Array,
  n: number,
  d: number,
  what: string,
): Generator<CovarianceBlock, FeatureStatistics, void> {
  if (x.length !== n * d) throw new RangeError(`${what}: ${x.length} values are not [${n}, ${d}]`);
  if (n < 2) throw new RangeError(`${what}: needs at least 2 rows, got ${n}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) mean[j] += x[off + j];
  }
  for (let j = 0; j < d; j++) mean[j] /= n;
  const sum = new Float64Array(d * d);
  const rows = Math.min(BLOCK_ROWS, n);
  const panel = new Float64Array(rows * d);
  for (let r0 = 0; r0 < n; r0 += rows) {
    const b = Math.min(rows, n - r0);
    for (let r = 0; r < b; r++) {
      const src = (r0 + r) * d, dst = r * d;
      for (let j = 0; j < d; j++) panel[dst + j] = x[src + j] - mean[j];
    }
    yield { panel, rows: b, sum };
  }
  mirrorLower(sum, d);
  const inv = 1 / (n - 1);
  for (let i = 0; i < sum.length; i++) sum[i] *= inv;
  return { mean, cov: sum, n, dim: d };
}

/**
 * Mean and unbiased covariance of the rows of `x` [n, d] in float64 on the CPU, numpy's two-pass
 * `np.cov(x, rowvar=False)`.
 */
export function covarianceF64(
  x: Float32Array | Float64Array,
  n: number,
  d: number,
): FeatureStatistics {
  const blocks = covarianceBlocks(x, n, d, "covarianceF64");
  for (;;) {
    const step = blocks.next();
    if (step.done) return step.value;
    const { panel, rows, sum } = step.value;
    syrk({ trans: true, n: d, k: rows, a: panel, beta: 1, c: sum });
  }
}

/** {@link covarianceF64} with nonblocking BLAS calls (the event loop keeps running). */
export async function covarianceF64Async(
  x: Float32Array | Float64Array,
  n: number,
  d: number,
): Promise<FeatureStatistics> {
  const blocks = covarianceBlocks(x, n, d, "covarianceF64");
  for (;;) {
    const step = blocks.next();
    if (step.done) return step.value;
    const { panel, rows, sum } = step.value;
    await syrkAsync({ trans: true, n: d, k: rows, a: panel, beta: 1, c: sum });
  }
}

/**
 * The same statistics through the GPU block covariance (f32 segment partials, float64 sums); the
 * features are uploaded in batches of `batchRows` for each of the two passes.
 */
export async function covarianceGpu(
  gpu: Gpu,
  x: Float32Array,
  n: number,
  d: number,
  batchRows = 4096,
): Promise<FeatureStatistics> {
  if (x.length !== n * d) {
    throw new RangeError(`covarianceGpu: ${x.length} values are not [${n}, ${d}]`);
  }
  const acc = new CovarianceAccumulator(gpu, d);
  const batch = (r0: number) => {
    const rows = Math.min(batchRows, n - r0);
    return Tensor.from(gpu, x.subarray(r0 * d, (r0 + rows) * d), [rows, d], "stats batch");
  };
  try {
    for (let r0 = 0; r0 < n; r0 += batchRows) {
      const t = batch(r0);
      await acc.addMeanBatch(t);
      t.release();
    }
    await acc.finishMean();
    for (let r0 = 0; r0 < n; r0 += batchRows) {
      const t = batch(r0);
      await acc.addCentredBatch(t);
      t.release();
    }
    const r = await acc.finish();
    return { mean: r.mean, cov: r.cov, n: r.n, dim: d };
  } finally {
    acc.release();
  }
}

/** Statistics of `x` [n, d] with the chosen engine. */
export function featureStatistics(
  x: Float32Array,
  n: number,
  d: number,
  engine: CovarianceEngine = "f64",
  gpu?: Gpu,
): Promise<FeatureStatistics> {
  if (engine === "gpu") {
    if (!gpu) throw new RangeError("featureStatistics: the gpu engine needs a Gpu");
    return covarianceGpu(gpu, x, n, d);
  }
  return covarianceF64Async(x, n, d);
}

/** The mean as the original stores and uses it: computed in float32 (values rounded to f32). */
export function meanAsStored(mean: Float64Array): Float32Array {
  return Float32Array.from(mean);
}

/** Where statistics of (model, layer) live in a results directory (the original's names). */
export interface StatisticsPaths {
  /** `<model>_<layer>_mean_feature.pth`: the feature mean [D], float32. */
  mean: string;
  /** `<model>_<layer>_feature_cov_matrix.pth`: the feature covariance [D, D]. */
  cov: string;
  /** Our sidecar with the content key and the files' hashes. */
  key: string;
}

/** The original's file names for model `model` and layer `layer` under `dir`. */
export function statisticsPaths(dir: string, model: string, layer: string): StatisticsPaths {
  return {
    mean: join(dir, `${model}_${layer}_mean_feature.pth`),
    cov: join(dir, `${model}_${layer}_feature_cov_matrix.pth`),
    key: join(dir, `${model}_${layer}_feature_stats.json`),
  };
}

/** What the statistics depend on. */
export interface StatisticsKeyParts {
  /** The model's content key (checkpoint sha256s, seed of `random`). */
  model: string;
  /** The layer the features come from (`backbone`, `layer1` … `layer4`). */
  featureLayer: string;
  /** The dataset's content key. */
  dataset: string;
  /** Short-side resize and centre-crop size, pixels (224 → 224 in the original). */
  preprocessing: { resize: number; cropSize: number };
}

/** The content key of {@link StatisticsKeyParts}. */
export function statisticsKey(parts: StatisticsKeyParts): string {
  return stableKey({ kind: "statistics/v1", ...parts }, 32);
}

interface Sidecar {
  key: string;
  meanSha256: string;
  covSha256: string;
  n: number;
  dim: number;
  engine: CovarianceEngine;
  parts: StatisticsKeyParts;
}

/** Outcome of a cache lookup, with the reason for a miss (for the log). */
export type StatisticsLookup =
  | { status: "hit"; stats: FeatureStatistics }
  | { status: "miss"; reason: string };

async function readTensorFile(path: string, dtype: "float32" | "float64", shape: number[]) {
  const loaded = await loadTorchCheckpoint(path);
  const t = loaded.value;
  if (!(t instanceof TorchTensor)) throw new DataError(`${path} does not hold a tensor`);
  if (t.dtype !== dtype || t.shape.join() !== shape.join()) {
    throw new DataError(`${path} holds ${t.dtype} [${t.shape}], expected ${dtype} [${shape}]`);
  }
  return t.data as Float32Array | Float64Array;
}

async function readFiles(
  paths: StatisticsPaths,
  n: number,
  dim: number,
): Promise<FeatureStatistics> {
  const mean32 = await readTensorFile(paths.mean, "float32", [dim]);
  const cov = await readTensorFile(paths.cov, "float64", [dim, dim]);
  return { mean: Float64Array.from(mean32), cov: Float64Array.from(cov), n, dim };
}

/**
 * Looks up cached statistics. Intended rule: the sidecar's key must equal `key` and both files'
 * sha256 must match the sidecar. Faithful rule: the hard-coded `results/` cov file must exist
 * (relative to the working directory), then the files are read from `dir` unchecked.
 */
export async function lookupStatistics(
  paths: StatisticsPaths,
  key: string,
  options: { faithful?: boolean; model?: string; layer?: string } = {},
): Promise<StatisticsLookup> {
  if (options.faithful) {
    const probe = join("results", `${options.model}_${options.layer}_feature_cov_matrix.pth`);
    if (!(await pathExists(probe))) return { status: "miss", reason: `${probe} does not exist` };
    const mean = await loadTorchCheckpoint(paths.mean).catch((e) => {
      throw new DataError(`cannot read cached statistics ${paths.mean}: ${(e as Error).message}`);
    });
    const t = mean.value;
    if (!(t instanceof TorchTensor) || t.shape.length !== 1) {
      throw new DataError(`${paths.mean} does not hold a [D] tensor`);
    }
    const dim = t.shape[0];
    return { status: "hit", stats: await readFiles(paths, 0, dim) };
  }
  let sidecar: Sidecar;
  try {
    sidecar = JSON.parse(await Deno.readTextFile(paths.key));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { status: "miss", reason: "no cache" };
    if (error instanceof Deno.errors.IsADirectory) {
      // Recomputing could never save over it: say so now, not after the statistics pass.
      throw new DataError(`${paths.key} is a directory, not a statistics file (move it away)`);
    }
    return { status: "miss", reason: `${paths.key} is unreadable` };
  }
  if (sidecar.key !== key) {
    return {
      status: "miss",
      reason: "cached statistics belong to another checkpoint, dataset or preprocessing",
    };
  }
  try {
    const [meanHash, covHash] = await Promise.all([sha256File(paths.mean), sha256File(paths.cov)]);
    if (meanHash !== sidecar.meanSha256 || covHash !== sidecar.covSha256) {
      return { status: "miss", reason: "cached statistics files were modified or damaged" };
    }
    return { status: "hit", stats: await readFiles(paths, sidecar.n, sidecar.dim) };
  } catch (error) {
    return { status: "miss", reason: `cached statistics unreadable: ${(error as Error).message}` };
  }
}

/**
 * Writes the statistics under the original's names (mean as float32 [D], covariance as float64
 * [D, D]) and the sidecar, each atomically.
 */
export async function saveStatistics(
  paths: StatisticsPaths,
  stats: FeatureStatistics,
  parts: StatisticsKeyParts,
  engine: CovarianceEngine,
): Promise<void> {
  const d = stats.dim;
  await writeFileAtomic(
    paths.mean,
    encodeTorchCheckpoint(new TorchTensor("float32", [d], meanAsStored(stats.mean))),
  );
  await writeFileAtomic(
    paths.cov,
    encodeTorchCheckpoint(new TorchTensor("float64", [d, d], stats.cov)),
  );
  const sidecar: Sidecar = {
    key: statisticsKey(parts),
    meanSha256: await sha256File(paths.mean),
    covSha256: await sha256File(paths.cov),
    n: stats.n,
    dim: d,
    engine,
    parts,
  };
  await writeFileAtomic(paths.key, JSON.stringify(sidecar, null, 2) + "\n");
}

/** Options of {@link cachedStatistics}. */
export interface CachedStatisticsOptions {
  /** Results directory (`--results-dir`). */
  dir: string;
  /** Model name and feature layer, for the file names. */
  modelName: string;
  /** The feature layer, for the file names (`backbone`, `layer1` … `layer4`). */
  featureLayer: string;
  /** What the statistics depend on. */
  parts: StatisticsKeyParts;
  /** The original's name-only cache rule (docs/quirks.md#q18). */
  faithful?: boolean;
  /** Where the covariance is accumulated: `f64` on the CPU (default) or `gpu`. */
  engine?: CovarianceEngine;
  /** Sink for "recomputing because …" lines (default stderr). */
  log?: (line: string) => void;
}

/**
 * The cached statistics, or `compute()`'s features turned into statistics and cached. Returns
 * whether the cache was used.
 */
export async function cachedStatistics(
  options: CachedStatisticsOptions,
  compute: () => Promise<{ features: Float32Array; rows: number; dim: number }>,
  gpu?: Gpu,
): Promise<{ stats: FeatureStatistics; cached: boolean; paths: StatisticsPaths }> {
  const paths = statisticsPaths(options.dir, options.modelName, options.featureLayer);
  const log = options.log ?? ((l: string) => console.error(l));
  const key = statisticsKey(options.parts);
  const found = await lookupStatistics(paths, key, {
    faithful: options.faithful,
    model: options.modelName,
    layer: options.featureLayer,
  });
  if (found.status === "hit") {
    log(`statistics: using ${paths.cov}`);
    return { stats: found.stats, cached: true, paths };
  }
  if (found.reason !== "no cache") log(`statistics: recomputing (${found.reason})`);
  const engine = options.engine ?? "f64";
  const { features, rows, dim } = await compute();
  const stats = await featureStatistics(features, rows, dim, engine, gpu);
  // Use the mean as stored (float32), so a first run and a cached run whiten identically.
  stats.mean = Float64Array.from(meanAsStored(stats.mean));
  await saveStatistics(paths, stats, options.parts, engine);
  return { stats, cached: false, paths };
}

/**
 * The statistics a previous synthetic run cached for this model (the real-world script reuses
 * them, docs/realworld.md#procedure step 3). Intended rule: the sidecar must name this model's content key and
 * layer and the files must match their hashes. Faithful rule: the files are read as they are.
 *
 * @throws DataError when they are missing, stale or damaged, saying how to make them
 */
export async function readStatisticsFor(
  paths: StatisticsPaths,
  model: { contentKey: string; featureLayer: string; name: string },
  faithful = false,
): Promise<FeatureStatistics> {
  const how = `run eval_synthetic_invariance.ts for model '${model.name}' first (it writes them)`;
  try {
    await Deno.stat(paths.cov);
  } catch {
    throw new DataError(`feature statistics ${paths.cov} not found; ${how}`);
  }
  if (faithful) {
    const mean = await readTorchCheckpointTensor(paths.mean);
    return readFiles(paths, 0, mean.shape[0]);
  }
  let sidecar: Sidecar;
  try {
    sidecar = JSON.parse(await Deno.readTextFile(paths.key));
  } catch {
    throw new DataError(
      `${paths.key} is missing or unreadable, so ${paths.cov} cannot be checked against the ` +
        `model; ${how} (or pass faithful = true to use the files unchecked)`,
    );
  }
  if (
    sidecar.parts?.model !== model.contentKey || sidecar.parts?.featureLayer !== model.featureLayer
  ) {
    throw new DataError(
      `${paths.cov} was computed for other weights than the current ${model.name} checkpoint; ${how}`,
    );
  }
  const [meanHash, covHash] = await Promise.all([sha256File(paths.mean), sha256File(paths.cov)]);
  if (meanHash !== sidecar.meanSha256 || covHash !== sidecar.covSha256) {
    throw new DataError(`${paths.mean} or ${paths.cov} was modified or damaged; ${how}`);
  }
  return readFiles(paths, sidecar.n, sidecar.dim);
}

async function readTorchCheckpointTensor(path: string): Promise<TorchTensor> {
  const t = (await loadTorchCheckpoint(path)).value;
  if (!(t instanceof TorchTensor) || t.shape.length !== 1) {
    throw new DataError(`${path} does not hold a [D] tensor`);
  }
  return t;
}
