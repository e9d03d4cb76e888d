import { join } from "node:path";
import {
  newRunId,
  parseCsvLine,
  type RunRecord,
  writeRunRecord,
  writeTorchOutput,
} from "../../src/io/results.ts";
import { readTorchCheckpoint } from "../../src/io/torch/read.ts";
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { PyFloat } from "../../src/io/pickle.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

function record(
  runId: string,
  summary: RunRecord["summary"],
  args: Record<string, unknown>,
): RunRecord {
  return {
    script: "toy",
    runId,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    arguments: args,
    model: { name: "m,1", featureLayer: "backbone", contentKey: "k", files: [] },
    versions: { deno: "x" },
    adapter: "test",
    timings: { total: 1 },
    arrays: { curve: Float64Array.of(1, NaN, 3) },
    summary,
  };
}

Deno.test("writeRunRecord() writes JSON (NaN → null) and appends CSV rows, extending the header", async () => {
  const dir = await Deno.makeTempDir({ prefix: "results-" });
  try {
    const a = await writeRunRecord(dir, record("r1", { score: 0.5 }, { quote: 'say "hi", ok' }));
    const json = JSON.parse(await Deno.readTextFile(a.json));
    assertArrayEqual(
      json.arrays.curve.map((v: number | null) => v ?? -1),
      [1, -1, 3],
      "NaN as null",
    );
    await writeRunRecord(dir, record("r2", { score: NaN, extra: "x" }, { n: 2 }));
    const lines = (await Deno.readTextFile(a.csv)).trim().split("\n").map(parseCsvLine);
    assertArrayEqual(
      lines[0].map((h) => h.length),
      ["run_id", "finished_at", "model", "score", "extra", "arguments"].map((h) => h.length),
      "header",
    );
    assert(lines[0].join() === "run_id,finished_at,model,score,extra,arguments", lines[0].join());
    assert(
      lines[1][0] === "r1" && lines[1][2] === "m,1" && lines[1][3] === "0.5" && lines[1][4] === "",
      "row 1 padded",
    );
    assert(JSON.parse(lines[1][5]).quote === 'say "hi", ok', "quoted JSON survives");
    assert(lines[2][3] === "" && lines[2][4] === "x", "NaN cell empty; new column filled");
    assert(lines.length === 3, "two rows");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeTorchOutput() writes a float32 [k] tensor or a Python float torch can load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pth-" });
  const rng = testRng("pth out");
  try {
    const values = Array.from({ length: 5 }, () => rng.normal());
    await writeTorchOutput(join(dir, "a.pth"), values);
    const t = await readTorchCheckpoint(join(dir, "a.pth"));
    assert(t instanceof TorchTensor && t.dtype === "float32" && t.shape.join() === "5", "tensor");
    assertArrayEqual(t.data as Float32Array, Float32Array.from(values), "values");
    await writeTorchOutput(join(dir, "b.pth"), 0.75);
    await writeTorchOutput(join(dir, "c.pth"), 1);
    const b = await readTorchCheckpoint(join(dir, "b.pth"));
    const c = await readTorchCheckpoint(join(dir, "c.pth"));
    assert(b === 0.75, `float ${b}`);
    assert(c instanceof PyFloat && c.value === 1, "an integral score stays a float");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("newRunId() sorts by time", () => {
  const a = newRunId(new Date("2026-01-01T00:00:00.001Z"));
  const b = newRunId(new Date("2026-01-01T00:00:00.010Z"));
  assert(a < b && /^20260101T000000\.001Z-[0-9a-f]{6}$/.test(a), `${a} ${b}`);
});
