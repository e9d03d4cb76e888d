import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import {
  batchNorm2dBackward,
  batchNorm2dEval,
  batchNorm2dTrain,
  type BatchNormParams,
  releaseSaved,
} from "../../src/ops/batchnorm.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import {
  type Nhwc,
  refBatchNormBackward,
  refBatchNormEval,
  refBatchNormTrain,
  refRunningUpdate,
} from "./batchnorm_reference.ts";
import { numericGradient } from "./elementwise_reference.ts";

const EPS = 1e-5;
const TOL = 1e-5;

/** Activations with a per-channel offset and scale, like a conv output. */
function activations(rng: Rng, s: Nhwc, offset = 2): Float32Array {
  const shift = Array.from({ length: s.c }, () => rng.range(-offset, offset));
  const scale = Array.from({ length: s.c }, () => rng.range(0.3, 3));
  const x = new Float32Array(s.n * s.h * s.w * s.c);
  for (let i = 0; i < x.length; i++) x[i] = shift[i % s.c] + scale[i % s.c] * rng.normal();
  return x;
}

interface HostParams {
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
}

function hostParams(rng: Rng, c: number): HostParams {
  return {
    gamma: rng.uniformArray(c, 0.5, 1.5),
    beta: rng.uniformArray(c, -0.5, 0.5),
    runningMean: rng.uniformArray(c, -1, 1),
    runningVar: rng.uniformArray(c, 0.5, 2),
  };
}

function upload(gpu: Gpu, p: HostParams): BatchNormParams {
  return {
    gamma: Tensor.from(gpu, p.gamma),
    beta: Tensor.from(gpu, p.beta),
    runningMean: Tensor.from(gpu, p.runningMean),
    runningVar: Tensor.from(gpu, p.runningVar),
  };
}

function releaseParams(p: BatchNormParams): void {
  for (const t of Object.values(p)) (t as Tensor).release();
}

function shapeOf(s: Nhwc): number[] {
  return [s.n, s.h, s.w, s.c];
}

interface Case extends Nhwc {
  groups: number;
  relu?: boolean;
  from?: "group0" | "mean";
}

const TRAIN_CASES: Case[] = [
  { n: 1, h: 7, w: 7, c: 3, groups: 1 },
  { n: 2, h: 13, w: 13, c: 5, groups: 2 },
  { n: 4, h: 7, w: 7, c: 67, groups: 4 },
  { n: 3, h: 13, w: 13, c: 67, groups: 1, relu: true },
  { n: 8, h: 7, w: 7, c: 5, groups: 4, from: "mean" },
  { n: 4, h: 13, w: 13, c: 3, groups: 2, relu: true, from: "mean" },
  // 6498 rows per group: more than 64 chunks, so each reduce thread merges several partials.
  { n: 2, h: 57, w: 57, c: 3, groups: 1 },
];

Deno.test({
  name: "batchNorm2dTrain() matches the float64 reference (C = 3, 5, 67; groups 1, 2, 4)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bn train");
    for (const cs of TRAIN_CASES) {
      const what = `[${shapeOf(cs)}] G=${cs.groups}${cs.relu ? " relu" : ""} ${cs.from ?? ""}`;
      const x = activations(rng, cs);
      const hp = hostParams(rng, cs.c);
      const xt = Tensor.from(gpu, x, shapeOf(cs));
      const params = upload(gpu, hp);
      poisonPool(gpu, [x.length, cs.groups * cs.c]);
      const { y, saved } = batchNorm2dTrain(gpu, xt, params, {
        groups: cs.groups,
        relu: cs.relu,
        runningFrom: cs.from,
      });
      const [gy, gMean, gInv, gRm, gRv] = await gpu.recorder.read([
        y,
        saved.mean,
        saved.invStd,
        params.runningMean,
        params.runningVar,
      ]);
      const ref = refBatchNormTrain(x, cs, hp.gamma, hp.beta, cs.groups, EPS, cs.relu);
      const run = refRunningUpdate(
        hp.runningMean,
        hp.runningVar,
        ref.stats,
        cs.groups,
        0.1,
        cs.from ?? "group0",
      );
      const refInv = ref.stats.varBiased.map((v) => 1 / Math.sqrt(v + EPS));
      assertRelClose(gy, ref.y, TOL, `y ${what}`);
      assertRelClose(gMean, ref.stats.mean, TOL, `saved mean ${what}`);
      assertRelClose(gInv, refInv, TOL, `saved invstd ${what}`);
      assertRelClose(gRm, run.mean, TOL, `running mean ${what}`);
      assertRelClose(gRv, run.variance, TOL, `running var ${what}`);
      xt.release();
      y.release();
      releaseSaved(saved);
      releaseParams(params);
    }
  },
});

Deno.test({
  name: "batchNorm2dTrain() statistics stay exact over 100k rows with a large mean",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bn stable");
    // |mean| / std = 1000: a one-pass E[x²] − E[x]² in f32 would lose every digit of the
    // variance here; the chunked two-pass + Chan merge keeps it to f32 rounding.
    const s = { n: 2, h: 224, w: 224, c: 3 };
    const x = new Float32Array(s.n * s.h * s.w * s.c);
    for (let i = 0; i < x.length; i++) x[i] = 1000 * (1 + (i % 3)) + rng.normal();
    const hp = hostParams(rng, s.c);
    const xt = Tensor.from(gpu, x, shapeOf(s));
    const params = upload(gpu, hp);
    const { y, saved } = batchNorm2dTrain(gpu, xt, params, { groups: 2 });
    const [gy, gMean, gInv, gRv] = await gpu.recorder.read([
      y,
      saved.mean,
      saved.invStd,
      params.runningVar,
    ]);
    const ref = refBatchNormTrain(x, s, hp.gamma, hp.beta, 2, EPS);
    const run = refRunningUpdate(hp.runningMean, hp.runningVar, ref.stats, 2, 0.1, "group0");
    // Each mean within one f32 ulp of the exact one (ulp(3000) = 2.4e-4 = 2.4e-4 σ).
    for (let k = 0; k < gMean.length; k++) {
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(ref.stats.mean[k]))) - 23);
      const off = Math.abs(gMean[k] - ref.stats.mean[k]) / ulp;
      assert(off <= 1, `mean ${k} is ${off.toFixed(2)} ulps off`);
    }
    // The shift by each group's first value keeps the variance at f32 rounding (~1e-7) even
    // though |μ|/σ = 1000..3000.
    assertRelClose(gInv, ref.stats.varBiased.map((v) => 1 / Math.sqrt(v + EPS)), 1e-6, "invstd");
    assertRelClose(gRv, run.variance, TOL, "running var");
    // y = γ(x − μ)σ⁻¹ + β: an f32 μ is off by up to half an ulp of 3000 (1.2e-4 = 1.2e-4 σ),
    // an error floor of any f32 implementation, so y is compared with the float64 formula
    // evaluated at the kernel's own f32 μ (checked above), everything else exact.
    const rows = s.n * s.h * s.w / 2;
    const yAtF32Mean = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const k = Math.floor(i / (rows * s.c)) * s.c + (i % s.c);
      yAtF32Mean[i] = hp.gamma[i % s.c] * (x[i] - gMean[k]) /
          Math.sqrt(ref.stats.varBiased[k] + EPS) + hp.beta[i % s.c];
    }
    assertRelClose(gy, yAtF32Mean, TOL, "y");
    for (const t of [xt, y]) t.release();
    releaseSaved(saved);
    releaseParams(params);
  },
});

Deno.test({
  name: "batchNorm2dEval() matches the float64 reference with running statistics",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bn eval");
    for (const cs of [{ n: 1, h: 7, w: 7, c: 67 }, { n: 3, h: 13, w: 13, c: 5 }]) {
      for (const relu of [false, true]) {
        const x = activations(rng, cs);
        const hp = hostParams(rng, cs.c);
        const xt = Tensor.from(gpu, x, shapeOf(cs));
        const params = upload(gpu, hp);
        poisonPool(gpu, [x.length]);
        const y = batchNorm2dEval(gpu, xt, params, { relu });
        const [gy, gRm] = await gpu.recorder.read([y, params.runningMean]);
        const ref = refBatchNormEval(
          x,
          cs.c,
          hp.gamma,
          hp.beta,
          hp.runningMean,
          hp.runningVar,
          EPS,
          relu,
        );
        assertRelClose(gy, ref, TOL, `eval [${shapeOf(cs)}] relu=${relu}`);
        assertArrayEqual(gRm, hp.runningMean, "eval leaves the running mean alone");
        xt.release();
        y.release();
        releaseParams(params);
      }
    }
  },
});

Deno.test({
  name: "batchNorm2dBackward() matches the float64 reference (groups 1, 2, 4; fused ReLU)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bn backward");
    for (const cs of TRAIN_CASES) {
      const what = `[${shapeOf(cs)}] G=${cs.groups}${cs.relu ? " relu" : ""}`;
      const x = activations(rng, cs);
      const dy = rng.normalArray(x.length);
      const hp = hostParams(rng, cs.c);
      const xt = Tensor.from(gpu, x, shapeOf(cs));
      const dyt = Tensor.from(gpu, dy, shapeOf(cs));
      const params = upload(gpu, hp);
      const { y, saved } = batchNorm2dTrain(gpu, xt, params, {
        groups: cs.groups,
        relu: cs.relu,
      });
      poisonPool(gpu, [x.length, cs.c, cs.groups * cs.c * 2]);
      const g = batchNorm2dBackward(gpu, dyt, xt, params.gamma, saved, { y });
      const [dx, dGamma, dBeta] = await gpu.recorder.read([g.dx, g.dGamma, g.dBeta]);
      const ref = refBatchNormBackward(dy, x, cs, hp.gamma, hp.beta, cs.groups, EPS, cs.relu);
      assertRelClose(dx, ref.dx, TOL, `dx ${what}`);
      assertRelClose(dGamma, ref.dGamma, TOL, `dgamma ${what}`);
      assertRelClose(dBeta, ref.dBeta, TOL, `dbeta ${what}`);
      for (const t of [xt, dyt, y, g.dx, g.dGamma, g.dBeta]) t.release();
      releaseSaved(saved);
      releaseParams(params);
    }
  },
});

Deno.test({
  name: "batchNorm2dBackward() equals central finite differences of the float64 forward",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bn finite differences");
    const cases: Case[] = [
      { n: 2, h: 3, w: 3, c: 3, groups: 1 },
      { n: 4, h: 3, w: 2, c: 5, groups: 2 },
      { n: 4, h: 2, w: 3, c: 3, groups: 4, relu: true },
    ];
    for (const cs of cases) {
      const what = `[${shapeOf(cs)}] G=${cs.groups}${cs.relu ? " relu" : ""}`;
      const x = activations(rng, cs);
      const dy = rng.normalArray(x.length);
      const hp = hostParams(rng, cs.c);
      const xt = Tensor.from(gpu, x, shapeOf(cs));
      const dyt = Tensor.from(gpu, dy, shapeOf(cs));
      const params = upload(gpu, hp);
      const { y, saved } = batchNorm2dTrain(gpu, xt, params, {
        groups: cs.groups,
        relu: cs.relu,
      });
      const g = batchNorm2dBackward(gpu, dyt, xt, params.gamma, saved, { y });
      const [dx, dGamma, dBeta] = await gpu.recorder.read([g.dx, g.dGamma, g.dBeta]);
      const fwd = (xx: ArrayLike<number>, gm: ArrayLike<number>, bt: ArrayLike<number>) =>
        refBatchNormTrain(xx, cs, gm, bt, cs.groups, EPS, cs.relu).y;
      // Float64 central differences: truncation ~h², rounding ~1e-16/h, both far below 1e-5.
      const fdX = numericGradient((v) => fwd(v, hp.gamma, hp.beta), x, dy);
      const fdGamma = numericGradient((v) => fwd(x, v, hp.beta), hp.gamma, dy);
      const fdBeta = numericGradient((v) => fwd(x, hp.gamma, v), hp.beta, dy);
      assertRelClose(dx, fdX, TOL, `dx ${what}`);
      assertRelClose(dGamma, fdGamma, TOL, `dgamma ${what}`);
      assertRelClose(dBeta, fdBeta, TOL, `dbeta ${what}`);
      for (const t of [xt, dyt, y, g.dx, g.dGamma, g.dBeta]) t.release();
      releaseSaved(saved);
      releaseParams(params);
    }
  },
});

Deno.test({
  name: "batchNorm2d statistics and gradients are bit-identical on two runs",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bn determinism");
    const s = { n: 4, h: 48, w: 48, c: 67 };
    const x = activations(rng, s);
    const dy = rng.normalArray(x.length);
    const hp = hostParams(rng, s.c);
    const xt = Tensor.from(gpu, x, shapeOf(s));
    const dyt = Tensor.from(gpu, dy, shapeOf(s));
    const runs: Float32Array[][] = [];
    for (let r = 0; r < 2; r++) {
      const params = upload(gpu, hp);
      const { y, saved } = batchNorm2dTrain(gpu, xt, params, { groups: 2, relu: true });
      const g = batchNorm2dBackward(gpu, dyt, xt, params.gamma, saved, { y });
      const out = [y, saved.mean, saved.invStd, params.runningMean, params.runningVar];
      out.push(g.dx, g.dGamma, g.dBeta);
      runs.push((await gpu.recorder.read(out)) as Float32Array[]);
      for (const t of [y, g.dx, g.dGamma, g.dBeta]) t.release();
      releaseSaved(saved);
      releaseParams(params);
    }
    const names = ["y", "mean", "invstd", "running mean", "running var", "dx", "dgamma", "dbeta"];
    for (let i = 0; i < names.length; i++) assertArrayEqual(runs[1][i], runs[0][i], names[i]);
    xt.release();
    dyt.release();
  },
});

Deno.test({
  name: "batchNorm2dTrain() and batchNorm2dBackward() reject bad shapes and options",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const x = Tensor.zeros(gpu, [3, 2, 2, 4]);
    const params = upload(gpu, hostParams(testRng("bn errors"), 4));
    const expectThrow = (fn: () => unknown, pattern: RegExp) => {
      try {
        fn();
      } catch (error) {
        assert(error instanceof RangeError, `RangeError expected, got ${error}`);
        assert(pattern.test((error as Error).message), `message: ${(error as Error).message}`);
        return;
      }
      throw new Error(`expected a RangeError matching ${pattern}`);
    };
    expectThrow(() => batchNorm2dTrain(gpu, x, params, { groups: 2 }), /divisor of the batch 3/);
    expectThrow(() => batchNorm2dTrain(gpu, x.reshape([12, 4]), params), /NHWC/);
    const bad = { ...params, gamma: Tensor.zeros(gpu, [5]) };
    expectThrow(() => batchNorm2dTrain(gpu, x, bad), /gamma must be f32 with 4/);
    const one = Tensor.zeros(gpu, [1, 1, 1, 4]);
    expectThrow(() => batchNorm2dTrain(gpu, one, params), /more than one value/);
    const { y, saved } = batchNorm2dTrain(gpu, x, params, { relu: true });
    expectThrow(() => batchNorm2dBackward(gpu, x, x, params.gamma, saved), /options\.y/);
    await gpu.sync();
    for (const t of [x, bad.gamma, one, y]) t.release();
    releaseSaved(saved);
    releaseParams(params);
  },
});
