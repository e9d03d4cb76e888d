/**
 * Rebuilds report tables from a results folder, for any data: the demo's `results.json` when
 * there is one, otherwise the run records the four evaluation scripts write
 * (`<dir>/{synthetic_invariance,realworld_invariance,causal3dident,downstream}/<run-id>.json`).
 * For each (model, transform / dataset / target) the newest run wins. Per-group values (and
 * per-image values where a run recorded them) become the tables' bootstrap units; models named
 * `random*` or `*supervised*` are the reference rows.
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
  /** Per-unit values behind `value` / `second` (per group, per image), when recorded. */
  units?: number[];
  secondUnits?: number[];
  metric?: string;
  finishedAt: string;
}

async function readRuns(
  dir: string,
  script: string,
  pick: (
    summary: Record<string, unknown>,
    arrays: Record<string, unknown>,
  ) => Omit<RunSummary, "model" | "finishedAt"> | undefined,
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
      arrays?: Record<string, unknown>;
      finishedAt?: string;
    };
    try {
      record = JSON.parse(await Deno.readTextFile(`${folder}/${f}`));
    } catch (e) {
      throw new DataError(`${folder}/${f} is not a readable run record: ${(e as Error).message}`);
    }
    const name = record.model?.name;
    const picked = record.summary ? pick(record.summary, record.arrays ?? {}) : undefined;
    if (typeof name !== "string" || !picked) continue;
    out.push({ ...picked, model: name, finishedAt: String(record.finishedAt ?? "") });
  }
  return out;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** A recorded per-unit array (null entries, i.e. NaN, kept as NaN), or undefined. */
function unitArray(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.map((x) => (typeof x === "number" ? x : NaN));
}

/**
 * The reference models (baselines) among `models`: the registry's seeded `random*` networks and
 * any model whose name says `supervised`.
 */
export function referenceModels(models: readonly string[]): string[] {
  return models.filter((m) => !m.includes("+") && /random|supervised/.test(m));
}

function toTable(
  runs: RunSummary[],
  second = false,
  unit?: string,
): ResultTable | undefined {
  if (runs.length === 0) return undefined;
  const newest = new Map<string, RunSummary>();
  for (const r of runs) {
    const key = `${r.model}\u0000${r.item}`;
    const seen = newest.get(key);
    if (!seen || seen.finishedAt < r.finishedAt) newest.set(key, r);
  }
  const models = [...new Set(runs.map((r) => r.model))].sort();
  const items = [...new Set(runs.map((r) => r.item))];
  const cell = (m: string, i: string) => newest.get(`${m}\u0000${i}`);
  const units = models.map((m) =>
    items.map((i) => {
      const r = cell(m, i);
      return (second ? r?.secondUnits : r?.units) ?? null;
    })
  );
  return {
    models,
    items,
    values: models.map((m) =>
      items.map((i) => {
        const r = cell(m, i);
        return r ? (second ? r.second ?? null : r.value) : null;
      })
    ),
    units: units.some((row) => row.some((u) => u)) ? units : undefined,
    unit,
  };
}

/** Report tables from the run records under `dir` (empty sections are left out). */
export async function reportDataFromRuns(dir: string): Promise<ReportData> {
  const synthetic = await readRuns(
    dir,
    "synthetic_invariance",
    // Per-image values (the mean over each image's views) give bootstrap intervals when the
    // run recorded them.
    (s, a) =>
      typeof s.transform === "string"
        ? {
          item: s.transform,
          value: num(s.similarity),
          second: num(s.distance),
          units: unitArray(a.similarity_per_image),
          secondUnits: unitArray(a.distance_per_image),
        }
        : undefined,
  );
  const realworld = await readRuns(
    dir,
    "realworld_invariance",
    (s, a) =>
      typeof s.dataset === "string"
        ? { item: s.dataset, value: num(s.similarity), units: unitArray(a.similarity) }
        : undefined,
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
  const sim = toTable(synthetic, false, "images");
  if (sim) data.synthetic = { similarity: sim, distance: toTable(synthetic, true, "images") };
  data.realworld = toTable(realworld, false, "groups");
  data.extrinsic = toTable(causal);
  const down = toTable(downstream);
  if (down) {
    data.downstream = {
      ...down,
      metrics: down.items.map((i) => downstream.find((r) => r.item === i)?.metric ?? "score"),
    };
  }
  const models = new Set<string>();
  for (const t of [data.synthetic?.similarity, data.realworld, data.extrinsic, data.downstream]) {
    for (const m of t?.models ?? []) models.add(m);
  }
  data.references = referenceModels([...models]);
  return data;
}

/** True when `data` has nothing to show. */
export function isEmptyReport(data: ReportData): boolean {
  return !data.synthetic && !data.realworld && !data.extrinsic && !data.downstream;
}
