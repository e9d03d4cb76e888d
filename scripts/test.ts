/**
 * `deno task test`: format check, lint, type check, then the whole test suite, ending with one
 * line `N passed, N failed`. Extra arguments go to `deno test` (e.g. a test file or `--filter`).
 *
 * @module
 */
import { runMain } from "../src/util/main.ts";

const CHECK_TARGETS = ["mod.ts", "src", "scripts", "tests"];

async function run(args: string[], capture = false): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: capture ? "piped" : "inherit",
    stderr: capture ? "piped" : "inherit",
  }).spawn();
  if (!capture) return { code: (await child.status).code, output: "" };
  let output = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await sink.write(chunk);
    }
  };
  await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  return { code: (await child.status).code, output };
}

await runMain("test", async () => {
  const extra = Deno.args;
  const steps: [string, string[]][] = [
    ["format", ["fmt", "--check"]],
    ["lint", ["lint"]],
    ["type check", ["check", ...CHECK_TARGETS]],
  ];
  for (const [what, args] of steps) {
    console.error(`== ${what}: deno ${args.join(" ")}`);
    const { code } = await run(args);
    if (code !== 0) {
      console.log(`0 passed, 1 failed (${what} failed: run \`deno ${args.join(" ")}\`)`);
      Deno.exit(1);
    }
  }
  console.error("== tests: deno test -A");
  const { code, output } = await run(["test", "-A", ...extra], true);
  // deno test ends with e.g. "ok | 12 passed (3 steps) | 0 failed (2s)".
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const summary = [...plain.matchAll(/\|\s*(\d+) passed[^|]*\|\s*(\d+) failed/g)].at(-1);
  const passed = summary ? Number(summary[1]) : 0;
  const failed = summary ? Number(summary[2]) : (code === 0 ? 0 : 1);
  console.log(`${passed} passed, ${failed} failed`);
  if (code !== 0 || failed > 0 || passed === 0) Deno.exit(1);
});
