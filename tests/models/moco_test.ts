/**
 * MoCo construction and its state dict in PyTorch's layout: a key encoder equal to the query
 * encoder, a column-normalised queue, round trips through our checkpoint writer, and loading a
 * checkpoint made by PyTorch (tests/fixtures/checkpoints/moco_r18_w2.pth.tar).
 */
import { loadTorchCheckpoint } from "../../src/io/torch/read.ts";
import type { StateDict } from "../../src/io/torch/tensor.ts";
import { writeTorchCheckpoint } from "../../src/io/torch/write.ts";
import { mocoCheckpointToPy, parseMocoCheckpoint } from "../../src/train/checkpoint.ts";
import { MoCo } from "../../src/models/moco.ts";
import { resnetStateDictShapes } from "../../src/models/resnet.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

const PY_MOCO = new URL("../fixtures/checkpoints/moco_r18_w2.pth.tar", import.meta.url).pathname;

function assertSameStateDict(actual: StateDict, expected: StateDict, what: string): void {
  assertArrayEqual(
    [...actual.keys()].map((_, i) => i),
    [...actual.keys()].map((k) => [...expected.keys()].indexOf(k)),
    `${what}: same keys in the same order`,
  );
  for (const [k, t] of expected) {
    const mine = actual.get(k)!;
    assert(mine.shape.join() === t.shape.join(), `${what}: ${k} shape [${mine.shape}]`);
    assert(mine.dtype === t.dtype, `${what}: ${k} dtype ${mine.dtype}`);
    assertArrayEqual(
      Array.from(mine.data as ArrayLike<number | bigint>, Number),
      Array.from(t.data as ArrayLike<number | bigint>, Number),
      `${what}: ${k}`,
    );
  }
}

Deno.test({
  name: "MoCo.create() copies encoder_q into encoder_k and fills a column-normalised queue",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("moco create");
    const [dim, K] = [8, 48];
    const moco = MoCo.create(gpu, { arch: "resnet18", baseWidth: 4, dim, K, mlp: true }, rng);
    const sd = await moco.stateDict();
    const keys = [...sd.keys()];
    assert(keys[0] === "queue" && keys[1] === "queue_ptr", `first keys ${keys.slice(0, 2)}`);
    const shapes = resnetStateDictShapes({
      arch: "resnet18",
      baseWidth: 4,
      head: "mlp",
      numClasses: dim,
    });
    const expected = [
      "queue",
      "queue_ptr",
      ...[..."qk"].flatMap((e) => [...shapes.keys()].map((k) => `encoder_${e}.${k}`)),
    ];
    assertArrayEqual(keys.map((k) => expected.indexOf(k)), expected.map((_, i) => i), "keys");
    assert(sd.get("encoder_q.fc.2.weight")!.shape.join() === `${dim},32`, "fc.2 is [dim, D]");
    for (const [k, shape] of shapes) {
      const q = sd.get(`encoder_q.${k}`)!;
      assert(q.shape.join() === shape.join(), `${k} shape`);
      assertArrayEqual(
        Array.from(sd.get(`encoder_k.${k}`)!.data as ArrayLike<number | bigint>, Number),
        Array.from(q.data as ArrayLike<number | bigint>, Number),
        `encoder_k.${k} = encoder_q.${k}`,
      );
    }
    const queue = sd.get("queue")!;
    assert(queue.shape.join() === `${dim},${K}`, `queue shape [${queue.shape}]`);
    const qd = queue.data as Float32Array;
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += qd[i * K + j] ** 2;
      assert(Math.abs(Math.sqrt(s) - 1) < 1e-6, `queue column ${j} has norm ${Math.sqrt(s)}`);
    }
    let spread = 0;
    for (const v of qd) spread += v * v;
    assert(Math.abs(spread / K - 1) < 1e-5, "columns are unit vectors");
    assert(sd.get("queue_ptr")!.dtype === "int64" && sd.get("queue_ptr")!.data[0] === 0n, "ptr");
    moco.release();
  },
});

Deno.test({
  name: "a MoCo checkpoint written by writeTorchCheckpoint loads back into an equal MoCo",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("moco roundtrip");
    const config = { arch: "resnet18" as const, baseWidth: 4, dim: 8, K: 16, mlp: true };
    const a = MoCo.create(gpu, config, rng);
    a.queuePtr = 8;
    const sd = await a.stateDict();
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/m.pth.tar`;
      const withModule = new Map([...sd].map(([k, t]) => [`module.${k}`, t]));
      await writeTorchCheckpoint(
        path,
        mocoCheckpointToPy({ epoch: 1, arch: "resnet18", stateDict: withModule }),
      );
      const loaded = parseMocoCheckpoint((await loadTorchCheckpoint(path)).value, path);
      const b = MoCo.create(gpu, config, testRng("moco other"));
      b.loadStateDict(loaded.stateDict, path);
      assert(b.queuePtr === 8, `queue_ptr ${b.queuePtr}`);
      assertSameStateDict(await b.stateDict(), sd, "round trip");
      b.release();
    } finally {
      await Deno.remove(dir, { recursive: true });
      a.release();
    }
  },
});

Deno.test({
  name: "MoCo.loadStateDict() takes PyTorch's own MoCo checkpoint, keeps every value, and " +
    "rejects a wrong queue or stray keys",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const ckpt = parseMocoCheckpoint((await loadTorchCheckpoint(PY_MOCO)).value, PY_MOCO);
    const config = { arch: "resnet18" as const, baseWidth: 2, dim: 8, K: 32, mlp: true };
    const moco = MoCo.create(gpu, config, testRng("moco py"));
    moco.loadStateDict(ckpt.stateDict, PY_MOCO);
    assert(moco.queuePtr === 16, `queue_ptr ${moco.queuePtr}`);
    const mine = await moco.stateDict();
    const theirs = new Map([...ckpt.stateDict].map(([k, t]) => [k.slice(7), t]));
    // Same values for every key; the fixture lists the queue last, PyTorch's MoCo first.
    for (const [k, t] of theirs) {
      const m = mine.get(k);
      assert(m !== undefined, `missing ${k}`);
      assertArrayEqual(
        Array.from(m.data as ArrayLike<number | bigint>, Number),
        Array.from(t.data as ArrayLike<number | bigint>, Number),
        k,
      );
    }
    assert(mine.size === theirs.size, `${mine.size} keys vs ${theirs.size}`);
    const wrongK = MoCo.create(gpu, { ...config, K: 64 }, testRng("moco k"));
    let message = "";
    try {
      wrongK.loadStateDict(ckpt.stateDict, PY_MOCO);
    } catch (error) {
      assert(error instanceof DataError, `expected DataError, got ${error}`);
      message = (error as Error).message;
    }
    assert(/queue/.test(message) && message.includes(PY_MOCO), message);
    const stray = new Map(ckpt.stateDict);
    stray.set("module.predictor.weight", ckpt.stateDict.get("module.queue")!);
    message = "";
    try {
      moco.loadStateDict(stray, "s.pth");
    } catch (error) {
      message = (error as Error).message;
    }
    assert(/predictor\.weight/.test(message) && /s\.pth/.test(message), message);
    wrongK.release();
    moco.release();
  },
});
