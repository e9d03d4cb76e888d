/**
 * ResNet against PyTorch: eval-mode features of every stage, one train-mode forward + backward
 * (every gradient, the running statistics), shuffle-BN groups, and state-dict round trips. The
 * golden values come from `tests/fixtures/make_model_fixtures.py` (float64 PyTorch on the saved
 * float32 weights).
 */
import { Tensor } from "../../src/gpu/tensor.ts";
import { loadTorchCheckpoint } from "../../src/io/torch/read.ts";
import { findStateDict } from "../../src/io/torch/state_dict.ts";
import {
  type FeatureLayer,
  parseArch,
  ResNet,
  type ResNetConfig,
} from "../../src/models/resnet.ts";
import { toTorchLayout } from "../../src/nn/parameter.ts";
import { DataError, UsageError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { loadModelCase, MODEL_FIXTURES, readAndRelease } from "./model_fixtures.ts";

const R18: ResNetConfig = { arch: "resnet18", baseWidth: 4, head: "mlp", numClasses: 10 };
const R50: ResNetConfig = { arch: "resnet50", baseWidth: 4, head: "linear", numClasses: 10 };
const FILES = {
  resnet18: `${MODEL_FIXTURES}resnet18_b4_mlp.pth`,
  resnet50: `${MODEL_FIXTURES}resnet50_b4_legacy.pth`,
};

async function stateDictOf(path: string) {
  const ckpt = await loadTorchCheckpoint(path);
  return { sd: findStateDict(ckpt.value, path), format: ckpt.format };
}

for (const [arch, config] of [["resnet18", R18], ["resnet50", R50]] as const) {
  Deno.test({
    name: `ResNet.forwardEval() matches PyTorch at every stage (${arch}, base width 4)`,
    ...GPU_TEST,
    async fn() {
      const gpu = await testGpu();
      const { sd, format } = await stateDictOf(FILES[arch]);
      assert(format === (arch === "resnet18" ? "zip" : "legacy"), `fixture format ${format}`);
      const model = ResNet.fromStateDict(gpu, config, sd, FILES[arch]);
      const c = await loadModelCase(`eval_${arch}`);
      const x = Tensor.from(gpu, c.get("x"), c.shape("x"));
      const layers: FeatureLayer[] = ["layer1", "layer2", "layer3", "layer4", "backbone"];
      poisonPool(gpu, layers.map((l) => 2 * model.featureDim(l)));
      const outs = layers.map((l) => model.forwardEval(x, l));
      const got = await gpu.recorder.read(outs);
      layers.forEach((l, i) => {
        const want = c.get(l === "backbone" ? "layer4" : l);
        assert(outs[i].shape.join() === `2,${model.featureDim(l)}`, `${l} shape ${outs[i].shape}`);
        assertRelClose(got[i], want, 1e-4, `${arch} ${l}`);
      });
      for (const t of [x, ...outs]) t.release();
      model.release();
    },
  });
}

interface TrainCheck {
  fixture: string;
  arch: "resnet18" | "resnet50";
  config: ResNetConfig;
  groups: number;
}

for (
  const t of [
    { fixture: "train_resnet50", arch: "resnet50", config: R50, groups: 1 },
    { fixture: "train_resnet18_groups", arch: "resnet18", config: R18, groups: 2 },
  ] as TrainCheck[]
) {
  Deno.test({
    name: `ResNet.forwardTrain() + backward() match PyTorch: output, loss, every gradient, ` +
      `running statistics (${t.arch}, ${t.groups} BN group(s))`,
    ...GPU_TEST,
    async fn() {
      const gpu = await testGpu();
      const { sd } = await stateDictOf(FILES[t.arch]);
      const model = ResNet.fromStateDict(gpu, t.config, sd, FILES[t.arch]);
      const c = await loadModelCase(t.fixture);
      assert(c.meta.groups === t.groups, "fixture groups");
      const params = model.parameters();
      assertArrayEqual(
        params.map((_, i) => i),
        (c.meta.parameters as string[]).map((n) => params.findIndex((p) => p.name === n)),
        "parameters() order = PyTorch named_parameters() order",
      );
      // Gradients accumulate: start from a non-zero state and clear it, as training does.
      model.zeroGrad();
      const x = Tensor.from(gpu, c.get("x"), c.shape("x"));
      const out = model.forwardTrain(x, { bnGroups: t.groups });
      const r = Tensor.from(gpu, c.get("r"), c.shape("r"));
      model.backward(r);
      const buffers = model.buffers().filter((b) => b.value);
      const read = await gpu.recorder.read([
        out,
        ...params.map((p) => p.grad),
        ...buffers.map((b) => b.value!),
      ]);
      const outData = read[0] as Float32Array;
      assertRelClose(outData, c.get("out"), 1e-4, "output");
      const r64 = c.get("r");
      let loss = 0;
      for (let i = 0; i < r64.length; i++) loss += outData[i] * r64[i];
      assertRelClose([loss], c.get("loss"), 1e-3, "loss");
      let worst = 0;
      params.forEach((p, i) => {
        const grad = toTorchLayout(p, read[1 + i] as Float32Array);
        assertRelClose(grad, c.get(`grad:${p.name}`), 1e-3, `grad ${p.name}`);
        worst = Math.max(worst, relErr(grad, c.get(`grad:${p.name}`)));
      });
      buffers.forEach((b, i) => {
        assertRelClose(read[1 + params.length + i], c.get(`buffer:${b.name}`), 1e-4, b.name);
      });
      for (const b of model.buffers().filter((b) => b.dtype === "int64")) {
        assert(b.count === c.get(`buffer:${b.name}`)[0], `${b.name} = ${b.count}`);
      }
      console.log(`  worst gradient rel. L2 ${worst.toExponential(2)}`);
      for (const tensor of [x, out, r]) tensor.release();
      model.release();
    },
  });
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

Deno.test({
  name: "ResNet gradients accumulate over two backward passes, and zeroGrad() clears them",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("resnet accumulate");
    const config: ResNetConfig = { arch: "resnet18", baseWidth: 4, head: "linear", numClasses: 3 };
    const model = ResNet.create(gpu, config, rng);
    const x = Tensor.from(gpu, rng.normalArray(2 * 16 * 16 * 3), [2, 16, 16, 3]);
    const dy = Tensor.from(gpu, rng.normalArray(6), [2, 3]);
    const probe = model.parameters().filter((p) =>
      p.name === "conv1.weight" || p.name === "fc.bias"
    );
    const step = async () => {
      model.forwardTrain(x).release();
      model.backward(dy);
      return (await gpu.recorder.read(probe.map((p) => p.grad))) as Float32Array[];
    };
    model.zeroGrad();
    const once = await step();
    const twice = await step();
    // Same input twice: the running statistics change, batch statistics do not, so the second
    // backward adds the same gradient again.
    once.forEach((g, i) => assertRelClose(twice[i], g.map((v) => 2 * v), 1e-5, probe[i].name));
    model.zeroGrad();
    const cleared = await step();
    once.forEach((g, i) => assertRelClose(cleared[i], g, 1e-5, `${probe[i].name} after zeroGrad`));
    for (const t of [x, dy]) t.release();
    model.release();
  },
});

Deno.test({
  name:
    "ResNet.stateDict() round-trips through loadStateDict() and fromStateDict() with PyTorch names",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const { sd } = await stateDictOf(FILES.resnet18);
    const model = ResNet.fromStateDict(gpu, R18, sd, FILES.resnet18);
    const back = await model.stateDict();
    assertArrayEqual(
      [...back.keys()].map((_, i) => i),
      [...back.keys()].map((k) => [...sd.keys()].indexOf(k)),
      "state_dict() key order",
    );
    for (const [k, t] of sd) {
      const mine = back.get(k)!;
      assert(mine.shape.join() === t.shape.join(), `${k} shape`);
      assert(mine.dtype === t.dtype, `${k} dtype ${mine.dtype} vs ${t.dtype}`);
      if (t.dtype === "int64") assert(mine.data[0] === t.data[0], `${k} value`);
      else assertArrayEqual(mine.data as Float32Array, t.data as Float32Array, k);
    }
    // A fresh random model loaded with these weights gives the same features.
    const rng = testRng("resnet roundtrip");
    const other = ResNet.create(gpu, R18, rng);
    other.loadStateDict(back, "<round trip>");
    const x = Tensor.from(gpu, rng.normalArray(2 * 24 * 24 * 3), [2, 24, 24, 3]);
    const [a, b] = await readAndRelease(gpu, [model.forwardEval(x), other.forwardEval(x)]);
    assertArrayEqual(a, b, "features after loadStateDict");
    x.release();
    model.release();
    other.release();
  },
});

Deno.test({
  name: "ResNet.fromStateDict() rejects missing, unexpected and mis-shaped keys, naming them",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const { sd } = await stateDictOf(FILES.resnet18);
    const missing = new Map(sd);
    missing.delete("layer2.1.conv2.weight");
    const err1 = expectDataError(() => ResNet.fromStateDict(gpu, R18, missing, "m.pth"));
    assert(/m\.pth/.test(err1) && /layer2\.1\.conv2\.weight/.test(err1), err1);
    const extra = new Map(sd);
    extra.set("layer9.weight", sd.get("fc.0.bias")!);
    const err2 = expectDataError(() => ResNet.fromStateDict(gpu, R18, extra, "e.pth"));
    assert(/unexpected/.test(err2) && /layer9\.weight/.test(err2), err2);
    // The ResNet-18 weights are not a ResNet-34 (missing blocks) nor width 8 (shapes).
    const err3 = expectDataError(() =>
      ResNet.fromStateDict(gpu, { ...R18, baseWidth: 8 }, sd, "w.pth")
    );
    assert(/shape mismatch/.test(err3) && /conv1\.weight/.test(err3), err3);
    const err4 = expectDataError(() =>
      ResNet.fromStateDict(gpu, { ...R18, arch: "resnet34" }, sd, "a.pth")
    );
    assert(/missing/.test(err4) && /layer1\.2\./.test(err4), err4);
    // A linear head is not an MLP head.
    const err5 = expectDataError(() =>
      ResNet.fromStateDict(gpu, { ...R18, head: "linear" }, sd, "h.pth")
    );
    assert(/fc\.weight/.test(err5) && /fc\.0\.weight/.test(err5), err5);
    await Promise.resolve();
  },
});

function expectDataError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert(error instanceof DataError, `expected DataError, got ${error}`);
    return (error as Error).message;
  }
  throw new Error("expected a DataError");
}

Deno.test("parseArch() reads depth and width and rejects other names", () => {
  assertArrayEqual(
    [parseArch("resnet50").widthMultiplier!, parseArch("resnet50w3").widthMultiplier!],
    [1, 3],
  );
  assert(parseArch("resnet18w2").arch === "resnet18", "resnet18w2");
  assert(parseArch("resnet152").arch === "resnet152", "resnet152");
  for (const bad of ["resnet", "resnet51", "resnet50w0", "vgg16", "resnet50w", "Resnet50"]) {
    let threw = false;
    try {
      parseArch(bad);
    } catch (error) {
      threw = error instanceof UsageError && error.message.includes(bad);
    }
    assert(threw, `parseArch('${bad}') should throw a UsageError naming it`);
  }
});

Deno.test({
  name: "ResNet.backward() without a kept tape and bad inputs are clear errors",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("resnet errors");
    const model = ResNet.create(gpu, { arch: "resnet18", baseWidth: 4, numClasses: 2 }, rng);
    const dy = Tensor.zeros(gpu, [2, 2]);
    await assertRejects(() => Promise.resolve().then(() => model.backward(dy)), /forwardTrain/);
    const x = Tensor.zeros(gpu, [2, 16, 16, 3]);
    model.forwardTrain(x, { keepTape: false }).release();
    await assertRejects(() => Promise.resolve().then(() => model.backward(dy)), /forwardTrain/);
    const bad = Tensor.zeros(gpu, [2, 3, 16, 16]);
    await assertRejects(() => Promise.resolve().then(() => model.forwardEval(bad)), /NHWC/);
    await assertRejects(
      () => Promise.resolve().then(() => model.forwardTrain(x, { bnGroups: 3 })),
      /bnGroups/,
    );
    for (const t of [dy, x, bad]) t.release();
    model.release();
  },
});

Deno.test({
  name: "ResNet train steps, key-encoder passes and eval passes leave no GPU buffers behind",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("resnet leaks");
    await gpu.sync();
    const start = gpu.pool.liveBytes;
    const model = ResNet.create(gpu, { ...R18, numClasses: 6 }, rng);
    const x = Tensor.from(gpu, rng.normalArray(4 * 20 * 20 * 3), [4, 20, 20, 3]);
    const dy = Tensor.from(gpu, rng.normalArray(4 * 6), [4, 6]);
    const iteration = async () => {
      model.zeroGrad();
      model.forwardTrain(x, { bnGroups: 2 }).release();
      model.backward(dy);
      model.forwardTrain(x, { keepTape: false }).release();
      model.forwardTrain(x).release();
      model.clearTape();
      for (const layer of ["layer2", "backbone"] as const) model.forwardEval(x, layer).release();
      await gpu.sync();
      return gpu.pool.liveBytes;
    };
    const first = await iteration();
    for (let i = 0; i < 2; i++) {
      const live = await iteration();
      assert(live === first, `live pool bytes ${live} after iteration ${i + 2}, ${first} after 1`);
    }
    for (const t of [x, dy]) t.release();
    model.release();
    assert(gpu.pool.liveBytes === start, `release() leaves ${gpu.pool.liveBytes - start} bytes`);
  },
});
