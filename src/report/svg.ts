/**
 * The report's plots as static SVG, drawn when the report is built (no script needed to view
 * them): grouped bar charts with optional error bars, and small-multiple line charts (one panel
 * per transform family or per training quantity). Every bar is a `<rect class="bar">` and every
 * plotted point a `<circle class="point">`, so a browser (or a test) can count what is drawn.
 * Reference series (baselines) are drawn in greys with a dashed outline, after the models.
 *
 * @module
 */

/** One grouped bar chart: `values[s][g]` is series `s` (a model) at group `g` (a transform). */
export interface ReportChart {
  /** Stable id, used for the SVG file name and element id. */
  id: string;
  /** Heading drawn above the chart. */
  title: string;
  /** What the bars measure, e.g. "whitened cosine similarity". */
  metric: string;
  /** Categories along the x axis (transforms, datasets, latents, tasks). */
  groups: string[];
  /** One series per model. */
  series: string[];
  /** `values[series][group]`; NaN or null is drawn as a missing bar and "–" in the table. */
  values: (number | null)[][];
  /** Error bars `[low, high]` per series and group (null: none). */
  errors?: ([number, number] | null)[][];
  /** What the error bars are (e.g. "95 % bootstrap interval over images"). */
  errorNote?: string;
  /** Series that are reference models (baselines), drawn in greys. */
  references?: string[];
  /** Short note under the chart (what higher means, the scale used, caveats). */
  note?: string;
  /** y axis: `linear` (default, bars from zero) or `log` (decades; bars from the lowest). */
  scale?: "linear" | "log";
}

/** One line per series in one panel: `y[i]` at `x[i]` (null / NaN points are skipped). */
export interface LinePanel {
  /** Heading of the panel (e.g. the transform family). */
  title: string;
  /** Label of the x axis (e.g. the transform's magnitude and unit). */
  xLabel: string;
  /** Per series (same order as the chart's `series`); null when the series has no data here. */
  lines: ({ x: number[]; y: (number | null)[] } | null)[];
}

/** Small multiples of line plots sharing one legend. */
export interface LineChart {
  /** Stable id, used for the SVG file name and element id. */
  id: string;
  /** Heading drawn above the panels. */
  title: string;
  /** What the y axes measure. */
  metric: string;
  /** Legend entries, one per line in each panel (usually models). */
  series: string[];
  /** Series that are reference models (baselines), drawn in greys. */
  references?: string[];
  /** The small multiples, in reading order. */
  panels: LinePanel[];
  /** Short note under the chart (what higher means, the scale used, caveats). */
  note?: string;
  /** y axes: `linear` (default) or `log` (each panel spans whole decades). */
  scale?: "linear" | "log";
}

/** A drawn plot and how many marks it holds. */
export interface DrawnSvg {
  svg: string;
  bars: number;
  points: number;
}

/** Colours of the model series. */
export const PALETTE: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#76b7b2",
  "#edc948",
  "#b07aa1",
];
/** Colours of the reference series. */
export const REFERENCE_PALETTE: readonly string[] = ["#9a9a9a", "#4d4d4d", "#c7c7c7"];

/** The colour of series `i` of `series` given which are references. */
export function seriesColour(series: readonly string[], i: number, references?: readonly string[]) {
  const refs = references ?? [];
  if (refs.includes(series[i])) {
    const r = series.filter((s) => refs.includes(s)).indexOf(series[i]);
    return REFERENCE_PALETTE[r % REFERENCE_PALETTE.length];
  }
  const m = series.filter((s) => !refs.includes(s)).indexOf(series[i]);
  return PALETTE[m % PALETTE.length];
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function tick(t: number): string {
  const a = Math.abs(t);
  return a >= 1e4 || (t !== 0 && a < 1e-2) ? t.toExponential(1) : t.toFixed(2);
}

function finite(v: number | null | undefined): v is number {
  return v !== null && v !== undefined && Number.isFinite(v);
}

function legend(
  series: readonly string[],
  references: readonly string[] | undefined,
  x: number,
  y: number,
): { svg: string; height: number } {
  const parts: string[] = [];
  let cx = x, cy = y;
  for (let i = 0; i < series.length; i++) {
    const w = 22 + series[i].length * 6.2;
    if (cx + w > x + 900 && cx > x) {
      cx = x;
      cy += 16;
    }
    const ref = references?.includes(series[i]);
    parts.push(
      `<rect x="${num(cx)}" y="${num(cy - 9)}" width="10" height="10" fill="${
        seriesColour(series, i, references)
      }"${ref ? ' stroke="#222" stroke-dasharray="2 1"' : ""}/>` +
        `<text x="${num(cx + 14)}" y="${num(cy)}" font-size="11">${escapeXml(series[i])}${
          ref ? " (reference)" : ""
        }</text>`,
    );
    cx += w + (ref ? 62 : 0);
  }
  return { svg: parts.join(""), height: cy - y + 16 };
}

function wrapSvg(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${
    num(height)
  }" viewBox="0 0 ${num(width)} ${num(height)}" role="img" font-family="system-ui, sans-serif">` +
    `<title>${
      escapeXml(title)
    }</title><rect width="100%" height="100%" fill="#fff"/>${body}</svg>\n`;
}

/**
 * A y axis over `ys`: linear (padded to include 0 when `withZero`) or logarithmic over whole
 * decades of the positive values. `frac` maps a value to 0 (bottom) … 1 (top), clamped; `base`
 * is where bars start (0, or the bottom of a log axis).
 */
export function yAxis(
  ys: readonly number[],
  log: boolean,
  withZero: boolean,
): { frac: (v: number) => number; ticks: number[]; base: number } {
  const clamp = (f: number) => Math.min(1, Math.max(0, f));
  if (log) {
    const pos = ys.filter((v) => v > 0 && Number.isFinite(v));
    const lo = Math.floor(Math.log10(pos.length > 0 ? Math.min(...pos) : 1));
    let hi = Math.ceil(Math.log10(pos.length > 0 ? Math.max(...pos) : 10));
    if (hi <= lo) hi = lo + 1;
    const ticks: number[] = [];
    for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
    return {
      frac: (v) => (v > 0 ? clamp((Math.log10(v) - lo) / (hi - lo)) : 0),
      ticks,
      base: 10 ** lo,
    };
  }
  const all = withZero ? [0, ...ys] : [...ys];
  const lo = all.length > 0 ? Math.min(...all) : 0;
  const hi = Math.max(...all, lo + 1e-12);
  return {
    frac: (v) => clamp((v - lo) / (hi - lo || 1)),
    ticks: [lo, (lo + hi) / 2, hi],
    base: withZero ? 0 : lo,
  };
}

/**
 * Draws a grouped bar chart (bars from zero, error bars as whiskers, rotated group labels, a
 * legend) and counts its bars.
 */
export function barChartSvg(chart: ReportChart): DrawnSvg {
  const nS = chart.series.length, nG = chart.groups.length;
  const longest = chart.groups.reduce((m, g) => Math.max(m, g.length), 0);
  const B = Math.min(190, 24 + longest * 4.6);
  const L = 56, R = 8 + longest * 3.5;
  const W = Math.max(520, nG * (nS * 11 + 18) + L + R);
  const lg = legend(chart.series, chart.references, L, 16);
  const T = 16 + lg.height + 6;
  const plotH = 200;
  const H = T + plotH + B;
  const ys: number[] = chart.scale === "log" ? [] : [0];
  chart.values.forEach((row, s) =>
    row.forEach((v, g) => {
      if (!finite(v)) return;
      ys.push(v);
      const e = chart.errors?.[s]?.[g];
      if (e && finite(e[0]) && finite(e[1])) ys.push(e[0], e[1]);
    })
  );
  const axis = yAxis(ys, chart.scale === "log", true);
  const y = (v: number) => T + plotH * (1 - axis.frac(v));
  const base = axis.base;
  const out: string[] = [lg.svg];
  out.push(
    `<line x1="${L}" x2="${num(W - R)}" y1="${num(y(base))}" y2="${num(y(base))}" stroke="#333"/>`,
  );
  out.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${num(T + plotH)}" stroke="#999"/>`);
  for (const t of axis.ticks) {
    out.push(
      `<text x="${L - 4}" y="${num(y(t) + 4)}" text-anchor="end" font-size="10">${tick(t)}</text>`,
    );
  }
  const gw = (W - L - R) / Math.max(nG, 1);
  const bw = Math.max(2, (gw - 8) / Math.max(nS, 1));
  let bars = 0;
  for (let g = 0; g < nG; g++) {
    for (let s = 0; s < nS; s++) {
      const v = chart.values[s]?.[g];
      if (!finite(v)) continue;
      const x = L + g * gw + 4 + s * bw;
      const ref = chart.references?.includes(chart.series[s]);
      const e = chart.errors?.[s]?.[g];
      const range = e && finite(e[0]) && finite(e[1]) ? ` [${tick(e[0])}, ${tick(e[1])}]` : "";
      out.push(
        `<rect class="bar" x="${num(x)}" y="${num(Math.min(y(v), y(base)))}" width="${
          num(Math.max(1, bw - 1))
        }" height="${num(Math.max(0.5, Math.abs(y(v) - y(base))))}" fill="${
          seriesColour(chart.series, s, chart.references)
        }"${ref ? ' stroke="#222" stroke-width="0.6" stroke-dasharray="2 1"' : ""}><title>${
          escapeXml(`${chart.series[s]} · ${chart.groups[g]}: ${v}${range}`)
        }</title></rect>`,
      );
      bars++;
      if (range) {
        const cx = num(x + (bw - 1) / 2);
        const w = Math.max(1, Math.min(3, bw / 3));
        out.push(
          `<path class="whisker" d="M${cx} ${num(y(e![0]))}V${num(y(e![1]))}M${
            num(x + (bw - 1) / 2 - w)
          } ${num(y(e![0]))}h${num(2 * w)}M${num(x + (bw - 1) / 2 - w)} ${num(y(e![1]))}h${
            num(2 * w)
          }" stroke="#111" stroke-width="0.8" fill="none"/>`,
        );
      }
    }
    out.push(
      `<text font-size="10" transform="translate(${num(L + g * gw + gw / 2)},${
        num(T + plotH + 12)
      }) rotate(40)">${escapeXml(chart.groups[g])}</text>`,
    );
  }
  return { svg: wrapSvg(W, H, chart.title, out.join("")), bars, points: 0 };
}

/** Draws small multiples of line plots (points joined in x order), 4 panels per row. */
export function lineChartSvg(chart: LineChart, perRow = 4): DrawnSvg {
  const PW = 230, PH = 150, GAP = 28, L = 44, TOP = 22, BOT = 32;
  const cols = Math.min(perRow, Math.max(1, chart.panels.length));
  const rows = Math.ceil(chart.panels.length / cols);
  const W = Math.max(520, cols * (PW + L + GAP) + 10);
  const lg = legend(chart.series, chart.references, 10, 16);
  const y0 = 16 + lg.height + 6;
  const H = y0 + rows * (PH + TOP + BOT);
  const out: string[] = [lg.svg];
  let points = 0;
  chart.panels.forEach((panel, p) => {
    const ox = (p % cols) * (PW + L + GAP) + L;
    const oy = y0 + Math.floor(p / cols) * (PH + TOP + BOT) + TOP;
    const xs: number[] = [], ys: number[] = [];
    for (const line of panel.lines) {
      line?.x.forEach((x, i) => {
        const v = line.y[i];
        if (finite(v) && Number.isFinite(x)) {
          xs.push(x);
          ys.push(v);
        }
      });
    }
    out.push(
      `<text x="${num(ox + PW / 2)}" y="${num(oy - 8)}" text-anchor="middle" font-size="12">${
        escapeXml(panel.title)
      }</text>`,
      `<rect x="${ox}" y="${oy}" width="${PW}" height="${PH}" fill="none" stroke="#bbb"/>`,
      `<text x="${num(ox + PW / 2)}" y="${num(oy + PH + 26)}" text-anchor="middle" font-size="10">${
        escapeXml(panel.xLabel)
      }</text>`,
    );
    if (xs.length === 0) {
      out.push(
        `<text x="${num(ox + PW / 2)}" y="${
          num(oy + PH / 2)
        }" text-anchor="middle" font-size="11" fill="#888">no data</text>`,
      );
      return;
    }
    let xlo = Math.min(...xs), xhi = Math.max(...xs);
    if (xhi === xlo) [xlo, xhi] = [xlo - 0.5, xhi + 0.5];
    let ylo = Math.min(...ys), yhi = Math.max(...ys);
    if (yhi === ylo) [ylo, yhi] = [ylo - 0.5, yhi + 0.5];
    const pad = (yhi - ylo) * 0.05;
    const axis = yAxis(
      chart.scale === "log" ? ys : [ylo - pad, yhi + pad],
      chart.scale === "log",
      false,
    );
    const sx = (x: number) => ox + 4 + (PW - 8) * (x - xlo) / (xhi - xlo);
    const sy = (v: number) => oy + PH * (1 - axis.frac(v));
    const yt = chart.scale === "log" ? axis.ticks : [ylo, (ylo + yhi) / 2, yhi];
    for (const t of yt) {
      out.push(
        `<text x="${ox - 3}" y="${num(sy(t) + 3)}" text-anchor="end" font-size="9">${
          tick(t)
        }</text>`,
      );
    }
    for (const t of [xlo, (xlo + xhi) / 2, xhi]) {
      out.push(
        `<text x="${num(sx(t))}" y="${num(oy + PH + 12)}" text-anchor="middle" font-size="9">${
          tick(t)
        }</text>`,
      );
    }
    panel.lines.forEach((line, s) => {
      if (!line) return;
      const colour = seriesColour(chart.series, s, chart.references);
      const ref = chart.references?.includes(chart.series[s]);
      const pts = line.x.map((x, i) => [x, line.y[i]] as const)
        .filter((pt): pt is readonly [number, number] => Number.isFinite(pt[0]) && finite(pt[1]))
        .sort((a, b) => a[0] - b[0]);
      if (pts.length > 1) {
        out.push(
          `<polyline points="${pts.map(([x, v]) => `${num(sx(x))},${num(sy(v))}`).join(" ")}" ` +
            `fill="none" stroke="${colour}" stroke-width="1.4"${
              ref ? ' stroke-dasharray="4 2"' : ""
            }/>`,
        );
      }
      for (const [x, v] of pts) {
        out.push(
          `<circle class="point" cx="${num(sx(x))}" cy="${num(sy(v))}" r="2.2" fill="${colour}">` +
            `<title>${escapeXml(`${chart.series[s]} · ${panel.title} · ${x}: ${v}`)}</title>` +
            `</circle>`,
        );
        points++;
      }
    });
  });
  return { svg: wrapSvg(W, H, chart.title, out.join("")), bars: 0, points };
}
