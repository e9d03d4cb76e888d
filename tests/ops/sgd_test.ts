import { Tensor } from "../../src/gpu/tensor.ts";
import { poison } from "../../src/ops/elementwise.ts";
import { emaUpdate, sgdStep } from "../../src/ops/sgd.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { refEma, type RefSgdState, refSgdStep } from "./sgd_reference.ts";

Deno.test({
  name: "sgdStep() follows PyTorch's SGD over several steps, first step included (scalar and vec4)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("sgd");
    // Sizes divisible by 4 take the vec4 kernel, the others the scalar one.
    const sizes = [1, 3, 67, 1000 + 4 * rng.int(100) + 1, 64 * 3 * 7 * 7, 4];
    const hyper = { momentum: 0.9, weightDecay: 1e-4, dampening: 0 };
    const cases = [
      { ...hyper, maxBindingBytes: undefined },
      // Slices of 256 elements exercise the per-binding split used for huge tensors.
      { ...hyper, maxBindingBytes: 1024 },
      { momentum: 0.5, weightDecay: 0.05, dampening: 0.25, maxBindingBytes: undefined },
    ];
    for (const c of cases) {
      const what = `momentum ${c.momentum} wd ${c.weightDecay} slice ${c.maxBindingBytes}`;
      const init = sizes.map((n) => rng.normalArray(n));
      const params = sizes.map((n, i) => ({
        param: Tensor.from(gpu, init[i], [n]),
        grad: Tensor.empty(gpu, [n]),
        // Never initialised, and poisoned: the first step must not read it.
        momentum: Tensor.empty(gpu, [n]),
      }));
      for (const p of params) poison(gpu, p.momentum);
      const ref: RefSgdState[] = init.map((x) => ({ param: Float64Array.from(x), buf: undefined }));
      const lrs = [0.03, 0.03, 0.01, 0.3, 1e-3];
      for (let step = 0; step < lrs.length; step++) {
        const grads = sizes.map((n) => rng.normalArray(n, 0.1 + step));
        params.forEach((p, i) => gpu.recorder.upload(p.grad.buffer, 0, grads[i]));
        sgdStep(gpu, params, { lr: lrs[step], firstStep: step === 0, ...c });
        ref.forEach((r, i) =>
          refSgdStep(r, grads[i], lrs[step], c.momentum, c.weightDecay, c.dampening)
        );
      }
      const out = await gpu.recorder.read(params.flatMap((p) => [p.param, p.momentum]));
      sizes.forEach((n, i) => {
        // f32 state over five steps: a one-element tensor whose update cancels can reach
        // ~2e-6 relative error, so the kernels' common 1e-5 bound is used.
        assertRelClose(out[2 * i], ref[i].param, 1e-5, `${what}: param ${i} (n=${n})`);
        assertRelClose(out[2 * i + 1], ref[i].buf!, 1e-5, `${what}: buffer ${i} (n=${n})`);
      });
      for (const p of params) for (const t of [p.param, p.grad, p.momentum]) t.release();
    }
  },
});

Deno.test({
  name: "sgdStep() records one dispatch per tensor, and one for a flat packed tensor",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const make = (n: number) => ({
      param: Tensor.zeros(gpu, [n]),
      grad: Tensor.zeros(gpu, [n]),
      momentum: Tensor.zeros(gpu, [n]),
    });
    const many = [5, 6, 7].map(make);
    const flat = [make(18)];
    const before = gpu.recorder.dispatchCount;
    sgdStep(gpu, many, { lr: 0.1, firstStep: true });
    const perTensor = gpu.recorder.dispatchCount - before;
    sgdStep(gpu, flat, { lr: 0.1, firstStep: true });
    const packed = gpu.recorder.dispatchCount - before - perTensor;
    assert(perTensor === 3 && packed === 1, `dispatches: ${perTensor} and ${packed}`);
    const bad = { param: many[0].param, grad: many[1].grad, momentum: many[0].momentum };
    let message = "";
    try {
      sgdStep(gpu, [bad], { lr: 0.1, firstStep: false });
    } catch (error) {
      message = (error as Error).message;
    }
    assert(/equal size/.test(message), `size check: '${message}'`);
    await gpu.sync();
    for (const p of [...many, ...flat]) for (const t of [p.param, p.grad, p.momentum]) t.release();
  },
});

Deno.test({
  name:
    "emaUpdate() matches the float64 momentum-encoder update over several steps (scalar and vec4)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("ema");
    const sizes = [1, 5, 67, 2049 + 4 * rng.int(100), 128, 4096];
    for (const maxBindingBytes of [undefined, 2048]) {
      const k0 = sizes.map((n) => rng.normalArray(n));
      const targets = sizes.map((n, i) => Tensor.from(gpu, k0[i], [n]));
      const sources = sizes.map((n) => Tensor.empty(gpu, [n]));
      const ref = k0.map((x) => Float64Array.from(x));
      for (const m of [0.999, 0.99, 0.5, 0]) {
        const q = sizes.map((n) => rng.normalArray(n));
        sources.forEach((s, i) => gpu.recorder.upload(s.buffer, 0, q[i]));
        emaUpdate(gpu, targets, sources, m, { maxBindingBytes });
        ref.forEach((r, i) => refEma(r, q[i], m));
      }
      const out = await gpu.recorder.read(targets);
      sizes.forEach((n, i) => {
        assertRelClose(out[i], ref[i], 1e-6, `slice ${maxBindingBytes}: tensor ${i} (n=${n})`);
      });
      for (const t of [...targets, ...sources]) t.release();
    }
  },
});
