/**
 * Fault suite: concurrent writers. N processes append run records to one results folder at once
 * (a sweep's `--jobs`, several scripts started by hand); every row must be in `runs.csv`, once,
 * with the header holding every summary key, and a writer killed with SIGKILL while holding the
 * lock must not block the next one.
 *
 * @module
 */
import { join } from "node:path";
import { parseCsvLine } from "../../src/io/results.ts";
import { assert } from "../util/assert.ts";
import { Tally } from "./harness.ts";

const WRITER = new URL("./write_records.ts", import.meta.url).pathname;

function writer(dir: string, id: number, count: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", WRITER, dir, String(id), String(count)],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function rows(dir: string): Promise<{ header: string[]; ids: string[]; table: string[][] }> {
  const text = await Deno.readTextFile(join(dir, "faults", "runs.csv"));
  const lines = text.split("\n").filter((l) => l !== "");
  const header = parseCsvLine(lines[0]);
  const table = lines.slice(1).map(parseCsvLine);
  return { header, ids: table.map((r) => r[0]), table };
}

Deno.test("faults: 6 writer processes × 6 records into one results folder lose no row", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faults-csv-" });
  const tally = new Tally("concurrent writers");
  try {
    const n = 6, per = 6;
    const children = Array.from({ length: n }, (_, w) => writer(dir, w, per));
    const codes = await Promise.all(children.map(async (c) => {
      const o = await c.output();
      return o.success ? "" : new TextDecoder().decode(o.stderr);
    }));
    for (const [w, err] of codes.entries()) tally.add(`writer ${w} exit`, err || undefined);
    const { header, ids, table } = await rows(dir);
    const jsons = [...Deno.readDirSync(join(dir, "faults"))].filter((e) =>
      e.name.endsWith(".json")
    );
    tally.add("every row present", ids.length === n * per ? undefined : `${ids.length} rows`);
    tally.add("no row twice", new Set(ids).size === ids.length ? undefined : "duplicates");
    tally.add("a JSON per row", jsons.length === n * per ? undefined : `${jsons.length} JSON`);
    const keys = Array.from({ length: n }, (_, w) => `only_w${w}`);
    tally.add(
      "header has every key",
      keys.every((k) => header.includes(k)) ? undefined : header.join(","),
    );
    tally.add(
      "rows as wide as the header",
      table.every((r) => r.length === header.length) ? undefined : "ragged rows",
    );
    const temps = [...Deno.readDirSync(join(dir, "faults"))].filter((e) => e.name.endsWith(".tmp"));
    tally.add(
      "no temp files left",
      temps.length === 0 ? undefined : temps.map((t) => t.name).join(),
    );

    // A writer killed while writing never blocks the next (the kernel drops its lock).
    const victim = writer(dir, 99, 100000);
    await new Promise((r) => setTimeout(r, 1000));
    victim.kill("SIGKILL");
    await victim.status;
    const t0 = performance.now();
    const after = writer(dir, 100, 2);
    const o = await after.output();
    tally.add("writer after a SIGKILL", o.success ? undefined : new TextDecoder().decode(o.stderr));
    tally.add(
      "no wait for the dead writer's lock",
      performance.now() - t0 < 30000 ? undefined : "took > 30 s",
    );
    const final = await rows(dir);
    tally.add(
      "rows before the kill kept, the new ones added",
      final.ids.filter((id) => /-w\d-\d+$/.test(id)).length === n * per &&
        final.ids.filter((id) => id.includes("-w100-")).length === 2
        ? undefined
        : `${final.ids.length} rows`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert(tally.cases > 0, "cases ran");
  await tally.finish();
});
