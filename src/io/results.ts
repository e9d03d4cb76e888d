/**
 * Result records of the evaluation scripts (docs/outputs.md#run-records): each run writes
 * `<results>/<script>/<run-id>.json` (arguments, model files with sha256, versions, adapter,
 * timings, per-k arrays, summary) and appends one row to `<results>/<script>/runs.csv`; both
 * atomically. The original's `.pth` outputs (docs/outputs.md#original-files) are written beside them by
 * {@link writeTorchOutput}, so analysis code that expects those names keeps working.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "./atomic.ts";
import { PyFloat } from "./pickle.ts";
import { TorchTensor } from "./torch/tensor.ts";
import { encodeTorchCheckpoint } from "./torch/write.ts";
import { sha256File } from "../util/hash.ts";

/** A model file and its hash. */
export interface ModelFileRecord {
  /** The file as given on the command line (or resolved from `--ckpt-dir`). */
  path: string;
  /** Hex sha256 of the file's bytes (empty when it could not be read). */
  sha256: string;
}

/** One run of an evaluation script. */
export interface RunRecord {
  /** Script name (`synthetic_invariance`, `realworld_invariance`, `causal3dident`, `downstream`). */
  script: string;
  /** Unique id of the run (UTC timestamp plus a random suffix); the record's file name. */
  runId: string;
  /** When the run began (ISO 8601). */
  startedAt: string;
  /** When the run ended (ISO 8601). */
  finishedAt: string;
  /** Parsed flags and positionals as given. */
  arguments: Record<string, unknown>;
  /** Model name and its files. */
  model: { name: string; featureLayer: string; contentKey: string; files: ModelFileRecord[] };
  /** Runtime versions (Deno, V8, TypeScript). */
  versions: Record<string, string>;
  /** Adapter description (or "none"). */
  adapter: string;
  /** Seconds per phase. */
  timings: Record<string, number>;
  /** Per-k / per-group / per-wd arrays. NaN is written as null. */
  arrays: Record<string, ArrayLike<number>>;
  /** Headline numbers (and short strings) of the run. */
  summary: Record<string, number | string | boolean | null>;
  /** Other details (cache use, chosen hyper-parameters, skipped images …). */
  details?: Record<string, unknown>;
}

/** A sortable, unique run id: UTC timestamp (milliseconds) plus 6 random hex digits. */
export function newRunId(date: Date = new Date()): string {
  const stamp = date.toISOString().replace(/[-:]/g, "");
  return `${stamp}-${crypto.randomUUID().slice(0, 6)}`;
}

/** Versions recorded in every run. */
export function runtimeVersions(): Record<string, string> {
  return { deno: Deno.version.deno, v8: Deno.version.v8, typescript: Deno.version.typescript };
}

/** sha256 of each model file (files that cannot be read are recorded with an empty hash). */
export async function modelFileRecords(paths: readonly string[]): Promise<ModelFileRecord[]> {
  return await Promise.all(paths.map(async (path) => ({
    path,
    sha256: await sha256File(path).catch(() => ""),
  })));
}

function jsonArray(a: ArrayLike<number>): (number | null)[] {
  return Array.from(a, (v) => (Number.isFinite(v) ? v : null));
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined
    ? ""
    : typeof v === "number"
    ? (Number.isFinite(v) ? String(v) : "")
    : typeof v === "string"
    ? v
    : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Splits one CSV line (RFC 4180 quoting) into cells. */
export function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      cells.push(cur);
      cur = "";
    } else cur += ch;
  }
  cells.push(cur);
  return cells;
}

/**
 * A sweep cell runs its script with `SSL_RESULT_MANIFEST` naming a file; every record written is
 * appended there (absolute path, one per line), so the sweep knows which results are the cell's
 * without scanning shared folders.
 */
async function reportToManifest(json: string): Promise<void> {
  const manifest = Deno.env.get("SSL_RESULT_MANIFEST");
  if (!manifest) return;
  const abs = json.startsWith("/") ? json : `${Deno.cwd()}/${json}`;
  await Deno.writeTextFile(manifest, abs + "\n", { append: true });
}

/** Where {@link writeRunRecord} put things. */
export interface WrittenRecord {
  /** The run record `<results>/<script>/<run-id>.json`. */
  json: string;
  /** The table `<results>/<script>/runs.csv` the run's row was appended to. */
  csv: string;
}

/**
 * Writes the run's JSON and appends its CSV row (columns: run_id, finished_at, model, then the
 * summary keys, then the arguments as JSON). A new summary key extends the header; the file is
 * rewritten atomically each time, so a crash never leaves a half row.
 *
 * Concurrent runs writing into one results folder (a sweep's `--jobs`, several scripts started by
 * hand) never lose a row: the read–extend–rename of `runs.csv` happens under an exclusive advisory
 * lock (`flock`) on `runs.csv.lock` beside it, so each writer sees every row written before it.
 */
export async function writeRunRecord(
  resultsDir: string,
  record: RunRecord,
): Promise<WrittenRecord> {
  const dir = join(resultsDir, record.script);
  const json = join(dir, `${record.runId}.json`);
  const arrays: Record<string, (number | null)[]> = {};
  for (const [k, v] of Object.entries(record.arrays)) arrays[k] = jsonArray(v);
  const summary: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.summary)) {
    summary[k] = typeof v === "number" && !Number.isFinite(v) ? null : v;
  }
  await writeJsonAtomic(json, { ...record, arrays, summary });

  const csv = join(dir, "runs.csv");
  await withFileLock(`${csv}.lock`, () => appendCsvRow(csv, record));
  await reportToManifest(json);
  return { json, csv };
}

async function appendCsvRow(csv: string, record: RunRecord): Promise<void> {
  let lines: string[] = [];
  try {
    lines = (await Deno.readTextFile(csv)).split("\n").filter((l) => l.length > 0);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const fixed = ["run_id", "finished_at", "model"];
  let header = lines.length > 0 ? parseCsvLine(lines[0]) : [...fixed, "arguments"];
  const missing = Object.keys(record.summary).filter((k) => !header.includes(k));
  if (missing.length > 0) {
    const at = header.indexOf("arguments");
    header = [...header.slice(0, at), ...missing, ...header.slice(at)];
  }
  const oldHeader = lines.length > 0 ? parseCsvLine(lines[0]) : header;
  const rows = lines.slice(1).map((l) => {
    const cells = parseCsvLine(l);
    return header.map((h) => {
      const i = oldHeader.indexOf(h);
      return i >= 0 ? csvCell(cells[i]) : "";
    }).join(",");
  });
  const values: Record<string, unknown> = {
    run_id: record.runId,
    finished_at: record.finishedAt,
    model: record.model.name,
    arguments: record.arguments,
    ...record.summary,
  };
  rows.push(header.map((h) => csvCell(values[h])).join(","));
  await writeFileAtomic(csv, [header.map(csvCell).join(","), ...rows].join("\n") + "\n");
}

/**
 * Runs `body` while holding an exclusive advisory lock on `lockPath` (created if needed, never
 * removed: removing it would let two writers lock two different files). The lock is released
 * when `body` settles, and by the kernel if the process dies, so a killed writer never blocks
 * the next one.
 */
export async function withFileLock<T>(lockPath: string, body: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(lockPath), { recursive: true });
  const file = await Deno.open(lockPath, { read: true, write: true, create: true });
  try {
    await file.lock(true);
    try {
      return await body();
    } finally {
      await file.unlock().catch(() => {});
    }
  } finally {
    file.close();
  }
}

/**
 * Writes one of the original's `.pth` outputs: a float32 tensor [k] for arrays, or a Python float
 * for a scalar score, as `torch.save` would, atomically.
 */
export async function writeTorchOutput(
  path: string,
  value: number | ArrayLike<number>,
): Promise<void> {
  const payload = typeof value === "number"
    ? new PyFloat(value)
    : new TorchTensor("float32", [value.length], Float32Array.from(value));
  await writeFileAtomic(path, encodeTorchCheckpoint(payload));
}
