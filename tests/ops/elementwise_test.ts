import { Tensor } from "../../src/gpu/tensor.ts";
import { add, addRelu, axpby, relu, reluBackward } from "../../src/ops/elementwise.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { numericGradient, refAdd, refRelu, refReluBackward } from "./elementwise_reference.ts";

/** Normal values with some exact zeros, where the ReLU's gradient convention matters. */
function withZeros(rng: Rng, n: number): Float32Array {
  const x = rng.normalArray(n);
  for (let i = 0; i < n; i += 1 + rng.int(9)) x[i] = 0;
  return x;
}

// 7·7·5, 13·13·67, and one size past 65 535 workgroups of 64 (a 2-D grid).
const SHAPES = [[3, 7, 7, 5], [1, 13, 13, 67], [65535 * 64 + 77]];

Deno.test({
  name: "relu() and reluBackward() match the float64 reference (mask from input or output)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("relu");
    for (const shape of SHAPES) {
      const n = shape.reduce((a, b) => a * b);
      const x = withZeros(rng, n);
      const dy = rng.normalArray(n);
      const xt = Tensor.from(gpu, x, shape);
      const dyt = Tensor.from(gpu, dy, shape);
      poisonPool(gpu, [n]);
      const y = relu(gpu, xt);
      const dxFromInput = reluBackward(gpu, dyt, xt);
      const dxFromOutput = reluBackward(gpu, dyt, y);
      const [gy, gdx1, gdx2] = await gpu.recorder.read([y, dxFromInput, dxFromOutput]);
      assertRelClose(gy, refRelu(x), 0, `relu [${shape}]`);
      const ref = refReluBackward(dy, x);
      assertRelClose(gdx1, ref, 0, `reluBackward from input [${shape}]`);
      assertRelClose(gdx2, ref, 0, `reluBackward from output [${shape}]`);
      assert(y.shape.join() === shape.join(), "relu keeps the shape");
      for (const t of [xt, dyt, y, dxFromInput, dxFromOutput]) t.release();
    }
  },
});

Deno.test({
  name: "reluBackward() equals central finite differences away from the kink",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("relu fd");
    const n = 3 * 5 * 5 * 3;
    const x = rng.normalArray(n).map((v) => (Math.abs(v) < 1e-3 ? 0.5 : v));
    const dy = rng.normalArray(n);
    const xt = Tensor.from(gpu, x);
    const dyt = Tensor.from(gpu, dy);
    const dx = reluBackward(gpu, dyt, xt);
    const [gdx] = await gpu.recorder.read([dx]);
    assertRelClose(gdx, numericGradient(refRelu, x, dy), 1e-8, "dx");
    for (const t of [xt, dyt, dx]) t.release();
  },
});

Deno.test({
  name: "add() and addRelu() match the float64 reference",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("add");
    for (const shape of SHAPES) {
      const n = shape.reduce((a, b) => a * b);
      const a = rng.normalArray(n);
      const b = rng.normalArray(n);
      const at = Tensor.from(gpu, a, shape);
      const bt = Tensor.from(gpu, b, shape);
      poisonPool(gpu, [n]);
      const sum = add(gpu, at, bt);
      const fused = addRelu(gpu, at, bt);
      const lin = axpby(gpu, 1, at, 1, bt);
      const [gs, gf, gl] = await gpu.recorder.read([sum, fused, lin]);
      // One f32 rounding of an exact sum: ≤ 2^-24 relative per element.
      assertRelClose(gs, refAdd(a, b), 1e-7, `add [${shape}]`);
      assertRelClose(gf, refAdd(a, b, true), 1e-7, `addRelu [${shape}]`);
      assertArrayEqual(gl, gs, `axpby(1, a, 1, b) = add [${shape}]`);
      for (const t of [at, bt, sum, fused, lin]) t.release();
    }
  },
});

Deno.test({
  name: "add() and reluBackward() reject mismatched sizes",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const a = Tensor.zeros(gpu, [2, 3]);
    const b = Tensor.zeros(gpu, [7]);
    for (const fn of [() => add(gpu, a, b), () => reluBackward(gpu, a, b)]) {
      let message = "";
      try {
        fn();
      } catch (error) {
        assert(error instanceof RangeError, "RangeError expected");
        message = (error as Error).message;
      }
      assert(/sizes 6 .* and 7/.test(message), `message: ${message}`);
    }
    a.release();
    b.release();
  },
});
