/**
 * `deno task bench [area…]`: runs the benchmarks in `tests/bench/<area>_bench.ts`, each in its own
 * process, and each writes `results/bench/<area>.json` and prints a table of ratios.
 *
 * @module
 */
import { UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

await runMain("bench", async () => {
  const dir = new URL("../tests/bench/", import.meta.url);
  const available: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = entry.name.match(/^(.+)_bench\.ts$/);
    if (entry.isFile && m) available.push(m[1]);
  }
  available.sort();
  const wanted = Deno.args.length > 0 ? Deno.args : available;
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
      args: ["run", "-A", new URL(`${area}_bench.ts`, dir).pathname],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!status.success) failures++;
  }
  if (failures > 0) Deno.exit(1);
});
