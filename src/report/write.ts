/**
 * Writes a report to a folder: `report.html` (plots inlined), `report.md` (plots linked) and
 * the plots themselves as `figures/<id>.svg`, all atomically.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { renderReportHtml, type Report, reportFigures } from "./html.ts";
import { renderReportMarkdown } from "./markdown.ts";

/** The files {@link writeReport} wrote. */
export interface WrittenReport {
  html: string;
  markdown: string;
  figures: string[];
}

/** Writes `report` into `dir` (created if needed). */
export async function writeReport(dir: string, report: Report): Promise<WrittenReport> {
  const base = dir.replace(/\/+$/, "") || ".";
  await Deno.mkdir(`${base}/figures`, { recursive: true });
  const figures: string[] = [];
  for (const f of reportFigures(report)) {
    await writeFileAtomic(`${base}/${f.file}`, f.svg);
    figures.push(`${base}/${f.file}`);
  }
  const html = `${base}/report.html`, markdown = `${base}/report.md`;
  await writeFileAtomic(html, renderReportHtml(report));
  await writeFileAtomic(markdown, renderReportMarkdown(report));
  return { html, markdown, figures };
}
