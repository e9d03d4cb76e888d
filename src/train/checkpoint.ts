/**
 * MoCo training checkpoints: the original's layout (docs/common.md#checkpoint-file: `epoch`, `arch`, `state_dict`
 * with `module.`-prefixed keys, `optimizer` = SGD state dict) written atomically, plus one extra
 * key, `ssl_train_state`, holding what an exact resume needs beyond the original (our RNG state,
 * the BN grouping, the policy). `torch.load` reads the file like any MoCo checkpoint and the
 * evaluation loaders ignore the extra key.
 *
 * @module
 */
import {
  loadTorchCheckpoint,
  type MocoCheckpoint,
  mocoCheckpointToPy,
  parseMocoCheckpoint,
  type SgdStateDict,
  type StateDict,
  writeTorchCheckpoint,
} from "../io/torch_checkpoint.ts";
import { PyFloat, type PyInput, type PyKey, type PyValue } from "../io/pickle.ts";
import { DataError } from "../util/errors.ts";

/** The extra checkpoint key holding {@link TrainState}. */
export const TRAIN_STATE_KEY = "ssl_train_state";

/** Resume information stored beside the original's keys. */
export interface TrainState {
  /** The run's seed (drawn at random when `--seed` is not given, so every run can resume). */
  seed: number;
  /** The master generator's state (`Rng.getState()`): 4 words and the spare normal (NaN: none). */
  rng: number[];
  /** Optimiser steps taken so far. */
  globalStep: number;
  /**
   * Steps already taken inside epoch `epoch` (the checkpoint's completed-epoch count): 0 for the
   * end-of-epoch checkpoints, > 0 for mid-epoch `_latest` ones.
   */
  stepInEpoch: number;
  /** `--model`: the augmentation policy. */
  policy: string;
  /** `--bn-groups`. */
  bnGroups: number;
  /** Batch size the run used (a resume with another one is refused: the queue layout differs). */
  batchSize: number;
}

/** A training checkpoint as read back. */
export interface TrainingCheckpoint extends MocoCheckpoint {
  /** Present in files written by this project; absent in the original's. */
  trainState?: TrainState;
}

/**
 * The checkpoint file name for the 0-based `epoch`. Intended (default):
 * `{model}[_w3]_{epoch:04d}.pth.tar`. Faithful (docs/quirks.md#q1): the original's operator-precedence
 * bug drops the model name unless the arch contains `w3`, giving `_0000.pth.tar`, ….
 *
 * @example
 * ```ts
 * checkpointFileName("default", "resnet50w3", 199); // "default_w3_0199.pth.tar"
 * ```
 */
export function checkpointFileName(
  model: string,
  arch: string,
  epoch: number,
  faithful = false,
): string {
  const w3 = arch.includes("w3");
  const prefix = faithful ? (w3 ? `${model}_w3` : "") : `${model}${w3 ? "_w3" : ""}`;
  return `${prefix}_${String(epoch).padStart(4, "0")}.pth.tar`;
}

/** The rolling mid-epoch checkpoint: `{model}[_w3]_latest.pth.tar`. */
export function latestFileName(model: string, arch: string): string {
  return `${model}${arch.includes("w3") ? "_w3" : ""}_latest.pth.tar`;
}

/** What {@link saveTrainingCheckpoint} writes. */
export interface SaveCheckpointInput {
  /** Epochs completed (0-based epoch index + 1), as the original stores it. */
  epoch: number;
  /** Architecture name (`resnet50`, `resnet50w3`, …). */
  arch: string;
  /** MoCo's state dict without `module.` (`encoder_q.*`, `encoder_k.*`, `queue`, `queue_ptr`). */
  mocoState: StateDict;
  /** The query encoder's SGD state (momentum buffers, one parameter group). */
  optimizer: SgdStateDict;
  /** Our resume information (stored under {@link TRAIN_STATE_KEY}). */
  trainState: TrainState;
}

/** Prefixes every key with `module.` (the DDP wrapper's name, which the original saves). */
export function withModulePrefix(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) out.set(k.startsWith("module.") ? k : `module.${k}`, v);
  return out;
}

/** Writes a training checkpoint atomically (temp file + rename): a kill never leaves half a file. */
export async function saveTrainingCheckpoint(
  path: string,
  input: SaveCheckpointInput,
): Promise<void> {
  const value = mocoCheckpointToPy({
    epoch: input.epoch,
    arch: input.arch,
    stateDict: withModulePrefix(input.mocoState),
    optimizer: input.optimizer,
  });
  value.set(TRAIN_STATE_KEY, trainStateToPy(input.trainState));
  await writeTorchCheckpoint(path, value);
}

function trainStateToPy(s: TrainState): Map<PyKey, PyInput> {
  const spare = s.rng[4];
  return new Map<PyKey, PyInput>([
    ["format", 1],
    ["seed", s.seed],
    ["rng_words", s.rng.slice(0, 4)],
    ["rng_spare_normal", Number.isNaN(spare) ? null : new PyFloat(spare)],
    ["global_step", s.globalStep],
    ["step_in_epoch", s.stepInEpoch],
    ["policy", s.policy],
    ["bn_groups", s.bnGroups],
    ["batch_size", s.batchSize],
  ]);
}

function trainStateFromPy(value: PyValue, file: string): TrainState {
  const fail = (what: string): never => {
    throw new DataError(`${file}: bad ${TRAIN_STATE_KEY}: ${what}`);
  };
  if (!(value instanceof Map)) return fail("not a dict");
  const int = (key: string): number => {
    const v = value.get(key);
    return typeof v === "number" && Number.isInteger(v) ? v : fail(`'${key}' is not an int`);
  };
  const words = value.get("rng_words");
  if (!Array.isArray(words) || words.length !== 4 || !words.every((w) => typeof w === "number")) {
    fail("'rng_words' is not a list of 4 ints");
  }
  const spareRaw = value.get("rng_spare_normal");
  const spare = spareRaw === null || spareRaw === undefined ? NaN : Number(spareRaw);
  const policy = value.get("policy");
  if (typeof policy !== "string") fail("'policy' is not a string");
  return {
    seed: int("seed"),
    rng: [...(words as number[]), spare],
    globalStep: int("global_step"),
    stepInEpoch: value.has("step_in_epoch") ? int("step_in_epoch") : 0,
    policy: policy as string,
    bnGroups: int("bn_groups"),
    batchSize: int("batch_size"),
  };
}

/**
 * Reads a MoCo checkpoint for `--resume`: the original's fields, with `module.` stripped from
 * the state-dict keys, and our train state when present.
 *
 * @throws DataError naming the file when it is missing, unreadable or not a MoCo checkpoint.
 */
export async function loadTrainingCheckpoint(path: string): Promise<TrainingCheckpoint> {
  const { value } = await loadTorchCheckpoint(path);
  const ckpt = parseMocoCheckpoint(value, path);
  const stateDict: StateDict = new Map();
  for (const [k, v] of ckpt.stateDict) {
    stateDict.set(k.startsWith("module.") ? k.slice("module.".length) : k, v);
  }
  const out: TrainingCheckpoint = { ...ckpt, stateDict };
  const extra = value instanceof Map ? value.get(TRAIN_STATE_KEY) : undefined;
  if (extra !== undefined) out.trainState = trainStateFromPy(extra, path);
  return out;
}
