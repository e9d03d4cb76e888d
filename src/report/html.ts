/**
 * The visual report: one self-contained HTML file (no network, no libraries) with grouped bar
 * charts drawn as SVG by a small inline script from embedded JSON, plus the numbers as tables.
 * Each chart records how many bars it drew (`data-bars`) and the page records script errors in
 * `#report-errors`, so a headless browser can check that every plot rendered.
 *
 * @module
 */

/** One grouped bar chart: `values[s][g]` is series `s` (a model) at group `g` (a transform). */
export interface ReportChart {
  /** Stable id, used for the SVG element id. */
  id: string;
  title: string;
  /** What the bars measure, e.g. "whitened cosine similarity". */
  metric: string;
  /** Categories along the x axis (transforms, datasets, latents, tasks). */
  groups: string[];
  /** One series per model. */
  series: string[];
  /** `values[series][group]`; NaN or null is drawn as a missing bar and "–" in the table. */
  values: (number | null)[][];
  /** Short note under the chart (what higher means, known caveats). */
  note?: string;
}

/** A whole report. */
export interface Report {
  title: string;
  /** Lines shown under the title (adapter, run time, settings). */
  subtitle: string[];
  /** Sentences computed from the numbers (see `findings.ts`), shown before the charts. */
  findings?: string[];
  charts: ReportChart[];
}

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"];

function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll(
    '"',
    "&quot;",
  );
}

function formatValue(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(3);
}

function table(chart: ReportChart): string {
  const head = `<tr><th>model</th>${
    chart.groups.map((g) => `<th>${escapeHtml(g)}</th>`).join("")
  }</tr>`;
  const rows = chart.series.map((s, i) =>
    `<tr><td>${escapeHtml(s)}</td>${
      chart.groups.map((_, g) => `<td>${formatValue(chart.values[i]?.[g] ?? null)}</td>`).join("")
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
  }
}

// The drawing code runs in the browser; it is kept as plain ES5-style text so it needs no build.
const DRAW_SCRIPT = `
(function () {
  var errors = document.getElementById("report-errors");
  window.addEventListener("error", function (e) {
    errors.textContent += (e.message || "error") + "\\n";
    errors.setAttribute("data-count", String(Number(errors.getAttribute("data-count")) + 1));
  });
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  data.charts.forEach(function (chart) {
    var holder = document.getElementById("chart-" + chart.id);
    var nS = chart.series.length, nG = chart.groups.length;
    var longest = chart.groups.reduce(function (m, g) { return Math.max(m, String(g).length); }, 0);
    // Rotated labels need room below the axis in proportion to their length.
    var B = Math.min(190, 24 + longest * 4.6), W = Math.max(480, nG * (nS * 12 + 18) + 80 + longest * 3.5), H = 190 + B, L = 56, T = 12;
    var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" }, holder);
    var finite = [];
    chart.values.forEach(function (r) { r.forEach(function (v) { if (v !== null && isFinite(v)) finite.push(v); }); });
    var lo = Math.min(0, Math.min.apply(null, finite.concat([0])));
    var hi = Math.max(0, Math.max.apply(null, finite.concat([1e-12])));
    var y = function (v) { return T + (H - T - B) * (hi - v) / (hi - lo || 1); };
    var R = 8 + longest * 3.5;
    el("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: "#333" }, svg);
    [lo, (lo + hi) / 2, hi].forEach(function (t) {
      var tx = el("text", { x: L - 4, y: y(t) + 4, "text-anchor": "end", "font-size": 10 }, svg);
      tx.textContent = Math.abs(t) >= 1e4 || (t !== 0 && Math.abs(t) < 1e-2) ? t.toExponential(1) : t.toFixed(2);
    });
    var gw = (W - L - R) / nG, bw = Math.max(2, (gw - 8) / nS), bars = 0;
    chart.groups.forEach(function (g, gi) {
      chart.series.forEach(function (s, si) {
        var v = chart.values[si][gi];
        if (v === null || !isFinite(v)) return;
        var x = L + gi * gw + 4 + si * bw;
        var r = el("rect", { x: x, width: bw - 1, y: Math.min(y(v), y(0)), height: Math.max(0.5, Math.abs(y(v) - y(0))),
          fill: data.palette[si % data.palette.length], "class": "bar" }, svg);
        el("title", {}, r).textContent = s + " · " + g + ": " + v;
        bars++;
      });
      var lab = el("text", { "font-size": 10, transform: "translate(" + (L + gi * gw + gw / 2) + "," + (H - B + 12) + ") rotate(40)" }, svg);
      lab.textContent = g;
    });
    holder.setAttribute("data-bars", String(bars));
    holder.setAttribute("data-rendered", "true");
  });
  document.body.setAttribute("data-charts-rendered", String(data.charts.length));
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
  validateReport(report);
  const legend = (series: string[]) =>
    series.map((s, i) =>
      `<span class="key"><i style="background:${PALETTE[i % PALETTE.length]}"></i>${
        escapeHtml(s)
      }</span>`
    ).join("");
  const sections = report.charts.map((c) => `
<section>
  <h2>${escapeHtml(c.title)}</h2>
  <p class="metric">${escapeHtml(c.metric)}</p>
  <div class="legend">${legend(c.series)}</div>
  <div class="chart" id="chart-${escapeHtml(c.id)}" data-expected-bars="${
    c.values.flat().filter((v) => v !== null && Number.isFinite(v)).length
  }"></div>
  ${c.note ? `<p class="note">${escapeHtml(c.note)}</p>` : ""}
  ${table(c)}
</section>`);
  // `<` is escaped so the JSON cannot close its script element.
  const json = JSON.stringify(
    { charts: report.charts, palette: PALETTE },
    (_, v) => typeof v === "number" && !Number.isFinite(v) ? null : v,
  ).replaceAll("<", "\\u003c");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:17px;margin:28px 0 4px}
.metric,.note,.sub{color:#555;font-size:13px;margin:2px 0}
.legend{font-size:12px;margin:6px 0}.key{margin-right:14px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
table{border-collapse:collapse;font-size:11px;margin-top:6px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}.chart{overflow-x:auto}
#report-errors{color:#b00;white-space:pre}
.findings{font-size:14px;line-height:1.5}
</style></head>
<body data-charts-expected="${report.charts.length}">
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
<script type="application/json" id="report-data">${json}</script>
<script>${DRAW_SCRIPT}</script>
</body></html>
`;
}
