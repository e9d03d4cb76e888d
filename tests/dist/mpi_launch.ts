/**
 * Helpers for tests that launch `mpirun`: whether Open MPI is installed, and the launcher flags
 * this machine needs (root in CI containers, more ranks than cores).
 *
 * @module
 */

/** True when `mpirun` runs; `SSL_REQUIRE_MPI=1` (set by `.ci/run`) turns absence into a failure. */
export function mpiAvailable(): boolean {
  try {
    const out = new Deno.Command("mpirun", {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    })
      .outputSync();
    if (out.success) return true;
  } catch {
    // not installed
  }
  if (Deno.env.get("SSL_REQUIRE_MPI") === "1") {
    throw new Error(
      "SSL_REQUIRE_MPI=1 but mpirun is missing: apt-get install openmpi-bin libopenmpi-dev",
    );
  }
  return false;
}

/** `mpirun` arguments for `np` local ranks running `deno run -A <script> ...args`. */
export function mpirunArgs(np: number, script: string, args: readonly string[] = []): string[] {
  const root = Deno.uid() === 0 ? ["--allow-run-as-root"] : [];
  return [
    ...root,
    "--oversubscribe",
    "--bind-to",
    "none",
    "-np",
    String(np),
    Deno.execPath(),
    "run",
    "-A",
    script,
    ...args,
  ];
}
