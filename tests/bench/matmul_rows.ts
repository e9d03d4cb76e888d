/**
 * GEMM benchmark rows: ours (`matmul`, the variant the tuner or the adapter default picks) vs
 * TensorFlow.js WebGPU's `tf.matMul`, square f32 products of 1024 and 2048, in one process on
 * the same adapter. Each sample records one product and syncs by reading it back: four values of
 * ours, the whole result of tfjs (`await c.data()`, a few ms next to its ~0.5 s product); one
 * warm-up sample, then the median of five (1024) or three (2048) samples.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgpu";
import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, medianMs, row, TFJS_PEER } from "./harness.ts";

/** Benchmark rows `gemm 1024` and `gemm 2048` (GFLOP/s, ours vs tfjs-webgpu). */
export async function matmulRows(gpu: Gpu): Promise<BenchRow[]> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const rows: BenchRow[] = [];
  for (const n of [1024, 2048]) {
    const runs = n >= 2048 ? 3 : 5;
    const aData = new Rng(1).uniformArray(n * n, -0.5, 0.5);
    const bData = new Rng(2).uniformArray(n * n, -0.5, 0.5);
    const flops = 2 * n ** 3;

    const a = Tensor.from(gpu, aData, [n, n]);
    const b = Tensor.from(gpu, bData, [n, n]);
    const oursMs = await medianMs(async () => {
      const c = matmul(gpu, a, b);
      // Reading four values syncs: the product must have finished.
      await new Tensor(gpu, c.buffer, [4], "f32", false).read();
      c.release();
    }, { warmup: 1, runs });
    a.release();
    b.release();

    const ta = tf.tensor2d(aData, [n, n]);
    const tb = tf.tensor2d(bData, [n, n]);
    const peerMs = await medianMs(async () => {
      const c = tf.matMul(ta, tb);
      await c.data();
      c.dispose();
    }, { warmup: 1, runs });
    ta.dispose();
    tb.dispose();

    const gflops = (ms: number) => flops / (ms * 1e6);
    rows.push(row(`gemm ${n}`, "GFLOP/s", gflops(oursMs), TFJS_PEER, gflops(peerMs)));
  }
  return rows;
}
