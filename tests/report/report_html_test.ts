import { checkReportInBrowser, findChromium } from "../../src/report/browser_check.ts";
import { renderReportHtml, type Report } from "../../src/report/html.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

const CHROMIUM = (() => {
  const c = findChromium();
  if (!c && Deno.env.get("SSL_REQUIRE_CHROMIUM") === "1") {
    throw new Error("SSL_REQUIRE_CHROMIUM=1 but no chromium: apt-get install chromium");
  }
  return c;
})();

function randomReport(name: string): Report {
  const rng = testRng(name);
  const models = ["default", "ventral", "dorsal", "default+ventral+dorsal"];
  const transforms = ["rotation", "h_flip", "hue", "blur", "posterize"];
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
        values: models.map(() => transforms.map(() => rng.uniform() * 2 - 1)),
      },
      {
        id: "down",
        title: "Downstream </script> tasks",
        metric: "R²",
        groups: ["class", "keypoints"],
        series: models,
        values: models.map((_, i) => [i === 0 ? NaN : rng.uniform(), rng.uniform() * 1e5]),
      },
    ],
  };
}

Deno.test("renderReportHtml() escapes text and embeds data that cannot close its script tag", () => {
  const html = renderReportHtml(randomReport("escape"));
  assert(html.includes("test &lt;report&gt; &amp; co"), "title escaped");
  assert(!html.includes("Downstream </script>"), "no raw </script> from data");
  assert(html.includes('data-expected-bars="20"'), "20 finite bars in the first chart");
  assert(html.includes('data-expected-bars="7"'), "NaN bars are not expected");
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

Deno.test({
  name: "the report renders every bar in headless Chromium with no console errors",
  ignore: !CHROMIUM,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/report.html`, renderReportHtml(randomReport("browser")));
      const check = await checkReportInBrowser(CHROMIUM!, `${dir}/report.html`, `${dir}/shot.png`);
      assert(check.errors.length === 0, `errors: ${check.errors.join(" | ")}`);
      assert(check.rendered === 2 && check.expectedCharts === 2, `rendered ${check.rendered}`);
      assert(check.charts.length === 2, `charts ${JSON.stringify(check.charts)}`);
      assert(
        check.charts[0].bars === 4 * 5 && check.charts[0].expected === 20,
        JSON.stringify(check.charts),
      );
      assert(check.charts[1].bars === 7, JSON.stringify(check.charts));
      const png = await Deno.readFile(check.screenshot!);
      assert(
        png[1] === 0x50 && png[2] === 0x4e && png[3] === 0x47 && png.length > 5000,
        "a PNG screenshot",
      );

      // A broken page is caught: a script error is reported.
      const broken = renderReportHtml(randomReport("broken")).replace(
        "var data = JSON.parse",
        "var data = JSON.parsee",
      );
      await Deno.writeTextFile(`${dir}/broken.html`, broken);
      const bad = await checkReportInBrowser(CHROMIUM!, `${dir}/broken.html`);
      assert(bad.errors.length > 0 && bad.rendered === 0, `broken page: ${JSON.stringify(bad)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
