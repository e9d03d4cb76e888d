/**
 * Fault suite: whole runs on the GPU that go wrong. `--lr 1e30` stops at the divergence with one
 * line and writes no checkpoint; `kill -9` during pretraining leaves no torn file and `--resume`
 * finishes the run; an image folder holding a decompression bomb and garbage fails naming the
 * file (or is skipped with `--on-bad-image skip`); a directory where the statistics sidecar goes
 * is one line; a downstream set of a single class is refused as sklearn does. Nothing outside the
 * output folders changes.
 *
 * @module
 */
import { join } from "node:path";
import { downstreamEvaluation } from "../../src/eval/downstream.ts";
import { loadTrainingCheckpoint } from "../../src/train/checkpoint.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST } from "../util/gpu.ts";
import { changes, runScript, script, snapshot, Tally, uncleanReason } from "./harness.ts";
import { netpbm, rleBomb, xorshift } from "./hostile.ts";

const FIXTURE = new URL("../fixtures/checkpoints/moco_r18_w2.pth.tar", import.meta.url).pathname;

/** `count` random 36×40 binary PPMs in `<root>/<split>/{a,b}/`. */
async function ppmFolder(root: string, count: number, seed: number): Promise<void> {
  const next = xorshift(seed);
  for (let i = 0; i < count; i++) {
    const dir = join(root, i % 2 ? "a" : "b");
    await Deno.mkdir(dir, { recursive: true });
    const body = new Uint8Array(36 * 40 * 3).map(() => next() & 0xff);
    await Deno.writeFile(
      join(dir, `${String(i).padStart(3, "0")}.ppm`),
      netpbm("P6 36 40 255\n", body),
    );
  }
}

const TINY = [
  ...["--arch", "resnet18", "--base-width", "4", "--image-size", "32", "-b", "8"],
  ...["--moco-k", "16", "--bn-groups", "2", "--seed", "3", "-j", "2"],
];

Deno.test({
  name: "faults: divergence, kill -9 and resume, bombs in an image folder, a directory for a file",
  ...GPU_TEST,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "faults-runs-" });
    const tally = new Tally("runs (GPU)");
    try {
      const work = join(root, "work");
      await ppmFolder(join(work, "data", "train"), 16, 5);
      await Deno.mkdir(join(work, "models"), { recursive: true });
      await Deno.copyFile(FIXTURE, join(work, "models", "default.pth.tar"));
      const before = await snapshot(root, [join(work, "out"), join(work, "results")]);
      const pretrain = (args: string[]) =>
        runScript(script("main_moco.ts"), [
          "data",
          ...TINY,
          "--out-dir",
          "out",
          "--results-dir",
          "results",
          ...args,
        ], { cwd: work });

      // Divergence: one line naming the step, no checkpoint.
      const nan = await pretrain(["--lr", "1e30", "--epochs", "2", "--print-freq", "1"]);
      const written = [...Deno.readDirSync(join(work, "out"))].filter((e) =>
        e.name.endsWith(".tar")
      );
      tally.add(
        "--lr 1e30",
        uncleanReason(nan, 1, /training diverged.* (step|global step) \d+/) ??
          (written.length === 0 ? undefined : `wrote ${written.map((e) => e.name)}`),
      );

      // kill -9 while training, then --resume: no torn checkpoint, the run completes.
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          script("main_moco.ts"),
          "data",
          ...TINY,
          ...["--epochs", "3", "--save-every", "1", "--out-dir", "out", "--results-dir", "results"],
        ],
        cwd: work,
        stdout: "null",
        stderr: "null",
      }).spawn();
      const latest = join(work, "out", "default_latest.pth.tar");
      const t0 = performance.now();
      while (!(await Deno.stat(latest).then(() => true, () => false))) {
        if (performance.now() - t0 > 120_000) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGKILL");
      await child.status;
      let problem: string | undefined;
      for (const e of Deno.readDirSync(join(work, "out"))) {
        if (!e.name.endsWith(".pth.tar")) continue;
        try {
          await loadTrainingCheckpoint(join(work, "out", e.name));
        } catch (error) {
          problem = `torn ${e.name}: ${(error as Error).message}`;
        }
      }
      tally.add("no torn checkpoint after kill -9", problem);
      const resumed = await pretrain(["--epochs", "3", "--resume", "out/default_latest.pth.tar"]);
      const done = await loadTrainingCheckpoint(join(work, "out", "default_0002.pth.tar")).then(
        (c) => (c.epoch === 3 ? undefined : `epoch ${c.epoch}`),
        (e) => (e as Error).message,
      );
      tally.add("--resume after kill -9 completes", uncleanReason(resumed, 0) ?? done);

      // An image folder with a bomb and garbage: fail names the file, skip goes on.
      const val = join(work, "data", "val");
      await ppmFolder(val, 6, 9);
      await Deno.writeFile(join(val, "a", "zz_bomb.bmp"), rleBomb(30000, 30000));
      await Deno.writeFile(
        join(val, "b", "zz_huge.ppm"),
        netpbm("P6\n9999999999 9999999999\n255\n"),
      );
      const eval_ = (args: string[]) =>
        runScript(script("eval_synthetic_invariance.ts"), [
          ...["--statistics-only", "--ckpt-dir", "models", "--results-dir", "results"],
          ...["--base-width", "2", "--arch", "resnet18", "--resize", "20", "--crop-size", "16"],
          ...args,
          "data",
        ], { cwd: work });
      const fail = await eval_([]);
      tally.add(
        "bomb in the folder, --on-bad-image fail",
        uncleanReason(fail, 1, /zz_(bomb|huge)\.\w+: .*decompression bomb.*--on-bad-image skip/),
      );
      const skip = await eval_(["--on-bad-image", "skip"]);
      tally.add(
        "bomb in the folder, --on-bad-image skip",
        uncleanReason(skip, 0) ??
          (/statistics computed/.test(skip.stdout) ? undefined : skip.stdout.slice(0, 200)),
      );
      // A directory where the statistics sidecar goes.
      const sidecar = join(work, "results", "default_backbone_feature_stats.json");
      await Deno.remove(sidecar).catch(() => {});
      await Deno.mkdir(sidecar, { recursive: true });
      const dir = await eval_(["--on-bad-image", "skip"]);
      tally.add("a directory for _feature_stats.json", uncleanReason(dir, 1, /is a directory/));

      // Nothing outside the output folders changed (the data folder got the files we added).
      const diff = changes(before, await snapshot(root, [join(work, "out"), join(work, "results")]))
        .filter((p) => !p.startsWith("+work/data/val/"));
      tally.add("nothing outside out/ and results/ changed", diff.length ? diff.join() : undefined);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
    await tally.finish();
  },
});

Deno.test("faults: a downstream set with a single class is a one-line DataError (sklearn)", async () => {
  const tally = new Tally("downstream (single class)");
  const x = { rows: 6, cols: 2, data: new Float64Array(12).map((_, i) => i) };
  const one = { x, y: new Float64Array(6).fill(3), targetDim: 1 };
  try {
    downstreamEvaluation(one, one, {
      probe: "logistic",
      metric: "accuracy",
      folds: 2,
      shuffler: 0,
      grid: [1],
      progress: false,
    });
    tally.add("single class", "accepted");
  } catch (error) {
    const m = (error as Error).message;
    tally.add(
      "single class",
      error instanceof DataError && /single class \(3\)/.test(m) && !m.includes("\n")
        ? undefined
        : `${(error as Error).name}: ${m}`,
    );
  }
  assert(tally.cases === 1, "one case");
  await tally.finish();
});
