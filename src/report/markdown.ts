/**
 * The report as Markdown: the findings, then each chart's numbers as a table (for reading in a
 * terminal, a pull request or a notebook).
 *
 * @module
 */
import type { Report } from "./html.ts";

function cell(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(3);
}

function escape(s: string): string {
  return s.replaceAll("|", "\\|");
}

/** Renders `report` as GitHub-flavoured Markdown. */
export function renderReportMarkdown(report: Report): string {
  const lines = [`# ${escape(report.title)}`, ""];
  for (const s of report.subtitle) lines.push(`- ${escape(s)}`);
  if (report.findings && report.findings.length > 0) {
    lines.push("", "## Findings", "");
    for (const f of report.findings) lines.push(`- ${escape(f)}`);
  }
  for (const c of report.charts) {
    lines.push("", `## ${escape(c.title)}`, "", `${escape(c.metric)}`, "");
    lines.push(`| model | ${c.groups.map(escape).join(" | ")} |`);
    lines.push(`| --- | ${c.groups.map(() => "---:").join(" | ")} |`);
    c.series.forEach((s, i) => {
      lines.push(
        `| ${escape(s)} | ${c.groups.map((_, g) => cell(c.values[i]?.[g] ?? null)).join(" | ")} |`,
      );
    });
    if (c.note) lines.push("", escape(c.note));
  }
  return lines.join("\n") + "\n";
}
