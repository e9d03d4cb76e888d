/**
 * `deno task report [results-dir | plan.json]` — rebuilds the visual report from what a results
 * folder holds: the demo's `results.json`, or the run records of the evaluation scripts (real
 * datasets included). Writes `report.html`, `report.md` and the plots as `figures/*.svg` into
 * that folder and prints the findings; baselines (random-init, supervised) are reference rows.
 * Given a sweep's plan, it also merges the sweep's cells into
 * `results/sweep/<name>/report.{json,csv}` first. A pretraining `--out-dir` (its `log.csv`) gets
 * `training_curves.svg` (loss, acc@1, lr, img/s); a `--save-features` folder is read back and
 * summarised.
 *
 * @module
 */
import type { DemoModelResult } from "../src/demo/evaluate.ts";
import { DEMO_SIZES } from "../src/demo/config.ts";
import { demoReport } from "../src/demo/report.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { buildReport } from "../src/report/build.ts";
import { isEmptyReport, reportDataFromRuns } from "../src/report/from_results.ts";
import type { Report } from "../src/report/html.ts";
import { writeReport as writeReportFiles } from "../src/report/write.ts";
import { trainingCurvesSvg } from "../src/report/training_curves.ts";
import { readTrainingLog } from "../src/train/training_log.ts";
import { describeSavedFeatures, readSavedFeatures } from "../src/eval/save_features.ts";
import { expandPlan, parsePlan } from "../src/sweep/plan.ts";
import { collectReport, writeReport } from "../src/sweep/report.ts";
import { parseCli } from "../src/util/cli.ts";
import { DataError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

const SPEC = {
  name: "deno task report",
  summary: "Rebuild report.html and report.md from a results folder (the demo's results.json or " +
    "the eval scripts' run records), or merge a sweep (given its plan) and report its results. " +
    "A pretraining --out-dir (log.csv) gets training_curves.svg; a --save-features folder is " +
    "read back and summarised.",
  flags: {},
  positionals: [{
    name: "source",
    help: "results folder (default results/) or a sweep plan .json",
  }],
} as const;

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch {
    return null;
  }
}

/** The sweep's merge; returns the folder holding the sweep's results. */
async function mergeSweep(planFile: string): Promise<string> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(planFile));
  } catch (e) {
    throw new DataError(`cannot read plan ${planFile}: ${(e as Error).message}`);
  }
  const plan = parsePlan(raw, planFile);
  const rows = await collectReport(plan, expandPlan(plan));
  const files = await writeReport(plan, rows);
  const done = rows.filter((r) => r.status === "done").length;
  console.log(`sweep ${plan.name}: ${done}/${rows.length} cells done (${files.csv})`);
  for (const r of rows) console.log(`  ${r.status.padEnd(7)} ${r.id}`);
  return plan.resultsDir;
}

await runMain("report", async () => {
  const { positionals } = parseCli(Deno.args, SPEC);
  let dir = (positionals[0] ?? "results").replace(/\/+$/, "");
  const info = await statOrNull(dir);
  if (!info) throw new DataError(`${dir} does not exist (give a results folder or a plan file)`);
  if (info.isFile) dir = (await mergeSweep(dir)).replace(/\/+$/, "");
  // Training curves and saved features stand on their own: a run's out-dir holds no results.
  let extras = 0;
  if ((await statOrNull(`${dir}/log.csv`))?.isFile) {
    const rows = await readTrainingLog(`${dir}/log.csv`);
    await writeFileAtomic(`${dir}/training_curves.svg`, trainingCurvesSvg(rows, dir));
    console.log(`wrote ${dir}/training_curves.svg (${rows.length} log rows)`);
    extras++;
  }
  for (const sub of [".", "trainval", "test", "train"]) {
    const at = sub === "." ? dir : `${dir}/${sub}`;
    if (!(await statOrNull(`${at}/features.npy`))?.isFile) continue;
    console.log(describeSavedFeatures(at, await readSavedFeatures(at)));
    extras++;
  }
  let report: Report;
  const demo = `${dir}/results.json`;
  const stamp = `report built ${new Date().toISOString()}`;
  if ((await statOrNull(demo))?.isFile) {
    const parsed = JSON.parse(await Deno.readTextFile(demo)) as {
      models?: DemoModelResult[];
      modelsDir?: string;
      sizes?: { resize: number; cropSize: number };
      subtitle?: string[];
      notes?: string[];
    };
    if (!Array.isArray(parsed.models) || parsed.models.length === 0) {
      throw new DataError(`${demo} has no models to report`);
    }
    report = await demoReport(
      parsed.models,
      [`source: ${dir}`, ...(parsed.subtitle ?? []), stamp],
      {
        modelsDir: parsed.modelsDir ?? "models",
        sizes: parsed.sizes ?? DEMO_SIZES.full,
        notes: parsed.notes,
      },
    );
  } else {
    const data = await reportDataFromRuns(dir);
    if (isEmptyReport(data)) {
      if (extras > 0) return;
      throw new DataError(
        `${dir} holds no results to report (expected results.json or <script>/<run-id>.json records)`,
      );
    }
    report = buildReport(data, `ssl-invariances results: ${dir}`, [`source: ${dir}`, stamp]);
  }
  const written = await writeReportFiles(dir, report);
  for (const f of report.findings ?? []) console.log(`- ${f}`);
  for (const n of report.notes ?? []) console.log(`note: ${n}`);
  console.log(
    `wrote ${written.html}, ${written.markdown} and ${written.figures.length} figures/*.svg`,
  );
});
