/**
 * The paper's qualitative claims, checked against a run's numbers: is the spatially-augmented
 * (ventral) model the most invariant to spatial transforms, the appearance-augmented (dorsal)
 * model to appearance transforms, which model transfers best to each task, and how every model
 * compares with the reference models (random init, supervised). Every sentence is computed from
 * the table it talks about; a difference between two models is stated only when its paired 95 %
 * bootstrap interval (over the same resampled images, groups or CV folds) excludes zero, and
 * "no clear difference" is said otherwise.
 *
 * @module
 */
import {
  bootstrapMeanOfMeans,
  type Interval,
  pairedBootstrapDifference,
} from "../eval/bootstrap.ts";
import { SYNTHETIC_FAMILIES } from "../transforms/synthetic_grid.ts";

/** `values[model][item]` for a set of models and items (transforms, datasets, latents, tasks). */
export interface ResultTable {
  models: string[];
  items: string[];
  values: (number | null)[][];
  /**
   * Per cell, the values the number is a mean of, one per unit (image, group or CV fold), unit j
   * being the same image / group / fold for every model: the input of the error bars and of the
   * paired differences in the findings. Absent when the source did not record them.
   */
  units?: (ArrayLike<number> | null)[][];
  /** What the units are ("images", "groups", "CV folds"). */
  unit?: string;
  /**
   * How the error bars are made from the units: `bootstrap` (95 % percentile interval of the
   * mean, the default) or `sd` (the value ± one standard deviation of the units: the spread of a
   * probe's CV-fold scores around its test score).
   */
  spread?: "bootstrap" | "sd";
}

/** Everything a report can show; absent sections are left out. */
export interface ReportData {
  /** Whitened cosine similarity per transform (and optionally distance). */
  synthetic?: { similarity: ResultTable; distance?: ResultTable };
  /** Mean pairwise similarity per real-world(-style) dataset. */
  realworld?: ResultTable;
  /** Test R² per latent target. */
  extrinsic?: ResultTable;
  /** Test score per downstream task (accuracy or R², see `metrics`). */
  downstream?: ResultTable & { metrics?: string[] };
  /** Reference models (baselines) among the tables' models: compared against in the findings. */
  references?: string[];
}

/** The synthetic families that move pixels (what the ventral policy augments with). */
export const SPATIAL_FAMILIES: readonly string[] = [
  "rotation",
  "translation",
  "scale",
  "shear",
  "resized_crop",
  "h_flip",
  "v_flip",
  "deform",
];

/** The synthetic families that change colours (what the dorsal policy augments with). */
export const APPEARANCE_FAMILIES: readonly string[] = SYNTHETIC_FAMILIES.filter((f) =>
  !SPATIAL_FAMILIES.includes(f)
);

/** Which model is the `policy` one: its name is the policy or ends in `_policy` (`world_ventral`). */
export function policyModel(models: readonly string[], policy: string): string | undefined {
  return models.find((m) => m === policy || m.endsWith(`_${policy}`));
}

/** 3 decimals; values too small for that (1e-9 ≤ |v| < 5e-4) keep two significant digits. */
function fmt(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  return Math.abs(v) >= 1e-9 && Math.abs(v) < 5e-4 ? v.toExponential(1) : v.toFixed(3);
}

function signed(v: number): string {
  return Number.isFinite(v) ? (v >= 0 ? "+" : "-") + fmt(Math.abs(v)) : "n/a";
}

function fmtInterval(d: Interval): string {
  return `[${fmt(d.lo)}, ${fmt(d.hi)}]`;
}

/** Options of the bootstrap behind every finding (seeded: a report is reproducible). */
const BOOT = { resamples: 2000, seed: 0 } as const;

/**
 * The sentence for a paired difference `d` = a − b with its interval: a difference is stated
 * only when the interval excludes zero (`a <verb> b by …` or, when negative, `b <verb> a by …`);
 * otherwise "no clear difference between a and b (±d [lo, hi])". `verb` reads "a … b", e.g.
 * "beats" or "is more invariant than".
 *
 * @example
 * ```ts
 * compareSentence("default", "random-init", { estimate: 0.4, lo: 0.3, hi: 0.5 }, "beats");
 * // "default beats random-init by 0.400 [0.300, 0.500]"
 * ```
 */
export function compareSentence(a: string, b: string, d: Interval, verb: string): string {
  if (!Number.isFinite(d.estimate) || !Number.isFinite(d.lo) || !Number.isFinite(d.hi)) {
    return `no interval for ${a} against ${b}`;
  }
  if (d.lo > 0) return `${a} ${verb} ${b} by ${fmt(d.estimate)} ${fmtInterval(d)}`;
  if (d.hi < 0) {
    return `${b} ${verb} ${a} by ${fmt(-d.estimate)} ${
      fmtInterval({ estimate: -d.estimate, lo: -d.hi, hi: -d.lo })
    }`;
  }
  return `no clear difference between ${a} and ${b} (${signed(d.estimate)} ${fmtInterval(d)})`;
}

/** Which of `d` (a − b) is clearly positive (1), clearly negative (−1) or neither (0). */
export function differenceSign(d: Interval): 1 | -1 | 0 {
  return d.lo > 0 ? 1 : d.hi < 0 ? -1 : 0;
}

/** The units of `model` over `items` of `table`, or undefined when any is missing. */
function unitsOf(
  table: ResultTable,
  model: string,
  items: readonly string[],
): ArrayLike<number>[] | undefined {
  const i = table.models.indexOf(model);
  if (i < 0 || !table.units) return undefined;
  const out: ArrayLike<number>[] = [];
  for (const item of items) {
    const u = table.units[i]?.[table.items.indexOf(item)];
    if (!u || u.length === 0) return undefined;
    out.push(u);
  }
  return out;
}

/**
 * The paired bootstrap interval of (mean over `items` of a) − (mean over `items` of b), over the
 * table's units; undefined without units or when the two models' units do not line up.
 */
export function tableDifference(
  table: ResultTable,
  a: string,
  b: string,
  items: readonly string[],
): Interval | undefined {
  const ua = unitsOf(table, a, items), ub = unitsOf(table, b, items);
  if (!ua || !ub || ua.some((u, i) => u.length !== ub[i].length)) return undefined;
  return pairedBootstrapDifference(ua, ub, BOOT);
}

/** A model's mean over `items` with its bootstrap interval over the table's units. */
function meanInterval(table: ResultTable, model: string, items: readonly string[]): string {
  const value = meanOver(table, table.models.indexOf(model), items);
  const u = unitsOf(table, model, items);
  if (!u || table.spread === "sd") return `${model} ${fmt(value)}`;
  return `${model} ${fmt(value)} ${fmtInterval(bootstrapMeanOfMeans(u, BOOT))}`;
}

function meanOver(table: ResultTable, model: number, items: readonly string[]): number {
  let s = 0;
  let n = 0;
  for (const item of items) {
    const j = table.items.indexOf(item);
    const v = j >= 0 ? table.values[model][j] : null;
    if (v !== null && Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

function ranking(scores: { model: string; value: number }[]): { model: string; value: number }[] {
  return scores.filter((s) => Number.isFinite(s.value)).sort((a, b) => b.value - a.value);
}

/** Models that are neither references nor fusions (`a+b`). */
function singles(table: ResultTable, references: readonly string[]): string[] {
  return table.models.filter((m) => !m.includes("+") && !references.includes(m));
}

function listModels(
  table: ResultTable,
  items: readonly string[],
  references: readonly string[],
): string {
  const ranked = ranking(
    table.models.filter((m) => !references.includes(m)).map((model) => ({
      model,
      value: meanOver(table, table.models.indexOf(model), items),
    })),
  );
  const refs = references.filter((r) => table.models.includes(r));
  return ranked.map((r) => meanInterval(table, r.model, items)).join(", ") +
    (refs.length > 0
      ? `; reference${refs.length > 1 ? "s" : ""} ${
        refs.map((r) => meanInterval(table, r, items)).join(", ")
      }`
      : "");
}

function intervalWords(table: ResultTable): string {
  if (!table.units) return "";
  const n = table.units.find((r) => r.some((u) => u && u.length > 0))?.find((u) => u)?.length;
  return table.spread === "sd"
    ? ""
    : ` with 95 % bootstrap intervals over ${n ?? "the"} ${table.unit ?? "units"}`;
}

function invarianceFinding(
  table: ResultTable,
  families: readonly string[],
  what: string,
  policy: string,
  references: readonly string[],
): string | undefined {
  const present = families.filter((f) => table.items.includes(f));
  const target = policyModel(table.models, policy);
  if (present.length === 0 || target === undefined) return undefined;
  const others = singles(table, references).filter((m) => m !== target);
  const head = `${what} (${present.length} families), mean similarity${intervalWords(table)}: ` +
    `${listModels(table, present, references)}.`;
  if (others.length === 0) return head;
  const diffs = others.map((o) => ({ o, d: tableDifference(table, target, o, present) }));
  if (diffs.some((x) => x.d === undefined)) {
    const top = ranking(
      others.concat(target).map((model) => ({
        model,
        value: meanOver(table, table.models.indexOf(model), present),
      })),
    )[0]?.model;
    return `${head} No per-${
      table.unit?.replace(/s$/, "") ?? "image"
    } values were recorded, so no difference is claimed (highest mean: ${top ?? "n/a"}).`;
  }
  const verb = "is more invariant than";
  const say = (x: { o: string; d?: Interval }) => compareSentence(target, x.o, x.d!, verb);
  const wins = diffs.filter((x) => differenceSign(x.d!) > 0);
  const losses = diffs.filter((x) => differenceSign(x.d!) < 0);
  const unclear = diffs.filter((x) => differenceSign(x.d!) === 0);
  let verdict: string;
  if (losses.length > 0) {
    verdict = `The hypothesis does not hold in this run: ${
      [...losses, ...unclear, ...wins].map(say).join("; ")
    }.`;
  } else if (unclear.length === 0) {
    verdict = `${wins.map(say).join("; ")}, as the paper's hypothesis predicts.`;
  } else if (wins.length > 0) {
    verdict = `${
      [...wins, ...unclear].map(say).join("; ")
    }: the hypothesis is only partly supported.`;
  } else {
    verdict = `${unclear.map(say).join("; ")}: this run shows no clear difference either way.`;
  }
  return `${head} ${verdict[0].toUpperCase()}${verdict.slice(1)}`;
}

/** Sentences comparing every non-reference model with each reference on `items` of `table`. */
function referenceFinding(
  table: ResultTable,
  items: readonly string[],
  what: string,
  verb: string,
  references: readonly string[],
): string | undefined {
  const refs = references.filter((r) => table.models.includes(r));
  const models = table.models.filter((m) => !references.includes(m));
  if (refs.length === 0 || models.length === 0 || items.length === 0) return undefined;
  const clauses: string[] = [];
  for (const r of refs) {
    for (const m of models) {
      const d = tableDifference(table, m, r, items);
      if (d) clauses.push(compareSentence(m, r, d, verb));
    }
  }
  if (clauses.length === 0) {
    return `${what} against ${refs.join(" and ")}: no per-${
      table.unit?.replace(/s$/, "") ?? "unit"
    } values were recorded, so no difference is claimed.`;
  }
  const n = table.units?.flat().find((u) => u)?.length;
  return `${what} against ${refs.join(" and ")} (paired 95 % bootstrap intervals over ${
    n ?? "the"
  } ${table.unit ?? "units"}): ${clauses.join("; ")}.`;
}

function bestFinding(
  table: ResultTable,
  label: (item: string) => string,
  references: readonly string[],
  verb: string,
): string[] {
  const out: string[] = [];
  for (let j = 0; j < table.items.length; j++) {
    const item = table.items[j];
    const ranked = ranking(table.models.map((model, i) => ({
      model,
      value: table.values[i][j] ?? NaN,
    })));
    if (ranked.length === 0) continue;
    const show = (r: { model: string; value: number }) =>
      table.spread === "sd" ? `${r.model} ${fmt(r.value)}` : meanInterval(table, r.model, [item]);
    let sentence = `${label(item)}, highest first: ${ranked.map(show).join(", ")}.`;
    const models = ranked.filter((r) => !references.includes(r.model));
    if (models.length >= 2) {
      const d = tableDifference(table, models[0].model, models[1].model, [item]);
      sentence += d
        ? ` Top two (paired over ${table.unit ?? "units"}): ${
          compareSentence(models[0].model, models[1].model, d, verb)
        }.`
        : " No per-unit values were recorded, so no difference is claimed.";
    }
    out.push(sentence);
  }
  return out;
}

/**
 * A warning first when pretrained models do not beat the random-init reference on any transfer
 * task (paired intervals over the probe's units): their invariance numbers then describe models
 * that have not learned the tasks, and say nothing for or against the paper's hypothesis.
 * Undefined when there is no random-init reference, no per-unit values, or every model beats it.
 */
export function untrainedCaveat(data: ReportData): string | undefined {
  const d = data.downstream;
  const refs = data.references ?? [];
  const random = refs.find((r) => /random/i.test(r));
  if (!d || !random || !d.models.includes(random)) return undefined;
  const models = d.models.filter((m) => !refs.includes(m));
  const judged = models.map((m) => {
    const signs = d.items.map((task) => {
      const diff = tableDifference(d, m, random, [task]);
      return diff ? differenceSign(diff) : undefined;
    });
    return { m, known: signs.some((x) => x !== undefined), beats: signs.some((x) => x === 1) };
  }).filter((j) => j.known);
  const behind = judged.filter((j) => !j.beats).map((j) => j.m);
  if (judged.length === 0 || behind.length === 0) return undefined;
  const tasks = d.items.join(", ");
  if (behind.length === judged.length) {
    return `Caveat: no pretrained model beats ${random} on any transfer task (${tasks}; paired ` +
      `intervals over ${d.unit ?? "units"}), so none has learned what the tasks need: the ` +
      `invariance comparisons below are between untrained-like models and are no evidence for ` +
      `or against the paper's hypothesis.`;
  }
  return `Caveat: ${behind.join(", ")} ${behind.length === 1 ? "does" : "do"} not beat ${random} ` +
    `on any transfer task (${tasks}; paired intervals over ${d.unit ?? "units"}): comparisons ` +
    `involving ${behind.length === 1 ? "it" : "them"} say little about the paper's hypothesis.`;
}

/**
 * The findings, one sentence (or short paragraph) each, in report order. A difference between
 * two models is stated only when its paired 95 % bootstrap interval excludes zero.
 */
export function findings(data: ReportData): string[] {
  const out: string[] = [];
  const refs = data.references ?? [];
  const push = (s: string | undefined) => {
    if (s) out.push(s);
  };
  push(untrainedCaveat(data));
  const syn = data.synthetic?.similarity;
  if (syn) {
    push(invarianceFinding(syn, SPATIAL_FAMILIES, "Spatial transforms", "ventral", refs));
    push(invarianceFinding(syn, APPEARANCE_FAMILIES, "Appearance transforms", "dorsal", refs));
    const inv = "is more invariant than";
    const spatial = SPATIAL_FAMILIES.filter((f) => syn.items.includes(f));
    const appearance = APPEARANCE_FAMILIES.filter((f) => syn.items.includes(f));
    push(referenceFinding(syn, spatial, "Spatial similarity", inv, refs));
    push(referenceFinding(syn, appearance, "Appearance similarity", inv, refs));
  }
  if (data.realworld) {
    const rw = data.realworld;
    out.push(
      ...bestFinding(rw, (d) => `Similarity under ${d}`, refs, "is more invariant than"),
    );
    push(
      referenceFinding(rw, rw.items, "Real-world-style similarity", "is more invariant than", refs),
    );
  }
  if (data.extrinsic) {
    const t = data.extrinsic;
    const ranked = ranking(t.models.map((model, i) => ({
      model,
      value: meanOver(t, i, t.items),
    })));
    if (ranked.length > 0) {
      out.push(
        `Latent regression, mean test R² over ${t.items.length} targets: ` +
          ranked.map((r) => `${r.model} ${fmt(r.value)}`).join(", ") + ".",
      );
    }
    push(referenceFinding(t, t.items, "Latent regression (CV R²)", "beats", refs));
  }
  if (data.downstream) {
    const d = data.downstream;
    const metrics = d.metrics;
    const label = (task: string) => {
      const j = d.items.indexOf(task);
      return `Transfer to ${task}${metrics?.[j] ? ` (${metrics[j]})` : ""}`;
    };
    out.push(...bestFinding(d, label, refs, "beats"));
    for (const task of d.items) {
      push(referenceFinding(d, [task], `${label(task)}, CV score`, "beats", refs));
    }
  }
  return out;
}
