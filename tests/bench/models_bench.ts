/**
 * `deno task bench models`: the ResNet-50 eval forward (batch 8, 224×224) in images/s: ours (the
 * fused-BN fast path of `ResNet.forwardEval`) vs the same network with the same weights built
 * from TensorFlow.js WebGPU ops (tf.conv2d / tf.batchNorm / tf.relu / tf.add / tf.maxPool /
 * tf.mean) on the same adapter, and vs PyTorch's CPU forward (tests/bench/torch_resnet50.py)
 * when `/usr/bin/python3` has torch. Writes `results/bench/models.json`.
 *
 * Each sample runs one batch and syncs by reading back four feature values (both sides); one
 * warm-up batch each (pipeline compilation; for tfjs the checked forward), then three samples
 * of each, interleaved, and the medians. Before timing, the pooled
 * features of both GPU implementations are compared (relative L2 printed), so the rows time the
 * same computation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";
import { type Gpu, openGpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { ResNet } from "../../src/models/resnet.ts";
import type { Parameter } from "../../src/nn/parameter.ts";
import { runMain } from "../../src/util/main.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, medianMs, report, row, TFJS_PEER } from "./harness.ts";

const BATCH = 8;
const SIZE = 224;
const NAME = `resnet50 fwd b${BATCH} ${SIZE}`;
const TORCH_PEER = "PyTorch CPU (torchvision resnet50)";

/** Values and GPU-layout shapes (HWIO for convolutions) by PyTorch name. */
type Weights = Map<string, { data: Float32Array; shape: readonly number[] }>;

/** Every parameter and float buffer of `model` in our GPU layout (HWIO convs), by PyTorch name. */
async function weightsOf(gpu: Gpu, model: ResNet): Promise<Weights> {
  const params: Parameter[] = model.parameters();
  const buffers = model.buffers().filter((b) => b.value);
  const data = await gpu.recorder.read([
    ...params.map((p) => p.value),
    ...buffers.map((b) => b.value!),
  ]);
  const out: Weights = new Map();
  params.forEach((p, i) =>
    out.set(p.name, { data: data[i] as Float32Array, shape: p.value.shape })
  );
  buffers.forEach((b, i) =>
    out.set(b.name, { data: data[params.length + i] as Float32Array, shape: b.value!.shape })
  );
  return out;
}

/** ResNet-50 (v1.5, eval BN) from tfjs ops, NHWC, with the given weights: pooled [N, 2048]. */
function tfjsResNet50(w: Weights): { forward: (x: tf.Tensor4D) => tf.Tensor2D; dispose(): void } {
  const t = new Map<string, tf.Tensor>();
  for (const [name, { data, shape }] of w) {
    if (!name.startsWith("fc.")) t.set(name, tf.tensor(data, [...shape]));
  }
  const conv = (x: tf.Tensor4D, name: string, stride: number) => {
    const k = (t.get(`${name}.weight`)!.shape as number[])[0];
    return tf.conv2d(
      x,
      t.get(`${name}.weight`) as tf.Tensor4D,
      stride,
      k === 1 ? "valid" : [
        [0, 0],
        [Math.floor(k / 2), Math.floor(k / 2)],
        [Math.floor(k / 2), Math.floor(k / 2)],
        [0, 0],
      ],
    );
  };
  const bn = (x: tf.Tensor4D, name: string) =>
    tf.batchNorm(
      x,
      t.get(`${name}.running_mean`) as tf.Tensor1D,
      t.get(`${name}.running_var`) as tf.Tensor1D,
      t.get(`${name}.bias`) as tf.Tensor1D,
      t.get(`${name}.weight`) as tf.Tensor1D,
      1e-5,
    );
  const forward = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      let h = tf.relu(bn(conv(x, "conv1", 2), "bn1"));
      h = tf.maxPool(
        tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]], -Infinity) as tf.Tensor4D,
        3,
        2,
        "valid",
      );
      [3, 4, 6, 3].forEach((blocks, s) => {
        for (let b = 0; b < blocks; b++) {
          const p = `layer${s + 1}.${b}`;
          const stride = b === 0 && s > 0 ? 2 : 1;
          let r = tf.relu(bn(conv(h, `${p}.conv1`, 1), `${p}.bn1`));
          r = tf.relu(bn(conv(r, `${p}.conv2`, stride), `${p}.bn2`));
          r = bn(conv(r, `${p}.conv3`, 1), `${p}.bn3`);
          const sc = b === 0 ? bn(conv(h, `${p}.downsample.0`, stride), `${p}.downsample.1`) : h;
          h = tf.relu(tf.add(r, sc));
        }
      });
      return tf.mean(h, [1, 2]) as tf.Tensor2D;
    });
  return { forward, dispose: () => t.forEach((v) => v.dispose()) };
}

async function torchPeer(): Promise<number | null> {
  const script = new URL("./torch_resnet50.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [script, "3"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.error(`PyTorch peer failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
      return null;
    }
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    console.error(
      `PyTorch ${result.torch}, ${result.threads} threads: ${result.ms.map(Math.round)} ms`,
    );
    return result.img_per_s;
  } catch (error) {
    console.error(`PyTorch peer unavailable: ${(error as Error).message}`);
    return null;
  }
}

/** The ResNet-50 rows. */
export async function modelRows(gpu: Gpu): Promise<BenchRow[]> {
  const rng = new Rng(50);
  const model = ResNet.create(gpu, { arch: "resnet50" }, rng);
  // Non-trivial BN statistics so the folding does real work (same values for tfjs).
  for (const b of model.buffers()) {
    if (!b.value) continue;
    const c = b.value.size;
    const v = b.name.endsWith("running_var")
      ? rng.uniformArray(c, 0.5, 2)
      : rng.normalArray(c, 0.1);
    gpu.recorder.upload(b.value.buffer, 0, v);
  }
  model.invalidateFolded();
  const weights = await weightsOf(gpu, model);
  const xData = rng.normalArray(BATCH * SIZE * SIZE * 3);
  const x = Tensor.from(gpu, xData, [BATCH, SIZE, SIZE, 3]);

  const oursOnce = async () => {
    const y = model.forwardEval(x);
    await new Tensor(gpu, y.buffer, [4], "f32", false).read();
    y.release();
  };
  await oursOnce(); // warm-up: pipeline compilation and BN folding
  const oursOut = model.forwardEval(x);
  const [ours] = await gpu.recorder.read([oursOut]);
  oursOut.release();

  await tf.setBackend("webgpu");
  await tf.ready();
  const net = tfjsResNet50(weights);
  const tx = tf.tensor4d(xData, [BATCH, SIZE, SIZE, 3]);
  const check = net.forward(tx); // also tfjs's warm-up (shader compilation)
  const theirs = await check.data();
  check.dispose();
  let num = 0;
  let den = 0;
  for (let i = 0; i < ours.length; i++) {
    num += (ours[i] - theirs[i]) ** 2;
    den += theirs[i] ** 2;
  }
  console.error(`features ours vs tfjs: relative L2 ${Math.sqrt(num / den).toExponential(2)}`);
  const peerOnce = async () => {
    const y = net.forward(tx);
    const probe = tf.slice(y, [0, 0], [1, 4]);
    await probe.data();
    probe.dispose();
    y.dispose();
  };
  // Interleaved samples (ours, tfjs, ours, …): the shared machine's load drifts by minutes, so
  // each pair sees about the same load; medians of three each.
  const oursTimes: number[] = [];
  const peerTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    oursTimes.push(await medianMs(oursOnce, { warmup: 0, runs: 1 }));
    peerTimes.push(await medianMs(peerOnce, { warmup: 0, runs: 1 }));
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[1];
  const oursMs = median(oursTimes);
  const peerMs = median(peerTimes);
  console.error(
    `ours ${oursTimes.map(Math.round)} ms, tfjs ${peerTimes.map(Math.round)} ms per batch`,
  );
  tx.dispose();
  net.dispose();
  x.release();
  model.release();

  const ips = (ms: number) => (BATCH * 1000) / ms;
  const rows = [row(NAME, "img/s", ips(oursMs), TFJS_PEER, ips(peerMs))];
  const torch = await torchPeer();
  rows.push(row(NAME, "img/s", ips(oursMs), TORCH_PEER, torch));
  return rows;
}

if (import.meta.main) {
  await runMain("bench models", async () => {
    const gpu = await openGpu();
    const rows = await modelRows(gpu);
    await report("models", gpu.summary.description, rows);
    gpu.destroy();
  });
}
