/**
 * CPU helpers for loading convolution weights: PyTorch's OIHW [O, I, kH, kW] ↔ the HWIO
 * [kH, kW, I, O] layout the GPU kernels use, and folding an eval-mode BatchNorm that follows a
 * convolution into the convolution's weights and a bias (the eval fast path:
 * BN(conv(x, w)) = conv(x, w·s) + (β − μ·s) with s = γ / √(σ² + ε)).
 *
 * @module
 */

export type Shape4 = readonly [number, number, number, number];

function checkShape(what: string, w: ArrayLike<number>, shape: Shape4): void {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(`${what}: shape must be 4 positive integers, got [${shape}]`);
  }
  const n = shape[0] * shape[1] * shape[2] * shape[3];
  if (w.length !== n) {
    throw new RangeError(`${what}: ${w.length} values do not fill shape [${shape}]`);
  }
}

/**
 * Repacks PyTorch conv weights OIHW → HWIO.
 *
 * @param w weights [O, I, kH, kW], row-major
 * @param shape [O, I, kH, kW]
 * @returns weights [kH, kW, I, O]
 */
export function oihwToHwio(w: ArrayLike<number>, shape: Shape4): Float32Array {
  checkShape("oihwToHwio", w, shape);
  const [o, i, kh, kw] = shape;
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((y * kw + x) * i + b) * o + a] = w[((a * i + b) * kh + y) * kw + x];
        }
      }
    }
  }
  return out;
}

/**
 * Repacks HWIO weights back to PyTorch's OIHW (for writing checkpoints).
 *
 * @param w weights [kH, kW, I, O], row-major
 * @param shape [kH, kW, I, O]
 * @returns weights [O, I, kH, kW]
 */
export function hwioToOihw(w: ArrayLike<number>, shape: Shape4): Float32Array {
  checkShape("hwioToOihw", w, shape);
  const [kh, kw, i, o] = shape;
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let b = 0; b < i; b++) {
        for (let a = 0; a < o; a++) {
          out[((a * i + b) * kh + y) * kw + x] = w[((y * kw + x) * i + b) * o + a];
        }
      }
    }
  }
  return out;
}

/** Result of {@link foldBatchNorm}. */
export interface FoldedConv {
  /** HWIO weights scaled per output channel. */
  weight: Float32Array;
  /** Per-output-channel bias [Cout]. */
  bias: Float32Array;
}

/**
 * Folds an eval-mode BatchNorm2d (running statistics) that follows a convolution into the
 * convolution: weight'[…, co] = w[…, co]·s[co], bias'[co] = (b[co] − μ[co])·s[co] + β[co] with
 * s = γ / √(σ² + ε). Computed in float64, rounded once to float32.
 *
 * @param wHwio conv weights [kH, kW, Cin, Cout] (Cout innermost)
 * @param cout number of output channels
 * @param convBias the convolution's own bias [Cout], if any (ResNet convs have none)
 */
export function foldBatchNorm(
  wHwio: ArrayLike<number>,
  cout: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  eps: number = 1e-5,
  convBias?: ArrayLike<number>,
): FoldedConv {
  if (!Number.isInteger(cout) || cout < 1 || wHwio.length % cout !== 0) {
    throw new RangeError(
      `foldBatchNorm: ${wHwio.length} weights are not a multiple of Cout ${cout}`,
    );
  }
  const named: [string, ArrayLike<number> | undefined][] = [
    ["gamma", gamma],
    ["beta", beta],
    ["runningMean", runningMean],
    ["runningVar", runningVar],
    ["convBias", convBias],
  ];
  for (const [name, v] of named) {
    if (v !== undefined && v.length !== cout) {
      throw new RangeError(`foldBatchNorm: ${name} has ${v.length} values, expected ${cout}`);
    }
  }
  if (!(eps >= 0)) throw new RangeError(`foldBatchNorm: eps must be ≥ 0, got ${eps}`);
  const scale = new Float64Array(cout);
  const bias = new Float32Array(cout);
  for (let c = 0; c < cout; c++) {
    scale[c] = gamma[c] / Math.sqrt(runningVar[c] + eps);
    bias[c] = ((convBias ? convBias[c] : 0) - runningMean[c]) * scale[c] + beta[c];
  }
  const weight = new Float32Array(wHwio.length);
  for (let i = 0; i < wHwio.length; i++) weight[i] = wHwio[i] * scale[i % cout];
  return { weight, bias };
}
