/**
 * Float64 CPU references for GEMM and linear layers: plain loops, row-major arrays.
 *
 * @module
 */

/** Options of {@link matmulRef}, mirroring `matmul()`. */
export interface MatmulRefOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  bias?: ArrayLike<number>;
  /** Batches; an operand with `aBatched`/`bBatched` false is shared by every batch. */
  batch?: number;
  aBatched?: boolean;
  bBatched?: boolean;
}

/**
 * C[b] = alpha · op(A[b]) · op(B[b]) (+ bias) in float64. op(A) is [M, K] (A stored [M, K], or
 * [K, M] when transposed), op(B) is [K, N] (B stored [K, N], or [N, K]); C is [batch, M, N].
 */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  options: MatmulRefOptions = {},
): Float64Array {
  const { transA = false, transB = false, alpha = 1, bias, batch = 1 } = options;
  const aOff = (options.aBatched ?? batch > 1) ? M * K : 0;
  const bOff = (options.bBatched ?? batch > 1) ? K * N : 0;
  const c = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const av = a[t * aOff + (transA ? k * M + i : i * K + k)];
          const bv = b[t * bOff + (transB ? j * K + k : k * N + j)];
          sum += av * bv;
        }
        c[(t * M + i) * N + j] = alpha * sum + (bias ? bias[j] : 0);
      }
    }
  }
  return c;
}

/** y = x · Wᵀ + b for x [n, in], W [out, in], b [out] (PyTorch's linear layer). */
export function linearForwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | undefined,
  n: number,
  inF: number,
  outF: number,
): Float64Array {
  return matmulRef(x, w, n, outF, inF, { transB: true, bias: b });
}

/** Gradients of a linear layer: dx = dy · W, dW = dyᵀ · x, db = column sums of dy. */
export function linearBackwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dy: ArrayLike<number>,
  n: number,
  inF: number,
  outF: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(n * inF);
  const dw = new Float64Array(outF * inF);
  const db = new Float64Array(outF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      const g = dy[r * outF + o];
      db[o] += g;
      for (let i = 0; i < inF; i++) {
        dx[r * inF + i] += g * w[o * inF + i];
        dw[o * inF + i] += g * x[r * inF + i];
      }
    }
  }
  return { dx, dw, db };
}
