import { Tuner } from "../../src/gpu/autotune.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { splitWorkgroups } from "../../src/gpu/recorder.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { poison } from "../../src/ops/elementwise.ts";
import {
  columnSum,
  matmul,
  MATMUL_VARIANTS,
  matmulShapeKey,
  matmulTune,
  type MatmulVariant,
} from "../../src/ops/matmul.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { matmulRef } from "./matmul_reference.ts";

// f32 products summed over K ≤ 129 terms stay within ~1e-7 relative error; 1e-5 is the suite's
// standard tolerance.
const TOL = 1e-5;

/**
 * Shapes per transpose combination. Each combination compiles one pipeline per variant, and
 * the shapes are chosen so that the four of them reach every load path: op(A) and op(B) read
 * as vec4 or as scalars, stored plain or transposed (A is read as vec4 when its contiguous
 * dimension — K, or M when transposed — is a multiple of 4; B likewise with N, or K).
 */
const COMBOS: { transA: boolean; transB: boolean; shapes: [number, number, number][] }[] = [
  // A scalar (K odd), B vec4 (N % 4 = 0).
  { transA: false, transB: false, shapes: [[67, 132, 33], [1, 4, 1], [3, 8, 129]] },
  // Aᵀ-free, Bᵀ: both contiguous over K, K % 4 = 0: both vec4.
  { transA: false, transB: true, shapes: [[67, 129, 36], [1, 3, 4], [130, 5, 68]] },
  // Aᵀ vec4 (M % 4 = 0), B scalar (N odd).
  { transA: true, transB: false, shapes: [[68, 129, 67], [4, 1, 3]] },
  // Aᵀ scalar (M odd), Bᵀ scalar (K odd).
  { transA: true, transB: true, shapes: [[67, 129, 33], [1, 3, 1]] },
];

function randomTensor(gpu: Gpu, rng: Rng, shape: number[]): [Tensor, Float32Array] {
  const data = rng.uniformArray(shape.reduce((a, b) => a * b, 1));
  return [Tensor.from(gpu, data, shape), data];
}

/** An output tensor filled with NaN, so an element the kernel skips fails the comparison. */
function poisoned(gpu: Gpu, shape: number[]): Tensor {
  const t = Tensor.empty(gpu, shape);
  poison(gpu, t);
  return t;
}

for (const variant of MATMUL_VARIANTS) {
  Deno.test({
    name: `matmul() matches the float64 reference for every transpose combination (${variant})`,
    ...GPU_TEST,
    async fn() {
      const gpu = await testGpu();
      const rng = testRng(`matmul combos ${variant}`);
      for (const { transA, transB, shapes } of COMBOS) {
        for (const [M, N, K] of shapes) {
          const [a, av] = randomTensor(gpu, rng, transA ? [K, M] : [M, K]);
          const [b, bv] = randomTensor(gpu, rng, transB ? [N, K] : [K, N]);
          const out = poisoned(gpu, [M, N]);
          const c = matmul(gpu, a, b, { transA, transB, variant, out });
          assert(c === out, "matmul returns the out tensor");
          const [got] = await gpu.recorder.read([c]);
          assertRelClose(
            got,
            matmulRef(av, bv, M, N, K, { transA, transB }),
            TOL,
            `${variant} M=${M} N=${N} K=${K} transA=${transA} transB=${transB}`,
          );
          for (const t of [a, b, c]) t.release();
        }
      }
    },
  });

  Deno.test({
    name: `matmul() batches 3-D operands and broadcasts a 2-D one over the batch (${variant})`,
    ...GPU_TEST,
    async fn() {
      const gpu = await testGpu();
      const rng = testRng(`matmul batched ${variant}`);
      // [batch, M, K] × [batch, K, N], [batch, M, K] × [K, N], [M, K] × [batch, K, N]; K odd and
      // N % 4 = 0 reuse the first combination's pipeline.
      const cases: [number, number, number, number, boolean, boolean][] = [
        [2, 67, 132, 33, true, true],
        [3, 5, 8, 7, true, false],
        [3, 5, 8, 7, false, true],
        [1, 3, 4, 5, true, true],
      ];
      for (const [batch, M, N, K, aBatched, bBatched] of cases) {
        const [a, av] = randomTensor(gpu, rng, aBatched ? [batch, M, K] : [M, K]);
        const [b, bv] = randomTensor(gpu, rng, bBatched ? [batch, K, N] : [K, N]);
        const out = poisoned(gpu, [batch, M, N]);
        const c = matmul(gpu, a, b, { variant, out });
        const [got] = await gpu.recorder.read([c]);
        assertRelClose(
          got,
          matmulRef(av, bv, M, N, K, { batch, aBatched, bBatched }),
          TOL,
          `${variant} batch=${batch} M=${M} N=${N} K=${K} aBatched=${aBatched} bBatched=${bBatched}`,
        );
        for (const t of [a, b, c]) t.release();
      }
    },
  });

  Deno.test({
    name: `matmul() scales by alpha and adds the bias to every row (${variant})`,
    ...GPU_TEST,
    async fn() {
      const gpu = await testGpu();
      const rng = testRng(`matmul bias ${variant}`);
      for (const [M, N, K] of [[67, 129, 36], [3, 5, 4]] as const) {
        const [a, av] = randomTensor(gpu, rng, [M, K]);
        const [b, bv] = randomTensor(gpu, rng, [N, K]);
        const [bias, biasv] = randomTensor(gpu, rng, [N]);
        const alpha = rng.range(-2, 2);
        const out = poisoned(gpu, [M, N]);
        matmul(gpu, a, b, { transB: true, bias, alpha, variant, out });
        const [got] = await gpu.recorder.read([out]);
        const want = matmulRef(av, bv, M, N, K, { transB: true, alpha, bias: biasv });
        assertRelClose(got, want, TOL, `${variant} M=${M} N=${N} K=${K} alpha=${alpha}`);
        for (const t of [a, b, bias, out]) t.release();
      }
    },
  });
}

Deno.test({
  name: "matmul() computes all 70 000 rows of a tall product, and folds grids over 65 535",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("matmul tall");
    // 70 000 rows: many workgroups along M for every variant (K odd, N % 4 = 0: cached pipelines).
    const [M, N, K] = [70000, 4, 5];
    const [a, av] = randomTensor(gpu, rng, [M, K]);
    const [b, bv] = randomTensor(gpu, rng, [K, N]);
    const want = matmulRef(av, bv, M, N, K);
    for (const variant of MATMUL_VARIANTS) {
      const out = poisoned(gpu, [M, N]);
      matmul(gpu, a, b, { variant, out });
      const [got] = await gpu.recorder.read([out]);
      assertRelClose(got, want, TOL, `${variant} tall`);
      out.release();
    }
    // 70 000 batches of 2×3 · 3×4: one workgroup each, more than a grid dimension holds, so the
    // recorder folds the 1-D count into 2-D and the kernel must unfold it.
    const batch = 70000;
    assert(splitWorkgroups(batch)[1] > 1, "the grid is folded");
    const [x, xv] = randomTensor(gpu, rng, [batch, 2, 3]);
    const [y, yv] = randomTensor(gpu, rng, [batch, 3, 4]);
    const out = poisoned(gpu, [batch, 2, 4]);
    matmul(gpu, x, y, { variant: "reg", out });
    const [got] = await gpu.recorder.read([out]);
    assertRelClose(got, matmulRef(xv, yv, 2, 4, 3, { batch }), TOL, "folded grid");
    for (const t of [a, b, x, y, out]) t.release();
  },
});

Deno.test({
  name: "matmul() splits a K beyond llvmpipe's 65 535-iteration loop limit (K = 300 001)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("matmul long K");
    const [M, N, K] = [3, 4, 300001];
    const [a, av] = randomTensor(gpu, rng, [M, K]);
    const [b, bv] = randomTensor(gpu, rng, [K, N]);
    const out = poisoned(gpu, [M, N]);
    matmul(gpu, a, b, { variant: "reg", out });
    const [got] = await gpu.recorder.read([out]);
    // Sequential f32 sums of 300 001 products: error ~1e-5 of the terms' norm, and the result is
    // ~√K smaller than that norm, so relative error 1e-3 is the honest bound here.
    assertRelClose(got, matmulRef(av, bv, M, N, K), 1e-3, "long K");
    for (const t of [a, b, out]) t.release();
  },
});

Deno.test({
  name: "matmul() handles empty dimensions: K = 0 gives the bias, M = 0 gives an empty result",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("matmul empty");
    const [bias, biasv] = randomTensor(gpu, rng, [4]);
    const a = Tensor.empty(gpu, [3, 0]);
    const b = Tensor.empty(gpu, [0, 4]);
    const out = poisoned(gpu, [3, 4]);
    matmul(gpu, a, b, { bias, variant: "wg", out });
    const [got] = await gpu.recorder.read([out]);
    assertRelClose(got, Float64Array.from({ length: 12 }, (_, i) => biasv[i % 4]), 0, "K = 0");
    const empty = matmul(gpu, Tensor.empty(gpu, [0, 5]), Tensor.empty(gpu, [5, 4]));
    assert(empty.shape.join() === "0,4" && empty.size === 0, `shape [${empty.shape}]`);
    for (const t of [a, b, bias, out, empty]) t.release();
  },
});

Deno.test({
  name: "matmul() rejects mismatched shapes, batches, biases and outputs with RangeError",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const t = (shape: number[]) => Tensor.empty(gpu, shape);
    const cases: [string, () => unknown, RegExp][] = [
      ["inner", () => matmul(gpu, t([2, 3]), t([4, 5])), /inner dimensions differ/],
      ["transB inner", () => matmul(gpu, t([2, 3]), t([3, 5]), { transB: true }), /inner/],
      ["rank", () => matmul(gpu, t([2]), t([2, 5])), /2-D or 3-D/],
      ["batch", () => matmul(gpu, t([2, 2, 3]), t([3, 3, 4])), /batch sizes differ/],
      ["bias", () => matmul(gpu, t([2, 3]), t([3, 4]), { bias: t([5]) }), /bias must be/],
      ["out", () => matmul(gpu, t([2, 3]), t([3, 4]), { out: t([2, 5]) }), /out must be/],
      ["dtype", () => matmul(gpu, Tensor.empty(gpu, [2, 3], "i32"), t([3, 4])), /must be f32/],
      ["variant", () => matmul(gpu, t([2, 3]), t([3, 4]), { variant: "x" as never }), /variant/],
    ];
    for (const [what, fn, pattern] of cases) {
      await assertRejects(async () => await fn(), pattern, what);
    }
    const a = t([2, 2]);
    await assertRejects(
      () => Promise.resolve().then(() => matmul(gpu, a, t([2, 2]), { out: a })),
      /share/,
      "aliasing",
    );
  },
});

Deno.test({
  name: "columnSum() matches the float64 reference, 70 000 rows included",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("columnSum");
    for (const [rows, cols] of [[1, 1], [5, 3], [129, 67], [70000, 5]]) {
      const [x, xv] = randomTensor(gpu, rng, [rows, cols]);
      const want = new Float64Array(cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want[j] += xv[i * cols + j];
      const out = columnSum(gpu, x);
      const [got] = await gpu.recorder.read([out]);
      assertRelClose(got, want, TOL, `rows=${rows} cols=${cols}`);
      const second = columnSum(gpu, x);
      const [again] = await gpu.recorder.read([second]);
      assert(again.every((v, i) => Object.is(v, got[i])), "bit-identical on a second run");
      for (const t of [x, out, second]) t.release();
    }
  },
});

Deno.test({
  name: "matmulTune() times every variant, stores the winner and matmul() results stay exact",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    try {
      const tuner = new Tuner(gpu, `${dir}/autotune.json`);
      // The second combination's shapes (K % 4 = 0, transB): its pipelines are already built.
      const picked = await matmulTune(gpu, 67, 129, 36, { transB: true, tuner, reps: 1 });
      assert(MATMUL_VARIANTS.includes(picked), `picked ${picked}`);
      const key = matmulShapeKey(67, 129, 36, { transB: true });
      const stored = new Tuner(gpu, `${dir}/autotune.json`)
        .choose("matmul", key, MATMUL_VARIANTS, "none");
      assert(stored === picked, `stored ${stored}, picked ${picked}`);
      const rng = testRng("matmul tune");
      const [a, av] = randomTensor(gpu, rng, [60, 36]);
      const [b, bv] = randomTensor(gpu, rng, [100, 36]);
      const c = matmul(gpu, a, b, { transB: true, variant: picked as MatmulVariant });
      const [got] = await gpu.recorder.read([c]);
      assertRelClose(got, matmulRef(av, bv, 60, 100, 36, { transB: true }), TOL, picked);
      for (const t of [a, b, c]) t.release();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
