/**
 * The training log: rows written as they happen survive a kill (a torn last line included), a
 * resume continues them without a repeated or missing step, and `deno task report` draws them.
 */
import { readTrainingLog, TrainingLog } from "../../src/train/training_log.ts";
import { loadTrainingCheckpoint } from "../../src/train/checkpoint.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST } from "../util/gpu.ts";
import { runCommand } from "../util/command.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function measurement(epoch: number, step: number, globalStep: number) {
  return {
    epoch,
    step,
    global_step: globalStep,
    loss: 5 - globalStep / 10,
    acc1: globalStep,
    acc5: 2 * globalStep,
    lr: 0.03,
    img_per_s: 100 + globalStep,
    data_wait_s: 0.01,
  };
}

/** Step rows 1…n: `epochs` epochs of `per` steps, each epoch closed by its row. */
function writeSteps(log: TrainingLog, from: number, to: number, per: number): void {
  for (let g = from; g <= to; g++) {
    const epoch = Math.floor((g - 1) / per);
    const step = g - epoch * per;
    log.step(measurement(epoch, step, g));
    if (step === per) log.endEpoch(epoch, step, g, 0.03);
  }
}

Deno.test("TrainingLog: a torn last line and rows past the checkpoint are dropped on resume", async () => {
  const dir = await Deno.makeTempDir({ prefix: "trainlog-" });
  const a = await TrainingLog.open(dir);
  writeSteps(a, 1, 5, 3);
  a.close();
  // A kill in the middle of a write leaves a partial line.
  await Deno.writeTextFile(`${dir}/log.csv`, "step,1,3,6,4.4", { append: true });
  await Deno.writeTextFile(`${dir}/log.jsonl`, '{"kind":"st', { append: true });
  assert((await readTrainingLog(`${dir}/log.csv`)).length === 6, "5 steps + 1 epoch row read");
  // Resume from a checkpoint after step 4: step 5 (logged after it) is redone.
  const b = await TrainingLog.open(dir, { resumeGlobalStep: 4 });
  writeSteps(b, 5, 9, 3);
  b.close();
  const rows = await readTrainingLog(`${dir}/log.csv`);
  const steps = rows.filter((r) => r.kind === "step").map((r) => r.global_step);
  assert(steps.join() === "1,2,3,4,5,6,7,8,9", `step column ${steps}`);
  const epochs = rows.filter((r) => r.kind === "epoch");
  assert(epochs.map((r) => r.global_step).join() === "3,6,9", "one row per epoch");
  // Epoch 1's summary averages its three steps, one of them logged before the resume.
  assert(Math.abs(epochs[1].acc1 - 5) < 1e-12, `epoch 1 acc1 ${epochs[1].acc1}`);
  const jsonl = (await Deno.readTextFile(`${dir}/log.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert(jsonl.length === rows.length, "log.jsonl has the same rows");
  assert(
    jsonl.every((r, i) => r.global_step === rows[i].global_step && r.kind === rows[i].kind),
    "same order",
  );
  const elapsed = rows.map((r) => r.elapsed_s);
  assert(elapsed.every((e, i) => i === 0 || e >= elapsed[i - 1]), "elapsed never goes back");
  // A fresh run in the same folder starts the files over.
  (await TrainingLog.open(dir)).close();
  assert((await readTrainingLog(`${dir}/log.csv`)).length === 0, "fresh run: header only");
  await Deno.remove(dir, { recursive: true });
});

async function tinyFolder(root: string): Promise<void> {
  for (let i = 0; i < 24; i++) {
    const dir = `${root}/train/${i % 2 ? "odd" : "even"}`;
    await Deno.mkdir(dir, { recursive: true });
    const [w, h] = [36, 40];
    const header = new TextEncoder().encode(`P6\n${w} ${h}\n255\n`);
    const body = new Uint8Array(w * h * 3).map((_, p) => (p * (i + 3) * 7919) & 255);
    await Deno.writeFile(
      `${dir}/${String(i).padStart(3, "0")}.ppm`,
      new Uint8Array([...header, ...body]),
    );
  }
}

function trainArgs(data: string, out: string, extra: string[]): string[] {
  return [
    "run",
    "-A",
    "scripts/main_moco.ts",
    data,
    ...["--arch", "resnet18", "--base-width", "4", "--image-size", "32", "-b", "8", "-p", "1"],
    ...["--moco-k", "32", "--bn-groups", "2", "--epochs", "3", "--seed", "5", "--mlp", "--cos"],
    ...["--out-dir", out, "-j", "4", "--results-dir", `${out}-results`, "--save-every", "1"],
    ...extra,
  ];
}

Deno.test({
  name:
    "pretrain killed with SIGKILL mid-epoch and resumed: log.csv has every step once, and the report draws it",
  ...GPU_TEST,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "trainlog-run-" });
    await tinyFolder(`${dir}/data`);
    const out = `${dir}/out`;
    const child = new Deno.Command(Deno.execPath(), {
      args: trainArgs(`${dir}/data`, out, []),
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).spawn();
    const latest = `${out}/default_latest.pth.tar`;
    const started = performance.now();
    for (;;) {
      const rows = await readTrainingLog(`${out}/log.csv`).catch(() => []);
      const haveLatest = await Deno.stat(latest).then(() => true, () => false);
      if (haveLatest && rows.some((r) => r.global_step >= 4)) break;
      if (performance.now() - started > 240_000) throw new Error("no checkpoint after 240 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await child.status;
    const before = await readTrainingLog(`${out}/log.csv`);
    assert(before.length > 0, "rows written before the kill survive it");
    const at = (await loadTrainingCheckpoint(latest)).trainState!.globalStep;
    const resumed = await runCommand(
      Deno.execPath(),
      trainArgs(`${dir}/data`, out, ["--resume", latest]),
      {
        cwd: ROOT,
      },
    );
    assert(resumed.success, resumed.stderr);
    const rows = await readTrainingLog(`${out}/log.csv`);
    const steps = rows.filter((r) => r.kind === "step").map((r) => r.global_step);
    assert(steps.join() === "1,2,3,4,5,6,7,8,9", `resumed at ${at}: step column ${steps}`);
    const epochs = rows.filter((r) => r.kind === "epoch").map((r) => `${r.epoch}@${r.global_step}`);
    assert(epochs.join() === "0@3,1@6,2@9", `epoch rows ${epochs}`);
    assert(rows.every((r) => Number.isFinite(r.loss) && r.lr > 0 && r.img_per_s > 0), "values");

    const report = await runCommand(Deno.execPath(), ["run", "-A", "scripts/report.ts", out], {
      cwd: ROOT,
    });
    assert(report.success, report.stderr);
    const svg = await Deno.readTextFile(`${out}/training_curves.svg`);
    for (const title of ["loss", "acc@1", "lr", "img/s"]) {
      assert(svg.includes(`>${title}</text>`), `curve ${title} in the SVG`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("TrainingLog: an epoch row's loss is the mean of every step, weighted by the windows its rows cover", async () => {
  const dir = await Deno.makeTempDir({ prefix: "trainlog-window-" });
  const log = await TrainingLog.open(dir);
  // Printed every 10 steps of a 25-step epoch: windows of 10, 10 and 5 steps whose mean losses
  // are 3, 6 and 9, while the printed steps themselves read 6.5, 6.4 and 6.3.
  log.step({ ...measurement(0, 10, 10), loss: 6.5, window_loss: 3, window_steps: 10 });
  log.step({ ...measurement(0, 20, 20), loss: 6.4, window_loss: 6, window_steps: 10 });
  log.step({ ...measurement(0, 25, 25), loss: 6.3, window_loss: 9, window_steps: 5 });
  const epoch = log.endEpoch(0, 25, 25, 0.03);
  log.close();
  // (10·3 + 10·6 + 5·9) / 25 = 5.4, not the printed steps' 6.4.
  assert(Math.abs(epoch.loss - 5.4) < 1e-12 && epoch.window_steps === 25, `${epoch.loss}`);
  const rows = await readTrainingLog(`${dir}/log.csv`);
  assert(rows.length === 4 && rows[3].window_loss === epoch.loss, "written and read back");
  // A log of the first layout (no window columns) still reads; its epoch mean falls back to the
  // printed steps.
  const header =
    "kind,epoch,step,global_step,loss,acc1,acc5,lr,img_per_s,data_wait_s,elapsed_s,time";
  await Deno.writeTextFile(
    `${dir}/log.csv`,
    `${header}\nstep,0,10,10,6.5,1,2,0.03,100,0.1,1.5,2026-01-01T00:00:00.000Z\n`,
  );
  const old = await readTrainingLog(`${dir}/log.csv`);
  assert(old.length === 1 && Number.isNaN(old[0].window_loss) && old[0].loss === 6.5, "old layout");
  const resumed = await TrainingLog.open(dir, { resumeGlobalStep: 10 });
  resumed.step({ ...measurement(0, 20, 20), loss: 6.4, window_loss: 6, window_steps: 10 });
  const mixed = resumed.endEpoch(0, 20, 20, 0.03);
  resumed.close();
  assert(Math.abs(mixed.loss - 6.45) < 1e-12, `fallback to printed steps: ${mixed.loss}`);
  await Deno.remove(dir, { recursive: true });
});
