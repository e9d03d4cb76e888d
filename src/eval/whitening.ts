/**
 * Whitening with the feature covariance and the invariance metrics built on it (docs/synthetic.md#metrics, docs/realworld.md#procedure).
 *
 * The original inverts Σ in float64 (P = Σ⁻¹), takes a float32 Cholesky factor Lc of P and
 * computes cosine similarities of (μ − f)ᵀ·Lc, and Mahalanobis distances √(dᵀPd) with scipy. Both
 * depend only on P: with Σ + jitter·I = L·Lᵀ (float64 Cholesky) and z = L⁻¹(f − μ),
 * ⟨z_a, z_b⟩ = (f_a − μ)ᵀP(f_b − μ) and ‖z_a − z_b‖² = (f_a − f_b)ᵀP(f_a − f_b). So we factor Σ once,
 * form L⁻¹ (n³/3 flops, LAPACK's `dtrtri` on the engine of `src/linalg/blas.ts`), and whiten
 * feature rows with one GEMM, all in float64: no explicit
 * inverse, and no float32 factor (the original's similarity carries float32 rounding; ours is
 * the exact value that rounding approximates).
 *
 * Jitter: the original adds 1e-10·I to Σ for the `random` model only (docs/synthetic.md#statistics); scripts expose
 * `--jitter`. A Σ that is not positive definite raises {@link WhiteningError}, which says so and
 * suggests the `jitter` option (`jitter: 1e-10`, which the scripts restate as `--jitter 1e-10`).
 *
 * @module
 */
import { choleskyInPlace, NotPositiveDefiniteError } from "../linalg/cholesky.ts";
import { gemm, lowerInverse } from "../linalg/blas.ts";
import { DataError } from "../util/errors.ts";

/** The jitter the original adds for the `random` model. */
export const RANDOM_MODEL_JITTER = 1e-10;

/** Σ could not be factorised. */
export class WhiteningError extends DataError {
  override name = "WhiteningError";
}

/**
 * torch's `cosine_similarity` ε: a cosine divides by √max(‖a‖²‖b‖², ε²). The one copy: the GPU
 * metrics (src/eval/gpu_whitening.ts) use it too.
 */
export const COS_EPS = 1e-8;

/** Whitens feature rows: z = L⁻¹(f − μ) with Σ + jitter·I = L·Lᵀ. */
export class Whitener {
  /** D. */
  readonly dim: number;
  /** μ used for centring. */
  readonly mean: Float64Array;
  /** Jitter added to Σ's diagonal. */
  readonly jitter: number;
  /** L⁻¹ (lower triangular, row-major D×D). */
  readonly inverseFactor: Float64Array;

  private constructor(mean: Float64Array, inverseFactor: Float64Array, jitter: number) {
    this.dim = mean.length;
    this.mean = mean;
    this.inverseFactor = inverseFactor;
    this.jitter = jitter;
  }

  /**
   * Factorises Σ + jitter·I (Σ row-major D×D, float64; only the lower triangle is read).
   *
   * @param what names the statistics in the error message (e.g. the cov file)
   * @throws WhiteningError when the matrix is not positive definite
   */
  static fromCovariance(
    mean: ArrayLike<number>,
    cov: Float64Array,
    options: { jitter?: number; what?: string } = {},
  ): Whitener {
    const d = mean.length;
    if (cov.length !== d * d) {
      throw new RangeError(`Whitener: covariance has ${cov.length} values, expected ${d}²`);
    }
    const jitter = options.jitter ?? 0;
    let l: Float64Array;
    try {
      l = choleskyInPlace(new Float64Array(cov), d, jitter);
    } catch (error) {
      if (!(error instanceof NotPositiveDefiniteError)) throw error;
      throw new WhiteningError(
        `the feature covariance${options.what ? ` (${options.what})` : ""} is not positive ` +
          `definite (pivot ${error.pivot.toExponential(3)} at dimension ${error.column}` +
          `${jitter ? `, with jitter ${jitter}` : ""}); rerun with jitter: 1e-10 (or larger), ` +
          `or compute the statistics over more images than the feature dimension`,
      );
    }
    return new Whitener(Float64Array.from(mean), lowerInverse(l, d), jitter);
  }

  /** z = L⁻¹(f − μ) for each row of `rows` [m, D]; returns [m, D] float64. */
  whiten(rows: ArrayLike<number>, m: number): Float64Array {
    const d = this.dim;
    if (rows.length !== m * d) {
      throw new RangeError(`whiten: ${rows.length} values are not [${m}, ${d}]`);
    }
    const centred = new Float64Array(m * d);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < d; j++) centred[i * d + j] = rows[i * d + j] - this.mean[j];
    }
    const z = new Float64Array(m * d);
    // Z[i, j] = Σ_p centred[i, p] · L⁻¹[j, p]: rows of L⁻¹ are the "B" rows of the NT product.
    gemm({ transB: true, m, n: d, k: d, a: centred, b: this.inverseFactor, c: z });
    return z;
  }
}

/**
 * L⁻¹ of a lower-triangular row-major L (LAPACK's `dtrtri` on OpenBLAS, else a recursive blocked
 * inverse in JavaScript); re-exported from `src/linalg/blas.ts`.
 */
export { lowerInverse };

/** torch's `cosine_similarity` of two rows: ⟨a, b⟩ / √max(‖a‖²‖b‖², ε²). */
export function cosine(
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  bOff: number,
  d: number,
): number {
  let ab = 0, aa = 0, bb = 0;
  for (let j = 0; j < d; j++) {
    const x = a[aOff + j], y = b[bOff + j];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(Math.max(aa * bb, COS_EPS * COS_EPS));
}

/** Euclidean distance of two rows. */
export function distance(
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  bOff: number,
  d: number,
): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const e = a[aOff + j] - b[bOff + j];
    s += e * e;
  }
  return Math.sqrt(s);
}

/** Per-view metrics of one image. */
export interface ViewMetrics {
  /** [k] cosine similarity of each view to the clean view, whitened. */
  similarity: Float64Array;
  /** [k] Mahalanobis distance of each view to the clean view. */
  distance: Float64Array;
}

/**
 * docs/synthetic.md#metrics for one image: `z` holds the whitened clean view in row 0 and the k views in rows
 * 1…k ([k + 1, D]).
 */
export function viewMetrics(z: Float64Array, k: number, d: number): ViewMetrics {
  if (z.length !== (k + 1) * d) throw new RangeError(`viewMetrics: expected [${k + 1}, ${d}]`);
  const similarity = new Float64Array(k);
  const dist = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    similarity[j] = cosine(z, 0, z, (j + 1) * d, d);
    dist[j] = distance(z, 0, z, (j + 1) * d, d);
  }
  return { similarity, distance: dist };
}

/** Options of {@link groupMetrics}. */
export interface GroupMetricsOptions {
  /**
   * Leave the n self-similarities out of the mean similarity (intended alternative). Default
   * false: the original's mean over all n² ordered pairs, diagonal included (docs/quirks.md#q23).
   */
  excludeDiagonal?: boolean;
}

/**
 * docs/realworld.md#procedure for one group of n whitened views z [n, D]: the mean pairwise cosine similarity and
 * the mean distance over the n(n − 1)/2 unordered pairs (NaN when n = 1).
 */
export function groupMetrics(
  z: Float64Array,
  n: number,
  d: number,
  options: GroupMetricsOptions = {},
): { similarity: number; distance: number } {
  if (z.length !== n * d) throw new RangeError(`groupMetrics: expected [${n}, ${d}]`);
  let sim = 0;
  let dist = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      sim += 2 * cosine(z, a * d, z, b * d, d);
      dist += distance(z, a * d, z, b * d, d);
    }
  }
  let similarity: number;
  if (options.excludeDiagonal) {
    similarity = n > 1 ? sim / (n * (n - 1)) : NaN;
  } else {
    for (let a = 0; a < n; a++) sim += cosine(z, a * d, z, a * d, d);
    similarity = sim / (n * n);
  }
  return { similarity, distance: n > 1 ? dist / ((n * (n - 1)) / 2) : NaN };
}

/** Mean over the non-NaN entries of each column of m [rows, cols] (numpy `nanmean(axis=0)`). */
export function nanMeanColumns(m: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let c = 0; c < cols; c++) {
    let s = 0, k = 0;
    for (let r = 0; r < rows; r++) {
      const v = m[r * cols + c];
      if (!Number.isNaN(v)) {
        s += v;
        k++;
      }
    }
    out[c] = k > 0 ? s / k : NaN;
  }
  return out;
}

/** Plain mean (NaN if any entry is NaN, like numpy's `mean`). */
export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}
