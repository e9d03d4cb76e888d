/**
 * `deno task device-check`: one command for a machine with a hardware GPU (issue 19). It prints
 * `deno task info`, tunes and times GEMM 1024/2048/4096, every distinct ResNet-50 convolution
 * (forward, backward data, backward filter) at batch 32, ResNet-50 inference at batch 64 of
 * 224², one MoCo v2 ResNet-50 training step at batch 32 and the synthetic-invariance views/s,
 * runs the same workloads in PyTorch fp32 on the same card (tests/bench/device_torch.py; CUDA
 * with TF32 off when the machine's `python3` has torch with CUDA), runs the golden ResNet and
 * MoCo-step fixture tests on this adapter, writes `results/bench/device.json` (the benchmark
 * format of docs/design.md#benchmarks plus the adapter info, the plan, the tuner's choices and trials and the
 * parity results) and ends with one table: ours, PyTorch, ratio, the kernel variant the tuner
 * chose and its trials per row.
 *
 * On a software adapter every size is scaled down (scripts/device_check_lib.ts) so the command
 * runs end to end in minutes; the table says so. On a machine without network, run it through
 * `scripts/device_check.sh`, which sets up Deno, its cache and the Vulkan loader from the folder
 * `deno task device-pack` builds (see tests/bench/NOTES.md, "device-check").
 *
 * @module
 */
import { writeJsonAtomic } from "../src/io/atomic.ts";
import { type Gpu, openGpu } from "../src/gpu/device.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { innerRuns, type TuneTrial } from "../src/gpu/autotune.ts";
import { createImage, type RgbImage } from "../src/image/image.ts";
import { featuresOfViews } from "../src/eval/features.ts";
import { ResNetFeatureExtractor } from "../src/models/feature_extractor.ts";
import { MoCo } from "../src/models/moco.ts";
import { parseArch, ResNet } from "../src/models/resnet.ts";
import { conv2dBackwardData, conv2dBackwardFilter } from "../src/ops/conv2d_backward.ts";
import { conv2dForward } from "../src/ops/conv2d_forward.ts";
import { conv2dTune, type Conv2dTuning } from "../src/ops/conv2d_tune.ts";
import { matmul, matmulTune, type MatmulVariant } from "../src/ops/matmul.ts";
import { recordMocoStep } from "../src/train/moco_step.ts";
import { MomentumSgd } from "../src/train/optimizer.ts";
import { randomPermutation } from "../src/train/shuffle_bn.ts";
import { syntheticViews } from "../src/transforms/functional.ts";
import { syntheticGrid } from "../src/transforms/synthetic_grid.ts";
import { parseCli } from "../src/util/cli.ts";
import { runMain } from "../src/util/main.ts";
import { Rng } from "../src/util/rng.ts";
import {
  benchRows,
  convFlops,
  type ConvKind,
  convKinds,
  convRowName,
  type ConvShape,
  type DevicePlan,
  distinctConvs,
  formatTable,
  formatTrials,
  isSoftwareAdapter,
  type Measured,
  planFor,
  rowNames,
  type TorchResult,
  torchWorkloads,
} from "./device_check_lib.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** The golden fixture tests run unchanged on the adapter (parity). */
const PARITY_TESTS = ["tests/models/resnet_test.ts", "tests/train/moco_step_test.ts"];

/** Flags for the Deno subprocesses: offline (`--cached-only`) when the launcher asks. */
function denoFlags(): string[] {
  return Deno.env.get("SSL_DEVICE_OFFLINE") === "1" ? ["--cached-only"] : [];
}

function log(line: string): void {
  console.error(`device-check: ${line}`);
}

/**
 * Median ms of one call of `record` (which records GPU work), synced by `gpu.sync()`. Runs are
 * grouped so a sample holds ≥ `minSampleMs` (the ≥ 11 ms sync of Deno would otherwise swamp
 * fast kernels on a hardware GPU); the cost of an empty sync is subtracted.
 */
async function timeGpu(
  gpu: Gpu,
  record: () => void,
  { samples = 3, minSampleMs = 100 }: { samples?: number; minSampleMs?: number } = {},
): Promise<number> {
  const syncMs = await emptySyncMs(gpu);
  record(); // warm-up: pipelines, pool buffers
  await gpu.sync();
  const t0 = performance.now();
  record();
  await gpu.sync();
  const inner = innerRuns(Math.max(0, performance.now() - t0 - syncMs), minSampleMs, 512);
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t1 = performance.now();
    for (let i = 0; i < inner; i++) record();
    await gpu.sync();
    times.push(Math.max(1e-6, performance.now() - t1 - syncMs) / inner);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

let syncCost: number | undefined;
async function emptySyncMs(gpu: Gpu): Promise<number> {
  if (syncCost !== undefined) return syncCost;
  const t: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await gpu.sync();
    t.push(performance.now() - t0);
  }
  return syncCost = t.sort((a, b) => a - b)[2];
}

/** Median ms of an async step that syncs itself (model-level workloads), after one warm-up. */
async function timeSteps(fn: () => Promise<void>, samples: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function trialsOf(gpu: Gpu, from: number): TuneTrial[] {
  return gpu.tuner.trials.slice(from);
}

async function gemmRows(gpu: Gpu, plan: DevicePlan, retune: boolean): Promise<Measured[]> {
  const out: Measured[] = [];
  const rng = new Rng(1);
  for (const n of plan.gemm) {
    log(`gemm ${n}`);
    const before = gpu.tuner.trials.length;
    const variant = await matmulTune(gpu, n, n, n, { reps: plan.tuneReps, force: retune });
    const a = Tensor.from(gpu, rng.uniformArray(n * n, -0.5, 0.5), [n, n]);
    const b = Tensor.from(gpu, rng.uniformArray(n * n, -0.5, 0.5), [n, n]);
    const ms = await timeGpu(gpu, () => matmul(gpu, a, b).release());
    a.release();
    b.release();
    out.push({
      name: rowNames(plan).gemm(n),
      unit: "GFLOP/s",
      ours: (2 * n ** 3) / (ms * 1e6),
      variant: variant as MatmulVariant,
      trials: formatTrials(trialsOf(gpu, before)) || undefined,
    });
  }
  return out;
}

const TUNED_OP: Record<ConvKind, keyof Conv2dTuning> = {
  "fwd": "forward",
  "bwd-data": "backwardData",
  "bwd-filter": "backwardFilter",
};
const TRIAL_OP: Record<ConvKind, string> = {
  "fwd": "conv2d_forward",
  "bwd-data": "conv2d_backwardData",
  "bwd-filter": "conv2d_backwardFilter",
};

async function convRows(
  gpu: Gpu,
  plan: DevicePlan,
  shapes: readonly ConvShape[],
  retune: boolean,
): Promise<Measured[]> {
  const out: Measured[] = [];
  const rng = new Rng(2);
  for (const s of shapes) {
    const kinds = convKinds(s);
    log(`${convRowName("fwd", s).replace(/^conv fwd /, "conv ")}: tune + time ${kinds.join(", ")}`);
    const before = gpu.tuner.trials.length;
    const tuned = await conv2dTune(gpu, s.xShape, s.wShape, {
      stride: s.stride,
      pad: s.pad,
      ops: kinds.map((k) => TUNED_OP[k]),
      force: retune,
      reps: plan.tuneReps,
    });
    const trials = trialsOf(gpu, before);
    const [oh, ow] = [
      Math.floor((s.xShape[1] + 2 * s.pad - s.wShape[0]) / s.stride) + 1,
      Math.floor((s.xShape[2] + 2 * s.pad - s.wShape[1]) / s.stride) + 1,
    ];
    const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);
    const dyShape = [s.xShape[0], oh, ow, s.wShape[3]];
    const x = Tensor.from(gpu, rng.uniformArray(size(s.xShape), -0.5, 0.5), s.xShape);
    const w = Tensor.from(gpu, rng.uniformArray(size(s.wShape), -0.5, 0.5), s.wShape);
    const dy = Tensor.from(gpu, rng.uniformArray(size(dyShape), -0.5, 0.5), dyShape);
    const conv = { stride: s.stride, pad: s.pad };
    for (const kind of kinds) {
      const once = kind === "fwd"
        ? () => conv2dForward(gpu, x, w, conv).release()
        : kind === "bwd-data"
        ? () => conv2dBackwardData(gpu, dy, w, { ...conv, inputShape: s.xShape }).release()
        : () => conv2dBackwardFilter(gpu, x, dy, { ...conv, kernelSize: s.wShape[0] }).release();
      const ms = await timeGpu(gpu, once, { samples: plan.scaled ? 1 : 3 });
      out.push({
        name: convRowName(kind, s),
        unit: "GFLOP/s",
        ours: convFlops(s) / (ms * 1e6),
        variant: tuned[TUNED_OP[kind]],
        trials: formatTrials(trials.filter((t) => t.op === TRIAL_OP[kind])) || undefined,
      });
    }
    x.release();
    w.release();
    dy.release();
  }
  return out;
}

async function resnetRow(gpu: Gpu, plan: DevicePlan, model: ResNet): Promise<Measured> {
  const { batch, size } = plan.resnet;
  log(`resnet50 inference b${batch} ${size}`);
  const rng = new Rng(3);
  const x = Tensor.from(gpu, rng.normalArray(batch * size * size * 3), [batch, size, size, 3]);
  const ms = await timeSteps(async () => {
    const y = model.forwardEval(x);
    await new Tensor(gpu, y.buffer, [4], "f32", false).read();
    y.release();
  }, 3);
  x.release();
  return { name: rowNames(plan).resnet, unit: "img/s", ours: (batch * 1000) / ms };
}

async function mocoRow(gpu: Gpu, plan: DevicePlan): Promise<Measured> {
  const { batch, size, groups, K } = plan.moco;
  log(`moco step resnet50 b${batch} ${size} (K ${K})`);
  const rng = new Rng(4);
  const moco = MoCo.create(gpu, { ...parseArch("resnet50"), dim: 128, K, mlp: true }, rng);
  const sgd = new MomentumSgd(gpu, moco.encoderQ.parameters());
  const shape = [batch, size, size, 3];
  const xq = Tensor.from(gpu, rng.normalArray(batch * size * size * 3), shape);
  const xk = Tensor.from(gpu, rng.normalArray(batch * size * size * 3), shape);
  try {
    const ms = await timeSteps(async () => {
      const r = recordMocoStep(gpu, moco, sgd, xq, xk, {
        lr: 0.03,
        temperature: 0.2,
        keyMomentum: 0.999,
        bnGroups: groups,
        shuffle: randomPermutation(rng, batch),
      });
      await gpu.recorder.read([r.loss]);
      r.loss.release();
      r.correct.release();
    }, plan.scaled ? 2 : 5);
    return { name: rowNames(plan).moco, unit: "pairs/s", ours: (batch * 1000) / ms };
  } finally {
    xq.release();
    xk.release();
    sgd.release();
    moco.release();
  }
}

/** A smooth photo-like test image (gradients plus noise). */
function testImage(width: number, height: number, rng: Rng): RgbImage {
  const img = createImage(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      img.data[o] = 128 + 100 * Math.sin(x / 37);
      img.data[o + 1] = 128 + 100 * Math.cos(y / 23);
      img.data[o + 2] = (x + y + rng.int(32)) & 255;
    }
  }
  return img;
}

async function viewsRow(gpu: Gpu, plan: DevicePlan, model: ResNet): Promise<Measured> {
  const v = plan.views;
  log(`synthetic views k${v.k} ${v.width}x${v.height}`);
  const img = testImage(v.width, v.height, new Rng(5));
  const params = syntheticGrid("rotation", v.k);
  // Borrows the eval model; never released through the extractor.
  const extractor = new ResNetFeatureExtractor("resnet50", model, "backbone", "device-check", []);
  const clean = testImage(v.crop, v.crop, new Rng(6));
  const ms = await timeSteps(async () => {
    const views = await syntheticViews(gpu, img, "rotation", params, {
      resize: v.resize,
      cropSize: v.crop,
    });
    await featuresOfViews(gpu, extractor, [clean, ...views]);
  }, 3);
  return { name: rowNames(plan).views, unit: "views/s", ours: (v.k * 1000) / ms };
}

/** Runs `deno task info --json` in a subprocess (its own device), parsed. */
async function adapterInfo(): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...denoFlags(), "-A", `${ROOT}scripts/info.ts`, "--json"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`deno task info failed: ${text.slice(-400)}`);
  return JSON.parse(text);
}

/** The first interpreter of `python` that imports torch. */
async function findPython(explicit: string | undefined): Promise<string | undefined> {
  const candidates = explicit ? [explicit] : ["python3", "/usr/bin/python3"];
  for (const py of candidates) {
    try {
      const ok = await new Deno.Command(py, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (ok.success) return py;
    } catch { /* not installed */ }
  }
  return undefined;
}

async function torchPeer(
  python: string | undefined,
  plan: DevicePlan,
  shapes: readonly ConvShape[],
  requireCuda: boolean,
): Promise<TorchResult> {
  const py = await findPython(python);
  if (!py) return { error: "no python3 with torch" };
  const dir = await Deno.makeTempDir({ prefix: "device-check-" });
  try {
    const spec = `${dir}/spec.json`;
    // Scaled-down runs only exercise the peer: shorter samples, one each.
    const timing = plan.scaled ? { min_sample_s: 0.02, samples: 1 } : {};
    await Deno.writeTextFile(
      spec,
      JSON.stringify({ workloads: torchWorkloads(plan, shapes), timing }),
    );
    log(`PyTorch peer (${py}) on the same workloads`);
    const out = await new Deno.Command(py, {
      args: [
        `${ROOT}tests/bench/device_torch.py`,
        spec,
        ...(requireCuda ? ["--require-cuda"] : []),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    if (!out.success) {
      return { error: new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "failed" };
    }
    const result = JSON.parse(lines[lines.length - 1]) as TorchResult;
    for (const [name, e] of Object.entries(result.errors ?? {})) log(`PyTorch ${name}: ${e}`);
    return result;
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function parity(): Promise<{ file: string; ok: boolean; seconds: number }[]> {
  const results = [];
  for (const file of PARITY_TESTS) {
    log(`deno test ${file}`);
    const t0 = performance.now();
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["test", ...denoFlags(), "-A", file],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    results.push({ file, ok: status.success, seconds: (performance.now() - t0) / 1000 });
  }
  return results;
}

await runMain("device-check", async () => {
  const { flags } = parseCli(Deno.args, {
    name: "deno task device-check",
    summary: "Benchmarks and parity tests on this machine's GPU beside PyTorch on the same card; " +
      "writes results/bench/device.json and prints one table.",
    flags: {
      sizes: {
        type: "string",
        choices: ["auto", "full", "scaled"],
        default: "auto",
        help: "workload sizes: full on hardware, scaled on a software adapter (auto)",
      },
      out: { type: "string", default: "results/bench/device.json", help: "result file" },
      python: { type: "string", help: "python with torch (default: python3, /usr/bin/python3)" },
      "require-cuda": { type: "boolean", help: "no CPU fallback for the PyTorch peer" },
      "no-torch": { type: "boolean", help: "skip the PyTorch peer" },
      "no-parity": { type: "boolean", help: "skip the golden fixture tests" },
      "no-retune": { type: "boolean", help: "use cached tuner choices instead of new trials" },
    },
  });
  const t0 = performance.now();
  log("deno task info");
  const info = await adapterInfo();
  const gpu = await openGpu();
  const software = isSoftwareAdapter(gpu.summary);
  const force = flags.sizes === "auto" ? undefined : flags.sizes as "full" | "scaled";
  const plan = planFor(software, force);
  log(`${gpu.summary.description}: ${plan.scaled ? "scaled-down" : "full"} sizes`);
  const retune = !flags["no-retune"];

  const measured: Measured[] = [];
  measured.push(...await gemmRows(gpu, plan, retune));
  const model = ResNet.create(gpu, { arch: "resnet50" }, new Rng(50));
  const { batch, size } = plan.conv;
  const shapes = distinctConvs(model.convGeometries([batch, size, size, 3]));
  measured.push(...await convRows(gpu, plan, shapes, retune));
  measured.push(await resnetRow(gpu, plan, model));
  measured.push(await viewsRow(gpu, plan, model));
  model.release();
  measured.push(await mocoRow(gpu, plan));
  const choices = gpu.tuner.choices();
  const trials = gpu.tuner.trials;
  const adapter = gpu.summary.description;
  gpu.destroy();

  const torch: TorchResult = flags["no-torch"]
    ? { error: "skipped (--no-torch)" }
    : await torchPeer(flags.python as string | undefined, plan, shapes, !!flags["require-cuda"]);
  const rows = benchRows(measured, torch);
  const parityResults = flags["no-parity"] ? [] : await parity();
  const seconds = (performance.now() - t0) / 1000;

  const outPath = (flags.out as string).startsWith("/")
    ? flags.out as string
    : `${ROOT}${flags.out}`;
  await writeJsonAtomic(outPath, {
    adapter,
    date: new Date().toISOString(),
    rows,
    info,
    plan,
    software,
    torch: { ...torch, results: undefined },
    tuner: { choices, trials },
    variants: Object.fromEntries(measured.map((m) => [m.name, m.variant ?? null])),
    parity: parityResults,
    seconds,
    load: await loadAverage(),
  });
  console.log(formatTable({ info, plan, rows, measured, parity: parityResults, seconds }));
  console.log(`wrote ${outPath}`);
  if (parityResults.some((p) => !p.ok)) Deno.exit(1);
});

/** The 1-minute load average (Linux), for reading timings from a shared machine. */
async function loadAverage(): Promise<number | null> {
  try {
    return Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
  } catch {
    return null;
  }
}
