/**
 * The common entry wrapper for scripts: user mistakes become one line on stderr and a non-zero
 * exit code, never a stack trace.
 *
 * @module
 */
import { DataError, exitCodeFor, GpuError, UsageError } from "./errors.ts";

/**
 * A library error restated for a command line whose flag `flag` sets the library argument
 * `param`. Library errors name arguments, not flags: a UsageError whose message starts
 * `param: ` becomes one starting `flag: `, and a UsageError or DataError that suggests a setting
 * the way an options object writes it (`param: "value"`, or `param: 1e-10` for a number) says
 * `flag value` instead (in place, so the error keeps its class). Other errors are returned
 * unchanged.
 *
 * @example
 * ```ts
 * const error = new DataError('x.png: truncated (use onBadImage: "skip")');
 * nameFlag(error, "--on-bad-image", "onBadImage");
 * // error.message is now "x.png: truncated (use --on-bad-image skip)"
 * ```
 */
export function nameFlag(error: unknown, flag: string, param: string): unknown {
  if (error instanceof UsageError && error.message.startsWith(`${param}: `)) {
    return new UsageError(`${flag}: ${error.message.slice(param.length + 2)}`);
  }
  if (error instanceof UsageError || error instanceof DataError) {
    const setting = new RegExp(`\\b${param}: (?:"([^"]*)"|(-?\\d[\\d.]*(?:e[-+]?\\d+)?))`, "g");
    error.message = error.message.replace(setting, `${flag} $1$2`);
  }
  return error;
}

/**
 * Runs a script's main function. `UsageError` exits 2, `DataError` and `GpuUnavailableError`
 * exit 1 with a single line; a `GpuError` (a kernel or driver failure) prints its message and
 * exits 3; any other error is a bug and is rethrown with its stack. `flags` maps library
 * arguments to the script's flags ({@link nameFlag}), so a library error that names an argument
 * names the flag on the command line.
 *
 * @example
 * ```ts
 * await runMain("info", async () => { console.log("hello"); });
 * ```
 */
export async function runMain(
  scriptName: string,
  main: () => Promise<void>,
  flags: Readonly<Record<string, string>> = {},
): Promise<void> {
  quietSoftwareAdapter();
  try {
    await main();
  } catch (caught) {
    let error = caught;
    for (const [param, flag] of Object.entries(flags)) error = nameFlag(error, flag, param);
    const code = exitCodeFor(error);
    if (code !== undefined) {
      console.error(`${scriptName}: ${(error as Error).message}`);
      Deno.exit(code);
    }
    if (error instanceof GpuError) {
      console.error(`${scriptName}: GPU failure: ${error.message}`);
      Deno.exit(3);
    }
    throw error;
  }
}

/**
 * Mesa's Vulkan driver complains on stderr when XDG_RUNTIME_DIR is unset; the warning is harmless
 * for compute, so point it at a private temp directory before the first adapter request.
 */
export function quietSoftwareAdapter(): void {
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")) return;
    const dir = Deno.makeTempDirSync({ prefix: "ssl-inv-xdg-" });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // Without env permission the warning simply stays.
  }
}
