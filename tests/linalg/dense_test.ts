import { engineTest } from "./engines.ts";
import { cholesky, choleskyInPlace, NotPositiveDefiniteError } from "../../src/linalg/cholesky.ts";
import {
  gemmNT,
  gramRows,
  matmul,
  matmulNT,
  matmulTN,
  type Matrix,
  transpose,
} from "../../src/linalg/dense.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import type { Rng } from "../../src/util/rng.ts";

function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  return { rows, cols, data: Float64Array.from({ length: rows * cols }, () => rng.normal()) };
}

/** Plain triple loop: C[i, j] = Σ_p A[i, p]·B[p, j]. */
function naiveMatmul(a: Matrix, b: Matrix): Float64Array {
  const c = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let s = 0;
      for (let p = 0; p < a.cols; p++) s += a.data[i * a.cols + p] * b.data[p * b.cols + j];
      c[i * b.cols + j] = s;
    }
  }
  return c;
}

function t(m: Matrix): Matrix {
  return { rows: m.cols, cols: m.rows, data: transpose(m.data, m.rows, m.cols) };
}

engineTest(
  "matmulNT(), matmul() and matmulTN() match a triple loop on odd shapes across block edges",
  () => {
    const rng = testRng("dense-matmul");
    for (const [m, k, n] of [[1, 1, 1], [2, 5, 3], [7, 13, 5], [67, 300, 98], [100, 257, 4]]) {
      const a = randomMatrix(rng, m, k);
      const b = randomMatrix(rng, k, n);
      const ref = naiveMatmul(a, b);
      assertRelClose(matmul(a, b).data, ref, 1e-14, `matmul ${m}x${k}x${n}`);
      assertRelClose(matmulNT(a, t(b)).data, ref, 1e-14, `matmulNT ${m}x${k}x${n}`);
      assertRelClose(matmulTN(t(a), b).data, ref, 1e-14, `matmulTN ${m}x${k}x${n}`);
    }
  },
);

engineTest(
  "gemmNT() accumulates with alpha, offsets and strides; lower mode fills the lower triangle",
  () => {
    const rng = testRng("dense-gemm");
    const m = 41, n = 41, k = 29, lda = 33, ldc = 45;
    const a = Float64Array.from({ length: 3 + m * lda }, () => rng.normal());
    const c0 = Float64Array.from({ length: 5 + m * ldc }, () => rng.normal());
    const c = c0.slice();
    gemmNT(m, n, k, -0.5, a, 3, lda, a, 3, lda, c, 5, ldc, true);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[3 + i * lda + p] * a[3 + j * lda + p];
        const want = c0[5 + i * ldc + j] - 0.5 * s;
        assert(Math.abs(c[5 + i * ldc + j] - want) <= 1e-13 * (1 + Math.abs(want)), `(${i}, ${j})`);
      }
      // Padding between rows is never touched.
      for (let j = n; j < ldc && 5 + i * ldc + j < c.length; j++) {
        assert(c[5 + i * ldc + j] === c0[5 + i * ldc + j], `padding (${i}, ${j}) untouched`);
      }
    }
    const g = gramRows(randomMatrix(rng, 50, 7));
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < 50; j++) assert(g.data[i * 50 + j] === g.data[j * 50 + i], "symmetric");
    }
  },
);

engineTest("transpose() round-trips", () => {
  const rng = testRng("dense-transpose");
  const a = randomMatrix(rng, 37, 70);
  assertArrayEqual(transpose(transpose(a.data, 37, 70), 70, 37), a.data, "AᵀᵀA");
});

engineTest(
  "choleskyInPlace() reconstructs A + jitter·I across block boundaries and rejects indefinite input",
  () => {
    const rng = testRng("dense-chol");
    for (const n of [1, 2, 5, 95, 96, 97, 200, 301]) {
      const g = randomMatrix(rng, n, n + 3);
      const a = gramRows(g).data;
      const l = choleskyInPlace(a.slice(), n, 1e-3);
      const back = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = i === j ? -1e-3 : 0;
          for (let p = 0; p <= Math.min(i, j); p++) s += l[i * n + p] * l[j * n + p];
          back[i * n + j] = s;
        }
      }
      assertRelClose(back, a, 1e-12, `L·Lᵀ n=${n}`);
      assertArrayEqual(cholesky(a, n, 1e-3), l, `cholesky() is the copying form, n=${n}`);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) assert(l[i * n + j] === 0, "upper triangle zeroed");
      }
    }
    const bad = new Float64Array([1, 2, 2, 1]);
    let caught: unknown;
    try {
      choleskyInPlace(bad, 2);
    } catch (e) {
      caught = e;
    }
    assert(caught instanceof NotPositiveDefiniteError, "indefinite matrix throws");
  },
);
