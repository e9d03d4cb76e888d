/**
 * Runs a child process for a test and returns its exit code and decoded output.
 *
 * @module
 */

/** A finished child process. */
export interface CommandResult {
  code: number;
  success: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `command args…` to completion, capturing stdout and stderr. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CommandResult> {
  const out = await new Deno.Command(command, {
    args: [...args],
    env: options.env,
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    success: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}
