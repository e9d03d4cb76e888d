/**
 * A Gram-matrix provider (`GramFn` of `src/linalg/kernel_ridge.ts`) on the GPU: A·Bᵀ through the
 * f32 matmul op, tiled so that no operand or result exceeds the device's storage-binding limit,
 * and returned as float64. For K(X, X) only the tiles on and below the diagonal are computed and
 * mirrored, so the result is exactly symmetric.
 *
 * Precision: each entry carries the f32 rounding of its inputs and of a K-term f32 sum, a relative
 * error of ~1e-7·Σ|aᵢbᵢ|/|Σaᵢbᵢ|. In the RBF kernel it perturbs squared distances by about
 * 1e-7·(‖a‖² + ‖b‖²), which the kernel-ridge solve amplifies by up to cond(K + αI); the CPU
 * float64 Gram remains the reference (compare the two at the α, γ in use, as the tests do).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { matmul } from "../ops/matmul.ts";
import type { Matrix } from "../linalg/dense.ts";
import type { GramFn } from "../linalg/kernel_ridge.ts";

/** Options of {@link gpuGram}. */
export interface GpuGramOptions {
  /** Largest bytes of one tile operand or result (default: the device's binding limit). */
  maxTileBytes?: number;
}

function rowsSlice(x: Matrix, r0: number, r1: number): Float32Array {
  return Float32Array.from(x.data.subarray(r0 * x.cols, r1 * x.cols));
}

/**
 * A `GramFn` computing A·Bᵀ on `gpu`. Tiles of A and B rows are uploaded once per tile pair and
 * all tile products of one A tile are read back together (one sync per A tile).
 */
export function gpuGram(gpu: Gpu, options: GpuGramOptions = {}): GramFn {
  const limit = Math.min(
    options.maxTileBytes ?? Infinity,
    gpu.device.limits.maxStorageBufferBindingSize,
  );
  return async (a: Matrix, b: Matrix): Promise<Float64Array> => {
    if (a.cols !== b.cols) throw new RangeError(`gpuGram: ${a.cols} vs ${b.cols} columns`);
    const k = a.cols;
    const same = a === b;
    // Tile rows so an operand tile (rows·k·4) and a result tile (rows²·4) fit in one binding.
    const byOperand = Math.floor(limit / (4 * Math.max(k, 1)));
    const byResult = Math.floor(Math.sqrt(limit / 4));
    const tile = Math.max(1, Math.min(byOperand, byResult, Math.max(a.rows, b.rows)));
    const out = new Float64Array(a.rows * b.rows);
    const bTiles: { r0: number; rows: number; t: Tensor }[] = [];
    for (let r0 = 0; r0 < b.rows; r0 += tile) {
      const rows = Math.min(tile, b.rows - r0);
      bTiles.push({
        r0,
        rows,
        t: Tensor.from(gpu, rowsSlice(b, r0, r0 + rows), [rows, k], "gram B"),
      });
    }
    try {
      for (let i0 = 0; i0 < a.rows; i0 += tile) {
        const rows = Math.min(tile, a.rows - i0);
        const at = Tensor.from(gpu, rowsSlice(a, i0, i0 + rows), [rows, k], "gram A");
        const jobs: { r0: number; rows: number; c: Tensor }[] = [];
        try {
          for (const bt of bTiles) {
            if (same && bt.r0 > i0) break; // upper tiles come from the mirror
            jobs.push({ r0: bt.r0, rows: bt.rows, c: matmul(gpu, at, bt.t, { transB: true }) });
          }
          const values = await gpu.recorder.read(jobs.map((j) => j.c));
          jobs.forEach((job, idx) => {
            const v = values[idx];
            for (let r = 0; r < rows; r++) {
              const dst = (i0 + r) * b.rows + job.r0;
              for (let c = 0; c < job.rows; c++) out[dst + c] = v[r * job.rows + c];
            }
          });
        } finally {
          at.release();
          for (const j of jobs) j.c.release();
        }
      }
    } finally {
      for (const bt of bTiles) bt.t.release();
    }
    if (same) {
      const n = a.rows;
      // Mirror the lower triangle (tiles below and on the diagonal) to the upper one.
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i];
    }
    return out;
  };
}
