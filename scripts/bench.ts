/**
 * `deno task bench [area…]`: runs the benchmarks in `tests/bench/<area>_bench.ts`, each in its own
 * process, and each writes `results/bench/<area>.json` and prints a table of ratios. The
 * benchmarks run with their own import map and lock file (`tests/bench/import_map.json`,
 * `tests/bench/bench.lock`), the only place TensorFlow.js is named, so no other task downloads it.
 *
 * @module
 */
import { parseCli } from "../src/util/cli.ts";
import { UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";
import { BENCH_FLAGS } from "./check.ts";

await runMain("bench", async () => {
  const dir = new URL("../tests/bench/", import.meta.url);
  const available: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = entry.name.match(/^(.+)_bench\.ts$/);
    if (entry.isFile && m) available.push(m[1]);
  }
  available.sort();
  const { positionals } = parseCli(Deno.args, {
    name: "deno task bench",
    summary:
      "Benchmarks side by side with TensorFlow.js WebGPU and PyTorch CPU; each area writes " +
      `results/bench/<area>.json. Areas: ${available.join(", ")} (default: all).`,
    flags: {},
    positionals: [{ name: "area", help: `areas to run: ${available.join(", ")}`, variadic: true }],
  });
  const wanted = positionals.length > 0 ? positionals : available;
  for (const area of wanted) {
    if (!available.includes(area)) {
      throw new UsageError(
        `no benchmark '${area}' (available: ${available.join(", ") || "none"})`,
      );
    }
  }
  let failures = 0;
  for (const area of wanted) {
    console.error(`== bench ${area}`);
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...BENCH_FLAGS, new URL(`${area}_bench.ts`, dir).pathname],
      cwd: new URL("../", import.meta.url).pathname,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!status.success) failures++;
  }
  if (failures > 0) Deno.exit(1);
});
