import { checkReportInBrowser, findChromium } from "../../src/report/browser_check.ts";
import { SYNTHETIC_FAMILIES } from "../../src/transforms/synthetic_grid.ts";
import { LATENT_NAMES } from "../../src/world/world_render.ts";
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

/**
 * The models folder of the run: copies of the three built-in checkpoints, the supervised
 * checkpoint (the real one when `models/world_supervised.pth.tar` exists, else a stand-in copy of
 * a MoCo checkpoint, so the baseline is exercised by name either way) and a training log for
 * `world_default` (the committed one when there is one, else a made-up two-epoch log).
 */
async function modelsFolder(): Promise<string> {
  const dir = `${OUT}/models`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  for (const p of ["default", "ventral", "dorsal"]) {
    await Deno.copyFile(`${ROOT}models/world_${p}.pth.tar`, `${dir}/world_${p}.pth.tar`);
  }
  const supervised = `${ROOT}models/world_supervised.pth.tar`;
  const haveSupervised = await Deno.stat(supervised).then(() => true, () => false);
  await Deno.copyFile(
    haveSupervised ? supervised : `${ROOT}models/world_default.pth.tar`,
    `${dir}/world_supervised.pth.tar`,
  );
  const log = `${ROOT}models/logs/world_default.csv`;
  if (await Deno.stat(log).then(() => true, () => false)) {
    await Deno.copyFile(log, `${dir}/logs/world_default.csv`);
  } else {
    await Deno.writeTextFile(
      `${dir}/logs/world_default.csv`,
      "kind,epoch,step,global_step,loss,acc1\nepoch,0,10,10,6.5,3\nepoch,1,10,20,6.1,9\n",
    );
  }
  return dir;
}

Deno.test({
  name:
    "deno task demo --quick evaluates the built-in checkpoints and both baselines end to end, with error bars, and its report renders every bar and point",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await Deno.remove(`${OUT}/report.html`).catch(() => {});
    await Deno.remove(`${OUT}/results.json`).catch(() => {});
    await Deno.remove(`${OUT}/figures`, { recursive: true }).catch(() => {});
    const models = await modelsFolder();
    const run = await runCommand(
      Deno.execPath(),
      [
        "run",
        "-A",
        `${ROOT}scripts/demo.ts`,
        "--quick",
        "--no-browser",
        "--out",
        OUT,
        "--models-dir",
        models,
      ],
      { cwd: ROOT },
    );
    const { stdout, stderr } = run;
    assert(run.success, `demo failed (${run.code}):\n${stdout}\n${stderr.slice(-3000)}`);
    const results = JSON.parse(await Deno.readTextFile(`${OUT}/results.json`));
    const labels = results.models.map((m: { label: string }) => m.label);
    assert(
      JSON.stringify(labels) ===
        '["default","ventral","dorsal","default+ventral+dorsal","random-init","supervised"]',
      `models: ${labels}`,
    );
    const refs = results.models.filter((m: { reference?: boolean }) => m.reference);
    assert(refs.length === 2 && refs[0].label === "random-init", "baselines are references");
    // The random-init network was written by the registry, seeded, with the demo's architecture.
    assert(
      await Deno.stat(`${models}/random_resnet18_w16.pth.tar`).then(() => true, () => false),
      "random-init checkpoint",
    );
    assert(refs[0].dim === results.models[0].dim, `random-init dim ${refs[0].dim}`);
    const { numImages, objects, folds } = results.sizes;
    for (const m of results.models) {
      assert(
        JSON.stringify(Object.keys(m.synthetic)) === JSON.stringify(SYNTHETIC_FAMILIES),
        `${m.label}: all 18 transforms`,
      );
      for (const [t, v] of Object.entries(m.synthetic) as [string, SyntheticEntry][]) {
        assert(
          v.similarity > -1.0001 && v.similarity <= 1.0001,
          `${m.label} ${t}: ${v.similarity}`,
        );
        // Per-image values: one per sampled image, their mean the summary number.
        assert(v.perImage.similarity.length === numImages, `${m.label} ${t}: per-image values`);
        const mean = v.perImage.similarity.reduce((a, b) => a + b, 0) / numImages;
        assert(Math.abs(mean - v.similarity) < 1e-5, `${m.label} ${t}: ${mean} vs ${v.similarity}`);
      }
      // Identity views are in every flag transform's mean (docs/synthetic.md#sampling): (1 + s) / 2 ≥ 0.
      assert(
        m.synthetic.h_flip.similarity >= 0 - 1e-9,
        `${m.label} h_flip ${m.synthetic.h_flip.similarity}`,
      );
      assert(Object.keys(m.extrinsic).length === LATENT_NAMES.length, `${m.label}: 10 latents`);
      assert(Object.keys(m.realworld).length === 3, `${m.label}: 3 group sets`);
      type Groups = { groups: number; perGroup: { similarity: number[] } };
      for (const v of Object.values(m.realworld) as Groups[]) {
        assert(v.groups >= objects, `${m.label}: at least one group per object`);
        assert(v.perGroup.similarity.length === v.groups, `${m.label}: per-group values`);
      }
      for (const v of Object.values(m.downstream) as { score: number; folds: number[] }[]) {
        assert(Number.isFinite(v.score) && v.folds.length === folds, `${m.label}: fold scores`);
      }
    }
    const fused = results.models[3];
    assert(fused.dim === 3 * results.models[0].dim, `cat fusion dim ${fused.dim}`);
    const md = await Deno.readTextFile(`${OUT}/report.md`);
    assert(md.includes("## Findings") && md.includes("Spatial transforms (8 families)"), md);
    assert(md.includes("against random-init and supervised"), "findings against the baselines");
    assert(md.includes("| *random-init* (reference) |"), "reference rows in the tables");
    const figures = [
      "synthetic-similarity",
      "synthetic-distance",
      "realworld-similarity",
      "extrinsic-r2",
      "downstream",
      "curves-similarity",
      "curves-distance",
      "training-curves",
    ];
    for (const f of figures) {
      assert(md.includes(`(figures/${f}.svg)`), `report.md links ${f}`);
      const svg = await Deno.readTextFile(`${OUT}/figures/${f}.svg`);
      assert(svg.startsWith("<svg"), `${f}.svg written`);
    }
    const csv = (await Deno.readTextFile(`${OUT}/results.csv`)).trim().split("\n");
    assert(csv[0] === "model,section,item,metric,value,err_low,err_high,err_kind", csv[0]);
    assert(csv.length - 1 === 6 * (18 * 2 + 3 * 2 + 10 + 2), `csv rows ${csv.length - 1}`);
    assert(csv.some((r) => r.endsWith(",bootstrap95-images")), "bootstrap intervals in the CSV");

    if (!CHROMIUM) return;
    const check = await checkReportInBrowser(CHROMIUM, `${OUT}/report.html`, `${OUT}/report.png`);
    assert(check.errors.length === 0, `report errors: ${check.errors.join(" | ")}`);
    assert(check.rendered === 8 && check.expectedCharts === 8, `plots ${check.rendered}`);
    const synthetic = check.charts.find((c) => c.id === "chart-synthetic-similarity");
    assert(synthetic?.bars === 6 * 18, `synthetic bars: ${JSON.stringify(check.charts)}`);
    const curves = check.charts.find((c) => c.id === "chart-curves-similarity");
    assert(
      curves !== undefined && curves.points > 6 * 18,
      `curve points ${JSON.stringify(curves)}`,
    );
    for (const c of check.charts) {
      assert(c.bars === c.expected, `${c.id}: ${c.bars}/${c.expected} bars`);
      assert(c.points === c.expectedPoints, `${c.id}: ${c.points}/${c.expectedPoints} points`);
    }
    const png = await Deno.readFile(check.screenshot!);
    assert(png.length > 10_000 && png[1] === 0x50, "screenshot saved");
  },
});

type SyntheticEntry = { similarity: number; perImage: { similarity: number[] } };
