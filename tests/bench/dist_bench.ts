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

const DIM = 128;
const PRINT = 3;
const LINKS: [string, number][] = [["10 GB/s", 10e9], ["100 Gb/s", 100e9 / 8]];

/** One measured configuration: a short and a long run; the difference is steady state. */
interface Config {
  arch: string;
  baseWidth: number;
  image: number;
  batch: number;
  steps: number;
  /** A shorter run whose CPU time is subtracted, leaving the steady-state steps' CPU time. */
  shortSteps: number;
}

const CONFIGS: Config[] = [
  // Dispatch-bound on llvmpipe: a step costs about the same for 16 or 32 pairs.
  { arch: "resnet18", baseWidth: 16, image: 32, batch: 32, steps: 18, shortSteps: 6 },
  // Compute-bound: the per-rank batch halves the work of a step.
  { arch: "resnet18", baseWidth: 32, image: 64, batch: 32, steps: 9, shortSteps: 3 },
];

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
  /** User + system CPU seconds of the whole job (every rank, mpirun included). */
  cpuSeconds: number;
  record: {
    timings: Record<string, number>;
    summary: Record<string, number>;
  };
}

/**
 * Trains `steps` steps of `c` on `np` ranks (0: one process without MPI, pinned to core 0 with
 * taskset); the rate is the median of the logged windows after the first (shader compilation).
 */
async function train(
  c: Config,
  np: number,
  data: string,
  dir: string,
  steps: number,
): Promise<RunResult> {
  const out = await Deno.makeTempDir({ dir, prefix: `out${np}-` });
  const results = `${out}-results`;
  const args = [
    data,
    ...(np > 0 ? ["--dist", "mpi"] : ["--bn-groups", "2"]),
    ...["--arch", c.arch, "--base-width", String(c.baseWidth)],
    ...["--image-size", String(c.image), "-b", String(c.batch), "--moco-k", "4096", "--mlp"],
    ...["--moco-t", "0.2", "--epochs", "1", "--max-steps-per-epoch", String(steps)],
    ...["--print-freq", String(PRINT), "--seed", "1", "-j", "4", "--out-dir", out],
    ...["--results-dir", results],
  ];
  const command = np > 0
    ? ["mpirun", ...mpirun(np, SCRIPT, args)]
    : ["taskset", "-c", "0", Deno.execPath(), "run", "-A", SCRIPT, ...args];
  // bash's `time` counts every waited-for descendant: mpirun waits for its local ranks.
  const quoted = command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const job = await new Deno.Command("bash", {
    args: ["-c", `TIMEFORMAT='cpu %U %S'; time ${quoted}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(job.stdout);
  const err = new TextDecoder().decode(job.stderr);
  if (!job.success) throw new Error(`${command[0]} failed (${job.code}):\n${text}${err}`);
  const cpu = err.match(/cpu ([\d.]+) ([\d.]+)/);
  if (!cpu) throw new Error(`no CPU time in:\n${err}`);
  const rates = [...text.matchAll(/\| ([\d.]+) pairs\/s/g)].map((m) => Number(m[1])).slice(1);
  rates.sort((a, b) => a - b);
  const dirName = `${results}/main_moco`;
  const json = [...Deno.readDirSync(dirName)].find((e) => e.name.endsWith(".json"))!.name;
  const record = JSON.parse(await Deno.readTextFile(`${dirName}/${json}`));
  return {
    pairsPerSecond: rates[rates.length >> 1],
    cpuSeconds: Number(cpu[1]) + Number(cpu[2]),
    record,
  };
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

/** Runs one configuration (1 process, 1 rank, 2 ranks) and returns its rows. */
async function measure(c: Config, data: string, dir: string): Promise<BenchRow[]> {
  const rates: number[] = [];
  const cpuPerPair: number[] = [];
  let two: RunResult | undefined;
  for (const np of [0, 1, 2]) {
    const short = await train(c, np, data, dir, c.shortSteps);
    const r = await train(c, np, data, dir, c.steps);
    rates.push(r.pairsPerSecond);
    cpuPerPair.push(
      (1000 * (r.cpuSeconds - short.cpuSeconds)) / ((c.steps - c.shortSteps) * c.batch),
    );
    two = r;
  }
  const steps = two!.record.summary.steps;
  const t = two!.record.timings;
  const gradBytes = two!.record.summary.gradient_bytes_per_step;
  const bytesPerStep = two!.record.summary.bytes_communicated / steps;
  const micro = JSON.parse(
    (await exec(mpirun(2, ALLREDUCE, [String(gradBytes / 4), "20"]))).trim().split("\n").at(-1)!,
  );
  const name = `${c.arch} w${c.baseWidth} b${c.batch} ${c.image}px`;
  const perStep = (seconds: number) => (1000 * seconds) / steps;
  const view = c.image * c.image * 3 * 4;
  const wire = wireBytes(2, gradBytes, c.batch * view, c.batch * DIM * 4);
  return [
    row(`${name}: 1 process no MPI`, "pairs/s", rates[0], "-", null),
    row(`${name}: 1 rank`, "pairs/s", rates[1], "1 process no MPI", rates[0]),
    row(`${name}: 2 ranks`, "pairs/s", rates[2], "1 rank", rates[1]),
    row(`${name}: CPU/pair 1 process`, "ms", cpuPerPair[0], "-", null),
    row(`${name}: CPU/pair 1 rank`, "ms", cpuPerPair[1], "1 process no MPI", cpuPerPair[0]),
    row(`${name}: CPU/pair 2 ranks (sum)`, "ms", cpuPerPair[2], "1 rank", cpuPerPair[1]),
    row(`${name}: 2r views+keys gather/step`, "ms", perStep(t.key_gather), "-", null),
    row(`${name}: 2r backward+grad read/step`, "ms", perStep(t.gradient_readback), "-", null),
    row(`${name}: 2r grad allreduce in run/step`, "ms", perStep(t.gradient_allreduce), "-", null),
    row(
      `${name}: allreduce ${(gradBytes / 1e6).toFixed(2)} MB alone`,
      "ms",
      micro.medianMs,
      "-",
      null,
    ),
    row(`${name}: 2r gradient bytes/step`, "MB", gradBytes / 1e6, "-", null),
    row(`${name}: 2r payload/step/rank`, "MB", bytesPerStep / 1e6, "-", null),
    ...LINKS.map(([link, bw]) =>
      row(`${name}: 2r wire/step/rank @ ${link}`, "ms", (1000 * wire) / bw, "-", null)
    ),
  ];
}

await runMain("dist_bench", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dist-bench-" });
  try {
    const most = Math.max(...CONFIGS.map((c) => c.batch * c.steps));
    await imageTree(`${dir}/data`, most, new Rng(5));
    const rows: BenchRow[] = [];
    for (const c of CONFIGS) rows.push(...await measure(c, `${dir}/data`, dir));
    // What a GPU cluster would see with the paper's run: ResNet-50 + MLP head, 256 pairs of
    // 224² over 8 ranks (MoCo gathers the key images and the keys, all-reduces the gradients).
    const paperGrad = parameterCount("resnet50") * 4;
    const paperViews = 256 * 224 * 224 * 3 * 4;
    const paper = wireBytes(8, paperGrad, paperViews, 256 * DIM * 4);
    for (const [link, bw] of LINKS) {
      rows.push(
        row(
          `ResNet-50 b256 8 ranks: wire/step/rank @ ${link}`,
          "ms",
          (1000 * paper) / bw,
          "-",
          null,
        ),
      );
    }
    console.log(
      `paper config: ${(paperGrad / 1e6).toFixed(1)} MB of gradients, ` +
        `${(paperViews / 1e6).toFixed(1)} MB of key views gathered, ` +
        `${(paper / 1e6).toFixed(1)} MB on the wire per rank and step (ring all-reduce)`,
    );
    await report("dist", "software adapter (llvmpipe), 1 core per rank", rows);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
