/**
 * Data-parallel pretraining over Open MPI (`--dist mpi`): two ranks on the software adapter
 * train the same weights as one process over the same global batch with `--bn-groups 2` (the
 * PyTorch DDP + shuffle-BN equivalence), only rank 0 writes, `--resume` continues exactly, and a
 * rank that dies or fails mid-run ends the job promptly with a message instead of a hang.
 *
 * The equivalence holds up to float32 summation order (a rank sums gradients over its own rows,
 * then the ranks are averaged). MoCo's steps amplify such differences quickly on a tiny batch
 * (a 1e-7 relative change of the learning rate moves momentum buffers by ~1e-3 after three steps
 * at lr 0.03), and where a ReLU input lies within rounding of zero the two runs route a gradient
 * element differently. At lr 0.003 such flips pushed the weights 2.8e-5 apart in total with
 * SSL_TEST_SEED=1973232832 while the per-step losses agreed to 1e-7; at lr 0.001 that seed and
 * SSL_TEST_SEED=877967981 agree to 3e-8, as do eight fresh seeds (≤ 6e-8), so the run uses lr
 * 0.001. See {@link compareAll} for the per-tensor bound.
 */
import { loadTrainingCheckpoint } from "../../src/train/checkpoint.ts";
import type { TorchTensor } from "../../src/io/torch/tensor.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import type { Rng } from "../../src/util/rng.ts";
import { mpiAvailable, mpirunArgs } from "./mpi_launch.ts";

const SCRIPT = new URL("../../scripts/main_moco.ts", import.meta.url).pathname;
const HAVE_MPI = mpiAvailable();
/** Relative L2 over all weights (parameters, BN buffers, queue) together. */
const TOLERANCE = 1e-5;
/**
 * Momentum buffers are (mostly) the last gradients, where a flipped ReLU / max-pool route shows
 * undamped: typically 2e-6 in total, 3.7e-4 with one such flip (SSL_TEST_SEED=877967981).
 */
const MOMENTUM_TOLERANCE = 2e-3;
/** Any single tensor (see {@link compareAll} for why it is loose). */
const TENSOR_TOLERANCE = 3e-2;

/** `count` noisy PPM images (various sizes) in two classes under `<root>/train/`. */
async function imageTree(root: string, count: number, rng: Rng): Promise<void> {
  for (let i = 0; i < count; i++) {
    const dir = `${root}/train/${i % 2 === 0 ? "a" : "b"}`;
    await Deno.mkdir(dir, { recursive: true });
    const [w, h] = [40 + rng.int(24), 40 + rng.int(24)];
    const header = new TextEncoder().encode(`P6\n${w} ${h}\n255\n`);
    const file = new Uint8Array(header.length + w * h * 3);
    file.set(header);
    const base = [rng.int(256), rng.int(256), rng.int(256)];
    for (let p = 0; p < w * h * 3; p++) file[header.length + p] = (base[p % 3] + rng.int(96)) & 255;
    await Deno.writeFile(`${dir}/${String(i).padStart(3, "0")}.ppm`, file);
  }
}

function trainArgs(data: string, out: string, seed: number, extra: string[] = []): string[] {
  return [
    SCRIPT,
    data,
    ...["--arch", "resnet18", "--base-width", "8", "--image-size", "64", "-b", "16"],
    ...["--moco-k", "64", "--epochs", "1", "--max-steps-per-epoch", "3", "--lr", "0.001"],
    ...["--seed", String(seed), "--mlp", "--moco-t", "0.2", "--print-freq", "1", "-j", "4"],
    ...["--out-dir", out, "--results-dir", `${out}-results`],
    ...extra,
  ];
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; text: string; stdout: string }> {
  const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  return { code: out.code, stdout, text: stdout + new TextDecoder().decode(out.stderr) };
}

function bits(t: TorchTensor): number[] {
  const d = t.data;
  if (d instanceof BigInt64Array) return Array.from(d, Number);
  return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length));
}

function values(t: TorchTensor): Float64Array {
  return Float64Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** ‖a − b‖ / ‖b‖ (0 when both are zero). */
function relativeError(a: Float64Array, b: Float64Array): number {
  let d2 = 0;
  let n2 = 0;
  for (let i = 0; i < b.length; i++) {
    d2 += (a[i] - b[i]) ** 2;
    n2 += b[i] ** 2;
  }
  return d2 === 0 ? 0 : Math.sqrt(d2 / n2);
}

/**
 * Compares tensors pairwise: the relative L2 error over all of them together, and the worst
 * single tensor. Summation order differs between one process and two ranks, and where a ReLU
 * input or a max-pool tie sits within rounding of the threshold, the two runs route a gradient
 * differently: a discrete change of about 1 % in one channel of one small tensor (seen: a BN
 * bias element, 9.44e-5 vs 9.53e-5, while the loss agreed to 5 digits). So the total carries the
 * 1e-5 bound and a single tensor only a loose one that a logic error would still break.
 */
function compareAll(
  pairs: readonly [string, Float64Array, Float64Array][],
): { total: number; worst: number; worstName: string } {
  let d2 = 0;
  let n2 = 0;
  let worst = 0;
  let worstName = "";
  for (const [name, x, y] of pairs) {
    for (let i = 0; i < x.length; i++) {
      d2 += (y[i] - x[i]) ** 2;
      n2 += x[i] ** 2;
    }
    const e = relativeError(y, x);
    if (e > worst) [worst, worstName] = [e, name];
  }
  return { total: d2 === 0 ? 0 : Math.sqrt(d2 / n2), worst, worstName };
}

Deno.test({
  name: "pretrain --dist mpi on 2 ranks equals one process with --bn-groups 2 " +
    "(weights, BN buffers, queue, momentum) and resumes bit-exactly",
  ignore: !HAVE_MPI,
  sanitizeResources: false,
  async fn() {
    const rng = testRng("dist-equivalence");
    const seed = rng.int(1 << 30);
    const dir = await Deno.makeTempDir({ prefix: "moco-mpi-" });
    await imageTree(`${dir}/data`, 48, rng);
    const single = await run(
      Deno.execPath(),
      ["run", "-A", ...trainArgs(`${dir}/data`, `${dir}/single`, seed, ["--bn-groups", "2"])],
    );
    assert(single.code === 0, `single-process run failed:\n${single.text}`);
    const [, ...mpiArgs] = trainArgs(`${dir}/data`, `${dir}/mpi`, seed, ["--dist", "mpi"]);
    const dist = await run("mpirun", mpirunArgs(2, SCRIPT, mpiArgs));
    assert(dist.code === 0, `mpirun failed (${dist.code}):\n${dist.text}`);
    // Rank 0 logs: one line per step and one checkpoint, no duplicate from rank 1.
    const steps = dist.stdout.split("\n").filter((l) => l.startsWith("Epoch: [0]"));
    assert(steps.length === 3, `3 step lines expected (rank 0 only):\n${dist.stdout}`);
    assert(/2 ranks of 8 pairs/.test(dist.stdout), `rank layout not logged:\n${dist.stdout}`);
    const written = [...Deno.readDirSync(`${dir}/mpi`)].map((e) => e.name).sort();
    assert(
      written.join() === "default_0000.pth.tar,log.csv,log.jsonl",
      `files written: ${written}`,
    );
    // The training log is rank 0's alone: 3 step rows and one epoch row under the header.
    const rows = Deno.readTextFileSync(`${dir}/mpi/log.csv`).trim().split("\n").slice(1);
    const kinds = rows.map((r) => r.split(",")[0]).join();
    assert(kinds === "step,step,step,epoch", `log.csv rows: ${kinds}`);

    const a = await loadTrainingCheckpoint(`${dir}/single/default_0000.pth.tar`);
    const b = await loadTrainingCheckpoint(`${dir}/mpi/default_0000.pth.tar`);
    assert(b.epoch === 1 && b.trainState!.globalStep === 3, "3 steps of one epoch");
    assert(b.trainState!.bnGroups === 2, "--bn-groups defaults to the rank count");
    assert([...b.stateDict.keys()].join() === [...a.stateDict.keys()].join(), "same layout");
    const weightPairs: [string, Float64Array, Float64Array][] = [];
    for (const [name, t] of a.stateDict) {
      const other = b.stateDict.get(name)!;
      assert(t.shape.join() === other.shape.join(), `${name}: [${t.shape}] vs [${other.shape}]`);
      if (name !== "queue_ptr") weightPairs.push([name, values(t), values(other)]);
    }
    const w = compareAll(weightPairs);
    console.log(
      `weights: total ${w.total.toExponential(2)}, worst ${
        w.worst.toExponential(2)
      } (${w.worstName})`,
    );
    assert(w.total <= TOLERANCE, `weights differ: ${w.total.toExponential(2)} over all tensors`);
    assert(w.worst <= TENSOR_TOLERANCE, `${w.worstName} differs by ${w.worst.toExponential(2)}`);
    assert(a.optimizer!.state.size > 0, "momentum buffers exist after 3 steps");
    const momentumPairs: [string, Float64Array, Float64Array][] = [];
    for (const [i, t] of a.optimizer!.state) {
      const other = b.optimizer!.state.get(i);
      assert(other !== undefined, `momentum buffer ${i} missing in the MPI checkpoint`);
      momentumPairs.push([`momentum ${i}`, values(t), values(other)]);
    }
    const m = compareAll(momentumPairs);
    console.log(
      `momentum: total ${m.total.toExponential(2)}, worst ${
        m.worst.toExponential(2)
      } (${m.worstName})`,
    );
    assert(m.total <= MOMENTUM_TOLERANCE, `momentum differs: ${m.total.toExponential(2)} in total`);
    assert(m.worst <= TENSOR_TOLERANCE, `${m.worstName} differs by ${m.worst.toExponential(2)}`);
    // The queue moved (3 × 16 keys into 64 columns) and its pointer is exact.
    assert(values(b.stateDict.get("queue_ptr")!)[0] === 48, "queue_ptr after 3 steps");

    // --resume on 2 ranks continues exactly: epoch 1 from the epoch-0 checkpoint equals an
    // uninterrupted 2-epoch run bit for bit.
    const twoEpochs = async (out: string, extra: string[]) => {
      const [, ...args] = trainArgs(`${dir}/data`, out, seed, ["--dist", "mpi", ...extra]);
      const r = await run("mpirun", mpirunArgs(2, SCRIPT, args));
      assert(r.code === 0, `mpirun ${extra.join(" ")} failed (${r.code}):\n${r.text}`);
      return await loadTrainingCheckpoint(`${out}/default_0001.pth.tar`);
    };
    const whole = await twoEpochs(`${dir}/whole`, ["--epochs", "2"]);
    const resumed = await twoEpochs(`${dir}/resumed`, [
      "--epochs",
      "2",
      "--resume",
      `${dir}/mpi/default_0000.pth.tar`,
    ]);
    assert(resumed.trainState!.globalStep === 6, "resumed to 6 steps");
    for (const [name, t] of whole.stateDict) {
      assertArrayEqual(bits(resumed.stateDict.get(name)!), bits(t), `resumed: ${name}`);
    }
    for (const [i, t] of whole.optimizer!.state) {
      assertArrayEqual(bits(resumed.optimizer!.state.get(i)!), bits(t), `resumed: momentum ${i}`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "pretrain --dist mpi: a rank killed after step 1 fails the job promptly, no hang",
  ignore: !HAVE_MPI,
  async fn() {
    const rng = testRng("dist-kill");
    const dir = await Deno.makeTempDir({ prefix: "moco-mpi-kill-" });
    await imageTree(`${dir}/data`, 48, rng);
    const [, ...args] = trainArgs(`${dir}/data`, `${dir}/out`, 5, ["--dist", "mpi"]);
    const t0 = performance.now();
    const dist = await run("mpirun", mpirunArgs(2, SCRIPT, args), { SSL_DIST_TEST_KILL: "1:1" });
    const seconds = (performance.now() - t0) / 1000;
    assert(dist.code !== 0, `the job must fail:\n${dist.text}`);
    assert(/rank 1 .*(signal 9|Killed)/is.test(dist.text), `mpirun's message:\n${dist.text}`);
    assert(seconds < 60, `the job took ${seconds.toFixed(1)} s to end`);
    const written = await Deno.stat(`${dir}/out/default_0000.pth.tar`).then(() => 1, () => 0);
    assert(written === 0, "no final checkpoint from a failed job");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "pretrain --dist mpi outside mpirun is a usage error naming the launcher",
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, "/nonexistent", "--dist", "mpi"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stderr);
    assert(out.code === 2, `exit code ${out.code}: ${text}`);
    assert(/--dist mpi: start the ranks with mpirun or srun/.test(text), text);
  },
});

Deno.test({
  name: "pretrain --dist mpi: an unreadable image on one rank aborts every rank with its name",
  ignore: !HAVE_MPI,
  async fn() {
    const rng = testRng("dist-bad-image");
    const dir = await Deno.makeTempDir({ prefix: "moco-mpi-bad-" });
    await imageTree(`${dir}/data`, 48, rng);
    const bad = `${dir}/data/train/b/0${String(2 * rng.int(24) + 1).padStart(2, "0")}.ppm`;
    await Deno.writeTextFile(bad, "not an image");
    const [, ...args] = trainArgs(`${dir}/data`, `${dir}/out`, 5, ["--dist", "mpi"]);
    const t0 = performance.now();
    const dist = await run("mpirun", mpirunArgs(2, SCRIPT, args));
    const seconds = (performance.now() - t0) / 1000;
    assert(dist.code !== 0, `the job must fail:\n${dist.text}`);
    const name = bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert(
      new RegExp(`main_moco \\(rank [01] of 2\\): ${name}: not a supported image`).test(dist.text),
      `message naming the rank and the file:\n${dist.text}`,
    );
    assert(seconds < 60, `the job took ${seconds.toFixed(1)} s to end`);
    await Deno.remove(dir, { recursive: true });
  },
});
