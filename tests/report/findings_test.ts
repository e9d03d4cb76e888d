import {
  compareSentence,
  differenceSign,
  findings,
  policyModel,
  type ReportData,
  tableDifference,
  untrainedCaveat,
} from "../../src/report/findings.ts";
import { buildReport } from "../../src/report/build.ts";
import {
  isEmptyReport,
  referenceModels,
  reportDataFromRuns,
} from "../../src/report/from_results.ts";
import { renderReportMarkdown } from "../../src/report/markdown.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

Deno.test("compareSentence() states a difference only when its interval excludes zero", () => {
  // Made-up intervals just either side of the threshold.
  const claim = compareSentence(
    "default",
    "random-init",
    { estimate: 0.2, lo: 1e-4, hi: 0.4 },
    "beats",
  );
  assert(claim === "default beats random-init by 0.200 [1.0e-4, 0.400]", claim);
  const none = compareSentence(
    "default",
    "random-init",
    { estimate: 0.2, lo: -1e-4, hi: 0.4 },
    "beats",
  );
  assert(
    none === "no clear difference between default and random-init (+0.200 [-1.0e-4, 0.400])",
    none,
  );
  // A clearly negative difference is stated the other way round, with the interval flipped.
  const flipped = compareSentence(
    "dorsal",
    "supervised",
    { estimate: -0.3, lo: -0.5, hi: -1e-4 },
    "beats",
  );
  assert(flipped === "supervised beats dorsal by 0.300 [1.0e-4, 0.500]", flipped);
  const up = compareSentence("a", "b", { estimate: -0.3, lo: -0.5, hi: 1e-4 }, "beats");
  assert(up.startsWith("no clear difference between a and b (-0.300"), up);
  assert(differenceSign({ estimate: 0, lo: 1e-9, hi: 1 }) === 1, "sign +");
  assert(differenceSign({ estimate: 0, lo: -1, hi: -1e-9 }) === -1, "sign -");
  assert(differenceSign({ estimate: 0, lo: -1e-9, hi: 1e-9 }) === 0, "sign 0");
  assert(
    compareSentence("a", "b", { estimate: NaN, lo: NaN, hi: NaN }, "beats").startsWith(
      "no interval",
    ),
    "NaN",
  );
});

/** Per-image values of `images` images for one model: `base` plus `shift` plus `wiggle[i]`. */
function perImage(base: number[], shift: number, wiggle: (i: number) => number): number[] {
  return base.map((v, i) => v + shift + wiggle(i));
}

Deno.test("findings() compare models with paired bootstrap intervals, made-up numbers both sides of the threshold", () => {
  const rng = testRng("findings paired");
  const n = 16;
  const base = Array.from({ length: n }, () => rng.range(0.2, 0.6));
  const alt = (a: number) => (i: number) => (i % 2 === 0 ? a : -a);
  // Spatial (rotation, h_flip): ventral = default + 0.1 on every image (a clear difference,
  // interval [0.1, 0.1]); dorsal = default ± 0.05 alternating (mean difference 0: no clear
  // difference); random-init = default − 0.3 ± 0.01; supervised = default + 0.02 exactly.
  const families = ["rotation", "h_flip"];
  const models = ["default", "ventral", "dorsal", "random-init", "supervised"];
  const unitsFor = [
    () => perImage(base, 0, () => 0),
    () => perImage(base, 0.1, () => 0),
    () => perImage(base, 0, alt(0.05)),
    () => perImage(base, -0.3, alt(0.01)),
    () => perImage(base, 0.02, () => 0),
  ];
  const units = unitsFor.map((f) => families.map(() => f()));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const data: ReportData = {
    synthetic: {
      similarity: {
        models,
        items: families,
        values: units.map((row) => row.map(mean)),
        units,
        unit: "images",
      },
    },
    downstream: {
      models,
      items: ["cls"],
      // Test scores; the CV folds (5) decide the comparisons: default beats random-init on every
      // fold by 0.4 ± 0.01 (clear), dorsal vs random-init differs by ±0.02 alternating (not).
      values: [[0.7], [0.6], [0.3], [0.28], [0.95]],
      units: [
        [[0.71, 0.69, 0.72, 0.7, 0.68]],
        [[0.61, 0.6, 0.59, 0.62, 0.6]],
        [[0.32, 0.28, 0.32, 0.28, 0.3]],
        [[0.3, 0.3, 0.3, 0.3, 0.3]],
        [[0.95, 0.96, 0.94, 0.95, 0.95]],
      ],
      unit: "CV folds",
      spread: "sd",
      metrics: ["accuracy"],
    },
    references: ["random-init", "supervised"],
  };
  const syn = data.synthetic!.similarity;
  const dv = tableDifference(syn, "ventral", "default", families)!;
  assert(Math.abs(dv.lo - 0.1) < 1e-12 && Math.abs(dv.hi - 0.1) < 1e-12, JSON.stringify(dv));
  const dd = tableDifference(syn, "ventral", "dorsal", families)!;
  assert(dd.lo > 0, `ventral − dorsal = 0.1 ∓ 0.05: ${JSON.stringify(dd)}`);
  const d0 = tableDifference(syn, "dorsal", "default", families)!;
  assert(d0.lo < 0 && d0.hi > 0 && Math.abs(d0.estimate) < 1e-12, JSON.stringify(d0));

  const f = findings(data);
  const spatial = f.find((s) => s.startsWith("Spatial transforms (2 families)"))!;
  assert(spatial !== undefined, f.join("\n"));
  assert(spatial.includes("with 95 % bootstrap intervals over 16 images"), spatial);
  assert(spatial.includes("references random-init"), spatial);
  assert(
    spatial.includes("Ventral is more invariant than default by 0.100 [0.100, 0.100]") &&
      spatial.includes("ventral is more invariant than dorsal by 0.100") &&
      spatial.endsWith("as the paper's hypothesis predicts."),
    spatial,
  );
  // Against the references: random-init is clearly worse, supervised clearly better than default
  // (a constant 0.02 per image), and dorsal vs supervised is 0.02 ∓ 0.05: no clear difference.
  const refs = f.find((s) =>
    s.startsWith("Spatial similarity against random-init and supervised")
  )!;
  assert(refs !== undefined, f.join("\n"));
  assert(refs.includes("default is more invariant than random-init by 0.300 [0.29"), refs);
  assert(refs.includes("supervised is more invariant than default by 0.020 [0.020, 0.020]"), refs);
  assert(refs.includes("no clear difference between dorsal and supervised (-0.020"), refs);
  const cls = f.find((s) => s.startsWith("Transfer to cls (accuracy), CV score against"))!;
  assert(cls !== undefined, f.join("\n"));
  assert(cls.includes("paired 95 % bootstrap intervals over 5 CV folds"), cls);
  assert(cls.includes("default beats random-init by 0.400"), cls);
  assert(cls.includes("no clear difference between dorsal and random-init (+0.000"), cls);
  const best = f.find((s) => s.startsWith("Transfer to cls (accuracy), highest first"))!;
  assert(
    best.startsWith("Transfer to cls (accuracy), highest first: supervised 0.950, default 0.700") &&
      best.includes("Top two (paired over CV folds): default beats ventral by 0.096"),
    best,
  );

  // The hypothesis fails when another single model is clearly more invariant; unclear when no
  // interval excludes zero.
  const flipped: ReportData = {
    synthetic: {
      similarity: {
        ...syn,
        models: ["ventral", "default", "dorsal"],
        units: [units[0], units[1], units[2]],
      },
    },
  };
  const fails = findings(flipped)[0];
  assert(
    fails.includes(
      "The hypothesis does not hold in this run: default is more invariant than ventral by 0.100",
    ),
    fails,
  );
  const flat: ReportData = {
    synthetic: {
      similarity: { ...syn, models: ["ventral", "default"], units: [units[2], units[0]] },
    },
  };
  const unclear = findings(flat)[0];
  assert(
    unclear.includes("No clear difference between ventral and default") &&
      unclear.endsWith("this run shows no clear difference either way."),
    unclear,
  );

  // Without per-image values nothing is claimed.
  const bare = findings({ synthetic: { similarity: { ...syn, units: undefined } } })[0];
  assert(bare.includes("No per-image values were recorded, so no difference is claimed"), bare);
  assert(policyModel(["world_ventral", "x"], "ventral") === "world_ventral", "suffix match");

  const md = renderReportMarkdown(buildReport(data, "t", ["s"]));
  assert(md.includes("| *random-init* (reference) |"), "references are marked in the tables");
  assert(md.includes("![Synthetic invariance: similarity](figures/synthetic-similarity.svg)"), md);
  // The CV-fold spread is the test score ± one standard deviation of the folds.
  const sdDefault = Math.sqrt([0.01, -0.01, 0.02, 0, -0.02].reduce((a, d) => a + d * d, 0) / 4);
  assert(
    md.includes(
      `| default | 0.700 [${(0.7 - sdDefault).toFixed(3)}, ${(0.7 + sdDefault).toFixed(3)}] |`,
    ),
    md,
  );
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
    // Real-world records carry per-group values: they become the bootstrap units.
    for (
      const [id, model, groups] of [["f", "ventral", [0.5, 0.7, null]], ["g", "random_r18", [
        0.1,
        0.2,
        0.3,
      ]]] as const
    ) {
      await write("realworld_invariance", id, {
        model: { name: model },
        finishedAt: "2026-01-01",
        summary: { dataset: "COIL100", similarity: 0.4 },
        arrays: { similarity: groups },
      });
    }
    const data = await reportDataFromRuns(dir);
    assert(!isEmptyReport(data), "not empty");
    const s = data.synthetic!.similarity;
    assert(JSON.stringify(s.models) === '["dorsal","ventral"]', `models ${s.models}`);
    assert(JSON.stringify(s.items) === '["rotation","hue"]', `items ${s.items}`);
    assert(JSON.stringify(s.values) === "[[null,0.3],[0.4,null]]", JSON.stringify(s.values));
    assert(data.synthetic!.distance!.values[1][0] === 4, "distance from the same newest run");
    assert(s.units === undefined, "no per-image values recorded");
    assert(data.downstream!.metrics![0] === "r2", "metrics");
    const rw = data.realworld!;
    assert(rw.unit === "groups" && rw.units![1][0]!.length === 3, JSON.stringify(rw));
    assert(Number.isNaN(rw.units![1][0]![2]), "a null group value is NaN (skipped)");
    assert(JSON.stringify(data.references) === '["random_r18"]', `${data.references}`);
    assert(
      JSON.stringify(referenceModels(["a", "world_supervised", "random", "a+random"])) ===
        '["world_supervised","random"]',
      "reference names",
    );
    assert(
      isEmptyReport(await reportDataFromRuns(`${dir}/nothing`)),
      "an empty folder reports nothing",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("untrainedCaveat() warns first when pretrained models do not beat random init on any transfer task", () => {
  // Five CV folds; "beats" needs the paired interval to exclude zero.
  const table = (rows: number[][]) => ({
    models: ["default", "ventral", "random-init", "supervised"],
    items: ["cls", "keypoints"],
    values: rows.map((r) => [r[0], r[0]]),
    units: rows.map((r) => [r, r]),
    unit: "CV folds",
    spread: "sd" as const,
  });
  const random = [0.4, 0.41, 0.39, 0.4, 0.4];
  const better = random.map((v) => v + 0.2); // clearly above random-init on every fold
  const tied = random.map((v, i) => v + (i % 2 === 0 ? 0.01 : -0.01)); // interval straddles 0
  const worse = random.map((v) => v - 0.1);
  const supervised = random.map((v) => v + 0.5);
  const refs = ["random-init", "supervised"];

  const none = findings({ downstream: table([tied, worse, random, supervised]), references: refs });
  assert(none[0].startsWith("Caveat: no pretrained model beats random-init"), none[0]);
  assert(none[0].includes("(cls, keypoints; paired intervals over CV folds)"), none[0]);

  const one = untrainedCaveat({
    downstream: table([better, tied, random, supervised]),
    references: refs,
  });
  assert(one?.startsWith("Caveat: ventral does not beat random-init") === true, `${one}`);

  const all = untrainedCaveat({
    downstream: table([better, better, random, supervised]),
    references: refs,
  });
  assert(all === undefined, `every model beats random init: ${all}`);
  // Without a random-init reference there is nothing to compare with.
  assert(
    untrainedCaveat({ downstream: table([worse, worse, random, supervised]) }) === undefined,
    "no references",
  );
});
