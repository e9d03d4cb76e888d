import { checkReportInBrowser, findChromium } from "../../src/report/browser_check.ts";
import { renderReportHtml, type Report, reportFigures } from "../../src/report/html.ts";
import { renderReportMarkdown } from "../../src/report/markdown.ts";
import { barChartSvg, lineChartSvg, yAxis } from "../../src/report/svg.ts";
import { averageByMagnitude, viewMagnitudes } from "../../src/report/curves.ts";
import { parseTrainingLog, trainingCurvesChart } from "../../src/report/training_curves.ts";
import { writeReport } from "../../src/report/write.ts";
import { syntheticGrid } from "../../src/transforms/synthetic_grid.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

const CHROMIUM = (() => {
  const c = findChromium();
  if (!c && Deno.env.get("SSL_REQUIRE_CHROMIUM") === "1") {
    throw new Error("SSL_REQUIRE_CHROMIUM=1 but no chromium: apt-get install chromium");
  }
  return c;
})();

function count(svg: string, what: RegExp): number {
  return [...svg.matchAll(what)].length;
}

function randomReport(name: string): Report {
  const rng = testRng(name);
  const models = ["default", "ventral", "dorsal", "default+ventral+dorsal", "random-init"];
  const transforms = ["rotation", "h_flip", "hue", "blur", "posterize"];
  const values = models.map(() => transforms.map(() => rng.uniform() * 2 - 1));
  return {
    title: "test <report> & co",
    subtitle: ["adapter: test"],
    charts: [
      {
        id: "syn",
        title: "Synthetic invariance",
        metric: "similarity",
        groups: transforms,
        series: models,
        values,
        errors: values.map((row) => row.map((v) => [v - 0.1, v + 0.1] as [number, number])),
        errorNote: "95 % bootstrap",
        references: ["random-init"],
      },
      {
        id: "down",
        title: "Downstream </script> tasks",
        metric: "R²",
        groups: ["class", "keypoints"],
        series: models,
        values: models.map((_, i) => [i === 0 ? NaN : rng.uniform(), rng.uniform() * 1e5]),
        scale: "log",
      },
    ],
    curves: [{
      id: "curves",
      title: "Curves",
      metric: "similarity",
      series: models,
      references: ["random-init"],
      // Rotation: 4 series with data × 3 points − one NaN = 11; blur: 5 × 2 = 10; 21 in all.
      panels: [{
        title: "rotation",
        xLabel: "angle",
        lines: models.map((_, i) =>
          i === 4 ? null : { x: [0, 90, 180], y: [1, i === 0 ? NaN : rng.uniform(), rng.uniform()] }
        ),
      }, {
        title: "blur",
        xLabel: "σ",
        lines: models.map(() => ({ x: [0, 1], y: [1, rng.uniform()] })),
      }],
    }],
    notes: ["a note"],
  };
}

Deno.test("the report's plots are static SVG: every finite value is one bar or point", () => {
  const report = randomReport("static");
  const figures = reportFigures(report);
  assert(figures.length === 3, `figures ${figures.length}`);
  // 5 models × 5 transforms, all finite; 5 × 2 minus one NaN; 11 + 10 points (see above).
  assert(figures[0].bars === 25 && count(figures[0].svg, /class="bar"/g) === 25, "syn bars");
  assert(count(figures[0].svg, /class="whisker"/g) === 25, "one error bar per bar");
  assert(figures[1].bars === 9, `down bars ${figures[1].bars}`);
  assert(
    figures[2].points === 21 && count(figures[2].svg, /class="point"/g) === 21,
    "points",
  );
  for (const f of figures) {
    assert(f.svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), "standalone SVG file");
    assert(f.file === `figures/${f.id}.svg`, f.file);
  }
  assert(figures[0].svg.includes("random-init (reference)"), "references marked in the legend");

  const html = renderReportHtml(report);
  assert(html.includes("test &lt;report&gt; &amp; co"), "title escaped");
  assert(!html.includes("Downstream </script>"), "no raw </script> from data");
  assert(
    html.includes('data-expected-bars="25"') && html.includes('data-expected-bars="9"'),
    "bars",
  );
  assert(html.includes('data-expected-points="21"'), "points expected");
  assert(count(html, /<svg /g) === 3, "every plot inlined");
  const md = renderReportMarkdown(report);
  assert(md.includes("![Curves](figures/curves.svg)") && md.includes("## Notes"), md);
  let threw = false;
  try {
    renderReportHtml({
      title: "x",
      subtitle: [],
      charts: [{ id: "a", title: "a", metric: "m", groups: ["g"], series: ["s"], values: [] }],
    });
  } catch {
    threw = true;
  }
  assert(threw, "a values matrix of the wrong shape is rejected");
});

Deno.test("yAxis(): linear from zero, log over whole decades", () => {
  const lin = yAxis([0.5, 2], false, true);
  assert(lin.base === 0 && lin.frac(0) === 0 && lin.frac(2) === 1 && lin.frac(1) === 0.5, "linear");
  const log = yAxis([0.3, 250], true, true);
  // Decades 0.1 … 1000: 4 decades, 10 sits at (1 − (−1)) / 4 of the height.
  assert(JSON.stringify(log.ticks) === "[0.1,1,10,100,1000]", `${log.ticks}`);
  assert(Math.abs(log.frac(10) - 0.5) < 1e-12 && log.base === 0.1 && log.frac(-1) === 0, "log");
  const svg = barChartSvg({
    id: "l",
    title: "l",
    metric: "m",
    groups: ["a"],
    series: ["x", "y"],
    values: [[0.3], [250]],
    scale: "log",
  }).svg;
  assert(svg.includes(">1000.00</text>") || svg.includes(">1.0e+3</text>"), "decade ticks");
});

Deno.test("curves: view magnitudes per family, equal magnitudes averaged", () => {
  const rng = testRng("magnitudes");
  const rot = viewMagnitudes("rotation", syntheticGrid("rotation", 4));
  assert(rot.label === "angle (°)" && JSON.stringify(rot.x) === "[0,90,180,270]", `${rot.x}`);
  const tr = viewMagnitudes(
    "translation",
    syntheticGrid("translation", 4, { resize: 73, cropSize: 64 }),
  );
  // A 2 × 2 grid of shifts (±a, ±a) − the first factor −a, then 0: lengths a√2, a, a, 0.
  assert(tr.x.length === 4 && tr.x[3] === 0 && Math.abs(tr.x[1] - tr.x[2]) < 1e-12, `${tr.x}`);
  const flags = viewMagnitudes("h_flip", syntheticGrid("h_flip", 2));
  assert(JSON.stringify(flags.x) === "[0,1]", "flags");
  const y = [rng.uniform(), rng.uniform(), rng.uniform(), NaN];
  const avg = averageByMagnitude([2, 1, 2, 1], y);
  assert(JSON.stringify(avg.x) === "[1,2]", `${avg.x}`);
  assert(avg.y[0] === y[1] && Math.abs(avg.y[1]! - (y[0] + y[2]) / 2) < 1e-15, "NaN skipped");
});

Deno.test("training logs: epoch rows, averaged steps, missing columns, and the chart", () => {
  const pretrain = "kind,epoch,step,global_step,loss,acc1,acc5,lr\n" +
    "step,0,5,5,6.9,1,5,0.06\nepoch,0,10,10,6.5,2.5,9,0.06\n" +
    "step,1,5,15,6.1,4,12,0.05\nepoch,1,10,20,6.0,5,15,0.05\ntorn,line";
  const p = parseTrainingLog(pretrain)!;
  assert(
    JSON.stringify(p) === '[{"epoch":0,"loss":6.5,"acc1":2.5},{"epoch":1,"loss":6,"acc1":5}]',
    JSON.stringify(p),
  );
  // No kind column and two rows per epoch: averaged. Supervised names are accepted.
  const sup = parseTrainingLog("epoch,train_loss,train_acc1\n1,2,30\n1,1,50\n2,0.5,80\n")!;
  assert(
    JSON.stringify(sup) === '[{"epoch":1,"loss":1.5,"acc1":40},{"epoch":2,"loss":0.5,"acc1":80}]',
    JSON.stringify(sup),
  );
  assert(parseTrainingLog("step,loss\n1,2\n") === undefined, "no epoch column");
  assert(parseTrainingLog("") === undefined, "empty");
  const chart = trainingCurvesChart([{ label: "default", epochs: p }, {
    label: "supervised",
    epochs: sup,
  }], [
    "supervised",
  ])!;
  assert(chart.panels.length === 2 && chart.references![0] === "supervised", "two panels");
  assert(lineChartSvg(chart).points === 8, "2 panels × (2 + 2) points");
  assert(trainingCurvesChart([]) === undefined, "no logs, no chart");
});

Deno.test({
  name: "the report renders every bar and point in headless Chromium with no console errors",
  ignore: !CHROMIUM,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const written = await writeReport(dir, randomReport("browser"));
      assert(written.figures.length === 3, "figures written");
      const svg = await Deno.readTextFile(`${dir}/figures/syn.svg`);
      assert(count(svg, /class="bar"/g) === 25, "the SVG file holds the same bars");
      const check = await checkReportInBrowser(CHROMIUM!, written.html, `${dir}/shot.png`);
      assert(check.errors.length === 0, `errors: ${check.errors.join(" | ")}`);
      assert(check.rendered === 3 && check.expectedCharts === 3, `rendered ${check.rendered}`);
      assert(check.charts.length === 3, `charts ${JSON.stringify(check.charts)}`);
      assert(
        check.charts[0].bars === 25 && check.charts[0].expected === 25,
        JSON.stringify(check.charts),
      );
      assert(check.charts[1].bars === 9, JSON.stringify(check.charts));
      assert(
        check.charts[2].points === 21 && check.charts[2].expectedPoints === 21,
        JSON.stringify(check.charts),
      );
      const png = await Deno.readFile(check.screenshot!);
      assert(
        png[1] === 0x50 && png[2] === 0x4e && png[3] === 0x47 && png.length > 5000,
        "a PNG screenshot",
      );

      // A broken page is caught: a script error is reported, and a bar that is not laid out
      // (zero width) is not counted.
      const html = await Deno.readTextFile(written.html);
      const broken = html.replace("<script>", "<script>null.x;</script><script>")
        .replace(/(<rect class="bar" x="[^"]*" y="[^"]*" width=")[^"]*"/, '$10"');
      await Deno.writeTextFile(`${dir}/broken.html`, broken);
      const bad = await checkReportInBrowser(CHROMIUM!, `${dir}/broken.html`);
      assert(bad.errors.length > 0, `broken page: ${JSON.stringify(bad)}`);
      assert(
        bad.charts[0].bars === 24 && bad.charts[0].expected === 25,
        JSON.stringify(bad.charts),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
