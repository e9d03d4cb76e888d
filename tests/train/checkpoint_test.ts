import { Tensor } from "../../src/gpu/tensor.ts";
import { readTorchCheckpoint, TorchTensor } from "../../src/io/torch_checkpoint.ts";
import {
  checkpointFileName,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  TRAIN_STATE_KEY,
} from "../../src/train/checkpoint.ts";
import { MomentumSgd, type TrainParameter } from "../../src/train/optimizer.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

Deno.test("checkpointFileName() gives the intended names, and the original's with faithful", () => {
  assert(checkpointFileName("ventral", "resnet50", 7) === "ventral_0007.pth.tar", "intended");
  assert(checkpointFileName("default", "resnet50w3", 199) === "default_w3_0199.pth.tar", "w3");
  assert(checkpointFileName("dorsal", "resnet50", 0, true) === "_0000.pth.tar", "faithful");
  assert(
    checkpointFileName("default", "resnet50w3", 12, true) === "default_w3_0012.pth.tar",
    "faithful w3",
  );
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
