/**
 * Per-adapter choice between kernel variants. A hot kernel keeps a few variants (tile shape,
 * outputs per thread, workgroup memory or not); which is fastest depends on the adapter (on
 * Mesa's software adapter register tiles win, on discrete GPUs workgroup tiles usually do) and
 * on the shape. {@link Tuner.tune} times each variant once per (adapter, op, shape) and stores
 * the winner on disk; {@link Tuner.choose} is the synchronous lookup ops use while recording.
 *
 * Cache file: `$SSL_CACHE_DIR/autotune.json` (default `~/.cache/ssl-invariances/`). Set
 * `SSL_AUTOTUNE=0` to skip trials and always use each op's default variant.
 *
 * Timing: each sample records the variant `inner` times and syncs once. A GPU→CPU sync costs
 * ≥ 11 ms in Deno, far more than one kernel on a hardware GPU, so `inner` grows until a sample
 * holds about {@link TuneOptions.minSampleMs} of GPU work, and the sync's own cost (measured
 * once per tuner) is subtracted. On a software adapter one run already exceeds it (`inner` 1).
 * Every trial is kept in {@link Tuner.trials} for reports (`deno task device-check`).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { writeJsonAtomic } from "../io/atomic.ts";

/**
 * What a tuner needs from the device: the adapter's description (choices are stored per
 * adapter) and a GPU→CPU sync to time against. A `Gpu` is one; the tuner does not import it.
 */
export interface TunerHost {
  /** The adapter; `description` keys the stored choices. */
  readonly summary: { readonly description: string };
  /** Resolves when every submitted command has finished. */
  sync(): Promise<void>;
}

/** The directory for on-disk caches of this project. */
export function cacheDir(): string {
  const explicit = Deno.env.get("SSL_CACHE_DIR");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  return join(home, ".cache", "ssl-invariances");
}

/** Options of one tuning trial. */
export interface TuneOptions {
  /** Timed samples per variant (median is used). Default 3. */
  reps?: number;
  /** GPU work one sample should hold, in ms (sets `inner`, see the module doc). Default 30. */
  minSampleMs?: number;
  /** Most runs recorded per sample. Default 256. */
  maxInner?: number;
  /** Run the trials even when a choice is stored (the new winner replaces it). */
  force?: boolean;
}

/** One variant's timing in one {@link Tuner.tune} call. */
export interface TuneTrial {
  /** The tuned operation, e.g. `matmul` or `conv2d.forward`. */
  op: string;
  /** The problem size the choice is stored under (operand shapes and flags). */
  shapeKey: string;
  /** The kernel variant timed. */
  variant: string;
  /** Median time of one run, ms (sync cost subtracted). */
  ms: number;
  /** Runs recorded per timed sample. */
  inner: number;
  /** Whether this variant won. */
  chosen: boolean;
}

/** Runs per sample so that one holds about `minSampleMs` of work (pure; `runMs` ≥ 0). */
export function innerRuns(runMs: number, minSampleMs: number, maxInner: number): number {
  if (!(runMs > 0)) return maxInner;
  return Math.max(1, Math.min(maxInner, Math.ceil(minSampleMs / runMs)));
}

/** Chooses and remembers the fastest kernel variant per adapter, op and shape. */
export class Tuner {
  #choices: Record<string, string> | undefined;
  #syncMs: number | undefined;
  /** JSON file the choices are read from and saved to (default `<cache>/autotune.json`). */
  readonly path: string;
  /** Every trial this tuner ran (in this process), in order. */
  readonly trials: TuneTrial[] = [];

  /**
   * A tuner for `gpu`'s adapter, storing its choices in `path`; nothing is read until first use.
   */
  constructor(readonly gpu: TunerHost, path: string = join(cacheDir(), "autotune.json")) {
    this.path = path;
  }

  /** Whether timed trials are enabled (`SSL_AUTOTUNE` is not `0`). */
  get enabled(): boolean {
    return Deno.env.get("SSL_AUTOTUNE") !== "0";
  }

  #key(op: string, shapeKey: string): string {
    return `${this.gpu.summary.description}|${op}|${shapeKey}`;
  }

  #load(): Record<string, string> {
    if (this.#choices) return this.#choices;
    try {
      const parsed = JSON.parse(Deno.readTextFileSync(this.path));
      this.#choices = parsed && typeof parsed === "object" ? parsed : {};
    } catch {
      this.#choices = {}; // missing or corrupt cache: start empty, it is rebuilt by trials
    }
    return this.#choices!;
  }

  /** The stored choice for (op, shape) if it is one of `variants`, else `fallback`. */
  choose(op: string, shapeKey: string, variants: readonly string[], fallback: string): string {
    const stored = this.#load()[this.#key(op, shapeKey)];
    return stored !== undefined && variants.includes(stored) ? stored : fallback;
  }

  /**
   * Times each variant (`record(variant)` records one run into the GPU's recorder; the tuner
   * submits and syncs around it), stores the fastest and returns it. Returns the stored choice
   * without trials when one exists (unless `force`), and `variants[0]` when trials are disabled.
   */
  async tune(
    op: string,
    shapeKey: string,
    variants: readonly string[],
    record: (variant: string) => void,
    options: TuneOptions = {},
  ): Promise<string> {
    const key = this.#key(op, shapeKey);
    const stored = this.#load()[key];
    if (!options.force && stored !== undefined && variants.includes(stored)) return stored;
    if (!this.enabled || variants.length === 1) return variants[0];
    const reps = options.reps ?? 3;
    const syncMs = await this.#syncCost();
    const trials: TuneTrial[] = [];
    for (const variant of variants) {
      record(variant); // warm-up: compiles the pipeline and touches the buffers
      await this.gpu.sync();
      const t0 = performance.now();
      record(variant);
      await this.gpu.sync();
      const once = Math.max(0, performance.now() - t0 - syncMs);
      const inner = innerRuns(once, options.minSampleMs ?? 30, options.maxInner ?? 256);
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t1 = performance.now();
        for (let i = 0; i < inner; i++) record(variant);
        await this.gpu.sync();
        times.push(Math.max(0, performance.now() - t1 - syncMs) / inner);
      }
      times.sort((a, b) => a - b);
      trials.push({
        op,
        shapeKey,
        variant,
        ms: times[Math.floor(times.length / 2)],
        inner,
        chosen: false,
      });
    }
    const best = trials.reduce((a, b) => (b.ms < a.ms ? b : a));
    best.chosen = true;
    this.trials.push(...trials);
    this.#load()[key] = best.variant;
    await this.#save();
    return best.variant;
  }

  /** The stored choices of this adapter: "op|shapeKey" → variant. */
  choices(): Record<string, string> {
    const prefix = `${this.gpu.summary.description}|`;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#load())) {
      if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
    }
    return out;
  }

  /** The cost of an empty submit + sync, ms (median of 5, measured once per tuner). */
  async #syncCost(): Promise<number> {
    if (this.#syncMs !== undefined) return this.#syncMs;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await this.gpu.sync();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return this.#syncMs = times[2];
  }

  /** Forgets every stored choice for this adapter (in memory and on disk). */
  async reset(): Promise<void> {
    const prefix = `${this.gpu.summary.description}|`;
    const choices = this.#load();
    for (const k of Object.keys(choices)) if (k.startsWith(prefix)) delete choices[k];
    await this.#save();
  }

  async #save(): Promise<void> {
    try {
      await Deno.mkdir(dirname(this.path), { recursive: true });
      // Merge with what another process may have written meanwhile.
      let onDisk: Record<string, string> = {};
      try {
        onDisk = JSON.parse(await Deno.readTextFile(this.path));
      } catch { /* none yet */ }
      await writeJsonAtomic(this.path, { ...onDisk, ...this.#choices });
    } catch (error) {
      console.error(`autotune: could not write ${this.path}: ${(error as Error).message}`);
    }
  }
}
