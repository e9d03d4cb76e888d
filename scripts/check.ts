/**
 * `deno task check`: format check, lint, type check and documentation lint of the public API
 * (`deno doc --lint mod.ts`: every exported symbol documented, no private type reachable from
 * it). The benchmarks are type-checked on their own, with `tests/bench/import_map.json` and
 * `tests/bench/bench.lock`: they alone import TensorFlow.js, so no other task resolves or
 * downloads it (docs/design.md#dependencies).
 *
 * @module
 */
import { parseCli } from "../src/util/cli.ts";
import { runMain } from "../src/util/main.ts";

/** The benchmark folder, type-checked and run with its own import map and lock file. */
export const BENCH_DIR = "tests/bench";

/** Flags that give a command the benchmarks' import map and lock file. */
export const BENCH_FLAGS: readonly string[] = [
  `--import-map=${BENCH_DIR}/import_map.json`,
  `--lock=${BENCH_DIR}/bench.lock`,
];

/**
 * What the main type check covers: the API, its example, sources, scripts and every test folder
 * but bench.
 */
export function checkTargets(root = "."): string[] {
  const tests = [...Deno.readDirSync(`${root}/tests`)]
    .filter((e) => `tests/${e.name}` !== BENCH_DIR && (e.isDirectory || e.name.endsWith(".ts")))
    .map((e) => `tests/${e.name}`)
    .sort();
  return ["mod.ts", "examples", "src", "scripts", ...tests];
}

/** The steps, each a label and the arguments of one `deno` command. */
export function checkSteps(root = "."): [string, string[]][] {
  return [
    ["format", ["fmt", "--check"]],
    ["lint", ["lint"]],
    ["type check", ["check", ...checkTargets(root)]],
    ["type check (benchmarks)", ["check", ...BENCH_FLAGS, BENCH_DIR]],
    ["documentation lint", ["doc", "--lint", "mod.ts"]],
  ];
}

if (import.meta.main) {
  await runMain("check", async () => {
    parseCli(Deno.args, {
      name: "deno task check",
      summary: "Format check, lint, type check (the benchmarks with their own import map) and " +
        "`deno doc --lint mod.ts`.",
      flags: {},
    });
    for (const [what, args] of checkSteps()) {
      console.error(`== ${what}: deno ${args.join(" ")}`);
      const status = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
      if (!status.success) {
        console.error(`check: ${what} failed`);
        Deno.exit(1);
      }
    }
  });
}
