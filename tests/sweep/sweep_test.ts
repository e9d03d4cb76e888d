import { type CellExecutor, markerPath, runLocal } from "../../src/sweep/cells.ts";
import { expandPlan, parsePlan, type SweepCell } from "../../src/sweep/plan.ts";
import { collectReport, reportCsv } from "../../src/sweep/report.ts";
import { writeSlurmJobs } from "../../src/sweep/slurm.ts";
import { UsageError } from "../../src/util/errors.ts";
import { assert } from "../util/assert.ts";

function planIn(dir: string, extra: Record<string, unknown> = {}) {
  return parsePlan({
    name: "t",
    ckptDir: `${dir}/models`,
    resultsDir: `${dir}/results`,
    models: ["default", "ventral"],
    synthetic: { transforms: ["rotation", "h_flip"], numImages: 3 },
    realworld: { datasets: ["COIL100"] },
    causal3dident: { targets: ["0"] },
    downstream: { datasets: ["cifar10"], models: ["default+ventral"] },
    slurm: { gpus: 0, maxConcurrent: 2 },
    ...extra,
  }, "plan.json");
}

/** A stand-in for the eval scripts: records calls, writes a result JSON, fails on request. */
function fakeExecutor(calls: string[], failing = new Set<string>()): CellExecutor {
  return async (cell: SweepCell, env, logPath) => {
    calls.push(cell.id);
    await Deno.writeTextFile(logPath, `ran ${cell.id}\n`);
    if (failing.has(cell.id)) return { code: 1, stdout: "" };
    const result = `${logPath}.result.json`;
    await Deno.writeTextFile(result, JSON.stringify({ summary: { score: calls.length } }));
    await Deno.writeTextFile(env.SSL_RESULT_MANIFEST, result + "\n");
    return { code: 0, stdout: `summary ${cell.id}\n` };
  };
}

Deno.test("expandPlan() makes one cell per grid point, statistics first, invariance cells needing them", () => {
  const cells = expandPlan(planIn("/x"));
  const ids = cells.map((c) => c.id);
  assert(
    JSON.stringify(ids) === JSON.stringify([
      "statistics__default",
      "statistics__ventral",
      "synthetic__default__rotation",
      "synthetic__default__h_flip",
      "realworld__default__COIL100",
      "synthetic__ventral__rotation",
      "synthetic__ventral__h_flip",
      "realworld__ventral__COIL100",
      "causal3dident__default__0",
      "causal3dident__ventral__0",
      "downstream__default+ventral__cifar10",
    ]),
    `ids: ${ids}`,
  );
  const rot = cells.find((c) => c.id === "synthetic__ventral__rotation")!;
  assert(rot.needs === "statistics__ventral", "synthetic cells need their model's statistics");
  assert(
    rot.args.join(" ").includes("--transform rotation") && rot.args.includes("--num-images"),
    `${rot.args}`,
  );
  const fused = cells.find((c) => c.kind === "downstream")!;
  assert(
    JSON.stringify(fused.checkpoints) === '["default","ventral"]',
    "fusion depends on both checkpoints",
  );
  const all = expandPlan(
    planIn("/x", { synthetic: { transforms: "all" }, realworld: { datasets: [] } }),
  );
  assert(
    all.filter((c) => c.kind === "synthetic").length === 2 * 18,
    "all = the 18 families per model",
  );
});

Deno.test("parsePlan() rejects unknown names and fields with the file and field in the message", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { models: ["a"], synthetic: { transforms: ["spin"] } },
      /plan\.json: synthetic\.transforms: unknown spin/,
    ],
    [{ models: ["a"], realworld: { datasets: ["coil100"] } }, /unknown coil100; valid: COIL100/],
    [{ models: [] }, /models must list at least one/],
    [{ models: ["a"], modles: [] }, /unknown field\(s\) modles/],
    [{ models: ["a"], downstream: { fuseMode: "max" } }, /fuseMode must be cat, add or mean/],
    [{ models: ["a"], featureLayer: "layer5" }, /plan\.json: featureLayer must be one of backbone/],
  ];
  for (const [raw, re] of cases) {
    try {
      parsePlan(raw, "plan.json");
      assert(false, `accepted ${JSON.stringify(raw)}`);
    } catch (e) {
      assert(e instanceof UsageError && re.test(e.message), `${JSON.stringify(raw)}: ${e}`);
    }
  }
});

Deno.test("runLocal() runs each cell once, skips done cells, and re-runs only cells of a changed checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/models`);
    await Deno.writeTextFile(`${dir}/models/default.pth.tar`, "weights A");
    await Deno.writeTextFile(`${dir}/models/ventral.pth.tar`, "weights B");
    const plan = planIn(dir);
    const cells = expandPlan(plan);
    const calls: string[] = [];
    const first = await runLocal(plan, cells, { jobs: 3, executor: fakeExecutor(calls) });
    assert(first.every((o) => o.status === "done"), JSON.stringify(first));
    assert(calls.length === cells.length && new Set(calls).size === cells.length, `${calls}`);
    // Statistics ran before the cells that need them.
    for (const c of cells.filter((c) => c.needs)) {
      assert(calls.indexOf(c.needs!) < calls.indexOf(c.id), `${c.needs} before ${c.id}`);
    }
    calls.length = 0;
    const second = await runLocal(plan, cells, { executor: fakeExecutor(calls) });
    assert(
      calls.length === 0 && second.every((o) => o.status === "skipped"),
      "a second run does nothing",
    );

    await Deno.writeTextFile(`${dir}/models/ventral.pth.tar`, "weights B, retrained");
    await Deno.writeTextFile(markerPath(plan, "causal3dident__default__0"), "{torn");
    const third = await runLocal(plan, cells, { executor: fakeExecutor(calls) });
    const rerun = new Set(calls);
    const expected = new Set([
      ...cells.filter((c) => c.checkpoints.includes("ventral")).map((c) => c.id),
      "causal3dident__default__0",
    ]);
    assert(
      rerun.size === expected.size && [...expected].every((id) => rerun.has(id)),
      `re-ran ${[...rerun]}`,
    );
    assert(third.filter((o) => o.status === "done").length === expected.size, "outcomes");

    const rows = await collectReport(plan, cells);
    assert(
      rows.every((r) => r.status === "done" && typeof r.summary.score === "number"),
      "report rows",
    );
    assert(reportCsv(rows).split("\n")[0] === "id,kind,model,status,seconds,score", "csv header");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed statistics cell blocks its model's invariance cells but not the others", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plan = planIn(dir);
    const cells = expandPlan(plan);
    const calls: string[] = [];
    const out = await runLocal(plan, cells, {
      jobs: 2,
      executor: fakeExecutor(calls, new Set(["statistics__default"])),
    });
    const status = Object.fromEntries(out.map((o) => [o.id, o.status]));
    assert(status["statistics__default"] === "failed", "stats failed");
    assert(status["synthetic__default__rotation"] === "blocked", "dependant blocked");
    assert(status["synthetic__ventral__rotation"] === "done", "other model unaffected");
    assert(status["causal3dident__default__0"] === "done", "transfer cells need no statistics");
    assert(!calls.includes("synthetic__default__h_flip"), "blocked cells never start");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeSlurmJobs() writes arrays over pending cells chained with afterok, and nothing when all are done", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plan = planIn(dir);
    const cells = expandPlan(plan);
    const jobs = await writeSlurmJobs(plan, cells, `${dir}/plan.json`);
    assert(
      jobs.counts.statistics === 2 && jobs.counts.invariance === 6 && jobs.counts.transfer === 3,
      JSON.stringify(jobs.counts),
    );
    const inv = await Deno.readTextFile(
      jobs.submitScript.replace("submit.sh", "invariance.sbatch"),
    );
    assert(inv.includes("#SBATCH --array=0-5%2"), inv);
    assert(!inv.includes("--gres"), "no GPU request when gpus is 0");
    assert(inv.includes("--run-cell") && inv.includes('--index "$SLURM_ARRAY_TASK_ID"'), inv);
    const submit = await Deno.readTextFile(jobs.submitScript);
    assert(submit.includes("--dependency=afterok:"), submit);
    const cellsFile = JSON.parse(
      await Deno.readTextFile(jobs.submitScript.replace("submit.sh", "invariance.cells.json")),
    );
    assert(
      cellsFile.cells[0].id === "synthetic__default__rotation",
      "array index 0 = first pending cell",
    );
    const none = await writeSlurmJobs(plan, [], `${dir}/plan.json`);
    const submitNone = await Deno.readTextFile(none.submitScript);
    assert(!submitNone.includes('$SBATCH" --parsable'), "nothing submitted");
    assert(submitNone.includes("nothing to submit"), submitNone);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
