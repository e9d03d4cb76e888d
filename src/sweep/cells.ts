/**
 * Running sweep cells: each cell runs its script as a child process, logs to a file and, on
 * success, leaves a done-marker whose key covers the script, its arguments and the sha256 of every
 * checkpoint it reads. A cell whose marker matches is skipped, so a resubmitted sweep only does
 * what is missing, and a replaced checkpoint re-runs exactly the cells that use it.
 *
 * @module
 */
import { writeJsonAtomic } from "../io/atomic.ts";
import { sha256File, stableKey } from "../util/hash.ts";
import type { SweepCell, SweepPlan } from "./plan.ts";

/** What a finished cell leaves behind. */
export interface DoneMarker {
  id: string;
  key: string;
  model: string;
  kind: string;
  seconds: number;
  finishedAt: string;
  /** Result JSON files the script reported through `SSL_RESULT_MANIFEST`. */
  results: string[];
  /** The last lines the script printed on stdout (its summary). */
  stdoutTail: string[];
}

/** Outcome of one cell. */
export interface CellOutcome {
  /** The cell's {@link SweepCell.id}. */
  id: string;
  /**
   * `done`: ran and succeeded; `skipped`: its done-marker matched; `failed`: non-zero exit;
   * `blocked`: the statistics cell it needs failed.
   */
  status: "done" | "skipped" | "failed" | "blocked";
  /** Wall-clock run time (0 when skipped). */
  seconds: number;
  /** Why it failed or was blocked (exit code and log file). */
  message?: string;
}

/** Folder that holds a plan's markers, logs and generated job scripts. */
export function sweepDir(plan: SweepPlan): string {
  return `${plan.resultsDir.replace(/\/+$/, "")}/sweep/${plan.name}`;
}

/** Path of a cell's done-marker. */
export function markerPath(plan: SweepPlan, id: string): string {
  return `${sweepDir(plan)}/done/${id}.json`;
}

const fileHashes = new Map<string, Promise<string>>();

async function checkpointHash(plan: SweepPlan, name: string): Promise<string> {
  const path = `${plan.ckptDir.replace(/\/+$/, "")}/${name}.pth.tar`;
  let stamp: string;
  try {
    const info = await Deno.stat(path);
    stamp = `${path}:${info.size}:${info.mtime?.getTime() ?? 0}`;
  } catch {
    // `random` is created on first use and `supervised` may be missing until the cell fails on
    // it; either way the key records the absence and changes once the file exists.
    return "absent";
  }
  let h = fileHashes.get(stamp);
  if (!h) {
    h = sha256File(path);
    fileHashes.set(stamp, h);
  }
  return await h;
}

/** The skip-if-done key of a cell: script, arguments and checkpoint contents. */
export async function cellKey(plan: SweepPlan, cell: SweepCell): Promise<string> {
  const hashes: Record<string, string> = {};
  for (const name of cell.checkpoints) hashes[name] = await checkpointHash(plan, name);
  return stableKey({ script: cell.script, args: cell.args, checkpoints: hashes }, 32);
}

/** The marker of a cell if it exists, parses and matches the current key. */
export async function readMarker(
  plan: SweepPlan,
  cell: SweepCell,
): Promise<DoneMarker | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(markerPath(plan, cell.id));
  } catch {
    return undefined;
  }
  let marker: DoneMarker;
  try {
    marker = JSON.parse(text) as DoneMarker;
  } catch {
    return undefined; // a torn or edited marker means "not done"
  }
  return marker.key === (await cellKey(plan, cell)) ? marker : undefined;
}

/** The cells that still need to run (no marker, or a marker whose key no longer matches). */
export async function pendingCells(
  plan: SweepPlan,
  cells: readonly SweepCell[],
): Promise<SweepCell[]> {
  const out: SweepCell[] = [];
  for (const c of cells) if (!(await readMarker(plan, c))) out.push(c);
  return out;
}

/** How a cell's script is started; tests substitute their own. */
export type CellExecutor = (
  cell: SweepCell,
  env: Record<string, string>,
  logPath: string,
) => Promise<{ code: number; stdout: string }>;

/** Runs `deno run -A scripts/<script> <args>` from the repository root, logging to `logPath`. */
export const denoExecutor: CellExecutor = async (cell, env, logPath) => {
  const repo = new URL("../../", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${repo}scripts/${cell.script}`, ...cell.args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log = await Deno.open(logPath, { write: true, create: true, truncate: true });
  const decoder = new TextDecoder();
  let stdout = "";
  // Both pipes are drained concurrently so a chatty stderr cannot block the child.
  await Promise.all([
    (async () => {
      for await (const c of child.stdout) {
        stdout += decoder.decode(c, { stream: true });
        await log.write(c);
      }
    })(),
    (async () => {
      for await (const c of child.stderr) await log.write(c);
    })(),
  ]);
  const status = await child.status;
  log.close();
  return { code: status.code, stdout };
};

/**
 * Runs one cell unless its marker matches; writes the marker atomically on success.
 */
export async function runCell(
  plan: SweepPlan,
  cell: SweepCell,
  executor: CellExecutor = denoExecutor,
): Promise<CellOutcome> {
  if (await readMarker(plan, cell)) return { id: cell.id, status: "skipped", seconds: 0 };
  const dir = sweepDir(plan);
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.mkdir(`${dir}/done`, { recursive: true });
  const manifest = `${dir}/logs/${cell.id}.results`;
  await Deno.writeTextFile(manifest, "");
  const logPath = `${dir}/logs/${cell.id}.log`;
  const t0 = performance.now();
  const { code, stdout } = await executor(cell, { SSL_RESULT_MANIFEST: manifest }, logPath);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) {
    return { id: cell.id, status: "failed", seconds, message: `exit ${code}; log: ${logPath}` };
  }
  const results = (await Deno.readTextFile(manifest)).split("\n").filter((l) => l.length > 0);
  const marker: DoneMarker = {
    id: cell.id,
    key: await cellKey(plan, cell),
    model: cell.model,
    kind: cell.kind,
    seconds,
    finishedAt: new Date().toISOString(),
    results,
    stdoutTail: stdout.trimEnd().split("\n").slice(-5),
  };
  await writeJsonAtomic(markerPath(plan, cell.id), marker);
  return { id: cell.id, status: "done", seconds };
}

/**
 * Runs cells on this machine, at most `jobs` at once. A cell starts once the statistics cell it
 * needs has succeeded (or was already done); if that failed, the cell is reported as blocked.
 */
export async function runLocal(
  plan: SweepPlan,
  cells: readonly SweepCell[],
  options: { jobs?: number; executor?: CellExecutor; onOutcome?: (o: CellOutcome) => void } = {},
): Promise<CellOutcome[]> {
  const jobs = Math.max(1, options.jobs ?? 1);
  const outcomes = new Map<string, CellOutcome>();
  const finished = new Map<string, Promise<CellOutcome>>();
  const queue = [...cells];
  const ids = new Set(cells.map((c) => c.id));
  let running = 0;
  const slots: (() => void)[] = [];
  const acquire = async () => {
    if (running < jobs) {
      running++;
      return;
    }
    await new Promise<void>((resolve) => slots.push(resolve));
    running++;
  };
  const release = () => {
    running--;
    slots.shift()?.();
  };
  const start = (cell: SweepCell): Promise<CellOutcome> => {
    const p = (async () => {
      if (cell.needs && ids.has(cell.needs)) {
        const dep = await finished.get(cell.needs)!;
        if (dep.status === "failed" || dep.status === "blocked") {
          return {
            id: cell.id,
            status: "blocked",
            seconds: 0,
            message: `${cell.needs} failed`,
          } as CellOutcome;
        }
      }
      await acquire();
      try {
        return await runCell(plan, cell, options.executor);
      } finally {
        release();
      }
    })().then((o) => {
      outcomes.set(cell.id, o);
      options.onOutcome?.(o);
      return o;
    });
    finished.set(cell.id, p);
    return p;
  };
  // Statistics cells are started first so their dependants find them in `finished`.
  queue.sort((a, b) => (a.phase === "statistics" ? 0 : 1) - (b.phase === "statistics" ? 0 : 1));
  await Promise.all(queue.map(start));
  return cells.map((c) => outcomes.get(c.id)!);
}
