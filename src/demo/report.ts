/**
 * Turns the demo's per-model results into report tables (and so into the HTML / Markdown report
 * with its findings, error bars, curves and training curves) and into flat CSV rows.
 *
 * @module
 */
import { fidelityTables, readFidelityRecord } from "./fidelity.ts";
import type { ReportData, ResultTable } from "../report/findings.ts";
import { buildReport, errorBars } from "../report/build.ts";
import { syntheticCurveCharts } from "../report/curves.ts";
import type { LineChart, Report } from "../report/html.ts";
import { readTrainingLogs, trainingCurvesChart } from "../report/training_curves.ts";
import { isSyntheticFamily, type SyntheticFamily } from "../transforms/synthetic_grid.ts";
import { DEMO_GROUPS, type DemoModelResult } from "./evaluate.ts";

type Cell = { value: number | undefined; units?: readonly (number | null)[] };

function table(
  results: readonly DemoModelResult[],
  items: string[],
  pick: (r: DemoModelResult, item: string) => Cell,
  options: { labels?: string[]; unit: string; spread?: "bootstrap" | "sd" },
): ResultTable {
  const cells = results.map((r) => items.map((i) => pick(r, i)));
  const hasUnits = cells.some((row) => row.some((c) => c.units && c.units.length > 0));
  return {
    models: results.map((r) => r.label),
    items: options.labels ?? items,
    values: cells.map((row) => row.map((c) => c.value ?? null)),
    units: hasUnits
      ? cells.map((row) =>
        row.map((c) => (c.units ? c.units.map((v) => (v === null ? NaN : v)) : null))
      )
      : undefined,
    unit: options.unit,
    spread: options.spread,
  };
}

/** The demo's results as report tables, with the per-unit values behind the error bars. */
export function demoReportData(results: readonly DemoModelResult[]): ReportData {
  const first = results[0];
  const transforms = Object.keys(first.synthetic);
  const tasks = Object.keys(first.downstream);
  const images = { unit: "images" };
  const folds = { unit: "CV folds", spread: "sd" as const };
  return {
    synthetic: {
      similarity: table(results, transforms, (r, t) => ({
        value: r.synthetic[t]?.similarity,
        units: r.synthetic[t]?.perImage?.similarity,
      }), images),
      distance: table(results, transforms, (r, t) => ({
        value: r.synthetic[t]?.distance,
        units: r.synthetic[t]?.perImage?.distance,
      }), images),
    },
    realworld: table(
      results,
      DEMO_GROUPS.map((g) => g.key),
      (r, g) => ({
        value: r.realworld[g]?.similarity,
        units: r.realworld[g]?.perGroup?.similarity,
      }),
      { labels: DEMO_GROUPS.map((g) => g.label), unit: "groups" },
    ),
    extrinsic: table(
      results,
      Object.keys(first.extrinsic),
      (r, l) => ({ value: r.extrinsic[l]?.r2, units: r.extrinsic[l]?.folds }),
      folds,
    ),
    downstream: {
      ...table(
        results,
        tasks,
        (r, t) => ({ value: r.downstream[t]?.score, units: r.downstream[t]?.folds }),
        folds,
      ),
      metrics: tasks.map((t) => first.downstream[t].metric),
    },
    references: results.filter((r) => r.reference).map((r) => r.label),
  };
}

/** Where the demo's models and their training logs are, and the synthetic views' sizes. */
export interface DemoReportContext {
  /** Folder of the checkpoints; training logs are read from `<modelsDir>/logs/<name>.csv`. */
  modelsDir: string;
  /** Resize / crop of the synthetic views (to rebuild each family's grid for the curves). */
  sizes: { resize: number; cropSize: number };
  /** Notes to add (e.g. a baseline that was not evaluated and why). */
  notes?: string[];
}

/** The line charts of the demo report (curves against magnitude, training curves) and notes. */
export async function demoCurves(
  results: readonly DemoModelResult[],
  context: DemoReportContext,
): Promise<{ curves: LineChart[]; notes: string[] }> {
  const notes: string[] = [];
  const refs = results.filter((r) => r.reference).map((r) => r.label);
  const families = Object.keys(results[0].synthetic).filter(isSyntheticFamily) as SyntheticFamily[];
  const curves = syntheticCurveCharts(
    results.map((r) => ({
      label: r.label,
      distanceScale: r.dim > 0 ? Math.sqrt(2 * r.dim) : 1,
      curves: Object.fromEntries(
        Object.entries(r.synthetic).map(([f, v]) => [f, { k: v.k, ...v.curve }]),
      ),
    })),
    families,
    context.sizes,
    refs,
  );
  // Trained single models have logs; the random-init network and fusions have none.
  const trained = results.filter((r) => !r.name.includes("+") && !r.name.includes("random"));
  const dir = context.modelsDir.replace(/\/+$/, "") || ".";
  const { logs, missing } = await readTrainingLogs(
    trained.map((r) => ({ label: r.label, path: `${dir}/logs/${r.name}.csv` })),
  );
  const chart = trainingCurvesChart(logs, refs);
  if (chart) curves.push(chart);
  if (missing.length > 0) {
    notes.push(
      chart
        ? `No training log for ${missing.join(", ")}: left out of the training curves.`
        : `Training curves omitted: no training log found (${missing.join(", ")}).`,
    );
  }
  return { curves, notes };
}

/** The demo report: invariance (synthetic, real-world-style), transfer, curves and findings. */
export async function demoReport(
  results: readonly DemoModelResult[],
  subtitle: string[],
  context: DemoReportContext,
  title = "ssl-invariances demo: MoCo v2 policies on the built-in world",
): Promise<Report> {
  const { curves, notes } = await demoCurves(results, context);
  const report = buildReport(demoReportData(results), title, subtitle, {
    curves,
    notes: [...(context.notes ?? []), ...notes],
    dims: Object.fromEntries(results.map((r) => [r.label, r.dim])),
  });
  const dir = context.modelsDir.replace(/\/+$/, "") || ".";
  const fidelity = await readFidelityRecord(`${dir}/logs/fidelity.json`);
  if (fidelity) report.appendix = fidelityTables(fidelity);
  return report;
}

/** The CSV header of {@link demoCsv}. */
export const DEMO_CSV_HEADER = "model,section,item,metric,value,err_low,err_high,err_kind";

/**
 * One CSV row per number: model, section, item, metric, value and its error bar (`bootstrap95`
 * over images or groups, or `sd` over CV folds; empty when not recorded).
 */
export function demoCsv(results: readonly DemoModelResult[]): string {
  const data = demoReportData(results);
  const rows = [DEMO_CSV_HEADER];
  const num = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? String(v) : "");
  const add = (t: ResultTable | undefined, section: string, metric: (item: number) => string) => {
    if (!t) return;
    const bars = errorBars(t);
    const kind = t.spread === "sd" ? `sd-${t.unit}` : `bootstrap95-${t.unit}`;
    t.models.forEach((m, s) =>
      t.items.forEach((item, g) => {
        const e = bars?.errors[s][g];
        rows.push(
          [
            m,
            section,
            item,
            metric(g),
            num(t.values[s][g] ?? undefined),
            num(e?.[0]),
            num(e?.[1]),
            e ? kind.replaceAll(" ", "-") : "",
          ].join(","),
        );
      })
    );
  };
  add(data.synthetic?.similarity, "synthetic", () => "similarity");
  add(data.synthetic?.distance, "synthetic", () => "distance");
  add(data.realworld, "realworld", () => "similarity");
  add(
    table(
      results,
      DEMO_GROUPS.map((g) => g.key),
      (r, g) => ({ value: r.realworld[g]?.distance, units: r.realworld[g]?.perGroup?.distance }),
      { labels: DEMO_GROUPS.map((g) => g.label), unit: "groups" },
    ),
    "realworld",
    () => "distance",
  );
  add(data.extrinsic, "extrinsic", () => "r2");
  const metrics = data.downstream?.metrics ?? [];
  add(data.downstream, "downstream", (g) => (metrics[g] === "R²" ? "r2" : metrics[g] ?? "score"));
  return rows.join("\n") + "\n";
}
