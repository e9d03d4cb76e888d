/**
 * The checkpoint fuzz, run as its own process so its peak memory can be measured:
 * `deno run -A tests/faults/fuzz_checkpoints.ts <seed> <mutations per fixture>` mutates each
 * fixture checkpoint (hostile.ts `mutate`: byte flips, saturated 32-bit fields, truncations),
 * decodes every mutation and prints one JSON line: cases, clean (a DataError naming the file in
 * one line, or a successful load), the unclean ones, and the process's peak resident memory
 * (VmHWM) in MiB.
 *
 * @module
 */
import { decodeTorchCheckpoint } from "../../src/io/torch/read.ts";
import { findStateDict } from "../../src/io/torch/state_dict.ts";
import { DataError } from "../../src/util/errors.ts";
import { FIXTURES, mutate } from "./hostile.ts";

const seed = Number(Deno.args[0] ?? 1);
const per = Number(Deno.args[1] ?? 100);
const t0 = performance.now();
let cases = 0;
let clean = 0;
let loaded = 0;
const failures: string[] = [];
for (const [label, path] of Object.entries(FIXTURES)) {
  const bytes = await Deno.readFile(path);
  for (let i = 0; i < per; i++) {
    const name = `${label}#${i}`;
    const input = mutate(bytes, seed, i);
    cases++;
    try {
      const ck = decodeTorchCheckpoint(input, name);
      try {
        findStateDict(ck.value, name);
      } catch (error) {
        if (!(error instanceof DataError)) throw error;
      }
      loaded++;
      clean++;
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (
        error instanceof DataError && message.startsWith(`${name}: `) && !message.includes("\n")
      ) {
        clean++;
      } else {
        failures.push(`${name}: ${(error as Error).name}: ${message.split("\n")[0].slice(0, 200)}`);
      }
    }
  }
}
const status = await Deno.readTextFile("/proc/self/status").catch(() => "");
const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
console.log(JSON.stringify({
  cases,
  clean,
  loaded,
  failures,
  peakRssMiB: hwm ? Number(hwm[1]) / 1024 : -1,
  seconds: (performance.now() - t0) / 1000,
}));
