/**
 * Sweep plans: a JSON grid of models × transforms × datasets × targets, expanded into one cell per
 * evaluation run. The same cells run as Slurm job arrays or locally with a concurrency limit.
 *
 * @module
 */
import { DOWNSTREAM_KEYS } from "../data/downstream.ts";
import { REALWORLD_KEYS } from "../data/realworld.ts";
import { FUSE_MODES, type FuseMode, parseFuseMode } from "../models/combine.ts";
import { type FeatureLayer, parseFeatureLayer } from "../models/resnet.ts";
import { SYNTHETIC_FAMILIES } from "../transforms/synthetic_grid.ts";
import { UsageError } from "../util/errors.ts";

/** The evaluation a cell runs. `statistics` computes a model's ImageNet-val feature statistics. */
export type CellKind = "statistics" | "synthetic" | "realworld" | "causal3dident" | "downstream";

/** Which array a cell is submitted in: statistics first, invariance after them, transfer freely. */
export type CellPhase = "statistics" | "invariance" | "transfer";

/** One unit of work: a script and its arguments. */
export interface SweepCell {
  /** Stable, file-name-safe identifier, e.g. `synthetic__default__rotation`. */
  id: string;
  /** The evaluation it runs. */
  kind: CellKind;
  /** The Slurm array it is submitted in. */
  phase: CellPhase;
  /** Model (or `a+b+c` fusion) the cell evaluates. */
  model: string;
  /** The script under `scripts/` and its arguments. */
  script: string;
  /** Arguments after the script, verbatim. */
  args: string[];
  /** Checkpoint base names whose files the result depends on (for the skip-if-done key). */
  checkpoints: string[];
  /** Id of the statistics cell this cell needs, if any. */
  needs?: string;
}

/** Slurm resources for every array task. */
export interface SlurmOptions {
  /** `#SBATCH --partition` (default: none, the cluster's default). */
  partition?: string;
  /** `#SBATCH --account` (default: none). */
  account?: string;
  /** Wall-time limit per task, `HH:MM:SS` (default `04:00:00`). */
  time: string;
  /** `--cpus-per-task` (default 8). */
  cpusPerTask: number;
  /** Memory per task in Slurm's notation (default `32G`). */
  mem: string;
  /** GPUs per task, `--gres=gpu:N` (default 1; 0 requests none). */
  gpus: number;
  /** Most array tasks running at once (`--array=0-N%max`). */
  maxConcurrent?: number;
  /** Extra `#SBATCH` lines, verbatim (e.g. `--qos=high`). */
  extra: string[];
}

/** A validated plan. */
export interface SweepPlan {
  /**
   * File-name-safe sweep name: its state lives in `<resultsDir>/sweep/<name>` (default `sweep`).
   */
  name: string;
  /** Folder of the `<model>.pth.tar` checkpoints (`--ckpt-dir`, default `models`). */
  ckptDir: string;
  /** Where results and statistics go (`--results-dir`, default `results`). */
  resultsDir: string;
  /** Root of the real-world, Causal3DIdent and downstream datasets (default `../data`). */
  dataRoot: string;
  /** ImageFolder root holding `<split>/` for statistics and synthetic invariance. */
  imagenet: string;
  /** Layer every cell evaluates (`--feature-layer`, default `backbone`). */
  featureLayer: FeatureLayer;
  /** Model names (checkpoint base names, or `random`/`supervised`) to evaluate; at least one. */
  models: string[];
  /**
   * Synthetic invariance: the transform families (empty: none), optional `--num-images` and `--k`,
   * and extra arguments for every cell.
   */
  synthetic: { transforms: string[]; numImages?: number; k?: number; extraArgs: string[] };
  /** Real-world invariance: the dataset keys (empty: none) and extra arguments. */
  realworld: { datasets: string[]; extraArgs: string[] };
  /** Causal3DIdent probes: latent indices `0`–`9` or `class` (empty: none) and extra arguments. */
  causal3dident: { targets: string[]; extraArgs: string[] };
  /**
   * Downstream probes: dataset keys (empty: none), the models or `a+b` fusions to probe (default:
   * `models`), the fuse mode (`cat`, `add`, `mean`) and extra arguments.
   */
  downstream: { datasets: string[]; models: string[]; fuseMode: FuseMode; extraArgs: string[] };
  /** Resources of the generated Slurm arrays. */
  slurm: SlurmOptions;
}

const FILE_SAFE = /^[A-Za-z0-9_.+-]+$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(
  where: string,
  value: unknown,
  all: readonly string[] | undefined,
  fallback: string[],
): string[] {
  if (value === undefined) return fallback;
  if (value === "all") {
    if (!all) throw new UsageError(`${where}: "all" is not allowed here`);
    return [...all];
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new UsageError(`${where} must be a list of strings${all ? ' or "all"' : ""}`);
  }
  if (all) {
    const bad = value.filter((v) => !all.includes(v));
    if (bad.length) {
      throw new UsageError(`${where}: unknown ${bad.join(", ")}; valid: ${all.join(", ")}`);
    }
  }
  return value as string[];
}

function str(where: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`${where} must be a non-empty string`);
  }
  return value;
}

/** `value` as a fuse mode (src/models/combine.ts owns the list); the error names the plan's key. */
function fuseModeOf(where: string, value: string): FuseMode {
  try {
    return parseFuseMode(value);
  } catch {
    const modes = `${FUSE_MODES.slice(0, -1).join(", ")} or ${FUSE_MODES.at(-1)}`;
    throw new UsageError(`${where} must be ${modes}, got '${value}'`);
  }
}

function int(where: string, value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new UsageError(`${where} must be a positive integer`);
  }
  return value;
}

const CAUSAL_TARGETS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "class"];

/**
 * Validates a parsed plan file. Every mistake is a UsageError naming `source` and the field.
 *
 * @example
 * ```ts
 * const plan = parsePlan({ name: "paper", models: ["default", "ventral"], synthetic: { transforms: "all" } }, "plan.json");
 * ```
 */
export function parsePlan(raw: unknown, source: string): SweepPlan {
  if (!isObject(raw)) throw new UsageError(`${source}: the plan must be a JSON object`);
  const known = [
    "name",
    "ckptDir",
    "resultsDir",
    "dataRoot",
    "imagenet",
    "featureLayer",
    "models",
    "synthetic",
    "realworld",
    "causal3dident",
    "downstream",
    "slurm",
  ];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new UsageError(
      `${source}: unknown field(s) ${unknown.join(", ")}; known: ${known.join(", ")}`,
    );
  }
  const name = str(`${source}: name`, raw.name, "sweep");
  if (!FILE_SAFE.test(name)) {
    throw new UsageError(`${source}: name "${name}" must be file-name safe`);
  }
  const models = stringList(`${source}: models`, raw.models, undefined, []);
  if (models.length === 0) throw new UsageError(`${source}: models must list at least one model`);
  for (const m of models) {
    if (!FILE_SAFE.test(m)) {
      throw new UsageError(`${source}: model name "${m}" is not file-name safe`);
    }
  }
  const section = (key: string): Record<string, unknown> | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (!isObject(v)) throw new UsageError(`${source}: ${key} must be an object`);
    return v;
  };
  const extra = (key: string, s: Record<string, unknown> | undefined): string[] =>
    stringList(`${source}: ${key}.extraArgs`, s?.extraArgs, undefined, []);
  const syn = section("synthetic");
  const rw = section("realworld");
  const c3 = section("causal3dident");
  const ds = section("downstream");
  const sl = section("slurm") ?? {};
  const fuseMode = fuseModeOf(
    `${source}: downstream.fuseMode`,
    str(`${source}: downstream.fuseMode`, ds?.fuseMode, "cat"),
  );
  return {
    name,
    ckptDir: str(`${source}: ckptDir`, raw.ckptDir, "models"),
    resultsDir: str(`${source}: resultsDir`, raw.resultsDir, "results"),
    dataRoot: str(`${source}: dataRoot`, raw.dataRoot, "../data"),
    imagenet: str(`${source}: imagenet`, raw.imagenet, "../data/imagenet"),
    featureLayer: parseFeatureLayer(
      str(`${source}: featureLayer`, raw.featureLayer, "backbone"),
      `${source}: featureLayer`,
    ),
    models,
    synthetic: {
      transforms: stringList(
        `${source}: synthetic.transforms`,
        syn?.transforms,
        SYNTHETIC_FAMILIES,
        [],
      ),
      numImages: int(`${source}: synthetic.numImages`, syn?.numImages, undefined),
      k: int(`${source}: synthetic.k`, syn?.k, undefined),
      extraArgs: extra("synthetic", syn),
    },
    realworld: {
      datasets: stringList(`${source}: realworld.datasets`, rw?.datasets, REALWORLD_KEYS, []),
      extraArgs: extra("realworld", rw),
    },
    causal3dident: {
      targets: stringList(`${source}: causal3dident.targets`, c3?.targets, CAUSAL_TARGETS, []),
      extraArgs: extra("causal3dident", c3),
    },
    downstream: {
      datasets: stringList(`${source}: downstream.datasets`, ds?.datasets, DOWNSTREAM_KEYS, []),
      models: stringList(`${source}: downstream.models`, ds?.models, undefined, models),
      fuseMode,
      extraArgs: extra("downstream", ds),
    },
    slurm: {
      partition: sl.partition === undefined
        ? undefined
        : str(`${source}: slurm.partition`, sl.partition, ""),
      account: sl.account === undefined
        ? undefined
        : str(`${source}: slurm.account`, sl.account, ""),
      time: str(`${source}: slurm.time`, sl.time, "04:00:00"),
      cpusPerTask: int(`${source}: slurm.cpusPerTask`, sl.cpusPerTask, 8)!,
      mem: str(`${source}: slurm.mem`, sl.mem, "32G"),
      gpus: sl.gpus === 0 ? 0 : int(`${source}: slurm.gpus`, sl.gpus, 1)!,
      maxConcurrent: int(`${source}: slurm.maxConcurrent`, sl.maxConcurrent, undefined),
      extra: stringList(`${source}: slurm.extra`, sl.extra, undefined, []),
    },
  };
}

/** The checkpoint base names a (possibly fused) model name refers to. */
export function checkpointsOf(model: string): string[] {
  return model.split("+").filter((m) => m.length > 0);
}

/**
 * Expands a plan into cells: one statistics cell per model that has invariance work, then
 * synthetic (model × transform) and real-world (model × dataset) cells that need it, then
 * Causal3DIdent (model × target) and downstream (model × dataset) cells. The order is stable, so
 * an array index always means the same cell.
 */
export function expandPlan(plan: SweepPlan): SweepCell[] {
  const cells: SweepCell[] = [];
  const common = ["--ckpt-dir", plan.ckptDir, "--feature-layer", plan.featureLayer];
  const needsStats = plan.synthetic.transforms.length > 0 || plan.realworld.datasets.length > 0;
  if (needsStats) {
    for (const model of plan.models) {
      cells.push({
        id: `statistics__${model}`,
        kind: "statistics",
        phase: "statistics",
        model,
        script: "eval_synthetic_invariance.ts",
        args: [
          plan.imagenet,
          "--model",
          model,
          "--statistics-only",
          "--results-dir",
          plan.resultsDir,
          ...common,
          // The synthetic cells' extra flags (resize, crop, arch …) shape the statistics too.
          ...plan.synthetic.extraArgs,
        ],
        checkpoints: checkpointsOf(model),
      });
    }
  }
  for (const model of plan.models) {
    for (const transform of plan.synthetic.transforms) {
      const args = [
        plan.imagenet,
        "--model",
        model,
        "--transform",
        transform,
        "--results-dir",
        plan.resultsDir,
        ...common,
      ];
      if (plan.synthetic.numImages !== undefined) {
        args.push("--num-images", String(plan.synthetic.numImages));
      }
      if (plan.synthetic.k !== undefined) args.push("--k", String(plan.synthetic.k));
      cells.push({
        id: `synthetic__${model}__${transform}`,
        kind: "synthetic",
        phase: "invariance",
        model,
        script: "eval_synthetic_invariance.ts",
        args: [...args, ...plan.synthetic.extraArgs],
        checkpoints: checkpointsOf(model),
        needs: `statistics__${model}`,
      });
    }
    for (const dataset of plan.realworld.datasets) {
      cells.push({
        id: `realworld__${model}__${dataset}`,
        kind: "realworld",
        phase: "invariance",
        model,
        script: "eval_realworld_invariance.ts",
        args: [
          "--model",
          model,
          "--dataset",
          dataset,
          "--data-root",
          plan.dataRoot,
          "--results-dir",
          plan.resultsDir,
          ...common,
          ...plan.realworld.extraArgs,
        ],
        checkpoints: checkpointsOf(model),
        needs: `statistics__${model}`,
      });
    }
  }
  for (const model of plan.models) {
    for (const target of plan.causal3dident.targets) {
      cells.push({
        id: `causal3dident__${model}__${target}`,
        kind: "causal3dident",
        phase: "transfer",
        model,
        script: "eval_causal3dident.ts",
        args: [
          "--model",
          model,
          "--target",
          target,
          "--data-root",
          plan.dataRoot,
          "--results-dir",
          plan.resultsDir,
          ...common,
          ...plan.causal3dident.extraArgs,
        ],
        checkpoints: checkpointsOf(model),
      });
    }
  }
  for (const model of plan.downstream.models) {
    for (const dataset of plan.downstream.datasets) {
      cells.push({
        id: `downstream__${model}__${dataset}`,
        kind: "downstream",
        phase: "transfer",
        model,
        script: "eval_downstream.ts",
        args: [
          "--model",
          model,
          "--dataset",
          dataset,
          "--fuse-mode",
          plan.downstream.fuseMode,
          "--data-root",
          plan.dataRoot,
          "--results-dir",
          plan.resultsDir,
          ...common,
          ...plan.downstream.extraArgs,
        ],
        checkpoints: checkpointsOf(model),
      });
    }
  }
  const seen = new Set<string>();
  for (const c of cells) {
    if (seen.has(c.id)) {
      throw new UsageError(
        `plan ${plan.name}: cell ${c.id} appears twice (duplicate list entries?)`,
      );
    }
    seen.add(c.id);
  }
  return cells;
}

/** The cells of one phase, in plan order. */
export function cellsOfPhase(cells: readonly SweepCell[], phase: CellPhase): SweepCell[] {
  return cells.filter((c) => c.phase === phase);
}
