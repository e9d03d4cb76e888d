/**
 * From result tables to a {@link Report}: one grouped bar chart per section, with the findings
 * computed from the same numbers.
 *
 * @module
 */
import { findings, type ReportData, type ResultTable } from "./findings.ts";
import type { Report, ReportChart } from "./html.ts";

function chart(
  id: string,
  title: string,
  metric: string,
  t: ResultTable,
  note?: string,
): ReportChart {
  return { id, title, metric, groups: t.items, series: t.models, values: t.values, note };
}

/**
 * The report of `data`: synthetic similarity and distance, real-world similarity, latent R²,
 * downstream scores (each only when present), and the findings.
 */
export function buildReport(data: ReportData, title: string, subtitle: string[]): Report {
  const charts: ReportChart[] = [];
  if (data.synthetic) {
    charts.push(chart(
      "synthetic-similarity",
      "Synthetic invariance: similarity",
      "whitened cosine similarity between clean and transformed views (higher = more invariant)",
      data.synthetic.similarity,
    ));
    if (data.synthetic.distance) {
      charts.push(chart(
        "synthetic-distance",
        "Synthetic invariance: distance",
        "Mahalanobis distance between clean and transformed views (lower = more invariant)",
        data.synthetic.distance,
      ));
    }
  }
  if (data.realworld) {
    charts.push(chart(
      "realworld-similarity",
      "Real-world invariance: similarity",
      "mean pairwise whitened cosine similarity within a group",
      data.realworld,
    ));
  }
  if (data.extrinsic) {
    charts.push(chart(
      "extrinsic-r2",
      "Latent regression (Causal3DIdent protocol)",
      "test R² of RBF kernel ridge on standardised features",
      data.extrinsic,
    ));
  }
  if (data.downstream) {
    const m = data.downstream.metrics;
    charts.push(chart(
      "downstream",
      "Downstream transfer",
      m && m.length > 0
        ? data.downstream.items.map((t, i) => `${t}: ${m[i] ?? "score"}`).join("; ")
        : "test score",
      data.downstream,
    ));
  }
  return { title, subtitle, findings: findings(data), charts };
}
