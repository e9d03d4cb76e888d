/**
 * The visual report: one self-contained HTML file (no network, no libraries) with every plot
 * inlined as static SVG (drawn by `svg.ts` when the report is built, so it shows without
 * scripts, in print and in the `figures/*.svg` files the Markdown links), plus the numbers as
 * tables. A small inline script only counts the bars and points the browser laid out
 * (`data-bars`, `data-points` beside `data-expected-*`) and records script errors in
 * `#report-errors`, so a headless browser can check that every plot rendered.
 *
 * @module
 */
import {
  barChartSvg,
  type DrawnSvg,
  escapeXml,
  type LineChart,
  lineChartSvg,
  type ReportChart,
} from "./svg.ts";

export type { LineChart, LinePanel, ReportChart } from "./svg.ts";

/** A whole report. */
export interface Report {
  /** Page title and top heading. */
  title: string;
  /** Lines shown under the title (adapter, run time, settings, baselines). */
  subtitle: string[];
  /** Sentences computed from the numbers (see `findings.ts`), shown before the charts. */
  findings?: string[];
  /** Bar charts, each with its numbers as a table. */
  charts: ReportChart[];
  /** Line plots (curves against transform magnitude, training curves), after the bar charts. */
  curves?: LineChart[];
  /** Notes shown at the end (plots left out and why). */
  notes?: string[];
  /** Tables of numbers shown after the notes (e.g. the pretraining fidelity record). */
  appendix?: AppendixTable[];
}

/** A plain table of numbers in a report's appendix. */
export interface AppendixTable {
  /** Heading of the table. */
  title: string;
  /** A sentence under the heading: where the numbers come from. */
  caption: string;
  /** Column headings. */
  columns: string[];
  /** Rows of cells (numbers are printed with up to 4 decimals; null prints as an empty cell). */
  rows: (string | number | null)[][];
}

/** A cell of an {@link AppendixTable} as text. */
export function appendixCell(v: string | number | null): string {
  if (v === null) return "";
  if (typeof v === "string") return v;
  return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
}

/** One drawn plot of a report: its SVG, the file it is written to and its mark counts. */
export interface ReportFigure extends DrawnSvg {
  id: string;
  /** Path relative to the report (`figures/<id>.svg`). */
  file: string;
}

/** Draws every plot of `report` as static SVG, bar charts first, in report order. */
export function reportFigures(report: Report): ReportFigure[] {
  validateReport(report);
  return [
    ...report.charts.map((c) => ({ id: c.id, file: `figures/${c.id}.svg`, ...barChartSvg(c) })),
    ...(report.curves ?? []).map((c) => ({
      id: c.id,
      file: `figures/${c.id}.svg`,
      ...lineChartSvg(c),
    })),
  ];
}

function appendixHtml(tables: readonly AppendixTable[]): string {
  if (tables.length === 0) return "";
  const cell = (tag: string, v: string) => `<${tag}>${escapeHtml(v)}</${tag}>`;
  return `<h2>Appendix</h2>\n` +
    tables.map((t) =>
      `<h3>${escapeHtml(t.title)}</h3><p>${escapeHtml(t.caption)}</p><table class="appendix">` +
      `<tr>${t.columns.map((c) => cell("th", c)).join("")}</tr>` +
      t.rows.map((r) => `<tr>${r.map((v) => cell("td", appendixCell(v))).join("")}</tr>`).join("") +
      `</table>`
    ).join("\n");
}

function escapeHtml(s: string): string {
  return escapeXml(s);
}

/** A number as the tables show it (3 decimals, exponent for very small / large values). */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(3);
}

/** A table cell: the value and, when there is one, its error bar as `[low, high]`. */
export function formatCell(chart: ReportChart, s: number, g: number): string {
  const v = chart.values[s]?.[g] ?? null;
  const e = chart.errors?.[s]?.[g];
  if (!e || v === null || !Number.isFinite(v)) return formatValue(v);
  return `${formatValue(v)} [${formatValue(e[0])}, ${formatValue(e[1])}]`;
}

function table(chart: ReportChart): string {
  const head = `<tr><th>model</th>${
    chart.groups.map((g) => `<th>${escapeHtml(g)}</th>`).join("")
  }</tr>`;
  const rows = chart.series.map((s, i) =>
    `<tr${chart.references?.includes(s) ? ' class="ref"' : ""}><td>${escapeHtml(s)}</td>${
      chart.groups.map((_, g) => `<td>${escapeHtml(formatCell(chart, i, g))}</td>`).join("")
    }</tr>`
  );
  return `<table>${head}${rows.join("")}</table>`;
}

/** Checks that every chart's value matrix matches its series × groups. */
export function validateReport(report: Report): void {
  for (const c of report.charts) {
    if (c.values.length !== c.series.length || c.values.some((r) => r.length !== c.groups.length)) {
      throw new Error(
        `report chart ${c.id}: values must be ${c.series.length} × ${c.groups.length}`,
      );
    }
    if (
      c.errors &&
      (c.errors.length !== c.series.length || c.errors.some((r) => r.length !== c.groups.length))
    ) {
      throw new Error(
        `report chart ${c.id}: errors must be ${c.series.length} × ${c.groups.length}`,
      );
    }
  }
  for (const c of report.curves ?? []) {
    if (c.panels.some((p) => p.lines.length !== c.series.length)) {
      throw new Error(`report curves ${c.id}: every panel needs one line per series`);
    }
  }
}

// The plots are static SVG; this script only counts what the browser laid out (bars and points
// with a non-empty box) so a headless check can compare it with what the report expects.
const COUNT_SCRIPT = `
(function () {
  var errors = document.getElementById("report-errors");
  window.addEventListener("error", function (e) {
    errors.textContent += (e.message || "error") + "\\n";
    errors.setAttribute("data-count", String(Number(errors.getAttribute("data-count")) + 1));
  });
  var holders = document.querySelectorAll("div.chart"), rendered = 0;
  function visible(el) { var b = el.getBBox(); return b.width > 0 && b.height > 0; }
  for (var i = 0; i < holders.length; i++) {
    var h = holders[i], bars = 0, points = 0, j;
    var rects = h.querySelectorAll("svg rect.bar"), dots = h.querySelectorAll("svg circle.point");
    for (j = 0; j < rects.length; j++) if (visible(rects[j])) bars++;
    for (j = 0; j < dots.length; j++) if (visible(dots[j])) points++;
    h.setAttribute("data-bars", String(bars));
    h.setAttribute("data-points", String(points));
    h.setAttribute("data-rendered", "true");
    rendered++;
  }
  document.body.setAttribute("data-charts-rendered", String(rendered));
})();
`;

/**
 * Renders the report to one HTML string.
 *
 * @example
 * ```ts
 * const html = renderReportHtml({ title: "demo", subtitle: [], charts: [{ id: "syn", title: "Synthetic invariance",
 *   metric: "similarity", groups: ["rotation"], series: ["default"], values: [[0.8]] }] });
 * await Deno.writeTextFile("results/demo/report.html", html);
 * ```
 */
export function renderReportHtml(report: Report): string {
  const figures = new Map(reportFigures(report).map((f) => [f.id, f]));
  const holder = (id: string, caption: string) => {
    const f = figures.get(id)!;
    return `<div class="chart" id="chart-${escapeHtml(id)}" data-expected-bars="${f.bars}" ` +
      `data-expected-points="${f.points}" data-file="${escapeHtml(f.file)}">\n${f.svg}</div>\n` +
      caption;
  };
  const note = (...lines: (string | undefined)[]) =>
    lines.filter((l) => l).map((l) => `<p class="note">${escapeHtml(l!)}</p>`).join("");
  const sections = report.charts.map((c) => `
<section>
  <h2>${escapeHtml(c.title)}</h2>
  <p class="metric">${escapeHtml(c.metric)}</p>
  ${holder(c.id, note(c.errorNote, c.note))}
  ${table(c)}
</section>`);
  const curves = (report.curves ?? []).map((c) => `
<section>
  <h2>${escapeHtml(c.title)}</h2>
  <p class="metric">${escapeHtml(c.metric)}</p>
  ${holder(c.id, note(c.note))}
</section>`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:17px;margin:28px 0 4px}
.metric,.note,.sub{color:#555;font-size:13px;margin:2px 0}
table{border-collapse:collapse;font-size:11px;margin-top:6px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}.chart{overflow-x:auto}tr.ref td{color:#555;font-style:italic}
#report-errors{color:#b00;white-space:pre}
.findings{font-size:14px;line-height:1.5}
</style></head>
<body data-charts-expected="${figures.size}">
<h1>${escapeHtml(report.title)}</h1>
${report.subtitle.map((s) => `<p class="sub">${escapeHtml(s)}</p>`).join("\n")}
${
    report.findings && report.findings.length > 0
      ? `<h2>Findings</h2><ul class="findings">${
        report.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join("")
      }</ul>`
      : ""
  }
<div id="report-errors" data-count="0"></div>
${sections.join("\n")}
${curves.join("\n")}
${
    report.notes && report.notes.length > 0
      ? `<h2>Notes</h2><ul>${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`
      : ""
  }
${appendixHtml(report.appendix ?? [])}
<script>${COUNT_SCRIPT}</script>
</body></html>
`;
}
