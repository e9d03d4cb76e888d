/**
 * The src/nn layers against the float64 op references: PyTorch names and shapes, layout
 * conversion, gradient accumulation across backward passes, BN running statistics and batch
 * counting, on fresh random inputs.
 */
import { Tensor } from "../../src/gpu/tensor.ts";
import { BatchNorm2d } from "../../src/nn/batchnorm.ts";
import { Conv2d } from "../../src/nn/conv2d.ts";
import { Linear } from "../../src/nn/linear.ts";
import { ReLU } from "../../src/nn/relu.ts";
import { Sequential } from "../../src/nn/sequential.ts";
import {
  fromTorchLayout,
  type Parameter,
  toTorchLayout,
  zeroGrad,
} from "../../src/nn/parameter.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import {
  refBatchNormBackward,
  refBatchNormTrain,
  refRunningUpdate,
} from "../ops/batchnorm_reference.ts";
import {
  conv2dBackwardDataRef,
  conv2dBackwardFilterRef,
  conv2dRef,
  type RefConv,
} from "../ops/conv2d_reference.ts";

Deno.test("toTorchLayout()/fromTorchLayout() map HWIO to OIHW element by element", () => {
  const [kh, kw, i, o] = [2, 3, 4, 5];
  const p = { torchShape: [o, i, kh, kw], layout: "hwio" } as Parameter;
  const hwio = new Float32Array(kh * kw * i * o).map((_, j) => j);
  const oihw = toTorchLayout(p, hwio);
  // HWIO element (y, x, b, a) sits at ((y·kW + x)·I + b)·O + a; OIHW at ((a·I + b)·kH + y)·kW + x.
  for (const [y, x, b, a] of [[0, 0, 0, 1], [1, 2, 3, 4], [1, 0, 2, 0], [0, 1, 1, 3]]) {
    const want = ((y * kw + x) * i + b) * o + a;
    assert(oihw[((a * i + b) * kh + y) * kw + x] === want, `element ${[y, x, b, a]}`);
  }
  assertArrayEqual(fromTorchLayout(p, oihw), hwio, "round trip");
  const plain = { torchShape: [3], layout: "plain" } as Parameter;
  const v = new Float32Array([1, 2, 3]);
  const copy = toTorchLayout(plain, v);
  assert(copy !== v, "plain conversion copies");
  assertArrayEqual(copy, v, "plain is unchanged");
});

Deno.test({
  name: "Conv2d forward/backward match the references and gradients accumulate until zeroGrad",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("nn conv2d");
    const [n, h, w, cin, cout, k, stride] = [2, 9, 8, 5, 8, 3, 2];
    const weight = rng.normalArray(k * k * cin * cout, 0.3);
    const conv = new Conv2d(
      gpu,
      "layer1.0.conv2",
      { cin, cout, kernel: k, stride, pad: 1 },
      weight,
    );
    assert(conv.weight.name === "layer1.0.conv2.weight", conv.weight.name);
    assertArrayEqual(conv.weight.torchShape, [cout, cin, k, k], "OIHW torch shape");
    const x = rng.normalArray(n * h * w * cin);
    const geom: RefConv = {
      xShape: [n, h, w, cin],
      wShape: [k, k, cin, cout],
      stride,
      pad: [1, 1],
    };
    const xT = Tensor.from(gpu, x, [n, h, w, cin]);
    const y = conv.forward(xT);
    const dy = rng.normalArray(y.size);
    const dyT = Tensor.from(gpu, dy, y.shape);
    const dx = conv.backward(xT, dyT)!;
    const [yGot, dxGot, g1] = await gpu.recorder.read([y, dx, conv.weight.grad]);
    assertRelClose(yGot, conv2dRef(x, weight, geom), 1e-5, "y");
    assertRelClose(dxGot, conv2dBackwardDataRef(dy, weight, geom), 1e-5, "dx");
    const dw = conv2dBackwardFilterRef(x, dy, geom);
    assertRelClose(g1, dw, 1e-5, "dW");
    dx.release();
    assert(conv.backward(xT, dyT, false) === undefined, "no dx when not needed");
    const [g2] = await gpu.recorder.read([conv.weight.grad]);
    assertRelClose(g2, dw.map((v) => 2 * v), 1e-5, "dW accumulated twice");
    zeroGrad(gpu, conv.weight);
    const [g0] = await gpu.recorder.read([conv.weight.grad]);
    assert(g0.every((v) => v === 0), "zeroGrad clears");
    conv.backward(xT, dyT, false);
    const [g3] = await gpu.recorder.read([conv.weight.grad]);
    assertRelClose(g3, dw, 1e-5, "dW after zeroGrad");
    for (const t of [xT, y, dyT, conv.weight.value, conv.weight.grad]) t.release();
  },
});

Deno.test({
  name: "BatchNorm2d with groups: output, running statistics from group 0, batch count, grads",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("nn batchnorm");
    const s = { n: 4, h: 3, w: 5, c: 6 };
    const init = {
      weight: rng.uniformArray(s.c, 0.5, 1.5),
      bias: rng.uniformArray(s.c, -0.5, 0.5),
      runningMean: rng.normalArray(s.c, 0.3),
      runningVar: rng.uniformArray(s.c, 0.5, 2),
      numBatchesTracked: 7,
    };
    const bn = new BatchNorm2d(gpu, "bn1", s.c, init);
    assertArrayEqual(
      [...bn.parameters(), ...bn.buffers()].map((t) =>
        ["bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"]
          .indexOf(t.name)
      ),
      [0, 1, 2, 3, 4],
      "PyTorch names and order",
    );
    const x = rng.normalArray(s.n * s.h * s.w * s.c, 2);
    const xT = Tensor.from(gpu, x, [s.n, s.h, s.w, s.c]);
    const tape = bn.forwardTrain(xT, { groups: 2, relu: true });
    assert(bn.numBatchesTracked.count === 8, "batch counted");
    const dy = rng.normalArray(x.length);
    const dyT = Tensor.from(gpu, dy, xT.shape);
    const [yGot] = await gpu.recorder.read([tape.y]);
    const dx = bn.backward(dyT, tape);
    const got = await gpu.recorder.read([
      dx,
      bn.weight.grad,
      bn.bias.grad,
      bn.runningMean.value!,
      bn.runningVar.value!,
    ]);
    const ref = refBatchNormTrain(x, s, init.weight, init.bias, 2, 1e-5, true);
    assertRelClose(yGot, ref.y, 1e-5, "y");
    const back = refBatchNormBackward(dy, x, s, init.weight, init.bias, 2, 1e-5, true);
    assertRelClose(got[0], back.dx, 1e-5, "dx");
    assertRelClose(got[1], back.dGamma, 1e-5, "dγ");
    assertRelClose(got[2], back.dBeta, 1e-5, "dβ");
    const run = refRunningUpdate(init.runningMean, init.runningVar, ref.stats, 2, 0.1, "group0");
    assertRelClose(got[3], run.mean, 1e-5, "running mean");
    assertRelClose(got[4], run.variance, 1e-5, "running var");
    for (const t of [xT, dyT, dx, tape.y]) t.release();
  },
});

Deno.test({
  name: "Linear forward/backward match a float64 reference and accumulate gradients",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("nn linear");
    const [n, inF, outF] = [3, 7, 5];
    const w = rng.normalArray(outF * inF);
    const b = rng.normalArray(outF);
    const fc = new Linear(gpu, "fc.2", inF, outF, w, b);
    assertArrayEqual(fc.weight.torchShape, [outF, inF], "weight shape");
    assert(fc.bias.name === "fc.2.bias", fc.bias.name);
    const x = rng.normalArray(n * inF);
    const dy = rng.normalArray(n * outF);
    const xT = Tensor.from(gpu, x, [n, inF]);
    const dyT = Tensor.from(gpu, dy, [n, outF]);
    const y = fc.forward(xT);
    fc.backward(xT, dyT).release();
    const dx = fc.backward(xT, dyT);
    const [yGot, dxGot, dw, db] = await gpu.recorder.read([y, dx, fc.weight.grad, fc.bias.grad]);
    const yRef = new Float64Array(n * outF);
    const dxRef = new Float64Array(n * inF);
    const dwRef = new Float64Array(outF * inF);
    const dbRef = new Float64Array(outF);
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < outF; o++) {
        let s = b[o];
        for (let i = 0; i < inF; i++) {
          s += x[r * inF + i] * w[o * inF + i];
          dxRef[r * inF + i] += dy[r * outF + o] * w[o * inF + i];
          dwRef[o * inF + i] += 2 * dy[r * outF + o] * x[r * inF + i];
        }
        yRef[r * outF + o] = s;
        dbRef[o] += 2 * dy[r * outF + o];
      }
    }
    assertRelClose(yGot, yRef, 1e-5, "y");
    assertRelClose(dxGot, dxRef, 1e-5, "dx");
    assertRelClose(dw, dwRef, 1e-5, "dW (two backward passes)");
    assertRelClose(db, dbRef, 1e-5, "db (two backward passes)");
    for (const t of [xT, dyT, y, dx]) t.release();
  },
});

Deno.test({
  name: "Sequential(Linear, ReLU, Linear) forward/backward match a float64 MLP and free the tape",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("nn sequential");
    const [n, d, h, o] = [4, 6, 9, 3];
    const w0 = rng.normalArray(h * d);
    const b0 = rng.normalArray(h);
    const w2 = rng.normalArray(o * h);
    const b2 = rng.normalArray(o);
    const fc0 = new Linear(gpu, "fc.0", d, h, w0, b0);
    const fc2 = new Linear(gpu, "fc.2", h, o, w2, b2);
    const mlp = new Sequential([fc0, new ReLU(gpu), fc2]);
    assertArrayEqual(
      mlp.parameters().map((p) =>
        ["fc.0.weight", "fc.0.bias", "fc.2.weight", "fc.2.bias"].indexOf(p.name)
      ),
      [0, 1, 2, 3],
      "parameter order",
    );
    const x = rng.normalArray(n * d);
    const dy = rng.normalArray(n * o);
    const xT = Tensor.from(gpu, x, [n, d]);
    const dyT = Tensor.from(gpu, dy, [n, o]);
    const y = mlp.forward(xT, true);
    const dx = mlp.backward(dyT);
    const [yGot, dxGot, dw0, db2] = await gpu.recorder.read([
      y,
      dx,
      fc0.weight.grad,
      fc2.bias.grad,
    ]);
    // float64 reference: a = x·W0ᵀ + b0, r = relu(a), y = r·W2ᵀ + b2.
    const yRef = new Float64Array(n * o);
    const dxRef = new Float64Array(n * d);
    const dw0Ref = new Float64Array(h * d);
    const db2Ref = new Float64Array(o);
    for (let r = 0; r < n; r++) {
      const a = new Float64Array(h);
      for (let j = 0; j < h; j++) {
        a[j] = b0[j];
        for (let i = 0; i < d; i++) a[j] += x[r * d + i] * w0[j * d + i];
      }
      const da = new Float64Array(h);
      for (let k = 0; k < o; k++) {
        let s = b2[k];
        for (let j = 0; j < h; j++) {
          s += Math.max(a[j], 0) * w2[k * h + j];
          if (a[j] > 0) da[j] += dy[r * o + k] * w2[k * h + j];
        }
        yRef[r * o + k] = s;
        db2Ref[k] += dy[r * o + k];
      }
      for (let j = 0; j < h; j++) {
        for (let i = 0; i < d; i++) {
          dxRef[r * d + i] += da[j] * w0[j * d + i];
          dw0Ref[j * d + i] += da[j] * x[r * d + i];
        }
      }
    }
    assertRelClose(yGot, yRef, 1e-5, "y");
    assertRelClose(dxGot, dxRef, 1e-5, "dx");
    assertRelClose(dw0, dw0Ref, 1e-5, "d fc.0.weight");
    assertRelClose(db2, db2Ref, 1e-5, "d fc.2.bias");
    let threw = false;
    try {
      mlp.backward(dyT);
    } catch {
      threw = true;
    }
    assert(threw, "a second backward without a forward throws");
    for (const t of [xT, dyT, y, dx]) t.release();
  },
});
