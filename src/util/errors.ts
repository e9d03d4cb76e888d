/**
 * Error types that separate user mistakes from bugs.
 *
 * Scripts catch these (see `runMain`) and print one line instead of a stack trace:
 * a `UsageError` exits with code 2, a `DataError` or `GpuUnavailableError` with code 1.
 * Anything else is a bug and keeps its stack trace.
 *
 * @module
 */

/** A wrong flag, argument or option value. The message names the flag and what is wrong. */
export class UsageError extends Error {
  /** Error name, shown in messages (`UsageError: …`). */
  override name = "UsageError";
}

/** A file or dataset that is missing, corrupt or of the wrong kind. The message names the file. */
export class DataError extends Error {
  /** Error name, shown in messages (`DataError: …`). */
  override name = "DataError";
}

/** No WebGPU adapter, or a device that cannot satisfy what was asked of it. */
export class GpuUnavailableError extends Error {
  /** Error name, shown in messages (`GpuUnavailableError: …`). */
  override name = "GpuUnavailableError";
}

/** A GPU-side failure: WGSL compile error, validation error, out of memory or a lost device. */
export class GpuError extends Error {
  /** Error name, shown in messages (`GpuError: …`). */
  override name = "GpuError";
}

/** The exit code a script should use for an error, or `undefined` for an unexpected one (a bug). */
export function exitCodeFor(error: unknown): number | undefined {
  if (error instanceof UsageError) return 2;
  if (error instanceof DataError || error instanceof GpuUnavailableError) return 1;
  return undefined;
}
