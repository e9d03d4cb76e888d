/**
 * `deno task bench train`: MoCo v2 training-step throughput (image pairs per second, i.e. both
 * views of each image) for ResNet-18 at 32×32 with batch 64 and ResNet-50 at 224×224 with batch
 * 8, the full step of src/train/moco_step.ts (query forward + backward, EMA, shuffle-BN key
 * forward, InfoNCE over a 65 536-key queue, enqueue, SGD), against the same step in PyTorch on
 * the CPU (tests/bench/torch_moco_step.py) when `/usr/bin/python3` has torch. Augmentation and
 * decoding are excluded on both sides (the views are fixed random tensors). Writes
 * `results/bench/train.json`.
 *
 * @module
 */
import type { Gpu } from "../../src/gpu/device.ts";
import { openGpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { MoCo } from "../../src/models/moco.ts";
import { parseArch } from "../../src/models/resnet.ts";
import { recordMocoStep } from "../../src/train/moco_step.ts";
import { MomentumSgd } from "../../src/train/optimizer.ts";
import { randomPermutation } from "../../src/train/shuffle_bn.ts";
import { runMain } from "../../src/util/main.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, medianMs, report, row } from "./harness.ts";

const TORCH_PEER = "PyTorch CPU (same MoCo step)";

interface Case {
  name: string;
  arch: string;
  batch: number;
  size: number;
  groups: number;
  runs: number;
}

const CASES: Case[] = [
  { name: "train step resnet18 b64 32", arch: "resnet18", batch: 64, size: 32, groups: 8, runs: 5 },
  { name: "train step resnet50 b8 224", arch: "resnet50", batch: 8, size: 224, groups: 2, runs: 2 },
];

async function oursPairsPerSecond(gpu: Gpu, c: Case): Promise<number> {
  const rng = new Rng(8);
  const moco = MoCo.create(gpu, { ...parseArch(c.arch), dim: 128, K: 65536, mlp: true }, rng);
  const sgd = new MomentumSgd(gpu, moco.encoderQ.parameters());
  const shape = [c.batch, c.size, c.size, 3];
  const xq = Tensor.from(gpu, rng.normalArray(c.batch * c.size * c.size * 3), shape);
  const xk = Tensor.from(gpu, rng.normalArray(c.batch * c.size * c.size * 3), shape);
  let first = true;
  const step = async () => {
    const r = recordMocoStep(gpu, moco, sgd, xq, xk, {
      lr: 0.03,
      temperature: 0.2,
      keyMomentum: 0.999,
      bnGroups: c.groups,
      shuffle: randomPermutation(rng, c.batch),
    });
    // One readback per step: the training loop reads only every --print-freq steps, so this
    // slightly overstates the per-step cost (one ≥ 11 ms sync).
    await gpu.recorder.read([r.loss]);
    r.loss.release();
    r.correct.release();
    first = false;
  };
  const ms = await medianMs(step, { warmup: first ? 1 : 0, runs: c.runs });
  console.error(`${c.name}: ${ms.toFixed(0)} ms per step (median of ${c.runs})`);
  for (const t of [xq, xk]) t.release();
  sgd.release();
  moco.release();
  return (c.batch * 1000) / ms;
}

async function torchPairsPerSecond(c: Case): Promise<number | null> {
  const script = new URL("./torch_moco_step.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [script, c.arch, String(c.batch), String(c.size), String(c.groups), String(c.runs)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.error(`PyTorch peer failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
      return null;
    }
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    console.error(
      `${c.name}: PyTorch ${result.torch}, ${result.threads} threads: ` +
        `${result.ms.map(Math.round)} ms`,
    );
    return result.pairs_per_s;
  } catch (error) {
    console.error(`PyTorch peer unavailable: ${(error as Error).message}`);
    return null;
  }
}

/** The training-step rows. */
export async function trainRows(gpu: Gpu, cases: readonly Case[] = CASES): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of cases) {
    const ours = await oursPairsPerSecond(gpu, c);
    rows.push(row(c.name, "pairs/s", ours, TORCH_PEER, await torchPairsPerSecond(c)));
  }
  return rows;
}

if (import.meta.main) {
  await runMain("bench train", async () => {
    const gpu = await openGpu();
    const only = Deno.env.get("SSL_BENCH_TRAIN_CASES");
    const cases = only
      ? CASES.filter((c) => only.split(",").some((s) => c.name.includes(s)))
      : CASES;
    const rows = await trainRows(gpu, cases);
    await report("train", gpu.summary.description, rows);
    gpu.destroy();
  });
}
