/**
 * Float64 CPU reference of BatchNorm2d (NHWC, per-group statistics) written as plain loops,
 * independent of the WGSL kernels.
 *
 * @module
 */

/** Shape of an NHWC activation. */
export interface Nhwc {
  n: number;
  h: number;
  w: number;
  c: number;
}

/** Per-group statistics: mean, biased and unbiased variance, each [G·C] (group-major). */
export interface RefStats {
  mean: Float64Array;
  varBiased: Float64Array;
  varUnbiased: Float64Array;
}

/** Exact two-pass statistics per (group, channel) over the group's rows. */
export function refBatchStats(x: ArrayLike<number>, s: Nhwc, groups: number): RefStats {
  const rowsPerGroup = (s.n / groups) * s.h * s.w;
  const mean = new Float64Array(groups * s.c);
  const varBiased = new Float64Array(groups * s.c);
  const varUnbiased = new Float64Array(groups * s.c);
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < s.c; c++) {
      let sum = 0;
      for (let r = 0; r < rowsPerGroup; r++) sum += x[(g * rowsPerGroup + r) * s.c + c];
      const m = sum / rowsPerGroup;
      let ss = 0;
      for (let r = 0; r < rowsPerGroup; r++) {
        const d = x[(g * rowsPerGroup + r) * s.c + c] - m;
        ss += d * d;
      }
      mean[g * s.c + c] = m;
      varBiased[g * s.c + c] = ss / rowsPerGroup;
      varUnbiased[g * s.c + c] = ss / (rowsPerGroup - 1);
    }
  }
  return { mean, varBiased, varUnbiased };
}

/** Train-mode forward: y per group statistics (optionally followed by a ReLU). */
export function refBatchNormTrain(
  x: ArrayLike<number>,
  s: Nhwc,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  groups: number,
  eps: number,
  relu = false,
): { y: Float64Array; stats: RefStats } {
  const stats = refBatchStats(x, s, groups);
  const rowsPerGroup = (s.n / groups) * s.h * s.w;
  const y = new Float64Array(x.length);
  for (let r = 0; r < s.n * s.h * s.w; r++) {
    const g = Math.floor(r / rowsPerGroup);
    for (let c = 0; c < s.c; c++) {
      const i = r * s.c + c;
      const k = g * s.c + c;
      const v = gamma[c] * (x[i] - stats.mean[k]) / Math.sqrt(stats.varBiased[k] + eps) +
        beta[c];
      y[i] = relu ? Math.max(v, 0) : v;
    }
  }
  return { y, stats };
}

/** Eval-mode forward with running statistics. */
export function refBatchNormEval(
  x: ArrayLike<number>,
  c: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  eps: number,
  relu = false,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ch = i % c;
    const v = gamma[ch] * (x[i] - runningMean[ch]) / Math.sqrt(runningVar[ch] + eps) + beta[ch];
    y[i] = relu ? Math.max(v, 0) : v;
  }
  return y;
}

/** Running statistics after one update: from group 0 or from the mean over groups. */
export function refRunningUpdate(
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  stats: RefStats,
  groups: number,
  momentum: number,
  from: "group0" | "mean",
): { mean: Float64Array; variance: Float64Array } {
  const c = runningMean.length;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let m = 0;
    let v = 0;
    const used = from === "group0" ? 1 : groups;
    for (let g = 0; g < used; g++) {
      m += stats.mean[g * c + ch];
      v += stats.varUnbiased[g * c + ch];
    }
    mean[ch] = (1 - momentum) * runningMean[ch] + momentum * (m / used);
    variance[ch] = (1 - momentum) * runningVar[ch] + momentum * (v / used);
  }
  return { mean, variance };
}

/**
 * Train-mode backward by the textbook formula per group: dβ = Σ dy, dγ = Σ dy·x̂,
 * dx = γ/σ_g · (dy − mean_g(dy) − x̂·mean_g(dy·x̂)). With `relu`, dy is first masked by the
 * forward output being positive.
 */
export function refBatchNormBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  s: Nhwc,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  groups: number,
  eps: number,
  relu = false,
): { dx: Float64Array; dGamma: Float64Array; dBeta: Float64Array } {
  const { y, stats } = refBatchNormTrain(x, s, gamma, beta, groups, eps, relu);
  const rowsPerGroup = (s.n / groups) * s.h * s.w;
  const rows = s.n * s.h * s.w;
  const d = new Float64Array(dy.length);
  for (let i = 0; i < d.length; i++) d[i] = relu && !(y[i] > 0) ? 0 : dy[i];
  const xhat = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const g = Math.floor(r / rowsPerGroup);
    for (let c = 0; c < s.c; c++) {
      const k = g * s.c + c;
      xhat[r * s.c + c] = (x[r * s.c + c] - stats.mean[k]) / Math.sqrt(stats.varBiased[k] + eps);
    }
  }
  const sumDy = new Float64Array(groups * s.c);
  const sumDyXhat = new Float64Array(groups * s.c);
  for (let r = 0; r < rows; r++) {
    const g = Math.floor(r / rowsPerGroup);
    for (let c = 0; c < s.c; c++) {
      sumDy[g * s.c + c] += d[r * s.c + c];
      sumDyXhat[g * s.c + c] += d[r * s.c + c] * xhat[r * s.c + c];
    }
  }
  const dGamma = new Float64Array(s.c);
  const dBeta = new Float64Array(s.c);
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < s.c; c++) {
      dBeta[c] += sumDy[g * s.c + c];
      dGamma[c] += sumDyXhat[g * s.c + c];
    }
  }
  const dx = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const g = Math.floor(r / rowsPerGroup);
    for (let c = 0; c < s.c; c++) {
      const i = r * s.c + c;
      const k = g * s.c + c;
      const invStd = 1 / Math.sqrt(stats.varBiased[k] + eps);
      dx[i] = gamma[c] * invStd *
        (d[i] - sumDy[k] / rowsPerGroup - xhat[i] * sumDyXhat[k] / rowsPerGroup);
    }
  }
  return { dx, dGamma, dBeta };
}
