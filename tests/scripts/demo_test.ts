import { checkReportInBrowser, findChromium } from "../../src/report/browser_check.ts";
import { SYNTHETIC_FAMILIES } from "../../src/transforms/synthetic_grid.ts";
import { LATENT_NAMES } from "../../src/data/world_render.ts";
import { assert } from "../util/assert.ts";
import { runCommand } from "../util/command.ts";

const CHROMIUM = (() => {
  const c = findChromium();
  if (!c && Deno.env.get("SSL_REQUIRE_CHROMIUM") === "1") {
    throw new Error("SSL_REQUIRE_CHROMIUM=1 but no chromium: apt-get install chromium");
  }
  return c;
})();

const ROOT = new URL("../../", import.meta.url).pathname;
/** Kept under results/ (git-ignored) so CI leaves the report and its screenshot behind. */
const OUT = `${ROOT}results/demo/ci-quick`;

Deno.test({
  name:
    "deno task demo --quick evaluates the built-in checkpoints end to end and its report renders every bar",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await Deno.remove(`${OUT}/report.html`).catch(() => {});
    await Deno.remove(`${OUT}/results.json`).catch(() => {});
    const run = await runCommand(
      Deno.execPath(),
      ["run", "-A", `${ROOT}scripts/demo.ts`, "--quick", "--no-browser", "--out", OUT],
      { cwd: ROOT },
    );
    const { stdout, stderr } = run;
    assert(run.success, `demo failed (${run.code}):\n${stdout}\n${stderr.slice(-3000)}`);
    const results = JSON.parse(await Deno.readTextFile(`${OUT}/results.json`));
    const labels = results.models.map((m: { label: string }) => m.label);
    assert(
      JSON.stringify(labels) === '["default","ventral","dorsal","default+ventral+dorsal"]',
      `models: ${labels}`,
    );
    for (const m of results.models) {
      assert(
        JSON.stringify(Object.keys(m.synthetic)) === JSON.stringify(SYNTHETIC_FAMILIES),
        `${m.label}: all 18 transforms`,
      );
      for (const [t, v] of Object.entries(m.synthetic) as [string, { similarity: number }][]) {
        assert(
          v.similarity > -1.0001 && v.similarity <= 1.0001,
          `${m.label} ${t}: ${v.similarity}`,
        );
      }
      // Identity views are in every flag transform's mean (docs/synthetic.md#outputs): (1 + s) / 2 ≥ 0.
      assert(
        m.synthetic.h_flip.similarity >= 0 - 1e-9,
        `${m.label} h_flip ${m.synthetic.h_flip.similarity}`,
      );
      assert(Object.keys(m.extrinsic).length === LATENT_NAMES.length, `${m.label}: 10 latents`);
      assert(Object.keys(m.realworld).length === 3, `${m.label}: 3 group sets`);
      assert(Number.isFinite(m.downstream["object class"].score), `${m.label}: class score`);
    }
    const fused = results.models[3];
    assert(fused.dim === 3 * results.models[0].dim, `cat fusion dim ${fused.dim}`);
    const md = await Deno.readTextFile(`${OUT}/report.md`);
    assert(md.includes("## Findings") && md.includes("Spatial transforms (8 families)"), md);
    const csv = (await Deno.readTextFile(`${OUT}/results.csv`)).trim().split("\n");
    assert(csv[0] === "model,section,item,metric,value", csv[0]);
    assert(csv.length - 1 === 4 * (18 * 2 + 3 * 2 + 10 + 2), `csv rows ${csv.length - 1}`);

    if (!CHROMIUM) return;
    const check = await checkReportInBrowser(CHROMIUM, `${OUT}/report.html`, `${OUT}/report.png`);
    assert(check.errors.length === 0, `report errors: ${check.errors.join(" | ")}`);
    assert(check.rendered === 5 && check.expectedCharts === 5, `charts ${check.rendered}`);
    const synthetic = check.charts.find((c) => c.id === "chart-synthetic-similarity");
    assert(synthetic?.bars === 4 * 18, `synthetic bars: ${JSON.stringify(check.charts)}`);
    for (const c of check.charts) assert(c.bars === c.expected, `${c.id}: ${c.bars}/${c.expected}`);
    const png = await Deno.readFile(check.screenshot!);
    assert(png.length > 10_000 && png[1] === 0x50, "screenshot saved");
  },
});
