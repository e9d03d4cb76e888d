/**
 * Mean and unbiased covariance of features streamed in batches, as numpy's
 * `np.cov(X, rowvar=False)` computes them (docs/synthetic.md#statistics, docs/common.md#numerics): two passes, mean first, then the
 * centred cross-products (X − μ)ᵀ(X − μ) / (n − 1), in float64.
 *
 * Precision plan. The GPU reduces only short sums in f32: each batch is cut into segments of at
 * most 256 rows, and every segment gets its own partial sums (a [D] column sum in the mean pass;
 * the upper-triangle blocks of its [D, D] centred cross-product in the second pass), each a
 * fixed-order sum of ≤ 256 terms (relative error ~1e-6 at worst, usually far less). All partials
 * are added across segments in float64 on the CPU, in segment order, so the result is
 * deterministic (bit-identical run to run) and its error does not grow with n. The centring uses
 * μ rounded to f32; since Σ(x − μ) = 0, centring by μ₃₂ = μ − δ adds exactly n·δδᵀ to the
 * cross-products, which {@link CovarianceAccumulator.finish} subtracts in float64.
 *
 * Readback plan. Every readback costs one GPU sync (≥ 11 ms here) and every segment's partial
 * matrix is large (D = 6144: 151 MB for the full f32 matrix, ~113 MB for the upper triangle of
 * blocks), so partials of several segments stay on the GPU and are read together, up to a budget
 * (`pendingBytes`, default 256 MiB: 2 segments at D = 6144, 16 at D = 2048, at most 32). Reading one
 * segment at a time costs a sync per batch; summing segments on the GPU in f32 would lose the
 * f64 accumulation; this keeps both the precision and few syncs. The covariance is split into
 * B × B blocks (only bi ≤ bj computed; tiles below the diagonal of diagonal blocks skipped) so
 * that no binding exceeds the device's `maxStorageBufferBindingSize` (134 217 728 bytes on the
 * software adapter).
 *
 * @module
 */
import source from "../../kernels/covariance.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "covariance.wgsl";

/** `struct SumParams` of `kernels/covariance.wgsl` (column sums of a row segment). */
const SUM = paramStruct(FILE, source, "SumParams", { rows: "u32", d: "u32", row0: "u32" });

/** `struct BlockParams` of `kernels/covariance.wgsl` (one block of Xᵀ(X − μ)). */
const BLOCK = paramStruct(FILE, source, "BlockParams", {
  rows: "u32",
  d: "u32",
  row0: "u32",
  diagonal: "u32",
  a0: "u32",
  b0: "u32",
  rows_a: "u32",
  cols_b: "u32",
});
const WG = 64;
/** Output tile of one workgroup of the block kernel (`64 × 64` in the WGSL). */
const TILE = 64;
/** Rows per f32 partial sum. */
export const COVARIANCE_SEGMENT_ROWS = 256;
const MiB = 1 << 20;

/** Load paths of the cross-product kernel. */
export type CovarianceVariant = "scalar" | "vec4";

/** Options of {@link CovarianceAccumulator}. */
export interface CovarianceOptions {
  /**
   * Largest byte size of one f32 [B, B] covariance block. Default: the device's
   * `maxStorageBufferBindingSize`. Lower it to force block splitting (tests).
   */
  maxBlockBytes?: number;
  /**
   * GPU bytes of segment partials kept before one readback (default 256 MiB; at least 1 and at
   * most 32 segments).
   */
  pendingBytes?: number;
  /**
   * `"vec4"` needs D divisible by 4 (every ResNet width); `"scalar"` works for any D. Default:
   * vec4 when D allows it. Both give bit-identical results.
   */
  variant?: CovarianceVariant;
}

/** Result of {@link CovarianceAccumulator.finish}. */
export interface CovarianceResult {
  /** [D] mean of the rows, float64. */
  mean: Float64Array;
  /** [D, D] row-major, symmetric, unbiased (divided by n − 1), float64. */
  cov: Float64Array;
  /** Number of rows. */
  n: number;
}

interface Block {
  bi: number;
  bj: number;
  a0: number;
  b0: number;
  rows: number;
  cols: number;
}

/**
 * Accumulates the mean and covariance of an [n, D] feature matrix fed as batches of rows, in two
 * passes over the same batches: {@link addMeanBatch} for each batch, {@link finishMean}, then
 * {@link addCentredBatch} for each batch again, then {@link finish}.
 *
 * The add methods record kernels and return at once, except when the pending partials reach the
 * budget: then they read them back (one sync) and add them in float64. A batch may be released
 * by the caller as soon as the call returns (later pool reuse is ordered after the kernels).
 *
 * @example
 * ```ts
 * const acc = new CovarianceAccumulator(gpu, 2048);
 * for (const x of batches) await acc.addMeanBatch(x);
 * await acc.finishMean();
 * for (const x of batches) await acc.addCentredBatch(x);
 * const { mean, cov, n } = await acc.finish();
 * ```
 */
export class CovarianceAccumulator {
  /** Side of the square blocks the matrix is split into. */
  readonly blockSize: number;
  /** Blocks per side. */
  readonly blocksPerSide: number;
  /** Segments whose partial matrices stay on the GPU before one readback. */
  readonly segmentsPerReadback: number;
  /** Load path used by the cross-product kernel. */
  readonly variant: CovarianceVariant;
  readonly #blocks: Block[] = [];
  #phase: "mean" | "centred" | "done" = "mean";
  #meanPending: { sums: Tensor }[] = [];
  #sum64: Float64Array;
  #nMean = 0;
  #mean64: Float64Array | undefined;
  #mean32: Tensor | undefined;
  #covPending: Tensor[][] = [];
  #cov64: Float64Array | undefined;
  #nCentred = 0;

  /**
   * An empty two-pass accumulator: batches [rows, D] go through `addMeanBatch` and `finishMean`,
   * then once more through `addCentredBatch`; `finish` returns the covariance.
   *
   * @param gpu the device the batches live on.
   * @param dim feature dimension D (columns of every batch).
   */
  constructor(readonly gpu: Gpu, readonly dim: number, options: CovarianceOptions = {}) {
    if (!Number.isInteger(dim) || dim < 1) {
      throw new RangeError(`CovarianceAccumulator: bad dimension ${dim}`);
    }
    const limit = gpu.device.limits.maxStorageBufferBindingSize;
    const maxBlockBytes = Math.min(options.maxBlockBytes ?? limit, limit);
    const maxSide = Math.floor(Math.sqrt(maxBlockBytes / 4));
    if (maxSide < 4) throw new RangeError(`CovarianceAccumulator: maxBlockBytes too small`);
    // Equal blocks, multiples of 4 (vec4 loads need block origins divisible by 4).
    let per = Math.ceil(dim / maxSide);
    let side = Math.ceil(Math.ceil(dim / per) / 4) * 4;
    while (side > maxSide) side -= 4;
    per = Math.ceil(dim / side);
    this.blockSize = Math.min(side, dim);
    this.blocksPerSide = per;
    for (let bi = 0; bi < per; bi++) {
      for (let bj = bi; bj < per; bj++) {
        const a0 = bi * side;
        const b0 = bj * side;
        this.#blocks.push({
          bi,
          bj,
          a0,
          b0,
          rows: Math.min(side, dim - a0),
          cols: Math.min(side, dim - b0),
        });
      }
    }
    const segmentBytes = this.#blocks.reduce((s, b) => s + b.rows * b.cols * 4, 0);
    // Beyond ~32 segments a sync is amortised well enough; more would only hold memory.
    this.segmentsPerReadback = Math.min(
      32,
      Math.max(1, Math.floor((options.pendingBytes ?? 256 * MiB) / segmentBytes)),
    );
    const vec4Ok = dim % 4 === 0;
    this.variant = options.variant ?? (vec4Ok ? "vec4" : "scalar");
    if (this.variant === "vec4" && !vec4Ok) {
      throw new RangeError(`CovarianceAccumulator: the vec4 variant needs D % 4 == 0 (D=${dim})`);
    }
    this.#sum64 = new Float64Array(dim);
  }

  /** Rows seen by the mean pass so far. */
  get rows(): number {
    return this.#nMean;
  }

  #checkBatch(what: string, x: Tensor): number {
    if (x.shape.length !== 2 || x.shape[1] !== this.dim || x.dtype !== "f32") {
      throw new RangeError(
        `${what}: batch must be f32 [n, ${this.dim}], got ${x.dtype} [${x.shape}]`,
      );
    }
    return x.shape[0];
  }

  /**
   * Mean pass: records the column sums of `x` [n_b, D] (per segment of ≤ 256 rows). Reads the
   * pending sums back when 64 segments are waiting.
   */
  async addMeanBatch(x: Tensor): Promise<void> {
    if (this.#phase !== "mean") {
      throw new Error("CovarianceAccumulator.addMeanBatch: the mean pass is already finished");
    }
    const n = this.#checkBatch("addMeanBatch", x);
    const kernel = this.gpu.kernels.get({
      file: FILE,
      source,
      entryPoint: "column_sums",
      params: SUM,
    });
    for (let row0 = 0; row0 < n; row0 += COVARIANCE_SEGMENT_ROWS) {
      const rows = Math.min(COVARIANCE_SEGMENT_ROWS, n - row0);
      const sums = Tensor.empty(this.gpu, [this.dim], "f32", "column sums");
      this.gpu.recorder.dispatch(
        kernel,
        [x, sums],
        Math.ceil(this.dim / WG),
        SUM.pack({ rows, d: this.dim, row0 }),
      );
      this.#meanPending.push({ sums });
      this.#nMean += rows;
    }
    if (this.#meanPending.length >= 64) await this.#flushMean();
  }

  async #flushMean(): Promise<void> {
    const pending = this.#meanPending;
    this.#meanPending = [];
    if (pending.length === 0) return;
    const values = await this.gpu.recorder.read(pending.map((p) => p.sums));
    for (const v of values) for (let d = 0; d < this.dim; d++) this.#sum64[d] += v[d];
    for (const p of pending) p.sums.release();
  }

  /** Ends the mean pass and returns μ [D] in float64 (a copy). */
  async finishMean(): Promise<Float64Array> {
    if (this.#phase !== "mean") {
      throw new Error("CovarianceAccumulator.finishMean: called twice");
    }
    await this.#flushMean();
    if (this.#nMean < 2) {
      throw new RangeError(`CovarianceAccumulator: needs at least 2 rows, got ${this.#nMean}`);
    }
    const mean = new Float64Array(this.dim);
    for (let d = 0; d < this.dim; d++) mean[d] = this.#sum64[d] / this.#nMean;
    this.#mean64 = mean;
    this.#mean32 = Tensor.from(this.gpu, Float32Array.from(mean), [this.dim], "feature mean");
    this.#phase = "centred";
    return Float64Array.from(mean);
  }

  /**
   * Second pass: records the centred cross-product blocks of `x` [n_b, D] (per segment of
   * ≤ 256 rows); reads pending partials back when the budget is reached.
   */
  async addCentredBatch(x: Tensor): Promise<void> {
    if (this.#phase !== "centred") {
      throw new Error(
        "CovarianceAccumulator.addCentredBatch: call finishMean() first (and not after finish())",
      );
    }
    const n = this.#checkBatch("addCentredBatch", x);
    const kernel = this.gpu.kernels.get({
      file: FILE,
      source,
      entryPoint: this.variant === "vec4" ? "cov_block_vec4" : "cov_block",
      params: BLOCK,
    });
    for (let row0 = 0; row0 < n; row0 += COVARIANCE_SEGMENT_ROWS) {
      const rows = Math.min(COVARIANCE_SEGMENT_ROWS, n - row0);
      const outs: Tensor[] = [];
      for (const b of this.#blocks) {
        const out = Tensor.empty(this.gpu, [b.rows, b.cols], "f32", "covariance block");
        const diagonal = b.bi === b.bj ? 1 : 0;
        this.gpu.recorder.dispatch(
          kernel,
          [x, this.#mean32!, out],
          [Math.ceil(b.cols / TILE), Math.ceil(b.rows / TILE), 1],
          BLOCK.pack({
            rows,
            d: this.dim,
            row0,
            diagonal,
            a0: b.a0,
            b0: b.b0,
            rows_a: b.rows,
            cols_b: b.cols,
          }),
        );
        outs.push(out);
      }
      this.#covPending.push(outs);
      this.#nCentred += rows;
      if (this.#covPending.length >= this.segmentsPerReadback) await this.#flushCov();
    }
  }

  async #flushCov(): Promise<void> {
    const pending = this.#covPending;
    this.#covPending = [];
    if (pending.length === 0) return;
    const d = this.dim;
    const cov = this.#cov64 ??= new Float64Array(d * d);
    const values = await this.gpu.recorder.read(pending.flat());
    let v = 0;
    for (let s = 0; s < pending.length; s++) {
      for (const b of this.#blocks) {
        const part = values[v++];
        const diagonal = b.bi === b.bj;
        for (let a = 0; a < b.rows; a++) {
          const row = (b.a0 + a) * d + b.b0;
          for (let c = diagonal ? a : 0; c < b.cols; c++) cov[row + c] += part[a * b.cols + c];
        }
      }
    }
    for (const t of pending.flat()) t.release();
  }

  /**
   * Ends the second pass: reads the remaining partials, removes the f32-mean centring bias,
   * divides by n − 1 and mirrors the upper triangle. Releases the GPU resources.
   *
   * @throws Error if the two passes did not see the same number of rows.
   */
  async finish(): Promise<CovarianceResult> {
    if (this.#phase !== "centred") {
      throw new Error("CovarianceAccumulator.finish: call finishMean() and the second pass first");
    }
    await this.#flushCov();
    const n = this.#nMean;
    if (this.#nCentred !== n) {
      throw new Error(
        `CovarianceAccumulator.finish: the centred pass saw ${this.#nCentred} rows, the mean ` +
          `pass ${n}; feed the same batches to both passes`,
      );
    }
    const d = this.dim;
    const mean = this.#mean64!;
    const cov = this.#cov64 ?? new Float64Array(d * d);
    this.#cov64 = undefined;
    // δ = μ − f32(μ): the GPU centred with μ − δ, which added n·δδᵀ.
    const delta = new Float64Array(d);
    for (let i = 0; i < d; i++) delta[i] = mean[i] - Math.fround(mean[i]);
    const inv = 1 / (n - 1);
    for (let i = 0; i < d; i++) {
      const row = i * d;
      const nd = n * delta[i];
      for (let j = i; j < d; j++) {
        const value = (cov[row + j] - nd * delta[j]) * inv;
        cov[row + j] = value;
        cov[j * d + i] = value;
      }
    }
    this.release();
    this.#phase = "done";
    return { mean: Float64Array.from(mean), cov, n };
  }

  /** Frees the GPU buffers held (pending partials and the f32 mean). Safe to call twice. */
  release(): void {
    for (const p of this.#meanPending) p.sums.release();
    this.#meanPending = [];
    for (const t of this.#covPending.flat()) t.release();
    this.#covPending = [];
    this.#mean32?.release();
    this.#mean32 = undefined;
  }
}

/**
 * Mean and unbiased covariance (float64, `np.cov(X, rowvar=False)`) of the rows of the
 * batches, each [n_b, D] on the GPU, with both passes run over the same tensors.
 *
 * @example
 * ```ts
 * const { mean, cov } = await covariance(gpu, [x0, x1, x2]);
 * ```
 */
export async function covariance(
  gpu: Gpu,
  batches: readonly Tensor[],
  options: CovarianceOptions = {},
): Promise<CovarianceResult> {
  if (batches.length === 0) throw new RangeError("covariance: no batches");
  const acc = new CovarianceAccumulator(gpu, batches[0].shape[1], options);
  try {
    for (const x of batches) await acc.addMeanBatch(x);
    await acc.finishMean();
    for (const x of batches) await acc.addCentredBatch(x);
    return await acc.finish();
  } finally {
    acc.release();
  }
}
