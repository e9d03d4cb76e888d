/**
 * The report as Markdown: the findings, then each plot as a link to the same static SVG file
 * the HTML report inlines (`figures/<id>.svg`, written beside `report.md`) and each bar chart's
 * numbers as a table with their error bars (for reading in a terminal, a pull request or a
 * notebook).
 *
 * @module
 */
import { appendixCell, formatCell, type Report, reportFigures } from "./html.ts";

function escape(s: string): string {
  return s.replaceAll("|", "\\|");
}

/** Renders `report` as GitHub-flavoured Markdown; plots are linked as `figures/<id>.svg`. */
export function renderReportMarkdown(report: Report): string {
  const files = new Map(reportFigures(report).map((f) => [f.id, f.file]));
  const lines = [`# ${escape(report.title)}`, ""];
  for (const s of report.subtitle) lines.push(`- ${escape(s)}`);
  if (report.findings && report.findings.length > 0) {
    lines.push("", "## Findings", "");
    for (const f of report.findings) lines.push(`- ${escape(f)}`);
  }
  for (const c of report.charts) {
    lines.push("", `## ${escape(c.title)}`, "", `${escape(c.metric)}`, "");
    lines.push(`![${escape(c.title)}](${files.get(c.id)})`, "");
    lines.push(`| model | ${c.groups.map(escape).join(" | ")} |`);
    lines.push(`| --- | ${c.groups.map(() => "---:").join(" | ")} |`);
    c.series.forEach((s, i) => {
      const name = c.references?.includes(s) ? `*${escape(s)}* (reference)` : escape(s);
      lines.push(
        `| ${name} | ${c.groups.map((_, g) => escape(formatCell(c, i, g))).join(" | ")} |`,
      );
    });
    if (c.errorNote) lines.push("", escape(c.errorNote));
    if (c.note) lines.push("", escape(c.note));
  }
  for (const c of report.curves ?? []) {
    lines.push("", `## ${escape(c.title)}`, "", `${escape(c.metric)}`, "");
    lines.push(`![${escape(c.title)}](${files.get(c.id)})`);
    if (c.note) lines.push("", escape(c.note));
  }
  if (report.notes && report.notes.length > 0) {
    lines.push("", "## Notes", "");
    for (const n of report.notes) lines.push(`- ${escape(n)}`);
  }
  if (report.appendix && report.appendix.length > 0) {
    lines.push("", "## Appendix");
    for (const t of report.appendix) {
      lines.push("", `### ${escape(t.title)}`, "", escape(t.caption), "");
      lines.push(`| ${t.columns.map(escape).join(" | ")} |`);
      lines.push(`| ${t.columns.map(() => "---").join(" | ")} |`);
      for (const r of t.rows) {
        lines.push(`| ${r.map((v) => escape(appendixCell(v))).join(" | ")} |`);
      }
    }
  }
  return lines.join("\n") + "\n";
}
