/**
 * Turns the demo's per-model results into the report's charts and into flat CSV rows.
 *
 * @module
 */
import type { Report, ReportChart } from "../report/html.ts";
import { DEMO_GROUPS, type DemoModelResult } from "./evaluate.ts";

function chart(
  id: string,
  title: string,
  metric: string,
  results: readonly DemoModelResult[],
  groups: string[],
  pick: (r: DemoModelResult, group: string) => number | undefined,
  note?: string,
  groupLabels?: string[],
): ReportChart {
  return {
    id,
    title,
    metric,
    groups: groupLabels ?? groups,
    series: results.map((r) => r.label),
    values: results.map((r) => groups.map((g) => pick(r, g) ?? null)),
    note,
  };
}

/** The demo report: invariance (synthetic, real-world-style) and transfer (latents, tasks). */
export function demoReport(results: readonly DemoModelResult[], subtitle: string[]): Report {
  const first = results[0];
  const transforms = Object.keys(first.synthetic);
  const latents = Object.keys(first.extrinsic);
  const tasks = Object.keys(first.downstream);
  const groups = DEMO_GROUPS.map((g) => g.key);
  return {
    title: "ssl-invariances demo: MoCo v2 policies on the built-in world",
    subtitle,
    charts: [
      chart(
        "synthetic-similarity",
        "Synthetic invariance: similarity",
        "whitened cosine similarity between clean and transformed views (higher = more invariant)",
        results,
        transforms,
        (r, g) => r.synthetic[g]?.similarity,
      ),
      chart(
        "synthetic-distance",
        "Synthetic invariance: distance",
        "Mahalanobis distance between clean and transformed views (lower = more invariant)",
        results,
        transforms,
        (r, g) => r.synthetic[g]?.distance,
      ),
      chart(
        "realworld-similarity",
        "Real-world-style invariance: similarity",
        "mean pairwise whitened cosine similarity within a group",
        results,
        groups,
        (r, g) => r.realworld[g]?.similarity,
        "Groups: the same object under viewpoint rotation (COIL100 layout), spotlight position " +
          "(ALOI-illumination layout) and spotlight hue (ALOI-temperature layout).",
        DEMO_GROUPS.map((g) => g.label),
      ),
      chart(
        "extrinsic-r2",
        "Latent regression (Causal3DIdent protocol)",
        "test R² of RBF kernel ridge on standardised features",
        results,
        latents,
        (r, g) => r.extrinsic[g]?.r2,
      ),
      chart(
        "downstream",
        "Downstream transfer",
        "object class: accuracy (logistic regression); keypoints: R² (ridge)",
        results,
        tasks,
        (r, g) => r.downstream[g]?.score,
      ),
    ],
  };
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
