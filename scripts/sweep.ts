/**
 * `deno task sweep plan.json` — expands an evaluation grid into cells and writes Slurm job
 * arrays for the cells not yet done (`--submit` also submits them); `--local` runs the same cells
 * here with `--jobs` at once; `--run-cell F --index I` is what each array task runs.
 *
 * @module
 */
import {
  type CellOutcome,
  pendingCells,
  readMarker,
  runCell,
  runLocal,
} from "../src/sweep/cells.ts";
import { expandPlan, parsePlan, type SweepCell } from "../src/sweep/plan.ts";
import { writeSlurmJobs } from "../src/sweep/slurm.ts";
import { parseCli } from "../src/util/cli.ts";
import { DataError, UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

const SPEC = {
  name: "deno task sweep",
  summary:
    "Expand a plan (models × transforms × datasets × targets) into cells; write Slurm arrays " +
    "for the pending ones, or run them here with --local. Done cells (result present, checkpoint " +
    "hashes unchanged) are skipped.",
  flags: {
    local: { type: "boolean", default: false, help: "run the pending cells on this machine" },
    jobs: { type: "int", default: 1, help: "cells at once with --local" },
    submit: { type: "boolean", default: false, help: "run the generated submit.sh (needs sbatch)" },
    list: { type: "boolean", default: false, help: "print every cell and whether it is done" },
    "run-cell": { type: "string", help: "(array task) cells file written by the sweep" },
    index: { type: "int", help: "(array task) index into --run-cell's cells" },
  },
  positionals: [{ name: "plan", help: "plan JSON file (see README: Sweeps)" }],
} as const;

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new DataError(`cannot read ${what} ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(`${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function printOutcome(o: CellOutcome): void {
  const extra = o.message ? ` (${o.message})` : "";
  console.log(`${o.status.padEnd(7)} ${o.id} ${o.seconds.toFixed(1)}s${extra}`);
}

await runMain("sweep", async () => {
  const { flags, positionals } = parseCli(Deno.args, SPEC);
  if (flags["run-cell"] !== undefined) {
    if (flags.index === undefined) throw new UsageError("--run-cell needs --index");
    const file = flags["run-cell"];
    const doc = await readJson(file, "cells file") as { plan: string; cells: SweepCell[] };
    const cell = doc.cells?.[flags.index];
    if (!cell) {
      throw new UsageError(
        `--index ${flags.index} is outside ${file} (${doc.cells?.length ?? 0} cells)`,
      );
    }
    const plan = parsePlan(await readJson(doc.plan, "plan"), doc.plan);
    const outcome = await runCell(plan, cell);
    printOutcome(outcome);
    if (outcome.status === "failed") Deno.exit(1);
    return;
  }
  const planFile = positionals[0];
  if (!planFile) throw new UsageError("give a plan file: deno task sweep plan.json (see --help)");
  const plan = parsePlan(await readJson(planFile, "plan"), planFile);
  const cells = expandPlan(plan);
  if (flags.list) {
    for (const c of cells) {
      console.log(`${(await readMarker(plan, c)) ? "done   " : "pending"} ${c.id}`);
    }
    return;
  }
  const pending = await pendingCells(plan, cells);
  console.error(`sweep ${plan.name}: ${cells.length} cells, ${pending.length} pending`);
  if (flags.local) {
    const outcomes = await runLocal(plan, pending, { jobs: flags.jobs, onOutcome: printOutcome });
    const bad = outcomes.filter((o) => o.status === "failed" || o.status === "blocked");
    if (bad.length) {
      console.error(`sweep ${plan.name}: ${bad.length} cell(s) failed or blocked`);
      Deno.exit(1);
    }
    return;
  }
  const jobs = await writeSlurmJobs(plan, pending, planFile);
  console.log(
    `arrays: statistics ${jobs.counts.statistics}, invariance ${jobs.counts.invariance}, ` +
      `transfer ${jobs.counts.transfer}; submit with: bash ${jobs.submitScript}`,
  );
  if (flags.submit) {
    const out = await new Deno.Command("bash", { args: [jobs.submitScript] }).output();
    await Deno.stdout.write(out.stdout);
    await Deno.stderr.write(out.stderr);
    if (!out.success) {
      throw new DataError(`submitting failed: ${jobs.submitScript} exited ${out.code}`);
    }
  }
});
