/**
 * Progress lines on stderr for long work: done/total, items per second and ETA. Throttled so a
 * tight loop does not flood the terminal; the final line is always printed.
 *
 * @module
 */

/** Options for {@link Progress}. */
export interface ProgressOptions {
  /** Unit word shown after the rate (default `items`). */
  unit?: string;
  /** Minimum milliseconds between lines (default 2000). */
  intervalMs?: number;
  /** Where lines go (default stderr); tests pass a collector. */
  write?: (line: string) => void;
  /** Clock in milliseconds (default `performance.now`), injectable for tests. */
  now?: () => number;
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * Reports progress of `total` items labelled `label`.
 *
 * @example
 * ```ts
 * const p = new Progress("features", 50_000, { unit: "img" });
 * for (let i = 0; i < 50_000; i += 256) p.advance(256);
 * p.done();
 * ```
 */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #unit: string;
  readonly #interval: number;
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #start: number;
  #last = -Infinity;
  #count = 0;

  /** Starts the clock. */
  constructor(label: string, total: number, options: ProgressOptions = {}) {
    this.#label = label;
    this.#total = total;
    this.#unit = options.unit ?? "items";
    this.#interval = options.intervalMs ?? 2000;
    this.#write = options.write ?? ((line) => console.error(line));
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Items done so far. */
  get count(): number {
    return this.#count;
  }

  /** Items per second since the start. */
  get rate(): number {
    const elapsed = (this.#now() - this.#start) / 1000;
    return elapsed > 0 ? this.#count / elapsed : 0;
  }

  /** Adds `n` finished items and prints a line if the interval has passed. */
  advance(n = 1, extra = ""): void {
    this.#count += n;
    const t = this.#now();
    if (t - this.#last >= this.#interval) {
      this.#last = t;
      this.#write(this.line(extra));
    }
  }

  /** The current status line. */
  line(extra = ""): string {
    const rate = this.rate;
    const left = this.#total - this.#count;
    const eta = rate > 0 ? formatDuration(left / rate) : "?";
    const pct = this.#total > 0 ? ((100 * this.#count) / this.#total).toFixed(1) : "100.0";
    const tail = extra ? ` ${extra}` : "";
    return `${this.#label}: ${this.#count}/${this.#total} (${pct}%) ${
      rate.toFixed(1)
    } ${this.#unit}/s ETA ${eta}${tail}`;
  }

  /** Prints the final line with the total time. */
  done(extra = ""): void {
    const elapsed = (this.#now() - this.#start) / 1000;
    const tail = extra ? ` ${extra}` : "";
    this.#write(
      `${this.#label}: ${this.#count}/${this.#total} done in ${formatDuration(elapsed)} (${
        this.rate.toFixed(1)
      } ${this.#unit}/s)${tail}`,
    );
  }
}
