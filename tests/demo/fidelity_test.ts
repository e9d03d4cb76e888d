import { fidelityTables, rangeGap, readFidelityRecord } from "../../src/demo/fidelity.ts";
import { renderReportHtml } from "../../src/report/html.ts";
import { renderReportMarkdown } from "../../src/report/markdown.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertRejects } from "../util/assert.ts";

const RECORD = {
  recipe: "tiny recipe",
  probe: "a probe",
  runs: [
    {
      implementation: "ours",
      seed: 0,
      epochs: [{ loss: 6, acc1: 10 }, { loss: 5, acc1: 20 }],
      probe: 0.5,
    },
    {
      implementation: "ours",
      seed: 1,
      epochs: [{ loss: 7, acc1: 30 }, { loss: 4, acc1: 40 }],
      probe: 0.7,
    },
    { implementation: "pytorch", seed: 0, epochs: [{ loss: 6.5, acc1: 15 }], probe: 0.55 },
  ],
};

Deno.test("fidelityTables() lays out per-epoch columns, implementation means and the probe difference", () => {
  const [loss, acc, probe] = fidelityTables(RECORD);
  assert(
    loss.columns.join() ===
      "epoch,ours seed 0,ours seed 1,pytorch seed 0,ours mean,pytorch mean,gap between seed ranges",
    loss.columns.join(),
  );
  // Epoch 0: means 6.5 (ours) and 6.5 (pytorch), 6.5 inside [6, 7]; epoch 1: pytorch has no value.
  assert(JSON.stringify(loss.rows[0]) === "[0,6,7,6.5,6.5,6.5,0]", JSON.stringify(loss.rows[0]));
  assert(
    JSON.stringify(loss.rows[1]) === "[1,5,4,null,4.5,null,null]",
    JSON.stringify(loss.rows[1]),
  );
  assert(/overlap in 1 of 1 epochs\.$/.test(loss.caption), loss.caption);
  // acc@1 at epoch 0: ours [10, 30] holds pytorch's 15.
  assert(
    JSON.stringify(acc.rows[1]) === "[1,20,40,null,30,null,null]",
    JSON.stringify(acc.rows[1]),
  );
  // Probe means 0.6 and 0.55: difference 0.050.
  assert(/\(ours − pytorch\): 0\.050\./.test(probe.caption), probe.caption);
  assert(probe.rows.at(-2)![1] === 0.6 && probe.rows.at(-1)![1] === 0.55, "probe means");
});

Deno.test("rangeGap() is 0 for overlapping seed ranges and the distance between them otherwise", () => {
  assert(rangeGap([5.22, 5.31], [5.345, 5.401]) === 5.345 - 5.31, "ours below pytorch");
  assert(rangeGap([5.345, 5.401], [5.31, 5.22]) === 5.345 - 5.31, "either order");
  assert(rangeGap([5.3, 5.4], [5.4, 5.5]) === 0, "touching ends overlap");
  assert(rangeGap([5.1, 5.6], [5.3]) === 0, "one range inside the other");
  assert(rangeGap([], [5.3]) === null, "no run reached the epoch");
});

Deno.test("the loss table counts the epochs whose seed ranges part, and by how much", () => {
  const run = (implementation: string, seed: number, losses: number[]) => ({
    implementation,
    seed,
    epochs: losses.map((loss) => ({ loss, acc1: 0 })),
    probe: 0.5,
  });
  const [loss] = fidelityTables({
    recipe: "r",
    probe: "p",
    runs: [
      run("ours", 0, [6, 5.2, 5]),
      run("ours", 1, [6.2, 5.3, 5.1]),
      run("pytorch", 0, [6.1, 5.4, 5.05]),
      run("pytorch", 1, [6.3, 5.5, 5.2]),
    ],
  });
  assert(
    JSON.stringify(loss.rows.map((r) => Number((r.at(-1) as number).toFixed(6)))) ===
      "[0,0.1,0]",
    JSON.stringify(loss.rows),
  );
  assert(
    /overlap in 2 of 3 epochs; apart in epoch 1, by at most 0\.100\.$/.test(loss.caption),
    loss.caption,
  );
});

Deno.test("readFidelityRecord() reads a record, is undefined without one and refuses a malformed one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fidelity-" });
  try {
    assert((await readFidelityRecord(`${dir}/none.json`)) === undefined, "missing file");
    await Deno.writeTextFile(`${dir}/ok.json`, JSON.stringify(RECORD));
    const r = await readFidelityRecord(`${dir}/ok.json`);
    assert(r?.runs.length === 3 && r.recipe === "tiny recipe", "round trip");
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify({ recipe: "x", runs: [{}] }));
    const bad = await assertRejects(() => readFidelityRecord(`${dir}/bad.json`), /not a fidelity/);
    assert(bad instanceof DataError, "a DataError");
    await Deno.writeTextFile(`${dir}/text.json`, "{");
    await assertRejects(() => readFidelityRecord(`${dir}/text.json`), /not JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a report's appendix tables appear in its HTML and Markdown", () => {
  const report = { title: "t", subtitle: [], charts: [], appendix: fidelityTables(RECORD) };
  const html = renderReportHtml(report);
  const md = renderReportMarkdown(report);
  assert(/<h2>Appendix<\/h2>/.test(html) && /<td>6\.5<\/td>/.test(html), "html appendix");
  assert((html.match(/<table class="appendix">/g) ?? []).length === 3, "three html tables");
  assert(/## Appendix/.test(md) && /\| 0 \| 6 \| 7 \| 6\.5 \| 6\.5 \| 6\.5 \|/.test(md), md);
});
