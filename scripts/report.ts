/**
 * `deno task report plan.json` — merges every cell of a sweep (status, time, summary numbers)
 * into `results/sweep/<name>/report.{json,csv}` and prints the table.
 *
 * @module
 */
import { expandPlan, parsePlan } from "../src/sweep/plan.ts";
import { collectReport, reportCsv, writeReport } from "../src/sweep/report.ts";
import { parseCli } from "../src/util/cli.ts";
import { DataError, UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

const SPEC = {
  name: "deno task report",
  summary: "Merge a sweep's cells into results/sweep/<name>/report.json and report.csv.",
  flags: {},
  positionals: [{ name: "plan", help: "the sweep's plan JSON file", required: true }],
} as const;

await runMain("report", async () => {
  const { positionals } = parseCli(Deno.args, SPEC);
  const planFile = positionals[0];
  if (!planFile) throw new UsageError("give the sweep's plan file");
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(planFile));
  } catch (e) {
    throw new DataError(`cannot read plan ${planFile}: ${(e as Error).message}`);
  }
  const plan = parsePlan(raw, planFile);
  const rows = await collectReport(plan, expandPlan(plan));
  const files = await writeReport(plan, rows);
  console.log(reportCsv(rows).trimEnd());
  const done = rows.filter((r) => r.status === "done").length;
  console.error(`report: ${done}/${rows.length} cells done; wrote ${files.json} and ${files.csv}`);
});
