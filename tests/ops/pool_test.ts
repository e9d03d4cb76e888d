import { Tensor } from "../../src/gpu/tensor.ts";
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  maxPool2dOutputShape,
  type MaxPoolOptions,
} from "../../src/ops/pool.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { numericGradient } from "./elementwise_reference.ts";
import {
  type PoolGeom,
  poolOut,
  refGlobalAvgPool,
  refGlobalAvgPoolBackward,
  refMaxPool,
  refMaxPoolBackward,
} from "./pool_reference.ts";

function optionsOf(g: PoolGeom): MaxPoolOptions {
  return { kernel: [g.kh, g.kw], stride: [g.sh, g.sw], padding: [g.ph, g.pw] };
}

function geom(n: number, h: number, w: number, c: number, k = 3, s = 2, p = 1): PoolGeom {
  return { n, h, w, c, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p };
}

const CASES: PoolGeom[] = [
  geom(1, 7, 7, 3), // ResNet's 3×3/2 pad 1
  geom(2, 13, 13, 5),
  geom(2, 13, 13, 67, 3, 1, 1), // stride 1: every input is in up to 9 windows
  geom(3, 7, 7, 5, 2, 2, 0),
  { n: 2, h: 12, w: 9, c: 3, kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 1 },
  geom(1, 57, 57, 3),
];

/** Values from a few levels (many ties) or continuous normals. */
function input(rng: Rng, size: number, ties: boolean): Float32Array {
  return ties ? Float32Array.from({ length: size }, () => rng.int(3) - 1) : rng.normalArray(size);
}

Deno.test({
  name: "maxPool2dForward() matches the float64 reference with PyTorch's arg-max on ties",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("maxpool forward");
    for (const g of CASES) {
      for (const ties of [false, true]) {
        const what = `${JSON.stringify(g)} ties=${ties}`;
        const x = input(rng, g.n * g.h * g.w * g.c, ties);
        const xt = Tensor.from(gpu, x, [g.n, g.h, g.w, g.c]);
        const [oh, ow] = poolOut(g);
        const outShape = [g.n, oh, ow, g.c];
        assertArrayEqual(maxPool2dOutputShape(xt.shape, optionsOf(g)), outShape, "shape");
        const outSize = g.n * oh * ow * g.c;
        // Poisons y and the indices alike (NaN bits read as a large i32).
        poisonPool(gpu, [outSize]);
        const { y, indices } = maxPool2dForward(gpu, xt, optionsOf(g));
        assertArrayEqual(y.shape, outShape, "y shape");
        assert(indices.dtype === "i32", "indices are i32");
        const [gy, gi] = await gpu.recorder.read([y, indices]);
        const ref = refMaxPool(x, g);
        assertRelClose(gy, ref.y, 0, `y ${what}`);
        assertArrayEqual(gi, ref.idx, `indices ${what}`);
        for (const t of [xt, y, indices]) t.release();
      }
    }
  },
});

Deno.test({
  name: "maxPool2dBackward() matches the float64 reference, summing overlapping windows",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("maxpool backward");
    for (const g of CASES) {
      // Ties make several overlapping windows pick the same input.
      for (const ties of [false, true]) {
        const what = `${JSON.stringify(g)} ties=${ties}`;
        const x = input(rng, g.n * g.h * g.w * g.c, ties);
        const [oh, ow] = poolOut(g);
        const dy = rng.normalArray(g.n * oh * ow * g.c);
        const xt = Tensor.from(gpu, x, [g.n, g.h, g.w, g.c]);
        const dyt = Tensor.from(gpu, dy, [g.n, oh, ow, g.c]);
        const { y, indices } = maxPool2dForward(gpu, xt, optionsOf(g));
        poisonPool(gpu, [x.length]);
        const dx = maxPool2dBackward(gpu, dyt, indices, xt.shape, optionsOf(g));
        const [gdx, gi] = await gpu.recorder.read([dx, indices]);
        // f32 sums of at most ⌈k/s⌉² terms in a different order than the float64 scatter.
        assertRelClose(gdx, refMaxPoolBackward(dy, gi, g), 1e-6, `dx ${what}`);
        for (const t of [xt, dyt, y, indices, dx]) t.release();
      }
    }
  },
});

Deno.test({
  name: "maxPool2dBackward() equals central finite differences away from ties",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("maxpool fd");
    for (const g of [geom(2, 7, 7, 3), geom(1, 6, 5, 2, 3, 1, 1)]) {
      const size = g.n * g.h * g.w * g.c;
      // Distinct values at least 0.01 apart, so a 1e-6 step never changes an arg-max.
      const order = rng.shuffle(Array.from({ length: size }, (_, i) => i));
      const x = Float32Array.from(order, (k) => 0.01 * k - 1);
      const [oh, ow] = poolOut(g);
      const dy = rng.normalArray(g.n * oh * ow * g.c);
      const xt = Tensor.from(gpu, x, [g.n, g.h, g.w, g.c]);
      const dyt = Tensor.from(gpu, dy, [g.n, oh, ow, g.c]);
      const { y, indices } = maxPool2dForward(gpu, xt, optionsOf(g));
      const dx = maxPool2dBackward(gpu, dyt, indices, xt.shape, optionsOf(g));
      const [gdx] = await gpu.recorder.read([dx]);
      const fd = numericGradient((v) => refMaxPool(v, g).y, x, dy);
      assertRelClose(gdx, fd, 1e-6, `dx ${JSON.stringify(g)}`);
      for (const t of [xt, dyt, y, indices, dx]) t.release();
    }
  },
});

Deno.test({
  name: "maxPool2dForward() propagates NaN like PyTorch",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    // NaNs in a 3×3 window (stride 1, no padding) win over larger values; the last one's index.
    const values = new Float32Array([1, Number.NaN, 3, 4, Number.NaN, 6, 7, 8, 9]);
    const xt = Tensor.from(gpu, values, [1, 3, 3, 1]);
    const { y, indices } = maxPool2dForward(gpu, xt, { kernel: 3, stride: 1, padding: 0 });
    const [gy, gi] = await gpu.recorder.read([y, indices]);
    assert(Number.isNaN(gy[0]), `max with a NaN is NaN, got ${gy[0]}`);
    assert(gi[0] === 4, `arg-max points at the NaN, got ${gi[0]}`);
    for (const t of [xt, y, indices]) t.release();
  },
});

Deno.test({
  name: "globalAvgPoolForward() and globalAvgPoolBackward() match the float64 reference",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("avgpool");
    for (const [n, h, w, c] of [[1, 7, 7, 3], [2, 13, 13, 67], [3, 7, 7, 5], [2, 57, 57, 5]]) {
      const x = rng.normalArray(n * h * w * c).map((v) => v + 3);
      const dy = rng.normalArray(n * c);
      const xt = Tensor.from(gpu, x, [n, h, w, c]);
      const dyt = Tensor.from(gpu, dy, [n, c]);
      poisonPool(gpu, [n * c, x.length]);
      const y = globalAvgPoolForward(gpu, xt);
      const dx = globalAvgPoolBackward(gpu, dyt, xt.shape);
      assertArrayEqual(y.shape, [n, c], "y shape");
      const [gy, gdx] = await gpu.recorder.read([y, dx]);
      assertRelClose(gy, refGlobalAvgPool(x, n, h * w, c), 1e-6, `y [${xt.shape}]`);
      assertRelClose(gdx, refGlobalAvgPoolBackward(dy, n, h * w, c), 1e-6, `dx [${xt.shape}]`);
      for (const t of [xt, dyt, y, dx]) t.release();
    }
  },
});

Deno.test({
  name: "globalAvgPoolBackward() equals central finite differences",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("avgpool fd");
    const [n, h, w, c] = [2, 5, 3, 3];
    const x = rng.normalArray(n * h * w * c);
    const dy = rng.normalArray(n * c);
    const dyt = Tensor.from(gpu, dy, [n, c]);
    const dx = globalAvgPoolBackward(gpu, dyt, [n, h, w, c]);
    const [gdx] = await gpu.recorder.read([dx]);
    const fd = numericGradient((v) => refGlobalAvgPool(v, n, h * w, c), x, dy);
    assertRelClose(gdx, fd, 1e-6, "dx");
    dyt.release();
    dx.release();
  },
});

Deno.test({
  name: "pooling ops reject bad shapes and options",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const x = Tensor.zeros(gpu, [1, 4, 4, 2]);
    const cases: [() => unknown, RegExp][] = [
      [() => maxPool2dForward(gpu, x.reshape([16, 2])), /NHWC/],
      [() => maxPool2dForward(gpu, x, { kernel: 3, padding: 2 }), /at most half/],
      [() => maxPool2dForward(gpu, x, { kernel: 7, padding: 0 }), /smaller than the kernel/],
      [() => maxPool2dForward(gpu, x, { stride: 0 }), /stride must be/],
      [() => maxPool2dBackward(gpu, x, x, [1, 4, 4, 2]), /must both be \[1,2,2,2\]/],
      [() => globalAvgPoolBackward(gpu, x, [1, 4, 4, 2]), /dy must be \[1, 2\]/],
    ];
    for (const [fn, pattern] of cases) {
      let message = "";
      try {
        fn();
      } catch (error) {
        assert(error instanceof RangeError, `RangeError expected, got ${error}`);
        message = (error as Error).message;
      }
      assert(pattern.test(message), `'${message}' should match ${pattern}`);
    }
    await gpu.sync();
    x.release();
  },
});
