/**
 * From result tables to a {@link Report}: one grouped bar chart per section, with error bars
 * from the tables' per-unit values and the reference models drawn as such, plus any line plots
 * (curves) and the findings computed from the same numbers.
 *
 * @module
 */
import { bootstrapMean } from "../eval/bootstrap.ts";
import { findings, type ReportData, type ResultTable } from "./findings.ts";
import type { LineChart, Report, ReportChart } from "./html.ts";

/** Extra parts of a report beyond its tables. */
export interface ReportExtras {
  /** Line plots shown after the bar charts. */
  curves?: LineChart[];
  /** Notes shown at the end (e.g. plots left out and why). */
  notes?: string[];
  /**
   * Feature dimension per model: when every model's is known, distances are shown divided by
   * √(2d), which puts models of different feature sizes on one scale.
   */
  dims?: Record<string, number>;
}

function sd(xs: ArrayLike<number>): number {
  const v = Array.from(xs).filter(Number.isFinite);
  if (v.length < 2) return NaN;
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

/** The error bars of a table's cells and what they are, or undefined without per-unit values. */
export function errorBars(
  t: ResultTable,
): { errors: ([number, number] | null)[][]; note: string } | undefined {
  if (!t.units) return undefined;
  let n = 0;
  const errors = t.models.map((_, s) =>
    t.items.map((_, g): [number, number] | null => {
      const u = t.units![s]?.[g];
      const v = t.values[s]?.[g];
      if (!u || u.length === 0 || v === null || v === undefined || !Number.isFinite(v)) return null;
      n = Math.max(n, u.length);
      if (t.spread === "sd") {
        const w = sd(u);
        return Number.isFinite(w) ? [v - w, v + w] : null;
      }
      const ci = bootstrapMean(u, { resamples: 2000, seed: 0 });
      return Number.isFinite(ci.lo) && Number.isFinite(ci.hi) ? [ci.lo, ci.hi] : null;
    })
  );
  const unit = t.unit ?? "units";
  const note = t.spread === "sd"
    ? `Error bars: ± 1 standard deviation of the ${n} ${unit}' scores at the chosen ` +
      `hyper-parameters (the spread of the probe), around the test score.`
    : `Error bars and [intervals]: 95 % percentile bootstrap interval of the mean over the ${n} ` +
      `${unit} (2000 resamples).`;
  return { errors, note };
}

function chart(
  id: string,
  title: string,
  metric: string,
  t: ResultTable,
  references: readonly string[],
  note?: string,
): ReportChart {
  const bars = errorBars(t);
  return {
    id,
    title,
    metric,
    groups: t.items,
    series: t.models,
    values: t.values,
    errors: bars?.errors,
    errorNote: bars?.note,
    references: t.models.filter((m) => references.includes(m)),
    note,
  };
}

/** `t` with every model's values (and units) divided by √(2·dim), or undefined if a dim is unknown. */
export function perDimension(
  t: ResultTable,
  dims: Record<string, number> | undefined,
): ResultTable | undefined {
  if (!dims || t.models.some((m) => !(dims[m] > 0))) return undefined;
  const scale = t.models.map((m) => 1 / Math.sqrt(2 * dims[m]));
  return {
    ...t,
    values: t.values.map((row, s) => row.map((v) => (v === null ? null : v * scale[s]))),
    units: t.units?.map((row, s) =>
      row.map((u) => (u ? Array.from(u, (x) => x * scale[s]) : null))
    ),
  };
}

/**
 * The report of `data`: synthetic similarity and distance, real-world similarity, latent R²,
 * downstream scores (each only when present), the curves of `extras`, and the findings.
 */
export function buildReport(
  data: ReportData,
  title: string,
  subtitle: string[],
  extras: ReportExtras = {},
): Report {
  const refs = data.references ?? [];
  const charts: ReportChart[] = [];
  if (data.synthetic) {
    charts.push(chart(
      "synthetic-similarity",
      "Synthetic invariance: similarity",
      "whitened cosine similarity between clean and transformed views (higher = more invariant)",
      data.synthetic.similarity,
      refs,
    ));
    if (data.synthetic.distance) {
      const scaled = perDimension(data.synthetic.distance, extras.dims);
      const c = chart(
        "synthetic-distance",
        "Synthetic invariance: distance",
        scaled
          ? "Mahalanobis distance between clean and transformed views divided by √(2d), d = the " +
            "model's feature dimension (lower = more invariant; log scale)"
          : "Mahalanobis distance between clean and transformed views (lower = more invariant; " +
            "log scale)",
        scaled ?? data.synthetic.distance,
        refs,
        (scaled
          ? "Scale: each model's distances are divided by √(2d), the expected distance between " +
            "two independent whitened d-dimensional feature vectors (1 = as far apart as " +
            "unrelated images), and the axis is logarithmic, "
          : "Scale: raw distances (the models' feature dimensions are not recorded here) on a " +
            "logarithmic axis, ") +
          "so a model whose whitened distances are orders of magnitude larger (e.g. a " +
          "concatenation of correlated models, whose covariance is nearly singular) does not " +
          "flatten the others.",
      );
      charts.push({ ...c, scale: "log" });
    }
  }
  if (data.realworld) {
    charts.push(chart(
      "realworld-similarity",
      "Real-world invariance: similarity",
      "mean pairwise whitened cosine similarity within a group",
      data.realworld,
      refs,
    ));
  }
  if (data.extrinsic) {
    charts.push(chart(
      "extrinsic-r2",
      "Latent regression (Causal3DIdent protocol)",
      "test R² of RBF kernel ridge on standardised features",
      data.extrinsic,
      refs,
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
      refs,
    ));
  }
  return {
    title,
    subtitle,
    findings: findings(data),
    charts,
    curves: extras.curves,
    notes: extras.notes,
  };
}
