/**
 * Loading models by name as the evaluation scripts do (`model_utils.load_model`, docs/common.md#model-loading),
 * with the fixes of docs/quirks.md#q5, docs/quirks.md#q6, docs/quirks.md#q7, docs/quirks.md#q8:
 *
 * - `A+B+C` loads each piece and fuses their features (`cat` / `add` / `mean`).
 * - `<ckptDir>/<name>.pth.tar` must exist (a `DataError` names the path). Weights load strictly:
 *   missing, unexpected or mis-shaped backbone keys are a `DataError` listing them, never a
 *   silently random network. `module.` is stripped only where present.
 * - A MoCo checkpoint (`{epoch, arch, state_dict, …}`) gives its `encoder_q` backbone; the
 *   architecture comes from its `arch` field. A plain state dict (or one wrapped in
 *   `state_dict`/`model`) is a torchvision ResNet of `options.arch`.
 * - `random` (any name containing it): a seeded random ResNet, written to its path the first
 *   time and read back from there afterwards, so every run uses the same weights.
 * - The head (`fc`, MoCo's MLP) is dropped; features are the pooled output of the layer asked.
 *
 * @module
 */
import { dirname } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { checkPlainName } from "../io/names.ts";
import { loadTorchCheckpoint } from "../io/torch/read.ts";
import {
  assertFiniteTensors,
  dropHead,
  findStateDict,
  selectEncoder,
} from "../io/torch/state_dict.ts";
import type { StateDict } from "../io/torch/tensor.ts";
import { writeTorchCheckpoint } from "../io/torch/write.ts";
import { OrderedDict } from "../io/pickle.ts";
import { DataError, UsageError } from "../util/errors.ts";
import { sha256File, sha256Hex, stableStringify } from "../util/hash.ts";
import { Rng } from "../util/rng.ts";
import { CombinedExtractor, type FuseMode, parseFuseMode } from "./combine.ts";
import { type FeatureExtractor, ResNetFeatureExtractor } from "./feature_extractor.ts";
import {
  archName,
  type FeatureLayer,
  parseArch,
  parseFeatureLayer,
  ResNet,
  type ResNetConfig,
} from "./resnet.ts";

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Folder of `<name>.pth.tar` files, default `models`. */
  ckptDir?: string;
  /** Which pooled layer to return, default `backbone`. */
  featureLayer?: FeatureLayer;
  /** Fusion of `A+B` models, default `cat`. */
  fuseMode?: FuseMode;
  /** Architecture of plain state dicts (`supervised`, `random`), default `resnet50`. */
  arch?: string;
  /** Seed of a `random` model created for the first time, default 0. */
  seed?: number;
  /** Stem width at w = 1 (default 64; small test networks use less). */
  baseWidth?: number;
}

/**
 * Loads `name` (one model or `A+B+…`) as a feature extractor on `gpu`.
 *
 * @throws DataError for a missing or unreadable file or weights that do not fit the
 *   architecture; UsageError for a bad option.
 * @example
 * ```ts
 * const model = await loadModel(gpu, "default+ventral", { fuseMode: "cat" });
 * const features = model.extract(images); // [N, 4096]
 * ```
 */
export async function loadModel(
  gpu: Gpu,
  name: string,
  options: LoadModelOptions = {},
): Promise<FeatureExtractor> {
  const layer = parseFeatureLayer(options.featureLayer ?? "backbone");
  const fuseMode = parseFuseMode(options.fuseMode ?? "cat");
  const pieces = name.split("+");
  if (pieces.some((p) => p.trim() === "")) {
    throw new UsageError(`bad model name '${name}': empty piece between '+' signs`);
  }
  // Model names become file names (statistics, results): they must not lead out of a folder.
  checkPlainName(name, "--model", true);
  if (pieces.length === 1) return await loadSingle(gpu, name, layer, options);
  const parts: FeatureExtractor[] = [];
  try {
    for (const piece of pieces) parts.push(await loadSingle(gpu, piece, layer, options));
    return new CombinedExtractor(parts, fuseMode);
  } catch (error) {
    for (const p of parts) p.release();
    throw error;
  }
}

/** The checkpoint path of a model name. */
export function modelPath(name: string, ckptDir = "models"): string {
  return `${ckptDir.replace(/\/+$/, "") || "."}/${name}.pth.tar`;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function loadSingle(
  gpu: Gpu,
  name: string,
  layer: FeatureLayer,
  options: LoadModelOptions,
): Promise<FeatureExtractor> {
  const path = modelPath(name, options.ckptDir ?? "models");
  const plainArch = options.arch ?? "resnet50";
  const baseWidth = options.baseWidth;
  if (name.includes("random") && !(await exists(path))) {
    await createRandom(gpu, path, { ...parseArch(plainArch), baseWidth }, options.seed ?? 0);
  }
  if (!(await exists(path))) {
    throw new DataError(
      `model '${name}': checkpoint ${path} not found (put it there or pass --ckpt-dir)`,
    );
  }
  const ckpt = await loadTorchCheckpoint(path);
  const value = ckpt.value;
  const isMoco = value instanceof Map && typeof value.get("arch") === "string" &&
    value.get("state_dict") instanceof Map;
  let archString = plainArch;
  let backbone: StateDict;
  if (isMoco) {
    // The checkpoint's own arch wins over options.arch (which describes plain state dicts).
    archString = value.get("arch") as string;
    backbone = selectEncoder(findStateDict(value, path), "encoder_q", {
      dropHead: true,
      file: path,
    });
  } else {
    backbone = dropHead(selectEncoder(findStateDict(value, path), "encoder_q", { file: path }));
  }
  let config: ResNetConfig;
  try {
    const parsed = parseArch(archString);
    config = {
      ...parsed,
      baseWidth: baseWidth ?? inferBaseWidth(backbone, parsed.widthMultiplier ?? 1),
      head: "none",
    };
  } catch (error) {
    if (error instanceof UsageError && isMoco) {
      throw new DataError(`${path}: unknown 'arch' ${archString} in the checkpoint`);
    }
    throw error;
  }
  // NaN/Inf weights would give NaN features and statistics without a word: refuse them.
  assertFiniteTensors(backbone, path);
  const model = ResNet.fromStateDict(gpu, config, backbone, path);
  const sha256 = await sha256File(path);
  const contentKey = sha256Hex(stableStringify({
    files: [sha256],
    arch: archName(config),
    baseWidth: config.baseWidth ?? 64,
    layer,
    fuse: "single",
  }));
  return new ResNetFeatureExtractor(name, model, layer, contentKey, [{ path, sha256 }]);
}

/**
 * The base width a checkpoint was trained with, read off its stem: `conv1.weight` has
 * baseWidth × widthMultiplier output channels. Falls back to torchvision's 64 when the stem is
 * absent (the strict key check then reports it).
 */
function inferBaseWidth(backbone: StateDict, widthMultiplier: number): number {
  const stem = backbone.get("conv1.weight");
  if (!stem || stem.shape.length !== 4) return 64;
  const width = stem.shape[0] / widthMultiplier;
  return Number.isInteger(width) && width > 0 ? width : 64;
}

/**
 * Writes a seeded random ResNet (torchvision layout with its 1000-class fc, as the original
 * saved it) to `path`, atomically.
 */
async function createRandom(
  gpu: Gpu,
  path: string,
  config: ResNetConfig,
  seed: number,
): Promise<void> {
  const model = ResNet.create(gpu, { ...config, head: "linear", numClasses: 1000 }, new Rng(seed));
  try {
    const sd = await model.stateDict();
    await Deno.mkdir(dirname(path), { recursive: true });
    await writeTorchCheckpoint(path, new OrderedDict(sd));
  } finally {
    model.release();
  }
}
