import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { linearBackward, linearForward } from "../../src/ops/linear.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { numericGradient } from "./elementwise_reference.ts";
import { linearBackwardRef, linearForwardRef } from "./matmul_reference.ts";

const TOL = 1e-5;

function randomTensor(gpu: Gpu, rng: Rng, shape: number[]): [Tensor, Float32Array] {
  const data = rng.uniformArray(shape.reduce((a, b) => a * b, 1));
  return [Tensor.from(gpu, data, shape), data];
}

// [n, in, out]: odd sizes, one row, and a layer shaped like a projection head.
const SHAPES: [number, number, number][] = [[5, 3, 7], [1, 67, 5], [33, 128, 67], [7, 129, 3]];

Deno.test({
  name: "linearForward() matches the float64 reference with and without bias",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("linear forward");
    for (const [n, inF, outF] of SHAPES) {
      const [x, xv] = randomTensor(gpu, rng, [n, inF]);
      const [w, wv] = randomTensor(gpu, rng, [outF, inF]);
      const [b, bv] = randomTensor(gpu, rng, [outF]);
      poisonPool(gpu, [n * outF]);
      const y = linearForward(gpu, x, w, b);
      const y0 = linearForward(gpu, x, w);
      assert(y.shape.join() === `${n},${outF}`, `shape [${y.shape}]`);
      const [got, got0] = await gpu.recorder.read([y, y0]);
      const what = `n=${n} in=${inF} out=${outF}`;
      assertRelClose(got, linearForwardRef(xv, wv, bv, n, inF, outF), TOL, `${what} bias`);
      assertRelClose(got0, linearForwardRef(xv, wv, undefined, n, inF, outF), TOL, what);
      for (const t of [x, w, b, y, y0]) t.release();
    }
  },
});

Deno.test({
  name: "linearBackward() matches the float64 reference gradients",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("linear backward");
    for (const [n, inF, outF] of SHAPES) {
      const [x, xv] = randomTensor(gpu, rng, [n, inF]);
      const [w, wv] = randomTensor(gpu, rng, [outF, inF]);
      const [dy, dyv] = randomTensor(gpu, rng, [n, outF]);
      poisonPool(gpu, [n * inF, outF * inF, outF]);
      const { dx, dw, db } = linearBackward(gpu, x, w, dy);
      assert(dx.shape.join() === `${n},${inF}`, `dx [${dx.shape}]`);
      assert(dw.shape.join() === `${outF},${inF}`, `dw [${dw.shape}]`);
      assert(db.shape.join() === `${outF}`, `db [${db.shape}]`);
      const [gdx, gdw, gdb] = await gpu.recorder.read([dx, dw, db]);
      const want = linearBackwardRef(xv, wv, dyv, n, inF, outF);
      const what = `n=${n} in=${inF} out=${outF}`;
      assertRelClose(gdx, want.dx, TOL, `${what} dx`);
      assertRelClose(gdw, want.dw, TOL, `${what} dw`);
      assertRelClose(gdb, want.db, TOL, `${what} db`);
      for (const t of [x, w, dy, dx, dw, db]) t.release();
    }
  },
});

Deno.test({
  name: "linearBackward() agrees with central finite differences of the forward reference",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("linear finite differences");
    const [n, inF, outF] = [3, 5, 4];
    const [x, xv] = randomTensor(gpu, rng, [n, inF]);
    const [w, wv] = randomTensor(gpu, rng, [outF, inF]);
    const bv = rng.uniformArray(outF);
    // The loss Σ dy ⊙ y has gradient dy with respect to y.
    const [dy, dyv] = randomTensor(gpu, rng, [n, outF]);
    const { dx, dw, db } = linearBackward(gpu, x, w, dy);
    const [gdx, gdw, gdb] = await gpu.recorder.read([dx, dw, db]);
    const fdx = numericGradient((p) => linearForwardRef(p, wv, bv, n, inF, outF), xv, dyv);
    const fdw = numericGradient((p) => linearForwardRef(xv, p, bv, n, inF, outF), wv, dyv);
    const fdb = numericGradient((p) => linearForwardRef(xv, wv, p, n, inF, outF), bv, dyv);
    // The differences are exact up to ~1e-9 (the loss is linear); the GPU gradients are f32.
    assertRelClose(gdx, fdx, TOL, "dx");
    assertRelClose(gdw, fdw, TOL, "dw");
    assertRelClose(gdb, fdb, TOL, "db");
    for (const t of [x, w, dy, dx, dw, db]) t.release();
  },
});

Deno.test({
  name: "linearForward() and linearBackward() reject mismatched shapes with RangeError",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const t = (shape: number[]) => Tensor.empty(gpu, shape);
    const cases: [string, () => unknown, RegExp][] = [
      ["features", () => linearForward(gpu, t([2, 3]), t([4, 5])), /features/],
      ["rank", () => linearForward(gpu, t([2, 3, 1]), t([4, 3])), /must be \[n, in\]/],
      ["bias", () => linearForward(gpu, t([2, 3]), t([4, 3]), t([5])), /bias must be \[4\]/],
      ["dy", () => linearBackward(gpu, t([2, 3]), t([4, 3]), t([2, 5])), /dy must be \[2, 4\]/],
    ];
    for (const [what, fn, pattern] of cases) {
      await assertRejects(async () => await fn(), pattern, what);
    }
  },
});
