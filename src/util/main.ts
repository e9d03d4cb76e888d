/**
 * The common entry wrapper for scripts: user mistakes become one line on stderr and a non-zero
 * exit code, never a stack trace.
 *
 * @module
 */
import { exitCodeFor, GpuError } from "./errors.ts";

/**
 * Runs a script's main function. `UsageError` exits 2, `DataError` and `GpuUnavailableError`
 * exit 1 with a single line; a `GpuError` (a kernel or driver failure) prints its message and
 * exits 3; any other error is a bug and is rethrown with its stack.
 *
 * @example
 * ```ts
 * await runMain("info", async () => { console.log("hello"); });
 * ```
 */
export async function runMain(scriptName: string, main: () => Promise<void>): Promise<void> {
  quietSoftwareAdapter();
  try {
    await main();
  } catch (error) {
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
