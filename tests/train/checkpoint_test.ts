import { Tensor } from "../../src/gpu/tensor.ts";
import { decodeTorchCheckpoint, readTorchCheckpoint } from "../../src/io/torch/read.ts";
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { encodeTorchCheckpoint } from "../../src/io/torch/write.ts";
import { concatChunks } from "../../src/io/zip.ts";
import { fromTorchLayout, toTorchLayout } from "../../src/nn/parameter.ts";
import {
  checkpointFileName,
  dictFields,
  loadTrainingCheckpoint,
  mocoCheckpointToPy,
  parseMocoCheckpoint,
  saveTrainingCheckpoint,
  TRAIN_STATE_KEY,
} from "../../src/train/checkpoint.ts";
import { MomentumSgd, type TrainParameter } from "../../src/train/optimizer.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { fixture } from "../io/checkpoint_helpers.ts";
import { assertSameDescription, describe } from "../io/describe.ts";

const bytesOf = (value: Parameters<typeof encodeTorchCheckpoint>[0]) =>
  concatChunks(encodeTorchCheckpoint(value));

Deno.test("checkpointFileName() gives the intended names, and the original's with faithful", () => {
  assert(checkpointFileName("ventral", "resnet50", 7) === "ventral_0007.pth.tar", "intended");
  assert(checkpointFileName("default", "resnet50w3", 199) === "default_w3_0199.pth.tar", "w3");
  assert(checkpointFileName("dorsal", "resnet50", 0, true) === "_0000.pth.tar", "faithful");
  assert(
    checkpointFileName("default", "resnet50w3", 12, true) === "default_w3_0012.pth.tar",
    "faithful w3",
  );
});

Deno.test("parseMocoCheckpoint() reads the MoCo layout and mocoCheckpointToPy() round-trips it", async () => {
  for (const name of ["moco_r18_w2.pth.tar", "moco_r18_w2_legacy.pth.tar"]) {
    const ck = parseMocoCheckpoint(await readTorchCheckpoint(fixture(name)), name);
    assert(ck.epoch === 3 && ck.arch === "resnet18", `${name}: epoch/arch`);
    assert(ck.stateDict.get("module.queue")!.shape.join() === "8,32", "queue [dim, K]");
    const ptr = ck.stateDict.get("module.queue_ptr")!;
    assert(ptr.dtype === "int64" && ptr.data[0] === 16n, "queue_ptr int64");
    const opt = ck.optimizer!;
    const g = opt.paramGroups[0];
    assert(
      g.lr === 0.03 && g.momentum === 0.9 && g.dampening === 0 && g.weightDecay === 1e-4,
      "SGD group",
    );
    assert(
      !g.nesterov && g.params.length === 128 && opt.state.size === 64,
      "params and momentum buffers",
    );
    const back = parseMocoCheckpoint(
      decodeTorchCheckpoint(bytesOf(mocoCheckpointToPy(ck))).value,
      "x",
    );
    assert(
      back.epoch === 3 && back.stateDict.size === ck.stateDict.size,
      "round trip keeps fields",
    );
    assertSameDescription(
      await describe(new Map(back.optimizer!.state)),
      await describe(new Map(opt.state)),
      "momentum buffers",
    );
  }
});

Deno.test("dictFields() reads ints, strings and string lists, and each failure names the field", () => {
  const fail = (what: string): never => {
    throw new DataError(`f: bad state: ${what}`);
  };
  const f = dictFields(
    new Map<string, unknown>([["n", 3], ["s", "x"], ["l", ["a", "b"]], ["r", 1.5]]) as never,
    fail,
  );
  assert(f.int("n") === 3 && f.string("s") === "x" && f.strings("l").join() === "a,b", "values");
  assert(f.has("n") && !f.has("missing"), "has()");
  const message = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      assert(error instanceof DataError, "a DataError");
      return error.message;
    }
    throw new Error("did not fail");
  };
  assert(message(() => f.int("r")) === "f: bad state: 'r' is not an int", "int");
  assert(message(() => f.string("n")) === "f: bad state: 'n' is not a string", "string");
  assert(message(() => f.strings("s")) === "f: bad state: 's' is not a list of strings", "list");
  assert(message(() => dictFields([] as never, fail)) === "f: bad state: not a dict", "dict");
});

Deno.test("the optimiser's layout conversion is nn/parameter's: always a new array, both layouts", () => {
  const plain: TrainParameter = { layout: "plain", torchShape: [3] } as unknown as TrainParameter;
  const v = new Float32Array([1, 2, 3]);
  for (const out of [toTorchLayout(plain, v), fromTorchLayout(plain, v)]) {
    assert(out !== v && out.buffer !== v.buffer, "plain converts to a copy");
    assertArrayEqual(out, v, "plain values unchanged");
  }
  const [o, i, kh, kw] = [2, 3, 1, 2];
  const hwio = { layout: "hwio", torchShape: [o, i, kh, kw] } as unknown as TrainParameter;
  const w = new Float32Array(o * i * kh * kw).map((_, j) => j);
  assertArrayEqual(fromTorchLayout(hwio, toTorchLayout(hwio, w)), w, "hwio round trip");
});

Deno.test({
  name: "MomentumSgd state converts HWIO buffers to PyTorch layout and back, through a checkpoint",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("ckpt");
    const conv = rng.normalArray(3 * 3 * 2 * 5); // HWIO [3, 3, 2, 5] = OIHW [5, 2, 3, 3]
    const bias = rng.normalArray(5);
    const mk = (name: string, shape: number[], gpuShape: number[], layout: "hwio" | "plain") => ({
      name,
      torchShape: shape,
      value: Tensor.from(gpu, rng.normalArray(gpuShape.reduce((a, b) => a * b)), gpuShape),
      grad: Tensor.empty(gpu, gpuShape),
      layout,
    });
    const params: TrainParameter[] = [
      mk("conv1.weight", [5, 2, 3, 3], [3, 3, 2, 5], "hwio"),
      mk("fc.bias", [5], [5], "plain"),
    ];
    gpu.recorder.upload(params[0].grad.buffer, 0, conv);
    gpu.recorder.upload(params[1].grad.buffer, 0, bias);
    const sgd = new MomentumSgd(gpu, params, { momentum: 0.9, weightDecay: 0 });
    const before = await sgd.stateDict(0.03, 4);
    assert(before.state.size === 0, "no momentum state before the first step (as PyTorch)");
    sgd.step(0.1);
    const sd = await sgd.stateDict(0.03, 4);
    // First step with wd 0: buf = grad. PyTorch layout of the conv buffer is OIHW.
    const oihw = sd.state.get(0)!;
    assertArrayEqual(oihw.shape, [5, 2, 3, 3], "conv buffer shape");
    for (let o = 0; o < 5; o++) {
      for (let i = 0; i < 2; i++) {
        for (let y = 0; y < 3; y++) {
          for (let x = 0; x < 3; x++) {
            const want = conv[((y * 3 + x) * 2 + i) * 5 + o];
            const got = (oihw.data as Float32Array)[((o * 2 + i) * 3 + y) * 3 + x];
            assert(got === want, `buffer [${o},${i},${y},${x}] ${got} != ${want}`);
          }
        }
      }
    }
    assertArrayEqual(sd.state.get(1)!.data as Float32Array, bias, "bias buffer");
    assertArrayEqual(sd.paramGroups[0].params, [0, 1, 2, 3], "encoder_q and encoder_k indices");

    const dir = await Deno.makeTempDir();
    const path = `${dir}/${checkpointFileName("default", "resnet18", 0)}`;
    const queue = TorchTensor.fromArray(rng.normalArray(6), [3, 2]);
    const mocoState = new Map([
      ["encoder_q.fc.bias", TorchTensor.fromArray(bias, [5])],
      ["queue", queue],
      ["queue_ptr", new TorchTensor("int64", [1], new BigInt64Array([2n]))],
    ]);
    const rngState = rng.getState();
    await saveTrainingCheckpoint(path, {
      epoch: 1,
      arch: "resnet18",
      mocoState,
      optimizer: sd,
      trainState: {
        seed: 42,
        rng: rngState,
        globalStep: 9,
        stepInEpoch: 3,
        policy: "ventral",
        bnGroups: 4,
        batchSize: 8,
      },
    });
    const raw = await readTorchCheckpoint(path) as Map<string, unknown>;
    const top = [...raw.keys()].join();
    assert(top === `epoch,arch,state_dict,optimizer,${TRAIN_STATE_KEY}`, `top-level keys ${top}`);
    const keys = [...(raw.get("state_dict") as Map<string, unknown>).keys()];
    assert(keys.every((k) => k.startsWith("module.")), `module. prefix: ${keys}`);
    const back = await loadTrainingCheckpoint(path);
    assert(back.epoch === 1 && back.arch === "resnet18", "epoch and arch");
    assertArrayEqual(
      back.stateDict.get("queue")!.data as Float32Array,
      queue.data as Float32Array,
      "queue",
    );
    const ts = back.trainState!;
    assert(ts.seed === 42 && ts.globalStep === 9 && ts.stepInEpoch === 3, "train state");
    assertArrayEqual(back.trainState!.rng.slice(0, 4), rngState.slice(0, 4), "rng words");
    assert(
      Object.is(back.trainState!.rng[4], rngState[4]) ||
        (Number.isNaN(back.trainState!.rng[4]) && Number.isNaN(rngState[4])),
      "rng spare normal",
    );

    // Restoring the buffers into a fresh optimiser continues the momentum exactly.
    const sgd2 = new MomentumSgd(gpu, params, { momentum: 0.9, weightDecay: 0 });
    sgd2.loadStateDict(back.optimizer!, path);
    assert(sgd2.started, "restored optimiser has started");
    const [b0] = await gpu.recorder.read([sgd2.buffers[0]]);
    assertArrayEqual(b0, conv, "restored HWIO buffer");
    const broken = { ...back.optimizer!, state: new Map([[0, back.optimizer!.state.get(0)!]]) };
    const err = (() => {
      try {
        sgd2.loadStateDict(broken, path);
      } catch (e) {
        return e as Error;
      }
    })();
    assert(
      err instanceof DataError && /no momentum buffer for 1 \(fc.bias\)/.test(err.message),
      `partial state: ${err?.message}`,
    );
    await Deno.writeFile(`${dir}/bad.pth.tar`, new Uint8Array([1, 2, 3]));
    await assertRejects(() => loadTrainingCheckpoint(`${dir}/bad.pth.tar`), /bad.pth.tar/);
    sgd.release();
    sgd2.release();
    for (const p of params) [p.value, p.grad].forEach((t) => t.release());
    await Deno.remove(dir, { recursive: true });
  },
});
