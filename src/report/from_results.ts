/**
 * Rebuilds report tables from a results folder, for any data: the demo's `results.json` when
 * there is one, otherwise the run records the four evaluation scripts write
 * (`<dir>/{synthetic_invariance,realworld_invariance,causal3dident,downstream}/<run-id>.json`).
 * For each (model, transform / dataset / target) the newest run wins.
 *
 * @module
 */
import { listDirectory } from "../data/files.ts";
import { DataError } from "../util/errors.ts";
import type { ReportData, ResultTable } from "./findings.ts";

interface RunSummary {
  model: string;
  item: string;
  value: number | null;
  second?: number | null;
  metric?: string;
  finishedAt: string;
}

async function readRuns(
  dir: string,
  script: string,
  pick: (summary: Record<string, unknown>) => Omit<RunSummary, "model" | "finishedAt"> | undefined,
): Promise<RunSummary[]> {
  const folder = `${dir}/${script}`;
  let files: string[];
  try {
    files = (await listDirectory(folder)).files.filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const out: RunSummary[] = [];
  for (const f of files) {
    let record: {
      model?: { name?: string };
      summary?: Record<string, unknown>;
      finishedAt?: string;
    };
    try {
      record = JSON.parse(await Deno.readTextFile(`${folder}/${f}`));
    } catch (e) {
      throw new DataError(`${folder}/${f} is not a readable run record: ${(e as Error).message}`);
    }
    const name = record.model?.name;
    const picked = record.summary ? pick(record.summary) : undefined;
    if (typeof name !== "string" || !picked) continue;
    out.push({ ...picked, model: name, finishedAt: String(record.finishedAt ?? "") });
  }
  return out;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function toTable(runs: RunSummary[], second = false): ResultTable | undefined {
  if (runs.length === 0) return undefined;
  const newest = new Map<string, RunSummary>();
  for (const r of runs) {
    const key = `${r.model}\u0000${r.item}`;
    const seen = newest.get(key);
    if (!seen || seen.finishedAt < r.finishedAt) newest.set(key, r);
  }
  const models = [...new Set(runs.map((r) => r.model))].sort();
  const items = [...new Set(runs.map((r) => r.item))];
  return {
    models,
    items,
    values: models.map((m) =>
      items.map((i) => {
        const r = newest.get(`${m}\u0000${i}`);
        return r ? (second ? r.second ?? null : r.value) : null;
      })
    ),
  };
}

/** Report tables from the run records under `dir` (empty sections are left out). */
export async function reportDataFromRuns(dir: string): Promise<ReportData> {
  const synthetic = await readRuns(
    dir,
    "synthetic_invariance",
    (s) =>
      typeof s.transform === "string"
        ? { item: s.transform, value: num(s.similarity), second: num(s.distance) }
        : undefined,
  );
  const realworld = await readRuns(
    dir,
    "realworld_invariance",
    (s) =>
      typeof s.dataset === "string" ? { item: s.dataset, value: num(s.similarity) } : undefined,
  );
  const causal = await readRuns(
    dir,
    "causal3dident",
    (s) => s.target !== undefined ? { item: String(s.target), value: num(s.r2) } : undefined,
  );
  const downstream = await readRuns(
    dir,
    "downstream",
    (s) =>
      typeof s.dataset === "string"
        ? { item: s.dataset, value: num(s.score), metric: String(s.metric ?? "score") }
        : undefined,
  );
  const data: ReportData = {};
  const sim = toTable(synthetic);
  if (sim) data.synthetic = { similarity: sim, distance: toTable(synthetic, true) };
  data.realworld = toTable(realworld);
  data.extrinsic = toTable(causal);
  const down = toTable(downstream);
  if (down) {
    data.downstream = {
      ...down,
      metrics: down.items.map((i) => downstream.find((r) => r.item === i)?.metric ?? "score"),
    };
  }
  return data;
}

/** True when `data` has nothing to show. */
export function isEmptyReport(data: ReportData): boolean {
  return !data.synthetic && !data.realworld && !data.extrinsic && !data.downstream;
}
