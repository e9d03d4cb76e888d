/**
 * Whitening on the GPU: z = L⁻¹(f − μ) as one f32 GEMM per block of L⁻¹'s rows, for when the
 * float64 CPU GEMM of {@link Whitener.whiten} is the bottleneck (D = 6144: 2·257·D² ≈ 19 GFLOP
 * per synthetic image). The factorisation and L⁻¹ stay float64 on the CPU; the centring is done
 * in float64 and rounded once to f32; L⁻¹ is uploaded once, in row blocks that each fit one
 * storage binding.
 *
 * With the features already on the GPU, {@link GpuWhitener.viewMetricsOf} (synthetic invariance)
 * and {@link GpuWhitener.groupMetricsOf} (real-world invariance) also centre the rows and reduce
 * the whitened rows to the metrics there (kernels/whitening.wgsl), so only a few numbers per image
 * or group come back.
 *
 * Precision: the original computes its similarities the same way (a float32 factor times float32
 * features); each z carries a relative error of ~1e-7·√D, so similarities and distances agree
 * with the float64 path to about 1e-5 relative (checked by the tests).
 *
 * @module
 */
import source from "../../kernels/whitening.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { matmul } from "../ops/matmul.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import {
  COS_EPS,
  groupMetrics,
  type GroupMetricsOptions,
  type ViewMetrics,
  type Whitener,
} from "./whitening.ts";

const FILE = "whitening.wgsl";
const CENTER = paramStruct(FILE, source, "CenterParams", { rows: "u32", dim: "u32" });
const SUMS = paramStruct(FILE, source, "SumParams", { n: "u32", cols: "u32", accumulate: "u32" });
const REDUCE = paramStruct(FILE, source, "ReduceParams", { n: "u32", eps: "f32" });

/** Anything that whitens feature rows (the CPU {@link Whitener} or {@link GpuWhitener}). */
export interface RowWhitener {
  /** D. */
  readonly dim: number;
  /** Jitter added to Σ's diagonal. */
  readonly jitter: number;
  /** z = L⁻¹(f − μ) for rows [m, D] → [m, D] float64. */
  whiten(rows: ArrayLike<number>, m: number): Float64Array | Promise<Float64Array>;
}

/** The GPU form of a {@link Whitener}. Call {@link release} when done. */
export class GpuWhitener implements RowWhitener {
  readonly dim: number;
  readonly jitter: number;
  readonly #mean: Float64Array;
  /** μ as a float32 pair [hi (D), lo (D)] on the GPU, uploaded on first use. */
  #meanPair?: Tensor;
  readonly #blocks: { r0: number; rows: number; t: Tensor }[] = [];

  /** Uploads L⁻¹ of `whitener` in row blocks of at most `maxBlockBytes` (default: binding limit). */
  constructor(readonly gpu: Gpu, whitener: Whitener, maxBlockBytes?: number) {
    const d = whitener.dim;
    this.dim = d;
    this.jitter = whitener.jitter;
    this.#mean = whitener.mean;
    const limit = Math.min(
      maxBlockBytes ?? Infinity,
      gpu.device.limits.maxStorageBufferBindingSize,
    );
    const rowsPerBlock = Math.max(1, Math.floor(limit / (4 * d)));
    const inv = whitener.inverseFactor;
    for (let r0 = 0; r0 < d; r0 += rowsPerBlock) {
      const rows = Math.min(rowsPerBlock, d - r0);
      const data = Float32Array.from(inv.subarray(r0 * d, (r0 + rows) * d));
      this.#blocks.push({ r0, rows, t: Tensor.from(gpu, data, [rows, d], "whitening L⁻¹") });
    }
  }

  /** z = L⁻¹(f − μ) for rows [m, D]: one upload, one GEMM per block, one readback. */
  async whiten(rows: ArrayLike<number>, m: number): Promise<Float64Array> {
    const d = this.dim;
    if (rows.length !== m * d) {
      throw new RangeError(`whiten: ${rows.length} values are not [${m}, ${d}]`);
    }
    const centred = new Float32Array(m * d);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < d; j++) centred[i * d + j] = rows[i * d + j] - this.#mean[j];
    }
    const x = Tensor.from(this.gpu, centred, [m, d], "whitening input");
    const outs: Tensor[] = [];
    try {
      // Z[:, block] = Xc · (L⁻¹[block, :])ᵀ.
      for (const b of this.#blocks) outs.push(matmul(this.gpu, x, b.t, { transB: true }));
      const values = await this.gpu.recorder.read(outs);
      const z = new Float64Array(m * d);
      this.#blocks.forEach((b, k) => {
        const v = values[k];
        for (let i = 0; i < m; i++) {
          for (let c = 0; c < b.rows; c++) z[i * d + b.r0 + c] = v[i * b.rows + c];
        }
      });
      return z;
    } finally {
      x.release();
      for (const o of outs) o.release();
    }
  }

  /**
   * {@link viewMetrics} of rows [k + 1, D] already on the GPU (the clean view's features in row
   * 0, the k views' after it), without reading the features back: the rows are centred, whitened
   * and reduced to four sums per view on the GPU, and only those 4k numbers come back (one
   * readback). `features` is only read. Sums are float32 over D, so the metrics agree with the
   * float64 path to about 1e-6 relative.
   */
  async viewMetricsOf(features: Tensor, k: number): Promise<ViewMetrics> {
    this.#checkRows(features, k + 1, "viewMetricsOf");
    if (k === 0) return { similarity: new Float64Array(0), distance: new Float64Array(0) };
    const sums = this.recordViewSums(features, k);
    try {
      const [v] = await this.gpu.recorder.read([sums]);
      return GpuWhitener.viewMetricsFromSums(v, k);
    } finally {
      sums.release();
    }
  }

  /**
   * The GPU half of {@link viewMetricsOf} without its readback: records the pair sums of the
   * clean row 0 with rows 1…k of `features` ([k + 1, D]) and returns them ([4(k + 1)] float32;
   * release it after reading). Callers that evaluate many images read all their sums in one
   * readback and turn each into metrics with {@link GpuWhitener.viewMetricsFromSums}; `features`
   * may be released as soon as this returns (the GPU runs the work in recording order).
   */
  recordViewSums(features: Tensor, k: number): Tensor {
    this.#checkRows(features, k + 1, "recordViewSums");
    // Row 0 against rows 0…k: sums[j] pairs the clean view with view j (sums[0] is unused).
    return this.#pairSums(features, k + 1, 1);
  }

  /** Similarities and distances of k views from the sums {@link recordViewSums} recorded. */
  static viewMetricsFromSums(v: ArrayLike<number>, k: number): ViewMetrics {
    const similarity = new Float64Array(k);
    const distance = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      const at = 4 * (j + 1);
      const [ab, aa, bb, ee] = [v[at], v[at + 1], v[at + 2], v[at + 3]];
      similarity[j] = ab / Math.sqrt(Math.max(aa * bb, COS_EPS * COS_EPS));
      distance[j] = Math.sqrt(ee);
    }
    return { similarity, distance };
  }

  /**
   * {@link groupMetrics} of one group's n views, rows [n, D] already on the GPU, without reading
   * the features back: the rows are centred and whitened, every pair's four sums are formed and
   * the pairs' cosines and distances are summed on the GPU, and only those three sums come back
   * (one readback). `features` is only read. Cosines and sums are float32, so the metrics agree
   * with the float64 path to about 1e-6 relative. A group too large for one n×n buffer of pair
   * sums (n² · 16 bytes beyond a storage binding) is whitened on the GPU and reduced on the CPU
   * instead (one readback of its [n, D] rows).
   */
  async groupMetricsOf(
    features: Tensor,
    n: number,
    options: GroupMetricsOptions = {},
  ): Promise<{ similarity: number; distance: number }> {
    const d = this.dim;
    this.#checkRows(features, n, "groupMetricsOf");
    const gpu = this.gpu;
    const limit = gpu.device.limits.maxStorageBufferBindingSize;
    // group_reduce loops n²/256 times per thread, and llvmpipe stops a loop at 65 535.
    const fits = n * n * 16 <= limit && n * n <= 65535 * 256 &&
      n <= gpu.device.limits.maxComputeWorkgroupsPerDimension;
    if (!fits) {
      const [rows] = await gpu.recorder.read([features]);
      return groupMetrics(await this.whiten(rows, n), n, d, options);
    }
    const sums = this.#pairSums(features, n, n);
    const out = Tensor.empty(gpu, [4], "f32", "group metric sums");
    try {
      gpu.recorder.dispatch(
        this.#kernel("group_reduce"),
        [sums, out],
        [1, 1, 1],
        REDUCE.pack({ n, eps: COS_EPS }),
      );
      const [v] = await gpu.recorder.read([out]);
      const [offDiagonal, diagonal, distances] = [v[0], v[1], v[2]];
      // As groupMetrics: each unordered pair counts twice in S, the diagonal once unless left out.
      const similarity = options.excludeDiagonal
        ? (n > 1 ? (2 * offDiagonal) / (n * (n - 1)) : NaN)
        : (2 * offDiagonal + diagonal) / (n * n);
      return { similarity, distance: n > 1 ? distances / ((n * (n - 1)) / 2) : NaN };
    } finally {
      sums.release();
      out.release();
    }
  }

  /** Throws RangeError unless `features` is [m, D]. */
  #checkRows(features: Tensor, m: number, what: string): void {
    const d = this.dim;
    if (features.shape.length !== 2 || features.shape[0] !== m || features.shape[1] !== d) {
      throw new RangeError(`${what}: features [${features.shape}] are not [${m}, ${d}]`);
    }
  }

  #kernel(entryPoint: string) {
    return this.gpu.kernels.get({ file: FILE, source, entryPoint });
  }

  /**
   * Records the centring and whitening of rows [m, D] and the four sums of each pair (a, b) with
   * a < `rowsA` and a ≤ b ≤ m − 1, at [a·m + b] of the returned [rowsA·m, 4] tensor (the caller
   * releases it; entries with b < a are not written).
   */
  #pairSums(features: Tensor, m: number, rowsA: number): Tensor {
    const d = this.dim;
    const gpu = this.gpu;
    if (!this.#meanPair) {
      const pair = new Float32Array(2 * d);
      for (let j = 0; j < d; j++) {
        pair[j] = this.#mean[j];
        pair[d + j] = this.#mean[j] - pair[j];
      }
      this.#meanPair = Tensor.from(gpu, pair, [2 * d], "whitening mean");
    }
    const centred = Tensor.empty(gpu, [m, d], "f32", "whitening centred");
    const sums = Tensor.empty(gpu, [rowsA * m, 4], "f32", "pair metric sums");
    try {
      gpu.recorder.dispatch(
        this.#kernel("center_rows"),
        [this.#meanPair, features, centred],
        [Math.ceil(d / 256), m, 1],
        CENTER.pack({ rows: m, dim: d }),
      );
      this.#blocks.forEach((b, i) => {
        const z = matmul(gpu, centred, b.t, { transB: true });
        try {
          gpu.recorder.dispatch(
            this.#kernel("pair_sums"),
            [z, sums],
            [m, rowsA, 1],
            SUMS.pack({ n: m, cols: b.rows, accumulate: i > 0 ? 1 : 0 }),
          );
        } finally {
          z.release();
        }
      });
    } catch (error) {
      sums.release();
      throw error;
    } finally {
      centred.release();
    }
    return sums;
  }

  /** Frees the uploaded factor. */
  release(): void {
    for (const b of this.#blocks) b.t.release();
    this.#blocks.length = 0;
    this.#meanPair?.release();
    this.#meanPair = undefined;
  }
}
