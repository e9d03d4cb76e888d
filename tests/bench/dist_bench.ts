/**
 * `deno task bench dist`: data-parallel MoCo pretraining over Open MPI on this machine, 1 vs 2
 * ranks, each rank pinned to one core (`mpirun --bind-to core`) with its own software adapter,
 * over the same global batch (`scripts/main_moco.ts --dist mpi`, real ImageFolder decoding and
 * augmentation included), plus one process without MPI pinned to one core with taskset.
 * Reports steady-state image pairs per second, where a rank's step time goes around the
 * collectives (from the run record), a stand-alone `MPI_Allreduce` of the gradient size, and
 * the bytes each rank moves per step. From those volumes it prints what a GPU cluster would
 * spend per rank and step on the wire at 10 GB/s and 100 Gb/s, for this configuration and for
 * the paper's (ResNet-50 + MLP head, 256 pairs of 224², 8 ranks). Writes
 * `results/bench/dist.json`. Needs `mpirun` (Open MPI).
 *
 * @module
 */
import { parseArch, resnetStateDictShapes } from "../../src/models/resnet.ts";
import { runMain } from "../../src/util/main.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, report, row } from "./harness.ts";

const SCRIPT = new URL("../../scripts/main_moco.ts", import.meta.url).pathname;
const ALLREDUCE = new URL("../dist/allreduce_worker.ts", import.meta.url).pathname;

const ARCH = "resnet18";
const BASE_WIDTH = 16;
const IMAGE = 32;
const BATCH = 32;
const DIM = 128;
const STEPS = 16;
const PRINT = 4;
const ROUNDS = 3;
const LINKS: [string, number][] = [["10 GB/s", 10e9], ["100 Gb/s", 100e9 / 8]];

async function imageTree(root: string, count: number, rng: Rng): Promise<void> {
  for (let i = 0; i < count; i++) {
    const dir = `${root}/train/c${i % 4}`;
    await Deno.mkdir(dir, { recursive: true });
    const [w, h] = [40 + rng.int(24), 40 + rng.int(24)];
    const header = new TextEncoder().encode(`P6\n${w} ${h}\n255\n`);
    const file = new Uint8Array(header.length + w * h * 3);
    file.set(header);
    for (let p = header.length; p < file.length; p++) file[p] = rng.int(256);
    await Deno.writeFile(`${dir}/${String(i).padStart(4, "0")}.ppm`, file);
  }
}

function mpirun(np: number, script: string, args: string[]): string[] {
  const root = Deno.uid() === 0 ? ["--allow-run-as-root"] : [];
  return [
    ...root,
    ...["--bind-to", "core", "--map-by", "core", "-np", String(np)],
    Deno.execPath(),
    "run",
    "-A",
    script,
    ...args,
  ];
}

async function exec(args: string[], command = "mpirun"): Promise<string> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${command} failed (${out.code}):\n${text}${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

interface RunResult {
  pairsPerSecond: number;
  record: {
    timings: Record<string, number>;
    summary: Record<string, number>;
  };
}

/**
 * Trains STEPS steps on `np` ranks (0: one process without MPI, pinned to core 0 with taskset);
 * the rate is the median of the logged windows after the first (shader compilation).
 */
async function train(np: number, data: string, dir: string): Promise<RunResult> {
  const out = await Deno.makeTempDir({ dir, prefix: `out${np}-` });
  const results = `${out}-results`;
  const args = [
    data,
    ...(np > 0 ? ["--dist", "mpi"] : ["--bn-groups", "2"]),
    ...["--arch", ARCH, "--base-width", String(BASE_WIDTH)],
    ...["--image-size", String(IMAGE), "-b", String(BATCH), "--moco-k", "4096", "--mlp"],
    ...["--moco-t", "0.2", "--epochs", "1", "--max-steps-per-epoch", String(STEPS)],
    ...["--print-freq", String(PRINT), "--seed", "1", "-j", "4", "--out-dir", out],
    ...["--results-dir", results],
  ];
  const text = np > 0
    ? await exec(mpirun(np, SCRIPT, args))
    : await exec(["-c", "0", Deno.execPath(), "run", "-A", SCRIPT, ...args], "taskset");
  const rates = [...text.matchAll(/\| ([\d.]+) pairs\/s/g)].map((m) => Number(m[1])).slice(1);
  rates.sort((a, b) => a - b);
  const dirName = `${results}/main_moco`;
  const json = [...Deno.readDirSync(dirName)].find((e) => e.name.endsWith(".json"))!.name;
  const record = JSON.parse(await Deno.readTextFile(`${dirName}/${json}`));
  return { pairsPerSecond: rates[rates.length >> 1], record };
}

/** Bytes on the wire per rank and step: ring all-reduce of the gradients, all-gathers. */
function wireBytes(ranks: number, gradientBytes: number, viewBytes: number, keyBytes: number) {
  const g = ranks;
  return 2 * (g - 1) / g * gradientBytes + (g - 1) / g * (viewBytes + keyBytes);
}

function parameterCount(arch: string, baseWidth?: number): number {
  const shapes = resnetStateDictShapes({
    ...parseArch(arch),
    baseWidth,
    head: "mlp",
    numClasses: DIM,
  });
  let n = 0;
  for (const [name, shape] of shapes) {
    if (/running_(mean|var)|num_batches_tracked/.test(name)) continue;
    n += shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

await runMain("dist_bench", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dist-bench-" });
  try {
    await imageTree(`${dir}/data`, BATCH * STEPS, new Rng(5));
    // Interleaved rounds: the machine is shared, so load drifts between runs.
    const rates: number[][] = [[], [], []];
    let two: RunResult | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      for (const np of [0, 1, 2]) {
        const r = await train(np, `${dir}/data`, dir);
        rates[np].push(r.pairsPerSecond);
        if (np === 2) two = r;
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
    const [none, one] = [median(rates[0]), median(rates[1])];
    const twoRate = median(rates[2]);
    if (!two) throw new Error("no 2-rank run");
    const steps = two.record.summary.steps;
    const t = two.record.timings;
    const gradBytes = two.record.summary.gradient_bytes_per_step;
    const bytesPerStep = two.record.summary.bytes_communicated / steps;
    const micro = JSON.parse(
      (await exec(mpirun(2, ALLREDUCE, [String(gradBytes / 4), "20"]))).trim().split("\n").at(-1)!,
    );
    const name = `${ARCH} w${BASE_WIDTH} b${BATCH} ${IMAGE}px`;
    const perStep = (seconds: number) => (1000 * seconds) / steps;
    const rows: BenchRow[] = [
      row(`pretrain 1 process no MPI ${name}`, "pairs/s", none, "-", null),
      row(`pretrain 1 rank ${name}`, "pairs/s", one, "1 process no MPI", none),
      row(`pretrain 2 ranks ${name}`, "pairs/s", twoRate, "1 rank", one),
      row("2 ranks: key views+keys gather /step", "ms", perStep(t.key_gather), "-", null),
      row(
        "2 ranks: backward wait+grad readback /step",
        "ms",
        perStep(t.gradient_readback),
        "-",
        null,
      ),
      row(
        "2 ranks: grad MPI_Allreduce in run /step",
        "ms",
        perStep(t.gradient_allreduce),
        "-",
        null,
      ),
      row(
        `MPI_Allreduce ${(gradBytes / 1e6).toFixed(2)} MB alone, 2 ranks`,
        "ms",
        micro.medianMs,
        "-",
        null,
      ),
      row("2 ranks: gradient bytes /step", "MB", gradBytes / 1e6, "-", null),
      row("2 ranks: collective payload /step/rank", "MB", bytesPerStep / 1e6, "-", null),
    ];
    // What a cluster would see: this configuration's volume, then the paper's.
    const view = IMAGE * IMAGE * 3 * 4;
    const here = wireBytes(2, gradBytes, BATCH * view, BATCH * DIM * 4);
    const paperGrad = parameterCount("resnet50") * 4;
    const paper = wireBytes(8, paperGrad, 256 * 224 * 224 * 3 * 4, 256 * DIM * 4);
    for (const [link, bw] of LINKS) {
      rows.push(
        row(`wire /step/rank here (2 ranks) @ ${link}`, "ms", (1000 * here) / bw, "-", null),
      );
      rows.push(
        row(
          `wire /step/rank ResNet-50 b256 8 ranks @ ${link}`,
          "ms",
          (1000 * paper) / bw,
          "-",
          null,
        ),
      );
    }
    console.log(
      `paper config: ${(paperGrad / 1e6).toFixed(1)} MB of gradients, ` +
        `${(256 * 224 * 224 * 3 * 4 / 1e6).toFixed(1)} MB of key views gathered, ` +
        `${(paper / 1e6).toFixed(1)} MB on the wire per rank and step (ring all-reduce)`,
    );
    await report("dist", String(two.record.summary.adapter ?? "software adapter"), rows);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
