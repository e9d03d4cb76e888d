import { exportWorld } from "../../src/world/world_export.ts";
import { openGpu } from "../../src/gpu/device.ts";
import { assert } from "../util/assert.ts";
import { runCommand } from "../util/command.ts";
import { slurmAvailable, startTestCluster, waitForQueue } from "./slurm_cluster.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURE = `${ROOT}tests/fixtures/checkpoints/moco_r18_w2.pth.tar`;
const HAVE_SLURM = slurmAvailable();

function deno(args: string[], env: Record<string, string>) {
  return runCommand(Deno.execPath(), ["run", "-A", ...args], { env, cwd: ROOT });
}

Deno.test({
  name: "a sweep runs as Slurm job arrays on a one-node cluster, and resubmitting runs nothing",
  ignore: !HAVE_SLURM,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ssl-sweep-" });
    const cluster = await startTestCluster();
    try {
      // A tiny world in the ImageFolder and COIL100 layouts, and the narrow MoCo fixture.
      const gpu = await openGpu();
      try {
        const quiet = { log: () => {}, resolution: 32 };
        await exportWorld(gpu, "imagefolder", `${dir}/data/world`, {
          ...quiet,
          perClass: 4,
          testPerClass: 4,
          splits: ["val"],
        });
        await exportWorld(gpu, "coil100", `${dir}/data`, { ...quiet, objects: 2 });
      } finally {
        gpu.destroy();
      }
      await Deno.mkdir(`${dir}/models`);
      await Deno.copyFile(FIXTURE, `${dir}/models/narrow.pth.tar`);
      // The narrow fixture has dead (constant) features, so Σ needs a jitter to be definite.
      const net = [
        "--arch",
        "resnet18",
        "--base-width",
        "2",
        "--resize",
        "36",
        "--crop-size",
        "32",
      ];
      const plan = {
        name: "ci",
        ckptDir: `${dir}/models`,
        resultsDir: `${dir}/results`,
        dataRoot: `${dir}/data`,
        imagenet: `${dir}/data/world`,
        models: ["narrow"],
        synthetic: {
          transforms: ["h_flip", "grayscale"],
          numImages: 2,
          extraArgs: [...net, "--batch-size", "8", "--jitter", "1e-4"],
        },
        realworld: {
          datasets: ["COIL100"],
          extraArgs: [
            ...net.slice(0, 4),
            "--resize",
            "32",
            "--crop-size",
            "32",
            "--jitter",
            "1e-4",
          ],
        },
        slurm: { gpus: 0, cpusPerTask: 1, mem: "1G", time: "00:10:00" },
      };
      await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(plan));
      const env = { ...cluster.env, SSL_CACHE_DIR: `${dir}/cache` };

      const first = await deno([`${ROOT}scripts/sweep.ts`, `${dir}/plan.json`, "--submit"], env);
      assert(first.code === 0, `sweep --submit failed: ${first.stdout}\n${first.stderr}`);
      assert(/statistics: job \d+ \(1 tasks\)/.test(first.stdout), first.stdout);
      assert(/invariance: job \d+ \(3 tasks\)/.test(first.stdout), first.stdout);
      await waitForQueue(cluster, 240_000);

      const report = await deno([`${ROOT}scripts/report.ts`, `${dir}/plan.json`], env);
      assert(report.code === 0, `report failed: ${report.stderr}`);
      const rows = JSON.parse(await Deno.readTextFile(`${dir}/results/sweep/ci/report.json`)).rows;
      const logs = async () => {
        const out: string[] = [];
        for await (const e of Deno.readDir(`${dir}/results/sweep/ci/logs`)) {
          out.push(
            `--- ${e.name}\n${
              (await Deno.readTextFile(`${dir}/results/sweep/ci/logs/${e.name}`)).slice(-1500)
            }`,
          );
        }
        return out.join("\n");
      };
      assert(rows.length === 4, `rows ${JSON.stringify(rows)}`);
      for (const r of rows) {
        assert(r.status === "done", `${r.id} is ${r.status}\n${await logs()}`);
        assert(r.results.length >= 1, `${r.id} reported its result file`);
      }
      const flip = rows.find((r: { id: string }) => r.id === "synthetic__narrow__h_flip");
      // Two views (identity and flipped): the mean similarity is (1 + s) / 2 (docs/synthetic.md#outputs).
      assert(
        flip.summary.similarity > 0 && flip.summary.similarity <= 1 + 1e-9,
        JSON.stringify(flip),
      );
      assert(/sweep ci: 4\/4 cells done/.test(report.stdout), `report:\n${report.stdout}`);
      // The visual report is rebuilt from the cells' run records.
      const md = await Deno.readTextFile(`${dir}/results/report.md`);
      assert(md.includes("| narrow |") && md.includes("h_flip"), md);

      const again = await deno([`${ROOT}scripts/sweep.ts`, `${dir}/plan.json`, "--submit"], env);
      assert(again.code === 0, again.stderr);
      assert(/every cell is done; nothing to submit/.test(again.stdout), again.stdout);
      assert(!/job \d+/.test(again.stdout), `resubmission submitted jobs: ${again.stdout}`);
    } finally {
      await cluster.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
