/**
 * Whitening on the GPU: z = L⁻¹(f − μ) as one f32 GEMM per block of L⁻¹'s rows, for when the
 * float64 CPU GEMM of {@link Whitener.whiten} is the bottleneck (D = 6144: 2·257·D² ≈ 19 GFLOP
 * per synthetic image). The factorisation and L⁻¹ stay float64 on the CPU; the centring is done
 * in float64 and rounded once to f32; L⁻¹ is uploaded once, in row blocks that each fit one
 * storage binding.
 *
 * Precision: the original computes its similarities the same way (a float32 factor times float32
 * features); each z carries a relative error of ~1e-7·√D, so similarities and distances agree
 * with the float64 path to about 1e-5 relative (checked by the tests).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { matmul } from "../ops/matmul.ts";
import type { Whitener } from "./whitening.ts";

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

  /** Frees the uploaded factor. */
  release(): void {
    for (const b of this.#blocks) b.t.release();
    this.#blocks.length = 0;
  }
}
