/**
 * `deno task demo`: the main job on the built-in synthetic world, with no dataset and no
 * download. It renders the world (cached on disk), loads the three built-in MoCo v2 checkpoints
 * (`models/world_{default,ventral,dorsal}.pth.tar`, made by this project's own pretraining;
 * `--retrain` makes them again), measures synthetic and real-world-style invariance, latent
 * regression and downstream transfer for each model and for their concatenation, and writes
 * `results/demo/{results.json, results.csv, report.html}` (plus a screenshot when Chromium is
 * installed).
 *
 * @module
 */
import { RENDERER_VERSION } from "../src/world/world_render.ts";
import { writeFileAtomic, writeJsonAtomic } from "../src/io/atomic.ts";
import { DEMO_BASELINES, DEMO_SIZES, demoModels, PRETRAIN } from "../src/demo/config.ts";
import { missingCheckpoints, retrainDemoCheckpoints } from "../src/demo/checkpoints.ts";
import {
  DEMO_PARTS,
  type DemoModelResult,
  evaluateDemoModel,
  loadDemoData,
} from "../src/demo/evaluate.ts";
import { APPEARANCE_FAMILIES, SPATIAL_FAMILIES } from "../src/report/findings.ts";
import { formatDuration, Progress } from "../src/util/progress.ts";
import { demoCsv, demoReport } from "../src/demo/report.ts";
import { prepareDemoWorld } from "../src/demo/world_data.ts";
import { openGpu } from "../src/gpu/device.ts";
import { loadModel, modelPath } from "../src/models/registry.ts";
import { checkReportInBrowser, findChromium } from "../src/report/browser_check.ts";
import { writeReport } from "../src/report/write.ts";
import { parseCli } from "../src/util/cli.ts";
import { runMain } from "../src/util/main.ts";

const SPEC = {
  name: "deno task demo",
  summary: "Pretrained MoCo v2 policies (default / ventral / dorsal) on the built-in synthetic " +
    "world: invariance (18 synthetic transforms, 3 real-world-style groups) and transfer " +
    "(10 latents, object class, keypoints), beside a random-init and a supervised baseline, " +
    "with an HTML report.",
  flags: {
    quick: {
      type: "boolean",
      default: false,
      help: "small sizes (a smoke run, used by the tests)",
    },
    retrain: {
      type: "boolean",
      default: false,
      help: "re-create models/world_*.pth.tar with deno task pretrain (about 70 min per model on " +
        "a 2-core CPU); an interrupted retrain continues from its last epoch",
    },
    out: { type: "string", default: "results/demo", help: "output folder" },
    "models-dir": { type: "string", default: "models", help: "where the built-in checkpoints are" },
    "no-browser": {
      type: "boolean",
      default: false,
      help: "skip checking the report in headless Chromium (done when Chromium is installed)",
    },
  },
} as const;

/** The short table the demo prints: one row per model, one column per headline number. */
function summaryTable(results: readonly DemoModelResult[]): string {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "n/a").padStart(9);
  const head = ["model".padEnd(24), "spatial", "appear.", "groups", "latents", "class", "keypts"]
    .map((h, i) => (i === 0 ? h : h.padStart(9))).join("");
  const rows = results.map((r) => {
    const sim = (fams: readonly string[]) =>
      mean(fams.filter((t) => r.synthetic[t]).map((t) => r.synthetic[t].similarity));
    return r.label.padEnd(24) + [
      sim(SPATIAL_FAMILIES),
      sim(APPEARANCE_FAMILIES),
      mean(Object.values(r.realworld).map((v) => v.similarity)),
      mean(Object.values(r.extrinsic).map((v) => v.r2)),
      r.downstream["object class"]?.score ?? NaN,
      r.downstream["keypoints"]?.score ?? NaN,
    ].map(f).join("");
  });
  return [
    "similarity (spatial / appearance transforms, real-world-style groups), mean latent R², " +
    "class accuracy, keypoint R²:",
    head,
    ...rows,
  ].join("\n");
}

await runMain("demo", async () => {
  const { flags } = parseCli(Deno.args, SPEC);
  const started = performance.now();
  const log = (line: string) => console.error(line);
  const sizes = flags.quick ? DEMO_SIZES.quick : DEMO_SIZES.full;
  const out = flags.out.replace(/\/+$/, "");
  await Deno.mkdir(out, { recursive: true });
  const gpu = await openGpu();
  console.log(`adapter: ${gpu.summary.description}`);
  try {
    const missing = await missingCheckpoints(flags["models-dir"]);
    if (flags.retrain || missing.length > 0) {
      if (!flags.retrain) log(`demo: missing ${missing.join(", ")}; retraining them`);
      await retrainDemoCheckpoints(
        gpu,
        `${out}/retrain`,
        flags["models-dir"],
        flags.retrain ? undefined : missing,
        log,
      );
    }
    const world = `${out}/${flags.quick ? "world-quick" : "world"}`;
    await prepareDemoWorld(gpu, world, sizes, log);
    const data = await loadDemoData(gpu, world, sizes);
    const results: DemoModelResult[] = [];
    const models: { label: string; name: string; reference?: boolean }[] = demoModels();
    const notes: string[] = [];
    const baselineLines: string[] = [];
    for (const b of DEMO_BASELINES) {
      const path = modelPath(b.name, flags["models-dir"]);
      if (b.optional && !(await Deno.stat(path).then((s) => s.isFile, () => false))) {
        log(`demo: no ${path}; the ${b.label} baseline is left out`);
        notes.push(`Baseline ${b.label} (${b.description}) not evaluated: ${path} not found.`);
        continue;
      }
      models.push({ label: b.label, name: b.name, reference: true });
      baselineLines.push(`${b.label}: ${b.description}`);
    }
    const progress = new Progress("demo", models.length * DEMO_PARTS.length, {
      unit: "parts",
      intervalMs: 0,
    });
    for (const { label, name, reference } of models) {
      // arch / seed describe plain state dicts (the random-init and supervised baselines); MoCo
      // checkpoints carry their own arch.
      const model = await loadModel(gpu, name, {
        ckptDir: flags["models-dir"],
        baseWidth: PRETRAIN.baseWidth,
        arch: PRETRAIN.arch,
        seed: 0,
      });
      try {
        const r = await evaluateDemoModel(gpu, model, label, data, out, sizes, log, progress);
        results.push(reference ? { ...r, reference: true } : r);
      } finally {
        model.release();
      }
    }
    const subtitle = [
      `adapter: ${gpu.summary.description}`,
      `models: narrow ResNet-18 (base width ${PRETRAIN.baseWidth}), ${PRETRAIN.imageSize}×${PRETRAIN.imageSize} inputs, ` +
      `${PRETRAIN.epochs} epochs of MoCo v2 on ${7 * PRETRAIN.world.perClass} world images ` +
      `(world version ${RENDERER_VERSION}; recipe and measurements: models/README.md)`,
      `synthetic: ${sizes.numImages} images × k = ${sizes.k} views; groups: ${sizes.objects} objects; ` +
      `${flags.quick ? "quick run" : "full run"}; generated ${new Date().toISOString()}`,
      ...(baselineLines.length > 0 ? [`reference models: ${baselineLines.join("; ")}`] : []),
    ];
    await writeJsonAtomic(`${out}/results.json`, {
      generatedAt: new Date().toISOString(),
      adapter: gpu.summary.description,
      quick: flags.quick,
      sizes,
      pretrain: PRETRAIN,
      modelsDir: flags["models-dir"],
      subtitle,
      notes,
      models: results,
    });
    await writeFileAtomic(`${out}/results.csv`, demoCsv(results));
    const report = await demoReport(results, subtitle, {
      modelsDir: flags["models-dir"],
      sizes,
      notes,
    });
    const written = await writeReport(out, report);
    console.log(summaryTable(results));
    for (const f of report.findings ?? []) console.log(`- ${f}`);
    for (const n of report.notes ?? []) console.log(`note: ${n}`);
    console.log(
      `wrote ${out}/results.json, results.csv, report.html, report.md and ` +
        `${written.figures.length} figures/*.svg`,
    );
    const chromium = flags["no-browser"] ? undefined : findChromium();
    if (chromium) {
      const check = await checkReportInBrowser(chromium, `${out}/report.html`, `${out}/report.png`);
      const sum = (f: (c: typeof check.charts[number]) => number) =>
        check.charts.reduce((a, c) => a + f(c), 0);
      console.log(
        `report check (headless Chromium): ${check.rendered}/${check.expectedCharts} plots, ` +
          `${sum((c) => c.bars)}/${sum((c) => c.expected)} bars, ` +
          `${sum((c) => c.points)}/${sum((c) => c.expectedPoints)} points, ` +
          `${check.errors.length} errors; screenshot ${check.screenshot}`,
      );
    }
    console.log(`demo done in ${formatDuration((performance.now() - started) / 1000)}`);
  } finally {
    gpu.destroy();
  }
});
