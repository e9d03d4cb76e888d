/**
 * Convolution benchmark rows: ours vs TensorFlow.js WebGPU on ResNet-50 layer shapes at batch 8
 * (224×224 input), forward for eight layers and backward data / backward filter for three.
 *
 * Each sample records `reps` ops and then reads four values of the last output back (one sync
 * for both sides; reading the whole output would add a multi-megabyte copy to both), so that the
 * ≥ 11 ms GPU→CPU sync of Deno does not dominate the small layers; `reps` is chosen so a sample
 * holds at least ~1 GFLOP. One warm-up sample, then the median of three.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";
import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { conv2dBackwardData, conv2dBackwardFilter } from "../../src/ops/conv2d_backward.ts";
import { conv2dForward } from "../../src/ops/conv2d_forward.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, medianMs, row, TFJS_PEER } from "./harness.ts";

type Kind = "fwd" | "bwd-data" | "bwd-filter";

interface Layer {
  kind: Kind;
  k: number;
  stride: number;
  cin: number;
  cout: number;
  size: number; // input height = width
}

const LAYERS: Layer[] = [
  { kind: "fwd", k: 7, stride: 2, cin: 3, cout: 64, size: 224 },
  { kind: "fwd", k: 1, stride: 1, cin: 64, cout: 64, size: 56 },
  { kind: "fwd", k: 3, stride: 1, cin: 64, cout: 64, size: 56 },
  { kind: "fwd", k: 1, stride: 1, cin: 64, cout: 256, size: 56 },
  { kind: "fwd", k: 3, stride: 2, cin: 128, cout: 128, size: 56 },
  { kind: "fwd", k: 3, stride: 1, cin: 256, cout: 256, size: 14 },
  { kind: "fwd", k: 3, stride: 1, cin: 512, cout: 512, size: 7 },
  { kind: "fwd", k: 1, stride: 1, cin: 2048, cout: 512, size: 7 },
  { kind: "bwd-data", k: 3, stride: 1, cin: 64, cout: 64, size: 56 },
  { kind: "bwd-data", k: 1, stride: 1, cin: 64, cout: 256, size: 56 },
  { kind: "bwd-data", k: 3, stride: 1, cin: 256, cout: 256, size: 14 },
  { kind: "bwd-filter", k: 3, stride: 1, cin: 64, cout: 64, size: 56 },
  { kind: "bwd-filter", k: 1, stride: 1, cin: 64, cout: 256, size: 56 },
  { kind: "bwd-filter", k: 3, stride: 1, cin: 256, cout: 256, size: 14 },
];

const BATCH = 8;

/** The stable row name, e.g. `conv fwd 3x3/2 128->128 b8 56x56` (size = input size). */
export function convRowName(l: Layer): string {
  const k = `${l.k}x${l.k}${l.stride > 1 ? `/${l.stride}` : ""}`;
  return `conv ${l.kind} ${k} ${l.cin}->${l.cout} b${BATCH} ${l.size}x${l.size}`;
}

/** Benchmark rows for the convolution ops (GFLOP/s, ours vs tfjs-webgpu). */
export async function convRows(gpu: Gpu): Promise<BenchRow[]> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const rows: BenchRow[] = [];
  for (const l of LAYERS) {
    const pad = Math.floor(l.k / 2);
    const out = Math.floor((l.size + 2 * pad - l.k) / l.stride) + 1;
    const xShape = [BATCH, l.size, l.size, l.cin];
    const wShape = [l.k, l.k, l.cin, l.cout];
    const dyShape = [BATCH, out, out, l.cout];
    const flops = 2 * BATCH * out * out * l.cout * l.k * l.k * l.cin;
    const reps = Math.max(1, Math.min(8, Math.round(1e9 / flops)));
    const xData = new Rng(1).uniformArray(xShape.reduce((a, b) => a * b), -0.5, 0.5);
    const wData = new Rng(2).uniformArray(wShape.reduce((a, b) => a * b), -0.5, 0.5);
    const dyData = new Rng(3).uniformArray(dyShape.reduce((a, b) => a * b), -0.5, 0.5);

    // Ours.
    const x = Tensor.from(gpu, xData, xShape);
    const w = Tensor.from(gpu, wData, wShape);
    const dy = Tensor.from(gpu, dyData, dyShape);
    const conv = { stride: l.stride, pad };
    const once = (): Tensor =>
      l.kind === "fwd"
        ? conv2dForward(gpu, x, w, conv)
        : l.kind === "bwd-data"
        ? conv2dBackwardData(gpu, dy, w, { ...conv, inputShape: xShape })
        : conv2dBackwardFilter(gpu, x, dy, { ...conv, kernelSize: l.k });
    const oursMs = await medianMs(async () => {
      let last: Tensor | undefined;
      for (let r = 0; r < reps; r++) {
        last?.release();
        last = once();
      }
      // Sync by reading back four values: every recorded op must have finished.
      await new Tensor(gpu, last!.buffer, [4], "f32", false).read();
      last!.release();
    }, { warmup: 1, runs: 3 });
    x.release();
    w.release();
    dy.release();

    // TensorFlow.js WebGPU, same shapes, NHWC.
    const tx = tf.tensor4d(xData, xShape as [number, number, number, number]);
    const tw = tf.tensor4d(wData, wShape as [number, number, number, number]);
    const tdy = tf.tensor4d(dyData, dyShape as [number, number, number, number]);
    const tpad = [[0, 0], [pad, pad], [pad, pad], [0, 0]] as [
      [number, number],
      [number, number],
      [number, number],
      [number, number],
    ];
    const attrs = { strides: [l.stride, l.stride], pad: tpad, dataFormat: "NHWC" };
    const tfOnce = (): tf.Tensor =>
      l.kind === "fwd"
        ? tf.conv2d(tx, tw, l.stride, tpad)
        : l.kind === "bwd-data"
        ? tf.engine().runKernel(
          tf.Conv2DBackpropInput,
          { dy: tdy, filter: tw },
          { ...attrs, inputShape: xShape } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor
        : tf.engine().runKernel(
          tf.Conv2DBackpropFilter,
          { x: tx, dy: tdy },
          { ...attrs, filterShape: wShape } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor;
    const peerMs = await medianMs(async () => {
      let last: tf.Tensor | undefined;
      for (let r = 0; r < reps; r++) {
        last?.dispose();
        last = tfOnce();
      }
      const probe = tf.slice(last!, [0, 0, 0, 0], [1, 1, 1, 4]);
      await probe.data();
      probe.dispose();
      last!.dispose();
    }, { warmup: 1, runs: 3 });
    tx.dispose();
    tw.dispose();
    tdy.dispose();

    const gflops = (ms: number) => flops * reps / (ms * 1e6);
    rows.push(row(convRowName(l), "GFLOP/s", gflops(oursMs), TFJS_PEER, gflops(peerMs)));
  }
  return rows;
}
