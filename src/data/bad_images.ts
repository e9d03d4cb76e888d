/**
 * What to do with an image file that cannot be decoded (the `onBadImage` option, `--on-bad-image`
 * on the command line): fail with the file's name (default, as the original, whose loader
 * raised), or skip it, remember why, and report the skipped files at the end of the run. Errors
 * name the option as a caller's options object writes it (`onBadImage: "skip"`); the scripts map
 * that to their flag (`withFlag` in src/eval/cli_common.ts).
 *
 * @module
 */
import { loadImage } from "../image/decode.ts";
import type { RgbImage } from "../image/image.ts";
import { DataError, UsageError } from "../util/errors.ts";

/** `fail`: the first unreadable image stops the run; `skip`: it is left out and logged. */
export type BadImagePolicy = "skip" | "fail";

/** The accepted `onBadImage` values. */
export const BAD_IMAGE_POLICIES: readonly BadImagePolicy[] = ["fail", "skip"];

/**
 * `value` as a policy, or a UsageError starting with `name` (the option by default; a script
 * passes its flag).
 */
export function parseBadImagePolicy(value: string, name = "onBadImage"): BadImagePolicy {
  if ((BAD_IMAGE_POLICIES as readonly string[]).includes(value)) return value as BadImagePolicy;
  throw new UsageError(`${name}: '${value}' is not one of ${BAD_IMAGE_POLICIES.join(", ")}`);
}

/**
 * A dataset image that feature extraction left out (under `onBadImage: "skip"`), and why. Unlike
 * {@link SkippedImage} (a file the pretraining loop left out) it keeps the dataset index, so that callers can
 * line the remaining rows up with their labels.
 */
export interface SkippedRow {
  /** The image's index in the dataset. */
  index: number;
  /** The dataset's description of the image (`dataset.describe(index)`: usually its path). */
  source: string;
  /** Why it could not be used (the decoder's message). */
  reason: string;
}

/** One skipped file. */
export interface SkippedImage {
  /** The file. */
  readonly path: string;
  /** Why it could not be used (the decoder's message, without the repeated path). */
  readonly reason: string;
}

/** The files skipped during a run, for the end-of-run report and the results record. */
export class BadImageLog {
  readonly #skipped: SkippedImage[] = [];

  /** Skipped files in the order they were met. */
  get skipped(): readonly SkippedImage[] {
    return this.#skipped;
  }

  /** Remembers that `path` was skipped because of `error`. */
  record(path: string, error: unknown): void {
    let reason = error instanceof Error ? error.message : String(error);
    if (reason.startsWith(`${path}: `)) reason = reason.slice(path.length + 2);
    this.#skipped.push({ path, reason });
  }

  /**
   * One line when nothing was skipped, else a count and one indented line per file (the first
   * `limit`, then how many more).
   */
  summary(limit = 20): string {
    const n = this.#skipped.length;
    if (n === 0) return "no unreadable images";
    const lines = [`skipped ${n} unreadable image${n === 1 ? "" : "s"}:`];
    for (const s of this.#skipped.slice(0, limit)) lines.push(`  ${s.path}: ${s.reason}`);
    if (n > limit) lines.push(`  … and ${n - limit} more`);
    return lines.join("\n");
  }
}

/**
 * The `fail` half of the rule: the decoder's DataError with the way out appended, so every
 * place that stops on a bad image says the same thing. `where` (e.g. `image 3 of coil100`)
 * is put before the hint when the file name alone does not locate the image.
 */
export function badImageError(error: DataError, where?: string): DataError {
  const context = where ? `${where}; ` : "";
  return new DataError(
    `${error.message} (${context}use onBadImage: "skip" to leave such files out)`,
  );
}

/**
 * The bad-image rule, in one place: runs `read`. A DataError (the file is missing, truncated,
 * corrupt or of an unsupported format) is, under `skip`, handed to `onSkip` and resolves to
 * undefined; under `fail`, rethrown as {@link badImageError} (with `where`). Errors that are
 * not about the file (e.g. the image library failing to load) always propagate.
 */
export async function readOrSkip<T>(
  read: () => Promise<T>,
  policy: BadImagePolicy,
  onSkip: (error: DataError) => void,
  where?: string,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
    if (policy === "fail") throw badImageError(error, where);
    onSkip(error);
    return undefined;
  }
}

/** The warning line printed when an image is skipped (`warning: skipped <source>: <reason>`). */
export function skippedWarning(source: string, reason: string): string {
  return `warning: skipped ${source}: ${reason}`;
}

/**
 * Decodes `path` (see `loadImage`) under {@link readOrSkip}: with `skip`, an unreadable file is
 * recorded in `log` and resolves to undefined; with `fail`, it rejects with a DataError naming
 * the file and the `onBadImage: "skip"` way out.
 */
export async function decodeOrSkip(
  path: string,
  policy: BadImagePolicy,
  log: BadImageLog,
): Promise<RgbImage | undefined> {
  return await readOrSkip(() => loadImage(path), policy, (error) => log.record(path, error));
}
