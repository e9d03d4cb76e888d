/**
 * ResNet.forwardEval() on fresh random weights, BN statistics and inputs against a float64 CPU
 * ResNet written from docs/common.md#resnet with the op references (direct convolution sums, BN formula,
 * max/avg pooling): catches wiring errors (strides, shortcuts, stage order) that fixed golden
 * inputs could miss, and checks the GPU BN folding.
 */
import { Tensor } from "../../src/gpu/tensor.ts";
import { type StateDict, TorchTensor } from "../../src/io/torch/tensor.ts";
import { oihwToHwio } from "../../src/ops/fold_batchnorm.ts";
import {
  type FeatureLayer,
  ResNet,
  type ResNetConfig,
  resnetStateDictShapes,
} from "../../src/models/resnet.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assertArrayEqual, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { refBatchNormEval } from "../ops/batchnorm_reference.ts";
import { conv2dRef, refOutShape } from "../ops/conv2d_reference.ts";
import { refGlobalAvgPool, refMaxPool } from "../ops/pool_reference.ts";

type Shape4 = [number, number, number, number];

function randomStateDict(config: ResNetConfig, rng: Rng): StateDict {
  const sd: StateDict = new Map();
  for (const [name, shape] of resnetStateDictShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array | BigInt64Array;
    if (name.endsWith("num_batches_tracked")) data = new BigInt64Array([BigInt(rng.int(100))]);
    else if (shape.length === 4) {
      data = rng.normalArray(n, Math.sqrt(2 / (shape[0] * shape[2] ** 2)));
    } else if (name.endsWith("running_var")) data = rng.uniformArray(n, 0.5, 2);
    else if (name.endsWith("running_mean")) data = rng.normalArray(n, 0.2);
    else if (/bn\d\.weight|downsample\.1\.weight/.test(name)) data = rng.uniformArray(n, 0.5, 1.5);
    else data = rng.uniformArray(n, -0.3, 0.3);
    sd.set(name, TorchTensor.fromArray(data, shape));
  }
  return sd;
}

/** Float64 eval-mode ResNet: pooled features of each stage. */
function referenceStages(
  config: ResNetConfig,
  sd: StateDict,
  x: Float32Array,
  shape: Shape4,
): Float64Array[] {
  const f = (name: string) => sd.get(name)!.data as Float32Array;
  const convBn = (
    input: ArrayLike<number>,
    s: Shape4,
    conv: string,
    bn: string,
    stride: number,
    relu: boolean,
    residual?: ArrayLike<number>,
  ): { y: Float64Array; shape: Shape4 } => {
    const [o, i, k] = sd.get(`${conv}.weight`)!.shape;
    const geom = {
      xShape: s,
      wShape: [k, k, i, o] as Shape4,
      stride,
      pad: [Math.floor(k / 2), Math.floor(k / 2)] as const,
    };
    const w = oihwToHwio(f(`${conv}.weight`), [o, i, k, k]);
    const a = conv2dRef(input, w, geom);
    let y = refBatchNormEval(
      a,
      o,
      f(`${bn}.weight`),
      f(`${bn}.bias`),
      f(`${bn}.running_mean`),
      f(`${bn}.running_var`),
      1e-5,
      relu && !residual,
    );
    if (residual) y = y.map((v, j) => Math.max(v + residual[j], 0));
    return { y, shape: refOutShape(geom) };
  };
  const stem = convBn(x, shape, "conv1", "bn1", 2, true);
  const [n, h, w, c] = stem.shape;
  const pooled = refMaxPool(stem.y, { n, h, w, c, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 });
  let act: Float64Array = pooled.y;
  let s: Shape4 = [n, Math.floor((h - 1) / 2) + 1, Math.floor((w - 1) / 2) + 1, c];
  const bottleneck = config.arch !== "resnet18" && config.arch !== "resnet34";
  const out: Float64Array[] = [];
  for (let stage = 1; stage <= 4; stage++) {
    for (let b = 0; sd.has(`layer${stage}.${b}.conv1.weight`); b++) {
      const p = `layer${stage}.${b}`;
      const stride = b === 0 && stage > 1 ? 2 : 1;
      const short = sd.has(`${p}.downsample.0.weight`)
        ? convBn(act, s, `${p}.downsample.0`, `${p}.downsample.1`, stride, false).y
        : act;
      let r;
      if (bottleneck) {
        r = convBn(act, s, `${p}.conv1`, `${p}.bn1`, 1, true);
        r = convBn(r.y, r.shape, `${p}.conv2`, `${p}.bn2`, stride, true);
        r = convBn(r.y, r.shape, `${p}.conv3`, `${p}.bn3`, 1, true, short);
      } else {
        r = convBn(act, s, `${p}.conv1`, `${p}.bn1`, stride, true);
        r = convBn(r.y, r.shape, `${p}.conv2`, `${p}.bn2`, 1, true, short);
      }
      act = r.y;
      s = r.shape;
    }
    out.push(refGlobalAvgPool(act, s[0], s[1] * s[2], s[3]));
  }
  return out;
}

for (
  const config of [
    { arch: "resnet18", baseWidth: 4, head: "linear", numClasses: 5 },
    { arch: "resnet50", widthMultiplier: 2, baseWidth: 2, head: "none" },
  ] as ResNetConfig[]
) {
  Deno.test({
    name: `ResNet.forwardEval() matches a float64 CPU ResNet on random weights and inputs ` +
      `(${config.arch}, width ${config.widthMultiplier ?? 1} × base ${config.baseWidth})`,
    ...GPU_TEST,
    async fn() {
      const gpu = await testGpu();
      const rng = testRng(`resnet reference ${config.arch}`);
      const sd = randomStateDict(config, rng);
      const model = ResNet.fromStateDict(gpu, config, sd, "<random>");
      const shape: Shape4 = [2, 19 + rng.int(4), 19 + rng.int(4), 3];
      const x = rng.normalArray(shape.reduce((a, b) => a * b, 1));
      const want = referenceStages(config, sd, x, shape);
      const input = Tensor.from(gpu, x, shape);
      const layers: FeatureLayer[] = ["layer1", "layer2", "layer3", "layer4"];
      poisonPool(gpu, layers.map((l) => 2 * model.featureDim(l)));
      const outs = layers.map((l) => model.forwardEval(input, l));
      const got = await gpu.recorder.read(outs);
      layers.forEach((l, i) => assertRelClose(got[i], want[i], 1e-5, `${l} (input ${shape})`));
      for (const t of [input, ...outs]) t.release();
      model.release();
    },
  });
}

Deno.test({
  name: "ResNet.forwardEval() slices a batch whose activations exceed the binding limit, same " +
    "features; forwardTrain() refuses it naming the largest batch",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("resnet slicing");
    const config: ResNetConfig = { arch: "resnet18", baseWidth: 4, head: "none" };
    const model = ResNet.fromStateDict(gpu, config, randomStateDict(config, rng), "<random>");
    const shape: Shape4 = [7, 18, 17, 3];
    const x = Tensor.from(gpu, rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
    const whole = model.forwardEval(x, "layer3");
    // The largest tensor of one 18×17 image at base width 4 is the input itself (918 floats;
    // the stem output has 9·9·4).
    const limit = gpu.device.limits.maxStorageBufferBindingSize;
    assertEqual(model.maxBatch(shape), Math.floor(limit / (918 * 4)), "device limit");
    model.maxBindingBytes = 2 * 918 * 4 + 3;
    assertEqual(model.maxBatch(shape), 2, "two images per slice");
    const sliced = model.forwardEval(x, "layer3");
    const [a, b] = await gpu.recorder.read([whole, sliced]);
    assertArrayEqual(b, a, "sliced batch = whole batch");
    await assertRejects(
      () => Promise.resolve().then(() => model.forwardTrain(x)),
      /at most 2 images/,
    );
    model.maxBindingBytes = 100;
    await assertRejects(() => Promise.resolve().then(() => model.forwardEval(x)), /one 18×17/);
    for (const t of [x, whole, sliced]) t.release();
    model.release();
  },
});

function assertEqual(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new Error(`${what}: ${actual} !== ${expected}`);
}
