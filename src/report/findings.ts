/**
 * The paper's qualitative claims, checked against a run's numbers: is the spatially-augmented
 * (ventral) model the most invariant to spatial transforms, the appearance-augmented (dorsal)
 * model to appearance transforms, and which model transfers best to each task. Every sentence is
 * computed from the table it talks about; nothing is asserted that the numbers do not show.
 *
 * @module
 */
import { SYNTHETIC_FAMILIES } from "../transforms/synthetic_grid.ts";

/** `values[model][item]` for a set of models and items (transforms, datasets, latents, tasks). */
export interface ResultTable {
  models: string[];
  items: string[];
  values: (number | null)[][];
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

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : "n/a";
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

function invarianceFinding(
  table: ResultTable,
  families: readonly string[],
  what: string,
  policy: string,
): string | undefined {
  const present = families.filter((f) => table.items.includes(f));
  const target = policyModel(table.models, policy);
  if (present.length === 0 || target === undefined) return undefined;
  const ranked = ranking(
    table.models.map((model, i) => ({ model, value: meanOver(table, i, present) })),
  );
  if (ranked.length < 2) return undefined;
  const t = table.models.indexOf(target);
  const others = table.models.filter((m, i) => i !== t && !m.includes("+"));
  let wins = 0;
  for (const f of present) {
    const j = table.items.indexOf(f);
    const mine = table.values[t][j] ?? NaN;
    const beaten = others.every((o) => {
      const v = table.values[table.models.indexOf(o)][j] ?? NaN;
      return !(v >= mine);
    });
    if (beaten && Number.isFinite(mine)) wins++;
  }
  const list = ranked.map((r) => `${r.model} ${fmt(r.value)}`).join(", ");
  const top = ranked[0].model;
  const verdict = top === target
    ? `${target} is the most invariant, as the paper's hypothesis predicts`
    : `${top} is the most invariant, not ${target}: the hypothesis does not hold in this run`;
  return `${what} (${present.length} families), mean similarity: ${list}. ${verdict}; ` +
    `${target} beats every other single model on ${wins} of ${present.length}.`;
}

function bestFinding(table: ResultTable, label: (item: string) => string): string[] {
  const out: string[] = [];
  for (let j = 0; j < table.items.length; j++) {
    const ranked = ranking(table.models.map((model, i) => ({
      model,
      value: table.values[i][j] ?? NaN,
    })));
    if (ranked.length === 0) continue;
    const rest = ranked.slice(1).map((r) => `${r.model} ${fmt(r.value)}`).join(", ");
    out.push(
      `${label(table.items[j])}: best ${ranked[0].model} (${fmt(ranked[0].value)})` +
        (rest ? `, then ${rest}.` : "."),
    );
  }
  return out;
}

/** The findings, one sentence each, in report order. */
export function findings(data: ReportData): string[] {
  const out: string[] = [];
  const syn = data.synthetic?.similarity;
  if (syn) {
    const spatial = invarianceFinding(syn, SPATIAL_FAMILIES, "Spatial transforms", "ventral");
    const appearance = invarianceFinding(
      syn,
      APPEARANCE_FAMILIES,
      "Appearance transforms",
      "dorsal",
    );
    if (spatial) out.push(spatial);
    if (appearance) out.push(appearance);
  }
  if (data.realworld) {
    out.push(...bestFinding(data.realworld, (d) => `Most invariant under ${d}`));
  }
  if (data.extrinsic) {
    const t = data.extrinsic;
    const ranked = ranking(t.models.map((model, i) => ({
      model,
      value: meanOver(t, i, t.items),
    })));
    if (ranked.length > 0) {
      out.push(
        `Latent regression, mean R² over ${t.items.length} targets: ` +
          ranked.map((r) => `${r.model} ${fmt(r.value)}`).join(", ") + ".",
      );
    }
  }
  if (data.downstream) {
    const metrics = data.downstream.metrics;
    out.push(
      ...bestFinding(data.downstream, (task) => {
        const j = data.downstream!.items.indexOf(task);
        return `Transfer to ${task}${metrics?.[j] ? ` (${metrics[j]})` : ""}`;
      }),
    );
  }
  return out;
}
