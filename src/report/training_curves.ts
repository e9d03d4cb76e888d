/**
 * Training curves for the report: per-epoch loss and acc@1 of each built-in model, read from
 * its training log (`deno task pretrain`'s `log.csv`, committed as `models/logs/<name>.csv`),
 * drawn as one line chart with a loss panel and an acc@1 panel.
 *
 * The reader is tolerant: a missing or unreadable file gives `undefined` (the plot is then left
 * out with a note), columns are found by name in the header (`loss` or `train_loss`, `acc1` or
 * `train_acc1`), and when the log has both step and epoch rows (a `kind` column) only the epoch
 * summaries are used; a log with several rows per epoch and no `kind` is averaged per epoch.
 *
 * {@link trainingCurvesSvg} draws one run's whole log (`deno task report <pretrain-out-dir>`):
 * loss, acc@1, learning rate and throughput against the global step.
 *
 * @module
 */
import { type LineChart, lineChartSvg } from "./svg.ts";

/** One epoch of a training log. */
export interface EpochPoint {
  /** Epoch number as logged (0-based in `deno task pretrain`'s log). */
  epoch: number;
  loss: number;
  /** Top-1 accuracy in percent (contrastive for MoCo, class accuracy for supervised). */
  acc1: number;
}

function column(header: string[], names: readonly string[]): number {
  for (const n of names) {
    const i = header.indexOf(n);
    if (i >= 0) return i;
  }
  return -1;
}

/**
 * Per-epoch loss and acc@1 from CSV text (see the module note for what is accepted), in epoch
 * order; undefined when the text has no epoch column or no usable row.
 */
export function parseTrainingLog(text: string): EpochPoint[] | undefined {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) return undefined;
  const header = lines[0].split(",").map((h) => h.trim().toLowerCase());
  const iEpoch = column(header, ["epoch"]);
  const iLoss = column(header, ["loss", "train_loss"]);
  const iAcc = column(header, ["acc1", "acc@1", "train_acc1"]);
  const iKind = column(header, ["kind"]);
  if (iEpoch < 0 || (iLoss < 0 && iAcc < 0)) return undefined;
  const rows = lines.slice(1).map((l) => l.split(",")).filter((c) => c.length === header.length);
  const hasEpochRows = iKind >= 0 && rows.some((c) => c[iKind].trim() === "epoch");
  const sums = new Map<number, { loss: number; nl: number; acc: number; na: number }>();
  for (const c of rows) {
    if (hasEpochRows && c[iKind].trim() !== "epoch") continue;
    const epoch = Number(c[iEpoch]);
    if (!Number.isFinite(epoch)) continue;
    const s = sums.get(epoch) ?? { loss: 0, nl: 0, acc: 0, na: 0 };
    const loss = iLoss >= 0 && c[iLoss].trim() !== "" ? Number(c[iLoss]) : NaN;
    const acc = iAcc >= 0 && c[iAcc].trim() !== "" ? Number(c[iAcc]) : NaN;
    if (Number.isFinite(loss)) {
      s.loss += loss;
      s.nl++;
    }
    if (Number.isFinite(acc)) {
      s.acc += acc;
      s.na++;
    }
    sums.set(epoch, s);
  }
  const out = [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([epoch, s]) => ({
    epoch,
    loss: s.nl > 0 ? s.loss / s.nl : NaN,
    acc1: s.na > 0 ? s.acc / s.na : NaN,
  }));
  return out.length > 0 ? out : undefined;
}

/** Reads and parses a training log; undefined when the file is missing or has no epochs. */
export async function readEpochLog(path: string): Promise<EpochPoint[] | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  return parseTrainingLog(text);
}

/** The logs found for `models` (model label → log path) and a note per missing one. */
export async function readTrainingLogs(
  models: readonly { label: string; path: string }[],
): Promise<{ logs: { label: string; epochs: EpochPoint[] }[]; missing: string[] }> {
  const logs: { label: string; epochs: EpochPoint[] }[] = [];
  const missing: string[] = [];
  for (const m of models) {
    const epochs = await readEpochLog(m.path);
    if (epochs) logs.push({ label: m.label, epochs });
    else missing.push(`${m.label} (${m.path})`);
  }
  return { logs, missing };
}

/**
 * The training-curve chart of `logs`: a loss panel and an acc@1 panel against the epoch, one
 * line per model. Undefined when there is no log.
 */
export function trainingCurvesChart(
  logs: readonly { label: string; epochs: EpochPoint[] }[],
  references: readonly string[] = [],
): LineChart | undefined {
  if (logs.length === 0) return undefined;
  const series = logs.map((l) => l.label);
  return {
    id: "training-curves",
    title: "Training curves",
    metric: "per-epoch training loss and acc@1 (percent) of each built-in model, from its log",
    series,
    references: series.filter((s) => references.includes(s)),
    panels: [
      {
        title: "loss",
        xLabel: "epoch",
        lines: logs.map((l) => ({
          x: l.epochs.map((e) => e.epoch),
          y: l.epochs.map((e) => e.loss),
        })),
      },
      {
        title: "acc@1 (%)",
        xLabel: "epoch",
        lines: logs.map((l) => ({
          x: l.epochs.map((e) => e.epoch),
          y: l.epochs.map((e) => e.acc1),
        })),
      },
    ],
    note: "MoCo models: InfoNCE loss and top-1 accuracy of the contrastive (pretext) task, " +
      "epoch means; a supervised model's curve is its training cross-entropy and class accuracy.",
  };
}

/** The columns of a `deno task pretrain` log row that {@link trainingCurvesSvg} plots. */
export interface PretrainLogRow {
  /**
   * `step` (a printed step) or `epoch` (the epoch's summary); only step rows are plotted when there
   * are any.
   */
  kind: string;
  /** 0-based epoch. */
  epoch: number;
  /** Steps since the start of training: the x axis. */
  global_step: number;
  /** InfoNCE (or cross-entropy) loss. */
  loss: number;
  /** Top-1 accuracy, percent. */
  acc1: number;
  /** Learning rate. */
  lr: number;
  /** Throughput, image pairs per second. */
  img_per_s: number;
}

/**
 * One pretraining run's curves as a standalone SVG: loss, acc@1 (%), lr and img/s against the
 * global step, from its printed-step rows (the epoch summaries when there are none).
 */
export function trainingCurvesSvg(rows: readonly PretrainLogRow[], title: string): string {
  const steps = rows.filter((r) => r.kind === "step");
  const use = steps.length > 0 ? steps : rows.filter((r) => r.kind === "epoch");
  const x = use.map((r) => r.global_step);
  const panel = (name: string, pick: (r: PretrainLogRow) => number) => ({
    title: name,
    xLabel: "global step",
    lines: [{ x, y: use.map(pick) }],
  });
  return lineChartSvg({
    id: "training-curves",
    title: `Training curves: ${title}`,
    metric: "per printed step",
    series: [title],
    panels: [
      panel("loss", (r) => r.loss),
      panel("acc@1", (r) => r.acc1),
      panel("lr", (r) => r.lr),
      panel("img/s", (r) => r.img_per_s),
    ],
  }).svg;
}
