/**
 * foldBatchNormGpu() against the float64 CPU fold (foldBatchNorm) and against conv + eval-BN
 * computed by the references: the folded convolution equals the convolution followed by BN.
 */
import { Tensor } from "../../src/gpu/tensor.ts";
import { foldBatchNorm } from "../../src/ops/fold_batchnorm.ts";
import { foldBatchNormGpu } from "../../src/ops/fold_batchnorm_gpu.ts";
import { conv2dForward } from "../../src/ops/conv2d_forward.ts";
import { poison } from "../../src/ops/elementwise.ts";
import { assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { refBatchNormEval } from "./batchnorm_reference.ts";
import { conv2dRef } from "./conv2d_reference.ts";

Deno.test({
  name: "foldBatchNormGpu() equals the float64 fold, and conv with folded weights equals conv → BN",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("fold bn gpu");
    const [k, cin, cout] = [3, 5 + rng.int(4), 67 + rng.int(8)];
    const w = rng.normalArray(k * k * cin * cout, 0.3);
    const gamma = rng.uniformArray(cout, -1.5, 1.5);
    const beta = rng.uniformArray(cout, -0.5, 0.5);
    const mean = rng.normalArray(cout, 0.5);
    const variance = rng.uniformArray(cout, 0.01, 3);
    const up = (a: Float32Array, shape?: number[]) => Tensor.from(gpu, a, shape);
    const wT = up(w, [k, k, cin, cout]);
    const bn = {
      gamma: up(gamma),
      beta: up(beta),
      runningMean: up(mean),
      runningVar: up(variance),
    };
    const wOut = Tensor.empty(gpu, wT.shape);
    const bOut = Tensor.empty(gpu, [cout]);
    poison(gpu, wOut);
    poison(gpu, bOut);
    foldBatchNormGpu(gpu, wT, bn, wOut, bOut);
    const [n, h, wd] = [2, 7, 6];
    const x = rng.normalArray(n * h * wd * cin);
    const xT = up(x, [n, h, wd, cin]);
    const y = conv2dForward(gpu, xT, wOut, { pad: 1, bias: bOut, relu: true });
    const [wGot, bGot, yGot] = await gpu.recorder.read([wOut, bOut, y]);
    const cpu = foldBatchNorm(w, cout, gamma, beta, mean, variance);
    assertRelClose(wGot, cpu.weight, 1e-6, "folded weights");
    assertRelClose(bGot, cpu.bias, 1e-6, "folded bias");
    const a = conv2dRef(x, w, {
      xShape: [n, h, wd, cin],
      wShape: [k, k, cin, cout],
      stride: 1,
      pad: [1, 1],
    });
    const want = refBatchNormEval(a, cout, gamma, beta, mean, variance, 1e-5, true);
    assertRelClose(yGot, want, 1e-5, "conv(folded) = relu(bn(conv))");
    for (const t of [wT, wOut, bOut, xT, y, ...Object.values(bn)]) t.release();
  },
});
