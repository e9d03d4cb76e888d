/**
 * What the four evaluation scripts share: the flags every one of them adds to the original's
 * (`--faithful`, `--jitter`, `--seed`, `--on-bad-image`, `--arch`, `--base-width`, `--cache-dir`),
 * the `--device` explanation, opening the GPU and the model, the whitener, phase timings, the run
 * record and the release at the end.
 *
 * @module
 */
import { join } from "node:path";
import { BAD_IMAGE_POLICIES } from "../data/bad_images.ts";
import { parseCustomDataset } from "../data/custom.ts";
import { type Gpu, openGpu } from "../gpu/device.ts";
import { FUSE_MODES, parseFuseMode } from "../models/combine.ts";
import type { FeatureExtractor } from "../models/feature_extractor.ts";
import { loadModel } from "../models/registry.ts";
import { FEATURE_LAYERS, parseFeatureLayer } from "../models/resnet.ts";
import { type CliSpec, type FlagSpec, parseCli, type ParsedCli } from "../util/cli.ts";
import { UsageError } from "../util/errors.ts";
import { nameFlag } from "../util/main.ts";
import { checkPlainName } from "../io/names.ts";
import { GpuWhitener, type RowWhitener } from "./gpu_whitening.ts";
import type { FeatureStatistics } from "./statistics.ts";
import {
  newRunId,
  type RunRecord,
  runtimeVersions,
  writeRunRecord,
  type WrittenRecord,
} from "../io/results.ts";
import { RANDOM_MODEL_JITTER, Whitener } from "./whitening.ts";

/** The flags our scripts add to the original's. */
export const EXTRA_FLAGS = {
  faithful: {
    type: "boolean",
    help: "reproduce the original's behaviour where it differs from its intent (docs/quirks.md)",
  },
  seed: {
    type: "int",
    default: 0,
    help: "seed of our own randomness (folds, subsets, random model)",
  },
  "on-bad-image": {
    type: "string",
    default: "fail",
    choices: BAD_IMAGE_POLICIES,
    help: "an undecodable image stops the run (fail) or is left out and reported (skip)",
  },
  arch: {
    type: "string",
    default: "resnet50",
    help: "architecture of plain state dicts (supervised, random); MoCo files carry their own",
  },
  "base-width": {
    type: "int",
    help: "ResNet stem width at w=1 (default: read from the checkpoint's conv1, else 64)",
  },
  "cache-dir": { type: "string", help: "feature cache folder (default <results-dir>/cache)" },
} as const satisfies Record<string, FlagSpec>;

/** The original's `--device` flag: accepted, explained. */
export const DEVICE_FLAG = {
  type: "string",
  default: "cuda:0",
  help: "accepted for compatibility; work runs on the WebGPU adapter (`deno task info`)",
} as const satisfies FlagSpec;

/** The `--jitter` flag (added to Σ's diagonal before the factorisation). */
export const JITTER_FLAG = {
  type: "number",
  help: "added to the covariance diagonal before whitening (default 1e-10 for 'random', else 0)",
} as const satisfies FlagSpec;

/** The `--feature-layer` flag. */
export const FEATURE_LAYER_FLAG = {
  type: "string",
  default: "backbone",
  choices: FEATURE_LAYERS,
  help: "layer whose pooled output is the feature",
} as const satisfies FlagSpec;

/** The `--fuse-mode` flag of scripts that fuse `A+B+…` models. */
export const FUSE_MODE_FLAG = {
  type: "string",
  default: "cat",
  choices: FUSE_MODES,
  help: "fusion of A+B+… models",
} as const satisfies FlagSpec;

/** The `--whiten` flag of the invariance scripts. */
export const WHITEN_FLAG = {
  type: "string",
  default: "cpu",
  choices: ["cpu", "gpu"],
  help: "whiten features in float64 on the CPU, or with an f32 GEMM on the GPU (large D)",
} as const satisfies FlagSpec;

/** The `--data-root` flag (the folder holding one folder per dataset). */
export const DATA_ROOT_FLAG = {
  type: "string",
  default: "../data/",
  help: "datasets folder",
} as const satisfies FlagSpec;

/** A string flag with a default, as the parser types it. */
export interface StringFlagWithDefault extends FlagSpec {
  type: "string";
  default: string;
}

/** An integer flag with a default, as the parser types it. */
export interface IntFlagWithDefault extends FlagSpec {
  type: "int";
  default: number;
}

/** The `--ckpt-dir` flag; the default differs between the original scripts (`models/`, `./models/`). */
export function ckptDirFlag(defaultDir: string): StringFlagWithDefault {
  return { type: "string", default: defaultDir, help: "checkpoint folder" };
}

/** `--resize` (default `resize`, the script's) and `--crop-size` (default 224): docs/common.md#image-loading sizes. */
export function sizeFlags(resize: number): {
  resize: IntFlagWithDefault;
  "crop-size": IntFlagWithDefault;
} {
  return {
    resize: { type: "int", default: resize, help: "short side after resizing" },
    "crop-size": { type: "int", default: 224, help: "centre crop side" },
  };
}

/** One line explaining what `--device` means here, when it was given a non-default value. */
export function deviceNote(device: string, adapter: string): string | undefined {
  if (device === "cuda:0") return undefined;
  return `note: --device ${device} is accepted for compatibility; this port runs every kernel on ` +
    `the WebGPU adapter "${adapter}" (force a backend with DENO_WEBGPU_BACKEND=vulkan|gl|metal|dx12)`;
}

/** The jitter of docs/synthetic.md#statistics: `--jitter` if given, else 1e-10 for models named `random`. */
export function jitterFor(model: string, flag: number | undefined): number {
  if (flag !== undefined) {
    if (!(flag >= 0) || !Number.isFinite(flag)) {
      throw new UsageError(`--jitter: must be a finite number ≥ 0, got ${flag}`);
    }
    return flag;
  }
  return model.includes("random") ? RANDOM_MODEL_JITTER : 0;
}

/** Flags every evaluation script declares itself, checked by {@link parseEvalCli}. */
export interface SizeFlagSpecs {
  resize: IntFlagWithDefault;
  "crop-size": IntFlagWithDefault;
  "batch-size": IntFlagWithDefault;
}

/** A parsed evaluation command line, with the run's start time and its phase timings. */
export interface EvalCli<F extends Record<string, FlagSpec>>
  extends ParsedCli<F & typeof EXTRA_FLAGS> {
  /** When the run started (for the run id and record). */
  startedAt: Date;
  /** Phase timings, started now. */
  timings: Timings;
}

/**
 * The start of every evaluation script: parses `args` against `spec` plus {@link EXTRA_FLAGS}
 * (appended, so they come last in `--help`), starts the clock and rejects bad
 * `--resize` / `--crop-size` / `--batch-size` values.
 */
export function parseEvalCli<F extends Record<string, FlagSpec> & SizeFlagSpecs>(
  args: string[],
  spec: CliSpec<F>,
): EvalCli<F> {
  const startedAt = new Date();
  const parsed = parseCli(args, { ...spec, flags: { ...spec.flags, ...EXTRA_FLAGS } });
  const timings = new Timings();
  const sizes = parsed.flags as unknown as Record<keyof SizeFlagSpecs, number>;
  checkSizes(sizes.resize, sizes["crop-size"], sizes["batch-size"]);
  checkOutputNames(parsed.flags as Record<string, unknown>);
  return { ...parsed, startedAt, timings };
}

/**
 * The names that become parts of output file names (`--model`, each piece of `A+B`, `--dataset`,
 * `--transform`) must be plain names, so no result is written outside `--results-dir`.
 */
export function checkOutputNames(flags: Record<string, unknown>): void {
  if (typeof flags.model === "string") checkPlainName(flags.model, "--model", true);
  for (const flag of ["dataset", "transform"]) {
    const v = flags[flag];
    // folder:PATH / groups:PATH name the user's data; results use the folder's base name.
    if (flag === "dataset" && typeof v === "string" && /^(folder|groups):/.test(v)) {
      withFlag("--dataset", "dataset", () => parseCustomDataset(v));
      continue;
    }
    if (typeof v === "string") checkPlainName(v, `--${flag}`);
  }
}

/**
 * Runs `call`, a library function given the value of `flag` as its argument `param`, restating
 * its errors for the command line ({@link nameFlag}): e.g. `loadRealWorld`'s "dataRoot: empty
 * path" becomes "--data-root: empty path" under `withFlag("--data-root", "dataRoot", …)`. Every
 * other error, synchronous or a rejection, passes unchanged.
 */
export function withFlag<T>(flag: string, param: string, call: () => T): T {
  const relabel = (error: unknown): unknown => nameFlag(error, flag, param);
  let result: T;
  try {
    result = call();
  } catch (error) {
    throw relabel(error);
  }
  if (result instanceof Promise) {
    return result.catch((error) => {
      throw relabel(error);
    }) as T;
  }
  return result;
}

/** Rejects sizes the pipeline cannot use. */
export function checkSizes(resize: number, cropSize: number, batchSize?: number): void {
  if (!(resize >= 1)) throw new UsageError(`--resize: must be a positive integer, got ${resize}`);
  if (!(cropSize >= 1)) {
    throw new UsageError(`--crop-size: must be a positive integer, got ${cropSize}`);
  }
  if (cropSize > resize) {
    throw new UsageError(`--crop-size ${cropSize} is larger than --resize ${resize}`);
  }
  if (batchSize !== undefined && !(batchSize >= 1)) {
    throw new UsageError(`--batch-size: must be a positive integer, got ${batchSize}`);
  }
}

/** Strips the trailing slash the original's defaults carry, keeping "." for an empty path. */
export function cleanDir(dir: string): string {
  return dir.replace(/\/+$/, "") || ".";
}

/** Opens the GPU and prints the `--device` note when relevant. */
export async function openEvalGpu(device: string): Promise<Gpu> {
  const gpu = await openGpu();
  const note = deviceNote(device, gpu.summary.description);
  if (note) console.error(note);
  return gpu;
}

/** The parsed flags that choose the adapter note and the model (shared by all four scripts). */
export interface ModelFlags {
  device: string;
  model: string;
  "ckpt-dir": string;
  "feature-layer": string;
  arch: string;
  seed: number;
  "base-width": number | undefined;
}

/**
 * Opens the GPU (printing the `--device` note when relevant) and loads the model the flags name,
 * marking the `load model` phase. `fuseMode` is passed only by scripts whose `--fuse-mode` fuses
 * (`eval:causal3dident` accepts the flag unused, as the original).
 */
export async function openEvalModel(
  flags: ModelFlags,
  timings: Timings,
  fuseMode?: string,
): Promise<{ gpu: Gpu; model: FeatureExtractor }> {
  const gpu = await openEvalGpu(flags.device);
  const model = await loadModel(gpu, flags.model, {
    ckptDir: flags["ckpt-dir"],
    featureLayer: parseFeatureLayer(flags["feature-layer"]),
    ...(fuseMode === undefined ? {} : { fuseMode: parseFuseMode(fuseMode) }),
    arch: flags.arch,
    seed: flags.seed,
    baseWidth: flags["base-width"],
  });
  timings.mark("load model");
  return { gpu, model };
}

/** A whitener for the invariance scripts in both forms: float64 (for its jitter) and per-row. */
export interface EvalWhitener {
  /** The float64 whitener (its `jitter` goes into the run record). */
  readonly whitener: Whitener;
  /** What the evaluation whitens rows with: the float64 one, or its GPU form (`--whiten gpu`). */
  readonly rows: RowWhitener;
}

/**
 * Whitens with `stats` (read from `what`, named in errors) under the jitter of docs/synthetic.md#statistics for
 * `flags.model`, on the CPU or, with `flags.whiten === "gpu"`, on the GPU.
 */
export function evalWhitener(
  gpu: Gpu,
  stats: FeatureStatistics,
  what: string,
  flags: { model: string; jitter?: number; whiten: string },
): EvalWhitener {
  const whitener = Whitener.fromCovariance(stats.mean, stats.cov, {
    jitter: jitterFor(flags.model, flags.jitter),
    what,
  });
  const rows: RowWhitener = flags.whiten === "gpu" ? new GpuWhitener(gpu, whitener) : whitener;
  return { whitener, rows };
}

/** Frees what a script opened: the GPU whitener if any, the model, then the device. */
export function closeEval(gpu: Gpu, model: FeatureExtractor, whitener?: EvalWhitener): void {
  if (whitener?.rows instanceof GpuWhitener) whitener.rows.release();
  model.release();
  gpu.destroy();
}

/** Phase timings in seconds. */
export class Timings {
  readonly #start = performance.now();
  #last = this.#start;
  readonly values: Record<string, number> = {};

  /** Records the time since the previous mark under `phase`. */
  mark(phase: string): void {
    const now = performance.now();
    this.values[phase] = (this.values[phase] ?? 0) + (now - this.#last) / 1000;
    this.#last = now;
  }

  /** Seconds since construction. */
  total(): number {
    return (performance.now() - this.#start) / 1000;
  }
}

/** Inputs of {@link recordRun}. */
export interface RecordRunInput {
  script: string;
  resultsDir: string;
  startedAt: Date;
  args: Record<string, unknown>;
  model: FeatureExtractor;
  gpu: Gpu;
  timings: Timings;
  arrays: RunRecord["arrays"];
  summary: RunRecord["summary"];
  details?: Record<string, unknown>;
}

/**
 * Writes the run's JSON + CSV row under `<resultsDir>/<script>/`, says where on stderr and returns
 * the paths.
 */
export async function recordRun(input: RecordRunInput): Promise<WrittenRecord> {
  input.timings.values.total = input.timings.total();
  const written = await writeRunRecord(input.resultsDir, {
    script: input.script,
    runId: newRunId(input.startedAt),
    startedAt: input.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    arguments: input.args,
    model: {
      name: input.model.name,
      featureLayer: input.model.featureLayer,
      contentKey: input.model.contentKey,
      files: [...(input.model.files ?? [])],
    },
    versions: runtimeVersions(),
    adapter: input.gpu.summary.description,
    timings: input.timings.values,
    arrays: input.arrays,
    summary: input.summary,
    details: input.details,
  });
  console.error(`wrote ${written.json}`);
  return written;
}

/** The feature cache folder: `--cache-dir`, else `<resultsDir>/cache/features`. */
export function cacheDir(flag: string | undefined, resultsDir: string): string {
  return flag ?? join(resultsDir, "cache", "features");
}
