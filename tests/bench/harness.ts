/**
 * Shared pieces of the benchmarks: timing with warm-up and median, the row schema of docs/design.md#benchmarks,
 * table printing and the atomic JSON write to `results/bench/<area>.json`.
 *
 * @module
 */
import { writeJsonAtomic } from "../../src/io/atomic.ts";

/** The peer every kernel row is compared with (same adapter, same process). */
export const TFJS_PEER = "tfjs-webgpu 4.22.0";

/** One benchmark row (docs/design.md#benchmarks schema). */
export interface BenchRow {
  name: string;
  unit: string;
  ours: number;
  peer: string;
  peer_value: number | null;
  ratio: number | null;
}

/** Whether a unit is higher-is-better (rates) or lower-is-better (times). */
export function higherIsBetter(unit: string): boolean {
  return !/^(ms|s|us|µs)$/.test(unit);
}

/** Builds a row, computing the ratio as ours/peer for rates and peer/ours for times. */
export function row(
  name: string,
  unit: string,
  ours: number,
  peer: string,
  peerValue: number | null,
): BenchRow {
  const ratio = peerValue === null || !(peerValue > 0) || !(ours > 0)
    ? null
    : higherIsBetter(unit)
    ? ours / peerValue
    : peerValue / ours;
  return { name, unit, ours, peer, peer_value: peerValue, ratio };
}

/** Median of run times (ms) of `fn` after `warmup` untimed runs. */
export async function medianMs(
  fn: () => Promise<unknown>,
  { warmup = 1, runs = 5 }: { warmup?: number; runs?: number } = {},
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Prints rows as a table and writes `results/bench/<area>.json`. */
export async function report(area: string, adapter: string, rows: BenchRow[]): Promise<void> {
  const fmt = (v: number | null) =>
    v === null ? "-" : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  console.log(`\n${area} on ${adapter}`);
  console.log(
    `${"name".padEnd(40)} ${"unit".padEnd(8)} ${"ours".padStart(9)} ${
      "peer".padStart(9)
    }  ratio  peer`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(40)} ${r.unit.padEnd(8)} ${fmt(r.ours).padStart(9)} ${
        fmt(r.peer_value).padStart(9)
      } ${(r.ratio === null ? "-" : r.ratio.toFixed(2) + "×").padStart(6)}  ${r.peer}`,
    );
  }
  const path = new URL(`../../results/bench/${area}.json`, import.meta.url).pathname;
  await writeJsonAtomic(path, { adapter, date: new Date().toISOString(), rows });
  console.log(`wrote ${path}`);
}
