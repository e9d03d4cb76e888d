/**
 * Turns the demo's per-model results into report tables (and so into the HTML / Markdown report
 * with its findings) and into flat CSV rows.
 *
 * @module
 */
import type { ReportData, ResultTable } from "../report/findings.ts";
import { buildReport } from "../report/build.ts";
import type { Report } from "../report/html.ts";
import { DEMO_GROUPS, type DemoModelResult } from "./evaluate.ts";

function table(
  results: readonly DemoModelResult[],
  items: string[],
  pick: (r: DemoModelResult, item: string) => number | undefined,
  labels?: string[],
): ResultTable {
  return {
    models: results.map((r) => r.label),
    items: labels ?? items,
    values: results.map((r) => items.map((i) => pick(r, i) ?? null)),
  };
}

/** The demo's results as report tables. */
export function demoReportData(results: readonly DemoModelResult[]): ReportData {
  const first = results[0];
  const transforms = Object.keys(first.synthetic);
  const tasks = Object.keys(first.downstream);
  return {
    synthetic: {
      similarity: table(results, transforms, (r, t) => r.synthetic[t]?.similarity),
      distance: table(results, transforms, (r, t) => r.synthetic[t]?.distance),
    },
    realworld: table(
      results,
      DEMO_GROUPS.map((g) => g.key),
      (r, g) => r.realworld[g]?.similarity,
      DEMO_GROUPS.map((g) => g.label),
    ),
    extrinsic: table(results, Object.keys(first.extrinsic), (r, l) => r.extrinsic[l]?.r2),
    downstream: {
      ...table(results, tasks, (r, t) => r.downstream[t]?.score),
      metrics: tasks.map((t) => first.downstream[t].metric),
    },
  };
}

/** The demo report: invariance (synthetic, real-world-style) and transfer (latents, tasks). */
export function demoReport(results: readonly DemoModelResult[], subtitle: string[]): Report {
  return buildReport(
    demoReportData(results),
    "ssl-invariances demo: MoCo v2 policies on the built-in world",
    subtitle,
  );
}

/** One CSV row per number: model, section, item, metric, value. */
export function demoCsv(results: readonly DemoModelResult[]): string {
  const rows = ["model,section,item,metric,value"];
  const add = (m: string, section: string, item: string, metric: string, v: number) =>
    rows.push([m, section, item, metric, Number.isFinite(v) ? String(v) : ""].join(","));
  for (const r of results) {
    for (const [t, v] of Object.entries(r.synthetic)) {
      add(r.label, "synthetic", t, "similarity", v.similarity);
      add(r.label, "synthetic", t, "distance", v.distance);
    }
    for (const [g, v] of Object.entries(r.realworld)) {
      add(r.label, "realworld", g, "similarity", v.similarity);
      add(r.label, "realworld", g, "distance", v.distance);
    }
    for (const [l, v] of Object.entries(r.extrinsic)) add(r.label, "extrinsic", l, "r2", v.r2);
    for (const [t, v] of Object.entries(r.downstream)) {
      add(r.label, "downstream", t, v.metric === "R²" ? "r2" : v.metric, v.score);
    }
  }
  return rows.join("\n") + "\n";
}
