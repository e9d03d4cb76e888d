import { Tensor } from "../../src/gpu/tensor.ts";
import { l2NormalizeBackward, l2NormalizeForward } from "../../src/ops/normalize.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { numericGradient } from "./elementwise_reference.ts";
import { refL2Normalize, refL2NormalizeBackward } from "./normalize_reference.ts";

// [rows, dim]: odd sizes, MoCo's 256×128 features, the 2048-d backbone, and more rows than one
// grid dimension holds (a 2-D grid of workgroups).
const SHAPES: [number, number][] = [[1, 3], [5, 67], [256, 128], [7, 2048], [70001, 3]];

Deno.test({
  name: "l2NormalizeForward() and l2NormalizeBackward() match the float64 reference",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("normalize");
    for (const [rows, dim] of SHAPES) {
      const x = rng.normalArray(rows * dim);
      // Rows scaled over many magnitudes, one all-zero row and one below eps (clamped).
      for (let r = 0; r < rows; r++) {
        const scale = r === 1 ? 0 : r === 2 ? 1e-14 : 10 ** rng.range(-3, 3);
        for (let j = 0; j < dim; j++) x[r * dim + j] *= scale;
      }
      const dy = rng.normalArray(rows * dim);
      const xt = Tensor.from(gpu, x, [rows, dim]);
      const dyt = Tensor.from(gpu, dy, [rows, dim]);
      poisonPool(gpu, [x.length]);
      const y = l2NormalizeForward(gpu, xt);
      const dx = l2NormalizeBackward(gpu, dyt, xt);
      const [gy, gdx] = await gpu.recorder.read([y, dx]);
      assertRelClose(gy, refL2Normalize(x, rows, dim), 1e-6, `y [${rows}, ${dim}]`);
      // Per-row comparison: the clamped rows' dy/eps (1e12) would otherwise swamp the others.
      // dx is dy's part orthogonal to y, over ‖x‖: when dy is nearly parallel to y (likely among
      // hundreds of 3-d rows) that part is a small difference of O(‖dy‖/‖x‖) terms, so the error
      // is measured against that scale, the one float32 rounding works at.
      const ref = refL2NormalizeBackward(dy, x, rows, dim);
      for (let r = 0; r < Math.min(rows, 300); r++) {
        const s = r * dim;
        let err = 0;
        let dyNorm = 0;
        let xNorm = 0;
        for (let j = s; j < s + dim; j++) {
          err += (gdx[j] - ref[j]) ** 2;
          dyNorm += dy[j] ** 2;
          xNorm += x[j] ** 2;
        }
        const scale = Math.sqrt(dyNorm) / Math.max(Math.sqrt(xNorm), 1e-12);
        assert(
          Math.sqrt(err) <= 1e-5 * scale,
          `dx row ${r} of [${rows}, ${dim}]: error ${Math.sqrt(err)} vs scale ${scale}`,
        );
      }
      assertRelClose(gdx, ref, 1e-5, `dx [${rows}, ${dim}]`);
      for (const t of [xt, dyt, y, dx]) t.release();
    }
  },
});

Deno.test({
  name: "l2NormalizeBackward() equals central finite differences of the float64 forward",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("normalize fd");
    for (const [rows, dim] of [[3, 5], [2, 67]]) {
      const x = rng.normalArray(rows * dim);
      const dy = rng.normalArray(rows * dim);
      const xt = Tensor.from(gpu, x, [rows, dim]);
      const dyt = Tensor.from(gpu, dy, [rows, dim]);
      const dx = l2NormalizeBackward(gpu, dyt, xt);
      const [gdx] = await gpu.recorder.read([dx]);
      const fd = numericGradient((v) => refL2Normalize(v, rows, dim), x, dy);
      assertRelClose(gdx, fd, 1e-5, `dx [${rows}, ${dim}]`);
      for (const t of [xt, dyt, dx]) t.release();
    }
  },
});

Deno.test({
  name: "l2NormalizeForward() rejects a non-matrix input",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const x = Tensor.zeros(gpu, [2, 3, 4]);
    let message = "";
    try {
      l2NormalizeForward(gpu, x);
    } catch (error) {
      assert(error instanceof RangeError, "RangeError expected");
      message = (error as Error).message;
    }
    assert(/\[N, D\], got f32 \[2,3,4\]/.test(message), `message: ${message}`);
    x.release();
  },
});
