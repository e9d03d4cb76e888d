import { findings, policyModel, type ReportData } from "../../src/report/findings.ts";
import { buildReport } from "../../src/report/build.ts";
import { isEmptyReport, reportDataFromRuns } from "../../src/report/from_results.ts";
import { renderReportMarkdown } from "../../src/report/markdown.ts";
import { assert } from "../util/assert.ts";

const MODELS = ["default", "ventral", "dorsal"];

Deno.test("findings() states from the numbers whether ventral/dorsal are the most invariant", () => {
  // Hand-made: ventral wins rotation and h_flip, dorsal wins hue; on grayscale default wins.
  const data: ReportData = {
    synthetic: {
      similarity: {
        models: MODELS,
        items: ["rotation", "h_flip", "hue", "grayscale"],
        values: [[0.2, 0.5, 0.1, 0.9], [0.6, 0.7, 0.2, 0.1], [0.1, 0.4, 0.5, 0.2]],
      },
    },
    downstream: {
      models: MODELS,
      items: ["cls", "kp"],
      values: [[0.5, 0.2], [0.7, null], [0.6, 0.3]],
      metrics: ["accuracy", "R²"],
    },
  };
  const f = findings(data);
  assert(f.length === 4, f.join("\n"));
  // Spatial: ventral (0.6+0.7)/2 = 0.65 > default 0.35 > dorsal 0.25; wins both.
  assert(
    f[0] === "Spatial transforms (2 families), mean similarity: ventral 0.650, default 0.350, " +
        "dorsal 0.250. ventral is the most invariant, as the paper's hypothesis predicts; " +
        "ventral beats every other single model on 2 of 2.",
    f[0],
  );
  // Appearance: default (0.1+0.9)/2 = 0.5 > dorsal 0.35 > ventral 0.15: the hypothesis fails.
  assert(
    f[1].includes("default 0.500, dorsal 0.350, ventral 0.150") &&
      f[1].includes("default is the most invariant, not dorsal: the hypothesis does not hold") &&
      f[1].endsWith("dorsal beats every other single model on 1 of 2."),
    f[1],
  );
  assert(
    f[2] === "Transfer to cls (accuracy): best ventral (0.700), then dorsal 0.600, default 0.500.",
    f[2],
  );
  // A missing score is left out of the ranking, not treated as zero.
  assert(f[3] === "Transfer to kp (R²): best dorsal (0.300), then default 0.200.", f[3]);
  assert(policyModel(["world_ventral", "x"], "ventral") === "world_ventral", "suffix match");

  const md = renderReportMarkdown(buildReport(data, "t", ["s"]));
  assert(md.includes("| ventral | 0.600 | 0.700 | 0.200 | 0.100 |"), md);
  assert(md.includes("| ventral | 0.700 | – |"), "a missing value is a dash");
});

Deno.test("reportDataFromRuns() builds tables from run records, the newest run per cell winning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = async (script: string, id: string, rec: Record<string, unknown>) => {
      await Deno.mkdir(`${dir}/${script}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${script}/${id}.json`, JSON.stringify(rec));
    };
    const syn = (model: string, transform: string, similarity: number, finishedAt: string) => ({
      model: { name: model },
      finishedAt,
      summary: { transform, similarity, distance: 10 * similarity },
    });
    await write("synthetic_invariance", "a", syn("ventral", "rotation", 0.1, "2026-01-01"));
    await write("synthetic_invariance", "b", syn("ventral", "rotation", 0.4, "2026-02-01"));
    await write("synthetic_invariance", "c", syn("dorsal", "hue", 0.3, "2026-01-01"));
    await write("synthetic_invariance", "d", { model: { name: "dorsal" }, summary: { n: 5 } });
    await write("downstream", "e", {
      model: { name: "ventral" },
      finishedAt: "x",
      summary: { dataset: "300w", score: 0.5, metric: "r2" },
    });
    const data = await reportDataFromRuns(dir);
    assert(!isEmptyReport(data), "not empty");
    const s = data.synthetic!.similarity;
    assert(JSON.stringify(s.models) === '["dorsal","ventral"]', `models ${s.models}`);
    assert(JSON.stringify(s.items) === '["rotation","hue"]', `items ${s.items}`);
    assert(JSON.stringify(s.values) === "[[null,0.3],[0.4,null]]", JSON.stringify(s.values));
    assert(data.synthetic!.distance!.values[1][0] === 4, "distance from the same newest run");
    assert(data.downstream!.metrics![0] === "r2" && data.realworld === undefined, "sections");
    assert(
      isEmptyReport(await reportDataFromRuns(`${dir}/nothing`)),
      "an empty folder reports nothing",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
