import { Tensor } from "../../src/gpu/tensor.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { poison } from "../../src/ops/elementwise.ts";
import { conv2dBackwardData, conv2dBackwardFilter } from "../../src/ops/conv2d_backward.ts";
import { conv2dVariants } from "../../src/ops/conv2d_family.ts";
import { conv2dForward } from "../../src/ops/conv2d_forward.ts";
import { conv2dTune } from "../../src/ops/conv2d_tune.ts";
import { foldBatchNorm, hwioToOihw, oihwToHwio } from "../../src/ops/fold_batchnorm.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import {
  conv2dBackwardDataRef,
  conv2dBackwardFilterRef,
  conv2dRef,
  type RefConv,
  refOutShape,
} from "./conv2d_reference.ts";

// The tuner's cache goes to a private directory so tests neither read nor change the user's.
Deno.env.set("SSL_CACHE_DIR", Deno.makeTempDirSync({ prefix: "conv2d_test_" }));

/** f32 accumulation over at most a few thousand terms: relative L2 errors stay near 1e-7. */
const TOL = 1e-5;

type Shape4 = readonly [number, number, number, number];

interface Case {
  x: Shape4;
  k: number;
  cout: number;
  stride: number;
  pad: number;
}

function refConv(c: Case): RefConv {
  return { xShape: c.x, wShape: [c.k, c.k, c.x[3], c.cout], stride: c.stride, pad: [c.pad, c.pad] };
}

function describe(c: Case): string {
  return `x[${c.x}] ${c.k}x${c.k}/${c.stride} pad ${c.pad} -> ${c.cout}`;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** An output tensor filled with NaN, so an element the kernel skips fails the comparison. */
function poisoned(gpu: Gpu, shape: readonly number[]): Tensor {
  const t = Tensor.empty(gpu, shape);
  poison(gpu, t);
  return t;
}

// Odd channel counts (3, 5, 67), odd sizes (7, 13, 57), strides 1 and 2, batch 1 and > 1; one
// case per kernel family and geometry ResNet uses (3x3/1, 3x3/2, 1x1/2, the 7x7/2 RGB stem).
const CASES: Case[] = [
  { x: [2, 13, 13, 8], k: 3, cout: 12, stride: 1, pad: 1 }, // vec4
  { x: [1, 57, 57, 4], k: 3, cout: 8, stride: 2, pad: 1 }, // vec4, 57x57
  { x: [2, 7, 7, 68], k: 3, cout: 40, stride: 2, pad: 1 }, // vec4, channel tails past 32
  { x: [2, 13, 13, 4], k: 1, cout: 8, stride: 2, pad: 0 }, // vec4, 1x1/2
  { x: [2, 13, 13, 3], k: 7, cout: 8, stride: 2, pad: 3 }, // scalar Cin (stem)
  { x: [1, 7, 7, 67], k: 3, cout: 5, stride: 1, pad: 1 }, // scalar everything
  { x: [2, 7, 7, 5], k: 3, cout: 3, stride: 2, pad: 1 }, // scalar everything
];

function inputs(gpu: Gpu, rng: Rng, c: Case) {
  const rc = refConv(c);
  const outShape = refOutShape(rc);
  const xData = rng.normalArray(size(c.x));
  const wData = rng.normalArray(size(rc.wShape));
  const dyData = rng.normalArray(size(outShape));
  return {
    rc,
    outShape,
    xData,
    wData,
    dyData,
    x: Tensor.from(gpu, xData, c.x),
    w: Tensor.from(gpu, wData, rc.wShape),
    dy: Tensor.from(gpu, dyData, outShape),
    release(this: { x: Tensor; w: Tensor; dy: Tensor }) {
      this.x.release();
      this.w.release();
      this.dy.release();
    },
  };
}

Deno.test({
  name: "conv2dForward() matches the float64 reference for every variant, stride and channel tail",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("conv2d forward");
    for (const c of CASES) {
      const t = inputs(gpu, rng, c);
      const expected = conv2dRef(t.xData, t.wData, t.rc);
      for (const variant of conv2dVariants("forward", c.x[3], c.cout)) {
        const out = poisoned(gpu, t.outShape);
        const y = conv2dForward(gpu, t.x, t.w, { stride: c.stride, pad: c.pad, variant, out });
        assertRelClose(await y.read(), expected, TOL, `${describe(c)} ${variant}`);
        out.release();
      }
      t.release();
    }
  },
});

Deno.test({
  name: "conv2dForward() fuses bias, residual and ReLU in every combination and variant",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("conv2d epilogue");
    for (const c of [CASES[0], CASES[4], CASES[6]]) {
      const t = inputs(gpu, rng, c);
      const biasData = rng.normalArray(c.cout);
      const resData = rng.normalArray(size(t.outShape));
      const bias = Tensor.from(gpu, biasData, [c.cout]);
      const residual = Tensor.from(gpu, resData, t.outShape);
      const variants = conv2dVariants("forward", c.x[3], c.cout);
      // Every combination on one case; all three parts on the others (each combination is a
      // separate pipeline, and compiling them all for every family would take most of a minute).
      for (let combo = c === CASES[0] ? 1 : 7; combo < 8; combo++) {
        const useBias = (combo & 1) !== 0;
        const useRes = (combo & 2) !== 0;
        const relu = (combo & 4) !== 0;
        const expected = conv2dRef(t.xData, t.wData, t.rc, {
          bias: useBias ? biasData : undefined,
          residual: useRes ? resData : undefined,
          relu,
        });
        // All three parts on every variant; the partial combinations on the default one.
        for (const variant of combo === 7 ? variants : [undefined]) {
          const out = poisoned(gpu, t.outShape);
          const y = conv2dForward(gpu, t.x, t.w, {
            stride: c.stride,
            pad: c.pad,
            bias: useBias ? bias : undefined,
            residual: useRes ? residual : undefined,
            relu,
            variant,
            out,
          });
          const what = `${describe(c)} bias=${useBias} residual=${useRes} relu=${relu} ${variant}`;
          assertRelClose(await y.read(), expected, TOL, what);
          out.release();
        }
      }
      bias.release();
      residual.release();
      t.release();
    }
  },
});

Deno.test({
  name: "conv2dBackwardData() matches the float64 reference for every variant and stride phase",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("conv2d backward data");
    // Adds 1x1/2 on an even size: half of the input pixels receive no gradient (all-zero phases).
    const cases: Case[] = [...CASES, { x: [1, 8, 8, 4], k: 1, cout: 4, stride: 2, pad: 0 }];
    for (const c of cases) {
      const t = inputs(gpu, rng, c);
      const expected = conv2dBackwardDataRef(t.dyData, t.wData, t.rc);
      for (const variant of conv2dVariants("backwardData", c.x[3], c.cout)) {
        const out = poisoned(gpu, c.x);
        const dx = conv2dBackwardData(gpu, t.dy, t.w, {
          inputShape: c.x,
          stride: c.stride,
          pad: c.pad,
          variant,
          out,
        });
        assertRelClose(await dx.read(), expected, TOL, `${describe(c)} ${variant}`);
        out.release();
      }
      t.release();
    }
  },
});

Deno.test({
  name: "conv2dBackwardFilter() matches the float64 reference for every variant and split count",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("conv2d backward filter");
    for (const c of CASES) {
      const t = inputs(gpu, rng, c);
      const expected = conv2dBackwardFilterRef(t.xData, t.dyData, t.rc);
      for (const variant of conv2dVariants("backwardFilter", c.x[3], c.cout)) {
        // Default split count, no split, and an odd count that leaves a short last chunk.
        for (const splits of [undefined, 1, 3]) {
          const out = poisoned(gpu, t.rc.wShape);
          const dw = conv2dBackwardFilter(gpu, t.x, t.dy, {
            kernelSize: c.k,
            stride: c.stride,
            pad: c.pad,
            variant,
            splits,
            out,
          });
          assertRelClose(
            await dw.read(),
            expected,
            TOL,
            `${describe(c)} ${variant} splits=${splits}`,
          );
          out.release();
        }
      }
      t.release();
    }
  },
});

Deno.test({
  name: "conv2dBackwardFilter() sums more pixels than one invocation may loop over on llvmpipe",
  ...GPU_TEST,
  async fn() {
    // 90 000 output pixels: llvmpipe ends any invocation's loops silently after 65 535
    // iterations, so the op must split the pixel range even when asked for one split.
    const gpu = await testGpu();
    const rng = testRng("conv2d long reduction");
    const c: Case = { x: [1, 300, 300, 4], k: 1, cout: 4, stride: 1, pad: 0 };
    const t = inputs(gpu, rng, c);
    const expected = conv2dBackwardFilterRef(t.xData, t.dyData, t.rc);
    for (const variant of conv2dVariants("backwardFilter", 4, 4)) {
      const dw = conv2dBackwardFilter(gpu, t.x, t.dy, { kernelSize: 1, variant, splits: 1 });
      // f32 sums of up to ~16k products per chunk: allow 1e-5 (seen: ~7e-7).
      assertRelClose(await dw.read(), expected, TOL, variant);
      dw.release();
    }
    t.release();
  },
});

Deno.test({
  name: "conv2dBackwardFilter() is bit-identical from run to run",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("conv2d determinism");
    for (const c of [CASES[0], CASES[4], CASES[6]]) {
      const t = inputs(gpu, rng, c);
      for (const variant of conv2dVariants("backwardFilter", c.x[3], c.cout)) {
        const opts = { kernelSize: c.k, stride: c.stride, pad: c.pad, variant, splits: 4 };
        const a = conv2dBackwardFilter(gpu, t.x, t.dy, opts);
        const b = conv2dBackwardFilter(gpu, t.x, t.dy, opts);
        const [ra, rb] = await gpu.recorder.read([a, b]);
        assertArrayEqual(rb, ra, `${describe(c)} ${variant}`);
        a.release();
        b.release();
      }
      t.release();
    }
  },
});

Deno.test({
  name: "conv2d backward ops equal central finite differences of the forward convolution",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("conv2d finite differences");
    // L(x, w) = Σ conv(x, w) ⊙ r, so dL/dx = backwardData(r) and dL/dw = backwardFilter(x, r).
    // The differences are taken in float64 on the reference forward (exact up to rounding, as
    // L is bilinear), so this checks that the GPU backward ops are the forward's gradients.
    const fdCases: Case[] = [CASES[0], CASES[4], {
      x: [1, 5, 5, 3],
      k: 3,
      cout: 4,
      stride: 2,
      pad: 1,
    }];
    for (const c of fdCases) {
      const small: Case = { ...c, x: [1, Math.min(c.x[1], 6), Math.min(c.x[2], 6), c.x[3]] };
      const t = inputs(gpu, rng, small);
      const loss = (x: ArrayLike<number>, w: ArrayLike<number>) => {
        const y = conv2dRef(x, w, t.rc);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += y[i] * t.dyData[i];
        return s;
      };
      const h = 1e-3;
      const fd = (data: Float32Array, other: Float32Array, isX: boolean) => {
        const base = Float64Array.from(data);
        const out = new Float64Array(data.length);
        for (let i = 0; i < data.length; i++) {
          const keep = base[i];
          base[i] = keep + h;
          const up = isX ? loss(base, other) : loss(other, base);
          base[i] = keep - h;
          const down = isX ? loss(base, other) : loss(other, base);
          base[i] = keep;
          out[i] = (up - down) / (2 * h);
        }
        return out;
      };
      const dx = conv2dBackwardData(gpu, t.dy, t.w, {
        inputShape: small.x,
        stride: small.stride,
        pad: small.pad,
      });
      const dw = conv2dBackwardFilter(gpu, t.x, t.dy, {
        kernelSize: small.k,
        stride: small.stride,
        pad: small.pad,
      });
      const [gx, gw] = await gpu.recorder.read([dx, dw]);
      // Central differences of a bilinear function are exact; the tolerance covers f64 rounding
      // of the differences and the f32 GPU result.
      assertRelClose(gx, fd(t.xData, t.wData, true), 1e-5, `dx ${describe(small)}`);
      assertRelClose(gw, fd(t.wData, t.xData, false), 1e-5, `dw ${describe(small)}`);
      dx.release();
      dw.release();
      t.release();
    }
  },
});

Deno.test({
  name:
    "foldBatchNorm() gives the eval fast path: conv + folded bias + residual + ReLU = relu(BN(conv) + r)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("fold batchnorm");
    const c: Case = { x: [2, 7, 7, 8], k: 3, cout: 12, stride: 1, pad: 1 };
    const rc = refConv(c);
    const [kh, kw, cin, cout] = rc.wShape;
    // PyTorch order first: the repack must round-trip exactly.
    const wOihw = rng.normalArray(size(rc.wShape));
    const wHwio = oihwToHwio(wOihw, [cout, cin, kh, kw]);
    assertArrayEqual(hwioToOihw(wHwio, [kh, kw, cin, cout]), wOihw, "OIHW -> HWIO -> OIHW");
    assert(
      wHwio[((1 * kw + 2) * cin + 3) * cout + 5] === wOihw[((5 * cin + 3) * kh + 1) * kw + 2],
      "HWIO[1, 2, 3, 5] = OIHW[5, 3, 1, 2]",
    );
    const gamma = rng.uniformArray(cout, 0.5, 1.5);
    const beta = rng.normalArray(cout);
    const mean = rng.normalArray(cout);
    const variance = rng.uniformArray(cout, 0.1, 2);
    const eps = 1e-5;
    const folded = foldBatchNorm(wHwio, cout, gamma, beta, mean, variance, eps);

    const xData = rng.normalArray(size(c.x));
    const outShape = refOutShape(rc);
    const resData = rng.normalArray(size(outShape));
    const raw = conv2dRef(xData, wHwio, rc);
    const expected = new Float64Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const co = i % cout;
      const bn = gamma[co] * (raw[i] - mean[co]) / Math.sqrt(variance[co] + eps) + beta[co];
      expected[i] = Math.max(0, bn + resData[i]);
    }
    const x = Tensor.from(gpu, xData, c.x);
    const w = Tensor.from(gpu, folded.weight, rc.wShape);
    const bias = Tensor.from(gpu, folded.bias, [cout]);
    const residual = Tensor.from(gpu, resData, outShape);
    const y = conv2dForward(gpu, x, w, { stride: 1, pad: 1, bias, residual, relu: true });
    assertRelClose(await y.read(), expected, TOL, "folded conv");
    for (const t of [x, w, bias, residual, y]) t.release();
  },
});

Deno.test({
  name: "conv2d ops reject mismatched shapes and unknown variants with a RangeError",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const x = Tensor.zeros(gpu, [1, 5, 5, 4]);
    const w = Tensor.zeros(gpu, [3, 3, 4, 8]);
    const wrong = Tensor.zeros(gpu, [3, 3, 5, 8]);
    const dy = Tensor.zeros(gpu, [1, 5, 5, 8]);
    const bias = Tensor.zeros(gpu, [7]);
    const run = (fn: () => Tensor) => () => Promise.resolve().then(() => fn().release());
    await assertRejects(run(() => conv2dForward(gpu, x, wrong, { pad: 1 })), /Cin/, "Cin");
    await assertRejects(run(() => conv2dForward(gpu, x, w, { pad: 1, bias })), /bias/, "bias");
    await assertRejects(run(() => conv2dForward(gpu, x, w, { residual: dy })), /residual/, "res");
    await assertRejects(run(() => conv2dForward(gpu, x, w, { stride: 0 })), /stride/, "stride");
    await assertRejects(
      run(() => conv2dForward(gpu, x, w, { pad: 1, variant: "nope" })),
      /variant/,
      "variant",
    );
    await assertRejects(
      run(() => conv2dForward(gpu, Tensor.zeros(gpu, [1, 2, 2, 4]), w)),
      /smaller than the kernel/,
      "too small",
    );
    await assertRejects(
      run(() => conv2dBackwardData(gpu, dy, w, { inputShape: [1, 5, 5, 4] })),
      /dy has shape/,
      "dy shape",
    );
    await assertRejects(
      run(() => conv2dBackwardFilter(gpu, x, dy, { kernelSize: 3, pad: 1, splits: 0 })),
      /splits/,
      "splits",
    );
    assert(
      (() => {
        try {
          foldBatchNorm(new Float32Array(10), 4, [1], [0], [0], [1]);
        } catch (e) {
          return e instanceof RangeError;
        }
        return false;
      })(),
      "foldBatchNorm checks sizes",
    );
    for (const t of [x, w, wrong, dy, bias]) t.release();
  },
});

Deno.test({
  name: "conv2dTune() stores one variant per op that later calls choose",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const tuned = await conv2dTune(gpu, [1, 9, 9, 8], [3, 3, 8, 8], { stride: 1, pad: 1 });
    assert(conv2dVariants("forward", 8, 8).includes(tuned.forward), `forward ${tuned.forward}`);
    assert(
      conv2dVariants("backwardData", 8, 8).includes(tuned.backwardData),
      `backwardData ${tuned.backwardData}`,
    );
    assert(
      conv2dVariants("backwardFilter", 8, 8).includes(tuned.backwardFilter),
      `backwardFilter ${tuned.backwardFilter}`,
    );
    const key = "x1x9x9x8 k3x3 co8 s1 p1x1";
    const variants = conv2dVariants("forward", 8, 8);
    assert(
      gpu.tuner.choose("conv2d_forward", key, variants, "none") === tuned.forward,
      "the forward choice is cached under the shape key",
    );
    // A second call finds every choice in the cache and runs no trials.
    const again = await conv2dTune(gpu, [1, 9, 9, 8], [3, 3, 8, 8], { stride: 1, pad: 1 });
    assert(JSON.stringify(again) === JSON.stringify(tuned), "stable choices");
  },
});
