/**
 * scikit-learn's `StandardScaler` (with_mean, with_std) in float64: per-feature mean and
 * population standard deviation (ddof 0); near-constant features get scale 1. The causal
 * evaluation (docs/causal3dident.md#model-selection) standardises features with it before kernel ridge.
 *
 * @module
 */
import { checkShape, type Matrix, type MatrixInput } from "./dense.ts";

/** A fitted standard scaler: z = (x − mean) / scale, per feature. */
export class StandardScaler {
  /** Per-feature mean [d]. */
  readonly mean: Float64Array;
  /** Per-feature population variance [d] (ddof 0), as sklearn's `var_`. */
  readonly variance: Float64Array;
  /** Per-feature scale [d]: √variance, or 1 for (near-)constant features, as sklearn's `scale_`. */
  readonly scale: Float64Array;
  /** Number of samples the statistics came from. */
  readonly nSamples: number;

  private constructor(mean: Float64Array, variance: Float64Array, nSamples: number) {
    this.mean = mean;
    this.variance = variance;
    this.nSamples = nSamples;
    this.scale = new Float64Array(variance.length);
    const eps = 2.220446049250313e-16;
    for (let j = 0; j < variance.length; j++) {
      // sklearn's `_is_constant_feature`: the variance is within the error bound of a two-pass
      // computation of a constant column (n·ε·var + (n·mean·ε)²), so it is treated as zero.
      const bound = nSamples * eps * variance[j] + (nSamples * mean[j] * eps) ** 2;
      this.scale[j] = variance[j] <= bound ? 1 : Math.sqrt(variance[j]);
    }
  }

  /**
   * Fits the statistics of x [n, d] (two passes in float64: the mean, then the centred squares
   * with sklearn's correction term −(Σ(x − mean))²/n, which cancels the mean's rounding error).
   *
   * @throws RangeError when x has no rows
   */
  static fit(x: MatrixInput): StandardScaler {
    checkShape(x.data.length, x.rows, x.cols, "StandardScaler.fit");
    const { rows: n, cols: d, data } = x;
    if (n === 0) throw new RangeError("StandardScaler.fit: x has no samples");
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const off = i * d;
      for (let j = 0; j < d; j++) mean[j] += data[off + j];
    }
    for (let j = 0; j < d; j++) mean[j] /= n;
    const sq = new Float64Array(d);
    const corr = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const off = i * d;
      for (let j = 0; j < d; j++) {
        const c = data[off + j] - mean[j];
        sq[j] += c * c;
        corr[j] += c;
      }
    }
    const variance = new Float64Array(d);
    for (let j = 0; j < d; j++) variance[j] = Math.max(0, (sq[j] - corr[j] * corr[j] / n) / n);
    return new StandardScaler(mean, variance, n);
  }

  /** (x − mean) / scale for x [m, d], as a new float64 matrix. */
  transform(x: MatrixInput): Matrix {
    checkShape(x.data.length, x.rows, x.cols, "StandardScaler.transform");
    const d = this.mean.length;
    if (x.cols !== d) {
      throw new RangeError(`StandardScaler.transform: x has ${x.cols} features, fitted on ${d}`);
    }
    const out = new Float64Array(x.rows * d);
    const src = x.data;
    for (let i = 0; i < x.rows; i++) {
      const off = i * d;
      // A division, as sklearn does, so the result matches it to the last bit.
      for (let j = 0; j < d; j++) out[off + j] = (src[off + j] - this.mean[j]) / this.scale[j];
    }
    return { rows: x.rows, cols: d, data: out };
  }

  /** x·scale + mean, the inverse of {@link transform}. */
  inverseTransform(z: MatrixInput): Matrix {
    checkShape(z.data.length, z.rows, z.cols, "StandardScaler.inverseTransform");
    const d = this.mean.length;
    if (z.cols !== d) {
      throw new RangeError(`StandardScaler.inverseTransform: ${z.cols} features, fitted on ${d}`);
    }
    const out = new Float64Array(z.rows * d);
    for (let i = 0; i < z.rows; i++) {
      const off = i * d;
      for (let j = 0; j < d; j++) out[off + j] = z.data[off + j] * this.scale[j] + this.mean[j];
    }
    return { rows: z.rows, cols: d, data: out };
  }

  /** Fits on x and returns the transformed x. */
  static fitTransform(x: MatrixInput): { scaler: StandardScaler; z: Matrix } {
    const scaler = StandardScaler.fit(x);
    return { scaler, z: scaler.transform(x) };
  }
}
