/**
 * What the four evaluation scripts share: the flags every one of them adds to the original's
 * (`--faithful`, `--jitter`, `--seed`, `--on-bad-image`, `--arch`, `--base-width`, `--cache-dir`),
 * the `--device` explanation, opening the GPU and the model, phase timings and the run record.
 *
 * @module
 */
import { join } from "node:path";
import { type Gpu, openGpu } from "../gpu/device.ts";
import type { FlagSpec } from "../util/cli.ts";
import { UsageError } from "../util/errors.ts";
import type { FeatureExtractor } from "./features.ts";
import {
  newRunId,
  type RunRecord,
  runtimeVersions,
  writeRunRecord,
  type WrittenRecord,
} from "../io/results.ts";
import { RANDOM_MODEL_JITTER } from "./whitening.ts";

/** Feature layers the registry accepts. */
export const FEATURE_LAYERS: readonly string[] = [
  "backbone",
  "layer1",
  "layer2",
  "layer3",
  "layer4",
];

/** The flags our scripts add to the original's. */
export const EXTRA_FLAGS = {
  faithful: {
    type: "boolean",
    help: "reproduce the original's behaviour where it differs from its intent (SPEC §9)",
  },
  seed: {
    type: "int",
    default: 0,
    help: "seed of our own randomness (folds, subsets, random model)",
  },
  "on-bad-image": {
    type: "string",
    default: "fail",
    choices: ["fail", "skip"],
    help: "an undecodable image stops the run (fail) or is left out and reported (skip)",
  },
  arch: {
    type: "string",
    default: "resnet50",
    help: "architecture of plain state dicts (supervised, random); MoCo files carry their own",
  },
  "base-width": {
    type: "int",
    default: 64,
    help: "ResNet stem width at w=1 (tests use narrow nets)",
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

/** One line explaining what `--device` means here, when it was given a non-default value. */
export function deviceNote(device: string, adapter: string): string | undefined {
  if (device === "cuda:0") return undefined;
  return `note: --device ${device} is accepted for compatibility; this port runs every kernel on ` +
    `the WebGPU adapter "${adapter}" (force a backend with DENO_WEBGPU_BACKEND=vulkan|gl|metal|dx12)`;
}

/** The jitter of SPEC §3.1: `--jitter` if given, else 1e-10 for models named `random`. */
export function jitterFor(model: string, flag: number | undefined): number {
  if (flag !== undefined) {
    if (!(flag >= 0) || !Number.isFinite(flag)) {
      throw new UsageError(`--jitter: must be a finite number ≥ 0, got ${flag}`);
    }
    return flag;
  }
  return model.includes("random") ? RANDOM_MODEL_JITTER : 0;
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

/** Writes the run's JSON + CSV row under `<resultsDir>/<script>/` and returns the paths. */
export function recordRun(input: RecordRunInput): Promise<WrittenRecord> {
  input.timings.values.total = input.timings.total();
  return writeRunRecord(input.resultsDir, {
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
}

/** The feature cache folder: `--cache-dir`, else `<resultsDir>/cache/features`. */
export function cacheDir(flag: string | undefined, resultsDir: string): string {
  return flag ?? join(resultsDir, "cache", "features");
}
