import { fidelityTables, readFidelityRecord } from "../../src/demo/fidelity.ts";
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
    loss.columns.join() === "epoch,ours seed 0,ours seed 1,pytorch seed 0,ours mean,pytorch mean",
    loss.columns.join(),
  );
  // Epoch 0: means 6.5 (ours) and 6.5 (pytorch); epoch 1: pytorch has no value.
  assert(JSON.stringify(loss.rows[0]) === "[0,6,7,6.5,6.5,6.5]", JSON.stringify(loss.rows[0]));
  assert(JSON.stringify(loss.rows[1]) === "[1,5,4,null,4.5,null]", JSON.stringify(loss.rows[1]));
  assert(JSON.stringify(acc.rows[1]) === "[1,20,40,null,30,null]", JSON.stringify(acc.rows[1]));
  // Probe means 0.6 and 0.55: difference 0.050.
  assert(/\(ours − pytorch\): 0\.050\./.test(probe.caption), probe.caption);
  assert(probe.rows.at(-2)![1] === 0.6 && probe.rows.at(-1)![1] === 0.55, "probe means");
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
