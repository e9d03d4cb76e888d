/**
 * A whole ResNet bottleneck block (v1.5: stride on the 3×3, 1×1 downsample shortcut), train-mode
 * BN with per-group statistics, forward and backward on the GPU from the individual ops, against
 * the same block composed from the float64 CPU references.
 */
import { Tensor } from "../../src/gpu/tensor.ts";
import {
  batchNorm2dBackward,
  batchNorm2dTrain,
  type BatchNormParams,
  releaseSaved,
} from "../../src/ops/batchnorm.ts";
import { conv2dBackwardData, conv2dBackwardFilter } from "../../src/ops/conv2d_backward.ts";
import { conv2dForward } from "../../src/ops/conv2d_forward.ts";
import { add, addRelu, reluBackward } from "../../src/ops/elementwise.ts";
import { assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { refBatchNormBackward, refBatchNormTrain } from "./batchnorm_reference.ts";
import {
  conv2dBackwardDataRef,
  conv2dBackwardFilterRef,
  conv2dRef,
  type RefConv,
  refOutShape,
} from "./conv2d_reference.ts";
import { refAdd, refReluBackward } from "./elementwise_reference.ts";

type Shape4 = readonly [number, number, number, number];

interface ConvSpec {
  name: string;
  k: number;
  stride: number;
  pad: number;
  cin: number;
  cout: number;
}

const EPS = 1e-5;

Deno.test({
  name:
    "a bottleneck block forward + backward on the GPU equals the block built from CPU references",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bottleneck");
    // Odd spatial size, stride 2, batch 4 split into 2 BN groups (shuffle-BN emulation).
    const [n, h, w, cin, m, stride, groups] = [4, 9, 9, 12, 4, 2, 2];
    const out = 4 * m;
    const specs: ConvSpec[] = [
      { name: "conv1", k: 1, stride: 1, pad: 0, cin, cout: m },
      { name: "conv2", k: 3, stride, pad: 1, cin: m, cout: m },
      { name: "conv3", k: 1, stride: 1, pad: 0, cin: m, cout: out },
      { name: "downsample", k: 1, stride, pad: 0, cin, cout: out },
    ];
    const weights = specs.map((s) =>
      rng.normalArray(s.k * s.k * s.cin * s.cout, Math.sqrt(2 / (s.cout * s.k * s.k)))
    );
    const gammas = specs.map((s) => rng.uniformArray(s.cout, 0.5, 1.5));
    const betas = specs.map((s) => rng.uniformArray(s.cout, -0.3, 0.3));
    const x = rng.normalArray(n * h * w * cin);

    // ---- float64 reference -------------------------------------------------------------
    const geom = (s: ConvSpec, xShape: Shape4): RefConv => ({
      xShape,
      wShape: [s.k, s.k, s.cin, s.cout],
      stride: s.stride,
      pad: [s.pad, s.pad],
    });
    const nhwc = (shape: Shape4) => ({ n: shape[0], h: shape[1], w: shape[2], c: shape[3] });
    const g1 = geom(specs[0], [n, h, w, cin]);
    const s1 = refOutShape(g1);
    const a1 = conv2dRef(x, weights[0], g1);
    const r1 = refBatchNormTrain(a1, nhwc(s1), gammas[0], betas[0], groups, EPS, true).y;
    const g2 = geom(specs[1], s1);
    const s2 = refOutShape(g2);
    const a2 = conv2dRef(r1, weights[1], g2);
    const r2 = refBatchNormTrain(a2, nhwc(s2), gammas[1], betas[1], groups, EPS, true).y;
    const g3 = geom(specs[2], s2);
    const s3 = refOutShape(g3);
    const a3 = conv2dRef(r2, weights[2], g3);
    const b3 = refBatchNormTrain(a3, nhwc(s3), gammas[2], betas[2], groups, EPS).y;
    const gd = geom(specs[3], [n, h, w, cin]);
    const ad = conv2dRef(x, weights[3], gd);
    const bd = refBatchNormTrain(ad, nhwc(s3), gammas[3], betas[3], groups, EPS).y;
    const yRef = refAdd(b3, bd, true);
    // Loss = Σ y·g for a random g, so dL/dy = g.
    const g = rng.normalArray(yRef.length);
    const dSum = refReluBackward(g, yRef);
    const bn3 = refBatchNormBackward(dSum, a3, nhwc(s3), gammas[2], betas[2], groups, EPS);
    const dw3 = conv2dBackwardFilterRef(r2, bn3.dx, g3);
    const dr2 = conv2dBackwardDataRef(bn3.dx, weights[2], g3);
    const bn2 = refBatchNormBackward(dr2, a2, nhwc(s2), gammas[1], betas[1], groups, EPS, true);
    const dw2 = conv2dBackwardFilterRef(r1, bn2.dx, g2);
    const dr1 = conv2dBackwardDataRef(bn2.dx, weights[1], g2);
    const bn1 = refBatchNormBackward(dr1, a1, nhwc(s1), gammas[0], betas[0], groups, EPS, true);
    const dw1 = conv2dBackwardFilterRef(x, bn1.dx, g1);
    const dx1 = conv2dBackwardDataRef(bn1.dx, weights[0], g1);
    const bnd = refBatchNormBackward(dSum, ad, nhwc(s3), gammas[3], betas[3], groups, EPS);
    const dwd = conv2dBackwardFilterRef(x, bnd.dx, gd);
    const dxRef = refAdd(dx1, conv2dBackwardDataRef(bnd.dx, weights[3], gd));

    // ---- GPU -----------------------------------------------------------------------------
    const live: Tensor[] = [];
    const keep = <T extends Tensor>(t: T): T => (live.push(t), t);
    const up = (data: Float32Array, shape: readonly number[]) =>
      keep(Tensor.from(gpu, data, shape));
    const xT = up(x, [n, h, w, cin]);
    const wT = specs.map((s, i) => up(weights[i], [s.k, s.k, s.cin, s.cout]));
    const bnParams = (i: number): BatchNormParams => ({
      gamma: up(gammas[i], [specs[i].cout]),
      beta: up(betas[i], [specs[i].cout]),
      runningMean: keep(Tensor.zeros(gpu, [specs[i].cout])),
      runningVar: up(new Float32Array(specs[i].cout).fill(1), [specs[i].cout]),
    });
    const params = specs.map((_, i) => bnParams(i));
    const conv = (input: Tensor, i: number) =>
      keep(conv2dForward(gpu, input, wT[i], { stride: specs[i].stride, pad: specs[i].pad }));
    const bn = (input: Tensor, i: number, relu: boolean) =>
      batchNorm2dTrain(gpu, input, params[i], { groups, relu });

    const a1T = conv(xT, 0);
    const f1 = bn(a1T, 0, true);
    const a2T = conv(keep(f1.y), 1);
    const f2 = bn(a2T, 1, true);
    const a3T = conv(keep(f2.y), 2);
    const f3 = bn(a3T, 2, false);
    const adT = conv(xT, 3);
    const fd = bn(adT, 3, false);
    const yT = keep(addRelu(gpu, keep(f3.y), keep(fd.y)));

    const gT = up(g, yT.shape);
    const dSumT = keep(reluBackward(gpu, gT, yT));
    const backConv = (dy: Tensor, input: Tensor, i: number) => {
      const s = specs[i];
      const opts = { stride: s.stride, pad: s.pad };
      return {
        dw: keep(conv2dBackwardFilter(gpu, input, dy, { kernelSize: s.k, ...opts })),
        dx: keep(conv2dBackwardData(gpu, dy, wT[i], { inputShape: input.shape, ...opts })),
      };
    };
    const bn3T = batchNorm2dBackward(gpu, dSumT, a3T, params[2].gamma, f3.saved);
    const c3 = backConv(keep(bn3T.dx), f2.y, 2);
    const bn2T = batchNorm2dBackward(gpu, c3.dx, a2T, params[1].gamma, f2.saved, { y: f2.y });
    const c2 = backConv(keep(bn2T.dx), f1.y, 1);
    const bn1T = batchNorm2dBackward(gpu, c2.dx, a1T, params[0].gamma, f1.saved, { y: f1.y });
    const c1 = backConv(keep(bn1T.dx), xT, 0);
    const bndT = batchNorm2dBackward(gpu, dSumT, adT, params[3].gamma, fd.saved);
    const cd = backConv(keep(bndT.dx), xT, 3);
    const dxT = keep(add(gpu, c1.dx, cd.dx));
    const grads = [bn1T, bn2T, bn3T, bndT];
    for (const gr of grads) live.push(gr.dGamma, gr.dBeta);

    const results = await gpu.recorder.read([
      yT,
      dxT,
      c1.dw,
      c2.dw,
      c3.dw,
      cd.dw,
      ...grads.flatMap((gr) => [gr.dGamma, gr.dBeta]),
    ]);
    const [yGpu, dxGpu, dw1Gpu, dw2Gpu, dw3Gpu, dwdGpu, ...bnGpu] = results;
    // f32 GPU vs f64 CPU through a dozen chained ops: the kernels' own 1e-5 bound holds for the
    // composition too (a wrong index or formula gives O(1) errors).
    const tol = 1e-5;
    assertRelClose(yGpu, yRef, tol, "block output y");
    assertRelClose(dxGpu, dxRef, tol, "dx");
    assertRelClose(dw1Gpu, dw1, tol, "d conv1");
    assertRelClose(dw2Gpu, dw2, tol, "d conv2");
    assertRelClose(dw3Gpu, dw3, tol, "d conv3");
    assertRelClose(dwdGpu, dwd, tol, "d downsample");
    const bnRef = [bn1, bn2, bn3, bnd];
    bnRef.forEach((r, i) => {
      assertRelClose(bnGpu[2 * i], r.dGamma, tol, `${specs[i].name} bn dγ`);
      assertRelClose(bnGpu[2 * i + 1], r.dBeta, tol, `${specs[i].name} bn dβ`);
    });
    for (const f of [f1, f2, f3, fd]) releaseSaved(f.saved);
    for (const t of new Set(live)) t.release();
  },
});
