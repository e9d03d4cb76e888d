/**
 * A writer process for the concurrent-results fault test:
 * `deno run -A tests/faults/write_records.ts <results-dir> <writer> <count>` writes `count` run
 * records (script `faults`) as fast as it can, each with a summary key of its own writer so the
 * CSV header grows while others append.
 *
 * @module
 */
import { newRunId, writeRunRecord } from "../../src/io/results.ts";

const [dir, writer, count] = [Deno.args[0], Deno.args[1], Number(Deno.args[2])];
for (let i = 0; i < count; i++) {
  await writeRunRecord(dir, {
    script: "faults",
    runId: `${newRunId()}-w${writer}-${i}`,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    arguments: { writer, i },
    model: { name: `m${writer}`, featureLayer: "backbone", contentKey: "k", files: [] },
    versions: {},
    adapter: "none",
    timings: {},
    arrays: {},
    summary: { score: i, [`only_w${writer}`]: writer },
  });
}
