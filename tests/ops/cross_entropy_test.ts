import { Tensor } from "../../src/gpu/tensor.ts";
import { softmaxCrossEntropy } from "../../src/ops/cross_entropy.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { seedNote, testRng } from "../util/seed.ts";
import { numericGradient } from "./elementwise_reference.ts";
import { refSoftmaxCrossEntropy } from "./cross_entropy_reference.ts";

// [N, C]: one element, the world's 7 classes, more classes than threads (1000 > 64), a C that is
// not a multiple of anything, and more rows than one grid dimension holds (a 2-D grid).
const SHAPES: [number, number][] = [[1, 1], [3, 7], [64, 7], [5, 1000], [33, 131], [70001, 3]];

/**
 * Logits at many scales (up to ±1e3, where a naive exp overflows), one row of equal logits (a
 * tie: counted wrong) and one row whose label holds the largest logit.
 */
function makeLogits(rng: Rng, n: number, c: number): { logits: Float32Array; labels: Int32Array } {
  const logits = rng.normalArray(n * c);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(c);
    const scale = 10 ** rng.range(-2, 3);
    for (let j = 0; j < c; j++) logits[i * c + j] *= scale;
  }
  if (n > 1) logits.fill(0.25, c, 2 * c);
  if (n > 2) {
    let best = 0;
    for (let j = 0; j < c; j++) best = Math.max(best, logits[2 * c + j]);
    logits[2 * c + labels[2]] = best + 1;
  }
  return { logits, labels };
}

Deno.test({
  name: "softmaxCrossEntropy() matches the float64 reference (loss, gradient, top-1/top-5)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("cross entropy");
    for (const [n, c] of SHAPES) {
      const { logits, labels } = makeLogits(rng, n, c);
      const ref = refSoftmaxCrossEntropy(logits, labels, n, c);
      const zt = Tensor.from(gpu, logits, [n, c]);
      const yt = Tensor.from(gpu, labels, [n]);
      poisonPool(gpu, [n * c, 2 * n, 1, 2]);
      const { loss, dlogits, correct } = softmaxCrossEntropy(gpu, zt, yt);
      const [gl, gg, gc] = await gpu.recorder.read([loss, dlogits!, correct]);
      const what = `[${n}, ${c}]`;
      assertRelClose(gl, [ref.loss], 1e-5, `loss ${what}`);
      assertRelClose(gg, ref.grad, 1e-5, `dlogits ${what}`);
      assert(
        gc[0] === ref.top1 && gc[1] === ref.top5,
        `correct ${what}: [${gc[0]}, ${gc[1]}] vs [${ref.top1}, ${ref.top5}]${seedNote()}`,
      );
      for (const t of [zt, yt, loss, dlogits!, correct]) t.release();
    }
  },
});

Deno.test({
  name: "softmaxCrossEntropy() gradient equals central finite differences of the float64 loss",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("cross entropy fd");
    for (const [n, c] of [[4, 7], [3, 70]]) {
      const logits = rng.normalArray(n * c, 2);
      const labels = Int32Array.from({ length: n }, () => rng.int(c));
      const zt = Tensor.from(gpu, logits, [n, c]);
      const yt = Tensor.from(gpu, labels, [n]);
      // The gradient of the summed loss (scale 1) against differences of the summed loss.
      const { loss, dlogits, correct } = softmaxCrossEntropy(gpu, zt, yt, { gradScale: 1 });
      const [gg] = await gpu.recorder.read([dlogits!]);
      const fd = numericGradient(
        (z) => [n * refSoftmaxCrossEntropy(z, labels, n, c).loss],
        logits,
        [1],
      );
      assertRelClose(gg, fd, 1e-5, `dlogits [${n}, ${c}]`);
      for (const t of [zt, yt, loss, dlogits!, correct]) t.release();
    }
  },
});

Deno.test({
  name: "softmaxCrossEntropy() without a gradient gives the same loss and counts",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("cross entropy no grad");
    const [n, c] = [37, 7];
    const { logits, labels } = makeLogits(rng, n, c);
    const zt = Tensor.from(gpu, logits, [n, c]);
    const yt = Tensor.from(gpu, new Uint32Array(labels), [n]);
    const a = softmaxCrossEntropy(gpu, zt, yt);
    const b = softmaxCrossEntropy(gpu, zt, yt, { gradient: false });
    assert(b.dlogits === undefined, "no dlogits expected");
    const [la, ca, lb, cb] = await gpu.recorder.read([a.loss, a.correct, b.loss, b.correct]);
    assert(la[0] === lb[0] && ca[0] === cb[0] && ca[1] === cb[1], `differ${seedNote()}`);
    for (const t of [zt, yt, a.loss, a.dlogits!, a.correct, b.loss, b.correct]) t.release();
  },
});

Deno.test({
  name: "softmaxCrossEntropy() adds (rows, loss sum, top-1, top-5) of every batch to totals",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("cross entropy totals");
    const totals = Tensor.zeros(gpu, [4]);
    const expected = [0, 0, 0, 0];
    for (const [n, c] of [[9, 7], [64, 7], [1, 7]]) {
      const { logits, labels } = makeLogits(rng, n, c);
      const ref = refSoftmaxCrossEntropy(logits, labels, n, c);
      expected[0] += n;
      expected[1] += n * ref.loss;
      expected[2] += ref.top1;
      expected[3] += ref.top5;
      const zt = Tensor.from(gpu, logits, [n, c]);
      const yt = Tensor.from(gpu, labels, [n]);
      const r = softmaxCrossEntropy(gpu, zt, yt, { gradient: false, totals });
      for (const t of [zt, yt, r.loss, r.correct]) t.release();
    }
    const [got] = await gpu.recorder.read([totals]);
    assert(
      got[0] === expected[0] && got[2] === expected[2] && got[3] === expected[3],
      `totals [${got}] vs [${expected}]${seedNote()}`,
    );
    assertRelClose([got[1]], [expected[1]], 1e-5, "loss sum");
    totals.release();
  },
});

Deno.test({
  name: "softmaxCrossEntropy() makes the loss NaN for a label outside [0, C)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    for (const bad of [7, -1]) {
      const zt = Tensor.from(gpu, new Float32Array(3 * 7).fill(0.5), [3, 7]);
      const yt = Tensor.from(gpu, Int32Array.of(0, bad, 6), [3]);
      const { loss, dlogits, correct } = softmaxCrossEntropy(gpu, zt, yt);
      const [gl, gg, gc] = await gpu.recorder.read([loss, dlogits!, correct]);
      assert(Number.isNaN(gl[0]), `label ${bad}: loss ${gl[0]}, expected NaN`);
      assert(Number.isNaN(gg[7]) && Number.isFinite(gg[0]), `label ${bad}: gradient rows`);
      assert(gc[0] === 0, `label ${bad}: top-1 count ${gc[0]} (all rows tie)`);
      for (const t of [zt, yt, loss, dlogits!, correct]) t.release();
    }
  },
});

Deno.test({
  name: "softmaxCrossEntropy() rejects mismatched shapes and float labels",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const z = Tensor.zeros(gpu, [4, 3]);
    const cases: [Tensor, RegExp][] = [
      [Tensor.zeros(gpu, [3], "i32"), /labels must be i32 or u32 \[4\], got i32 \[3\]/],
      [Tensor.zeros(gpu, [4], "f32"), /labels must be i32 or u32 \[4\], got f32 \[4\]/],
    ];
    for (const [labels, pattern] of cases) {
      let message = "";
      try {
        softmaxCrossEntropy(gpu, z, labels);
      } catch (error) {
        assert(error instanceof RangeError, "RangeError expected");
        message = (error as Error).message;
      }
      assert(pattern.test(message), `message: ${message}`);
      labels.release();
    }
    z.release();
  },
});
