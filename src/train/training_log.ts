/**
 * The training log of `deno task pretrain`: one row per printed step and one per finished epoch,
 * appended to `<out-dir>/log.csv` and `<out-dir>/log.jsonl` as they happen (each row is one
 * write, so a killed run keeps every row printed before the kill). `--resume` continues the same
 * files: rows past the checkpoint's step (logged after it, so about to be redone) and a torn last
 * line are dropped first, so the step column never repeats or skips. Layout in
 * docs/pretraining.md#training-log.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";

/** The CSV columns, in order. */
export const TRAINING_LOG_COLUMNS = [
  "kind",
  "epoch",
  "step",
  "global_step",
  "loss",
  "acc1",
  "acc5",
  "lr",
  "img_per_s",
  "data_wait_s",
  "elapsed_s",
  "time",
  "window_loss",
  "window_steps",
] as const;

/** The columns of the first layout, before `window_loss` and `window_steps` (still read). */
const FIRST_LAYOUT_COLUMNS = TRAINING_LOG_COLUMNS.length - 2;

/** One row of the log. */
export interface TrainingLogRow {
  /** `step`: a printed step; `epoch`: the epoch's summary, written after its last step. */
  kind: "step" | "epoch";
  /** 0-based epoch. */
  epoch: number;
  /** Steps done in the epoch (the `[epoch][step/N]` of the printed line). */
  step: number;
  /** Steps since the start of training (1 after the first). */
  global_step: number;
  /**
   * InfoNCE loss of the printed step (epoch rows: the mean loss of every step of the epoch, from
   * the step rows' `window_loss`, as MoCo's AverageMeter prints it).
   */
  loss: number;
  /** Contrastive top-1 accuracy, percent. */
  acc1: number;
  /** Contrastive top-5 accuracy, percent. */
  acc5: number;
  /** Learning rate of the epoch. */
  lr: number;
  /** Image pairs per second since the previous row (epoch rows: mean of the step rows). */
  img_per_s: number;
  /** Seconds spent waiting for data since the previous row (epoch rows: sum). */
  data_wait_s: number;
  /** Training seconds since the run began, summed over resumed runs. */
  elapsed_s: number;
  /** Wall-clock time of the row (ISO 8601). */
  time: string;
  /**
   * Mean loss of every step since the previous step row, this one included (epoch rows: of every
   * step of the epoch); NaN in logs written before this column existed.
   */
  window_loss: number;
  /** Steps that `window_loss` covers. */
  window_steps: number;
}

/**
 * The measurements of one printed step, as the loop knows them; without `window_loss` the row
 * covers the printed step alone.
 */
export type StepMeasurement =
  & Omit<TrainingLogRow, "kind" | "elapsed_s" | "time" | "window_loss" | "window_steps">
  & Partial<Pick<TrainingLogRow, "window_loss" | "window_steps">>;

function csvLine(row: TrainingLogRow): string {
  return TRAINING_LOG_COLUMNS.map((c) => String(row[c])).join(",") + "\n";
}

function parseCsvRow(line: string): TrainingLogRow | undefined {
  const cells = line.split(",");
  if (cells.length !== TRAINING_LOG_COLUMNS.length && cells.length !== FIRST_LAYOUT_COLUMNS) {
    return undefined;
  }
  const row: Record<string, string | number> = {};
  TRAINING_LOG_COLUMNS.forEach((c, i) => {
    row[c] = c === "kind" || c === "time" ? cells[i] : i < cells.length ? Number(cells[i]) : NaN;
  });
  if (row.kind !== "step" && row.kind !== "epoch") return undefined;
  if (!Number.isInteger(row.global_step) || !Number.isInteger(row.epoch)) return undefined;
  return row as unknown as TrainingLogRow;
}

/**
 * Reads the rows of a `log.csv`; a torn last line (a run killed mid-write) and malformed lines are
 * left out. A missing file gives no rows.
 */
export async function readTrainingLog(path: string): Promise<TrainingLogRow[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const lines = text.split("\n");
  // Only newline-terminated lines are complete.
  lines.pop();
  const rows: TrainingLogRow[] = [];
  for (const line of lines.slice(1)) {
    const row = parseCsvRow(line);
    if (row) rows.push(row);
  }
  return rows;
}

/** Options of {@link TrainingLog.open}. */
export interface TrainingLogOptions {
  /**
   * Continue the files of a run resumed from a checkpoint taken after this many steps: rows up to
   * it are kept, later ones dropped. Undefined: a fresh run, the files start over.
   */
  resumeGlobalStep?: number;
}

/** Appends training rows to `<dir>/log.csv` and `<dir>/log.jsonl`. */
export class TrainingLog {
  /** The CSV file. */
  readonly csvPath: string;
  /** The JSON-lines file (one object per row, same fields). */
  readonly jsonlPath: string;
  readonly #csv: Deno.FsFile;
  readonly #jsonl: Deno.FsFile;
  readonly #elapsedBefore: number;
  readonly #t0 = performance.now();
  #epochRows: TrainingLogRow[];

  private constructor(
    dir: string,
    csv: Deno.FsFile,
    jsonl: Deno.FsFile,
    kept: TrainingLogRow[],
  ) {
    this.csvPath = `${dir}/log.csv`;
    this.jsonlPath = `${dir}/log.jsonl`;
    this.#csv = csv;
    this.#jsonl = jsonl;
    const last = kept.at(-1);
    this.#elapsedBefore = last?.elapsed_s ?? 0;
    const epoch = last && last.kind === "step" ? last.epoch : undefined;
    this.#epochRows = kept.filter((r) => r.kind === "step" && r.epoch === epoch);
  }

  /**
   * Opens the log in `dir` (created if needed). A fresh run rewrites both files with the header
   * only; a resumed run keeps the rows up to `resumeGlobalStep` (rewritten atomically) and
   * appends after them.
   */
  static async open(dir: string, options: TrainingLogOptions = {}): Promise<TrainingLog> {
    const csvPath = `${dir}/log.csv`;
    const jsonlPath = `${dir}/log.jsonl`;
    const resumeAt = options.resumeGlobalStep;
    const kept = resumeAt === undefined
      ? []
      : (await readTrainingLog(csvPath)).filter((r) => r.global_step <= resumeAt);
    await writeFileAtomic(
      csvPath,
      TRAINING_LOG_COLUMNS.join(",") + "\n" + kept.map(csvLine).join(""),
    );
    await writeFileAtomic(jsonlPath, kept.map((r) => JSON.stringify(r) + "\n").join(""));
    const csv = await Deno.open(csvPath, { append: true });
    const jsonl = await Deno.open(jsonlPath, { append: true });
    return new TrainingLog(dir, csv, jsonl, kept);
  }

  #write(row: TrainingLogRow): void {
    // One write per file and row: what is on disk is always whole rows plus at most a torn last
    // line, which the reader skips.
    const encoder = new TextEncoder();
    writeAll(this.#csv, encoder.encode(csvLine(row)));
    writeAll(this.#jsonl, encoder.encode(JSON.stringify(row) + "\n"));
  }

  #stamp(): { elapsed_s: number; time: string } {
    const elapsed = this.#elapsedBefore + (performance.now() - this.#t0) / 1000;
    return { elapsed_s: Number(elapsed.toFixed(3)), time: new Date().toISOString() };
  }

  /** Appends a printed step's row and returns it. */
  step(m: StepMeasurement): TrainingLogRow {
    if (this.#epochRows.length > 0 && this.#epochRows[0].epoch !== m.epoch) this.#epochRows = [];
    const row: TrainingLogRow = {
      kind: "step",
      ...m,
      ...this.#stamp(),
      window_loss: m.window_loss ?? m.loss,
      window_steps: m.window_steps ?? 1,
    };
    this.#epochRows.push(row);
    this.#write(row);
    return row;
  }

  /**
   * Appends the summary row of `epoch`, which ended at `globalStep` after `steps` steps: the mean
   * loss of every step (from the step rows' windows), and the mean accuracies and img/s of its
   * step rows (those of the run it was resumed from included).
   */
  endEpoch(epoch: number, steps: number, globalStep: number, lr: number): TrainingLogRow {
    const rows = this.#epochRows.filter((r) => r.epoch === epoch);
    const mean = (k: "loss" | "acc1" | "acc5" | "img_per_s") =>
      rows.length === 0 ? NaN : rows.reduce((s, r) => s + r[k], 0) / rows.length;
    // Every step's loss, weighted by the steps each row covers; rows of the first layout (no
    // window) leave only the printed steps' mean.
    const covered = rows.reduce((s, r) => s + r.window_steps, 0);
    const exact = rows.length > 0 && rows.every((r) => Number.isFinite(r.window_loss));
    const stepMean = exact
      ? rows.reduce((s, r) => s + r.window_loss * r.window_steps, 0) / covered
      : mean("loss");
    const row: TrainingLogRow = {
      kind: "epoch",
      epoch,
      step: steps,
      global_step: globalStep,
      loss: stepMean,
      acc1: mean("acc1"),
      acc5: mean("acc5"),
      lr,
      img_per_s: mean("img_per_s"),
      data_wait_s: Number(rows.reduce((s, r) => s + r.data_wait_s, 0).toFixed(3)),
      ...this.#stamp(),
      window_loss: stepMean,
      window_steps: exact ? covered : rows.length,
    };
    this.#epochRows = [];
    this.#write(row);
    return row;
  }

  /** Closes both files. */
  close(): void {
    this.#csv.close();
    this.#jsonl.close();
  }
}

function writeAll(file: Deno.FsFile, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += file.writeSync(data.subarray(done));
}
