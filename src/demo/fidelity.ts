/**
 * The whole-run fidelity record of pretraining (`models/logs/fidelity.json`, written by
 * `tools/fidelity_record.py`): per-epoch loss and acc@1 of `deno task pretrain` runs beside an
 * independent PyTorch implementation of the same recipe on the same images, and each run's final
 * class probe. The demo's report prints it as appendix tables, numbers only.
 *
 * @module
 */
import type { AppendixTable } from "../report/html.ts";
import { DataError } from "../util/errors.ts";

/** One training run of the record. */
export interface FidelityRun {
  /** `ours` (`deno task pretrain`) or `pytorch` (`tools/torch_moco_world.py`). */
  implementation: string;
  /** The run's seed. */
  seed: number;
  /** Mean loss and acc@1 (%) of each epoch, in order. */
  epochs: { loss: number; acc1: number }[];
  /** Final class-probe accuracy (0–1). */
  probe: number;
}

/** The record as written by `tools/fidelity_record.py`. */
export interface FidelityRecord {
  /** The recipe both implementations ran. */
  recipe: string;
  /** The probe behind {@link FidelityRun.probe}. */
  probe: string;
  /** Every run, ours first. */
  runs: FidelityRun[];
}

function isRun(r: unknown): r is FidelityRun {
  if (typeof r !== "object" || r === null) return false;
  const o = r as Record<string, unknown>;
  return typeof o.implementation === "string" && typeof o.seed === "number" &&
    typeof o.probe === "number" && Array.isArray(o.epochs) &&
    o.epochs.every((e) =>
      typeof e === "object" && e !== null && typeof (e as { loss: unknown }).loss === "number" &&
      typeof (e as { acc1: unknown }).acc1 === "number"
    );
}

/** Reads a fidelity record; `undefined` when the file does not exist, a DataError when malformed. */
export async function readFidelityRecord(path: string): Promise<FidelityRecord | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new DataError(`${path}: cannot be read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DataError(`${path}: not JSON`);
  }
  const v = value as Partial<FidelityRecord>;
  if (typeof v.recipe !== "string" || !Array.isArray(v.runs) || !v.runs.every(isRun)) {
    throw new DataError(`${path}: not a fidelity record (recipe, probe, runs[])`);
  }
  return { recipe: v.recipe, probe: String(v.probe ?? ""), runs: v.runs };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * The distance between the ranges [min, max] of two implementations' seeds at one epoch: 0 when
 * they overlap, null when either has no run that reached the epoch.
 */
export function rangeGap(a: readonly number[], b: readonly number[]): number | null {
  if (a.length === 0 || b.length === 0) return null;
  return Math.max(0, Math.min(...a) - Math.max(...b), Math.min(...b) - Math.max(...a));
}

/** The caption's tail: what the gap column is, and in how many epochs the seed ranges overlap. */
function gapSummary(gaps: readonly (number | null)[], impls: readonly string[]): string {
  const known = gaps.flatMap((g, e) => (g === null ? [] : [[e, g] as const]));
  const apart = known.filter(([, g]) => g > 0);
  const where = apart.length === 0
    ? ""
    : `; apart in epoch${apart.length > 1 ? "s" : ""} ${
      apart.map(([e]) => e).join(", ")
    }, by at most ${Math.max(...apart.map(([, g]) => g)).toFixed(3)}`;
  return `, then the gap between the seed ranges of ${impls[0]} and of ${impls[1]} (0 where ` +
    `they overlap). The ranges overlap in ${known.length - apart.length} of ${known.length} ` +
    `epochs${where}.`;
}

/**
 * The record as appendix tables: loss and acc@1 per epoch (one column per run, then each
 * implementation's mean and, with two implementations, the {@link rangeGap} of their seeds), and
 * the final probes with the difference of the implementations' means.
 */
export function fidelityTables(record: FidelityRecord): AppendixTable[] {
  const runs = record.runs;
  const label = (r: FidelityRun) => `${r.implementation} seed ${r.seed}`;
  const impls = [...new Set(runs.map((r) => r.implementation))];
  const epochs = Math.max(...runs.map((r) => r.epochs.length));
  const paired = impls.length === 2;
  const perEpoch = (key: "loss" | "acc1", title: string): AppendixTable => {
    // Each implementation's values at each epoch, from the runs that reached it.
    const values = Array.from(
      { length: epochs },
      (_, e) =>
        impls.map((i) =>
          runs.filter((r) => r.implementation === i && r.epochs[e]).map((r) => r.epochs[e][key])
        ),
    );
    const gaps = values.map((v) => (paired ? rangeGap(v[0], v[1]) : null));
    return {
      title,
      caption: `${record.recipe}. One column per run, then each implementation's mean` +
        (paired ? gapSummary(gaps, impls) : "."),
      columns: [
        "epoch",
        ...runs.map(label),
        ...impls.map((i) => `${i} mean`),
        ...(paired ? ["gap between seed ranges"] : []),
      ],
      rows: values.map((v, e) => [
        e,
        ...runs.map((r) => r.epochs[e]?.[key] ?? null),
        ...v.map((x) => (x.length > 0 ? mean(x) : null)),
        ...(paired ? [gaps[e]] : []),
      ]),
    };
  };
  const probeMeans = impls.map((i) =>
    mean(runs.filter((r) => r.implementation === i).map((r) => r.probe))
  );
  const probes: AppendixTable = {
    title: "Pretraining fidelity: final class probe",
    caption: `${record.probe}.` +
      (impls.length === 2
        ? ` Difference of the means (${impls[0]} − ${impls[1]}): ${
          (probeMeans[0] - probeMeans[1]).toFixed(3)
        }.`
        : ""),
    columns: ["run", "probe accuracy"],
    rows: [
      ...runs.map((r) => [label(r), r.probe]),
      ...impls.map((i, k) => [`${i} mean`, probeMeans[k]]),
    ],
  };
  return [
    perEpoch("loss", "Pretraining fidelity: loss per epoch"),
    perEpoch("acc1", "Pretraining fidelity: acc@1 (%) per epoch"),
    probes,
  ];
}
