/**
 * Merging a sweep's cells into one table: status, timing and each cell's summary numbers (read
 * from the result JSON files the cell's script reported), written as JSON and CSV.
 *
 * @module
 */
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import { readMarker, sweepDir } from "./cells.ts";
import type { SweepCell, SweepPlan } from "./plan.ts";

/** One row of the merged report. */
export interface ReportRow {
  id: string;
  kind: string;
  model: string;
  status: "done" | "pending";
  seconds: number | null;
  /** Flattened numeric summary of the cell's result(s), e.g. `{ similarity: 0.91, distance: 12.3 }`. */
  summary: Record<string, number | string>;
  results: string[];
}

function flattenSummary(value: unknown, prefix = "", out: Record<string, number | string> = {}) {
  if (typeof value === "number" || typeof value === "string") {
    out[prefix || "value"] = value;
  } else if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      flattenSummary(v, prefix ? `${prefix}.${k}` : k, out);
    }
  }
  return out;
}

/** Builds the report rows for `cells` from their markers and result files. */
export async function collectReport(
  plan: SweepPlan,
  cells: readonly SweepCell[],
): Promise<ReportRow[]> {
  const rows: ReportRow[] = [];
  for (const cell of cells) {
    const marker = await readMarker(plan, cell);
    const summary: Record<string, number | string> = {};
    for (const file of marker?.results ?? []) {
      try {
        const json = JSON.parse(await Deno.readTextFile(file));
        flattenSummary(json.summary ?? {}, "", summary);
      } catch {
        summary.error = `unreadable result ${file}`;
      }
    }
    rows.push({
      id: cell.id,
      kind: cell.kind,
      model: cell.model,
      status: marker ? "done" : "pending",
      seconds: marker ? Math.round(marker.seconds * 10) / 10 : null,
      summary,
      results: marker?.results ?? [],
    });
  }
  return rows;
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The rows as CSV: fixed columns, then one column per summary key seen in any row. */
export function reportCsv(rows: readonly ReportRow[]): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.summary)))].sort();
  const header = ["id", "kind", "model", "status", "seconds", ...keys];
  const lines = [header.join(",")];
  for (const r of rows) {
    lines.push(
      [r.id, r.kind, r.model, r.status, r.seconds, ...keys.map((k) => r.summary[k])].map(csvField)
        .join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/** Writes `<results>/sweep/<name>/report.{json,csv}` atomically and returns their paths. */
export async function writeReport(
  plan: SweepPlan,
  rows: readonly ReportRow[],
): Promise<{ json: string; csv: string }> {
  const dir = sweepDir(plan);
  await Deno.mkdir(dir, { recursive: true });
  const json = `${dir}/report.json`;
  const csv = `${dir}/report.csv`;
  await writeJsonAtomic(json, { plan: plan.name, generatedAt: new Date().toISOString(), rows });
  await writeFileAtomic(csv, reportCsv(rows));
  return { json, csv };
}
