/**
 * The MoCo checkpoint schema, in one place: the original's layout (docs/common.md#checkpoint-file:
 * `epoch`, `arch`, `state_dict` with `module.`-prefixed keys, `optimizer` = SGD state dict in
 * torch 1.9's layout) as Python values ({@link mocoCheckpointToPy}) and back
 * ({@link parseMocoCheckpoint}), written atomically, plus one extra key, `ssl_train_state`,
 * holding what an exact resume needs beyond the original (our RNG state, the BN grouping, the
 * policy). `torch.load` reads the file like any MoCo checkpoint and the evaluation loaders
 * ignore the extra key. The supervised trainer's checkpoint (supervised_checkpoint.ts) uses the
 * same fields and the same dict reader ({@link dictFields}).
 *
 * The container (zip/legacy, tensors) is src/io/torch/; the state-dict rules that evaluation
 * needs too (finding the state dict, `module.`/`encoder_q.` prefixes) are
 * src/io/torch/state_dict.ts, below the models that use them.
 *
 * @module
 */
import {
  OrderedDict,
  PyFloat,
  type PyInput,
  type PyKey,
  pyNumber,
  type PyValue,
} from "../io/pickle.ts";
import { loadTorchCheckpoint } from "../io/torch/read.ts";
import { findStateDict, stripModulePrefix } from "../io/torch/state_dict.ts";
import { type StateDict, TorchTensor } from "../io/torch/tensor.ts";
import { writeTorchCheckpoint } from "../io/torch/write.ts";
import { DataError } from "../util/errors.ts";

/** One SGD parameter group as `torch.optim.SGD.state_dict()` stores it. */
export interface SgdParamGroup {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (0.9 in MoCo). */
  momentum: number;
  /** Dampening (0). */
  dampening: number;
  /** `weight_decay` (1e-4 in MoCo). */
  weightDecay: number;
  /** Nesterov momentum (false). */
  nesterov: boolean;
  /** Indices of the group's parameters (in the model's `parameters()` order). */
  params: number[];
}

/** `torch.optim.SGD.state_dict()`: per-parameter momentum buffers and the parameter groups. */
export interface SgdStateDict {
  /** Parameter index → momentum buffer. */
  state: Map<number, TorchTensor>;
  /** `param_groups`. */
  paramGroups: SgdParamGroup[];
}

/** A MoCo training checkpoint in `main_moco.py`'s layout. */
export interface MocoCheckpoint {
  /** Epochs completed (epoch index + 1). */
  epoch: number;
  /** `resnet50`, `resnet50w3`, … */
  arch: string;
  /** The DDP-wrapped MoCo state dict (keys start with `module.`). */
  stateDict: StateDict;
  /** The SGD state, when the file has one. */
  optimizer?: SgdStateDict;
}

/**
 * The Python object `main_moco.py` saves: `{'epoch', 'arch', 'state_dict', 'optimizer'}` with
 * the SGD state in torch 1.9's layout. Pass it to {@link writeTorchCheckpoint}.
 */
export function mocoCheckpointToPy(ckpt: MocoCheckpoint): Map<PyKey, PyInput> {
  const out = new Map<PyKey, PyInput>([
    ["epoch", ckpt.epoch],
    ["arch", ckpt.arch],
    ["state_dict", new OrderedDict(ckpt.stateDict)],
  ]);
  if (ckpt.optimizer !== undefined) {
    const state = new Map<PyKey, PyInput>();
    for (const [i, buf] of ckpt.optimizer.state) state.set(i, new Map([["momentum_buffer", buf]]));
    out.set(
      "optimizer",
      new Map<PyKey, PyInput>([
        ["state", state],
        [
          "param_groups",
          ckpt.optimizer.paramGroups.map((g) =>
            new Map<PyKey, PyInput>([
              ["lr", new PyFloat(g.lr)],
              ["momentum", new PyFloat(g.momentum)],
              ["dampening", g.dampening],
              ["weight_decay", new PyFloat(g.weightDecay)],
              ["nesterov", g.nesterov],
              ["params", g.params],
            ])
          ),
        ],
      ]),
    );
  }
  return out;
}

/**
 * Reads the fields of a MoCo checkpoint (§1.4) from an unpickled value. Throws `DataError`
 * naming `file` when a field is missing or has the wrong type. Extra optimizer fields that newer
 * PyTorch versions add (`maximize`, `foreach`, …) are ignored.
 */
export function parseMocoCheckpoint(value: PyValue, file: string): MocoCheckpoint {
  const fail = (what: string): never => {
    throw new DataError(`${file}: not a MoCo checkpoint: ${what}`);
  };
  if (!(value instanceof Map)) return fail("the top level is not a dict");
  const epoch = value.get("epoch");
  const arch = value.get("arch");
  if (typeof epoch !== "number" || !Number.isInteger(epoch)) {
    fail("'epoch' is missing or not an int");
  }
  if (typeof arch !== "string") fail("'arch' is missing or not a string");
  if (!(value.get("state_dict") instanceof Map)) fail("'state_dict' is missing");
  const out: MocoCheckpoint = {
    epoch: epoch as number,
    arch: arch as string,
    stateDict: findStateDict(new Map([["state_dict", value.get("state_dict")!]]), file),
  };
  const opt = value.get("optimizer");
  if (opt === undefined || opt === null) return out;
  if (!(opt instanceof Map)) return fail("'optimizer' is not a dict");
  const rawState = opt.get("state");
  const rawGroups = opt.get("param_groups");
  if (!(rawState instanceof Map) || !Array.isArray(rawGroups)) {
    fail("'optimizer' lacks state or param_groups");
  }
  const state = new Map<number, TorchTensor>();
  for (const [k, v] of rawState as Map<PyKey, PyValue>) {
    const buf = v instanceof Map ? v.get("momentum_buffer") : undefined;
    if (typeof k !== "number") fail(`optimizer state key ${String(k)} is not an int`);
    if (buf === undefined || buf === null) continue;
    if (!(buf instanceof TorchTensor)) {
      fail(`optimizer state ${String(k)} has no momentum_buffer tensor`);
    }
    state.set(k as number, buf as TorchTensor);
  }
  const groups = (rawGroups as PyValue[]).map((g, i): SgdParamGroup => {
    if (!(g instanceof Map)) return fail(`param_groups[${i}] is not a dict`);
    const num = (name: string): number => {
      const n = pyNumber(g.get(name));
      return n === undefined ? fail(`param_groups[${i}].${name} is missing`) : n;
    };
    const params = g.get("params");
    if (!Array.isArray(params) || !params.every((p) => typeof p === "number")) {
      fail(`param_groups[${i}].params is not a list of ints`);
    }
    return {
      lr: num("lr"),
      momentum: num("momentum"),
      dampening: num("dampening"),
      weightDecay: num("weight_decay"),
      nesterov: g.get("nesterov") === true,
      params: params as number[],
    };
  });
  out.optimizer = { state, paramGroups: groups };
  return out;
}

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

/** Typed reads of an unpickled dict's fields; each failure names the field. */
export interface DictFields {
  /** The dict itself. */
  readonly dict: Map<PyKey, PyValue>;
  /** Whether the dict has `key`. */
  has(key: string): boolean;
  /** `key` as an int; fails with "'key' is not an int". */
  int(key: string): number;
  /** `key` as a string; fails with "'key' is not a string". */
  string(key: string): string;
  /** `key` as a list of strings; fails with "'key' is not a list of strings". */
  strings(key: string): string[];
}

/**
 * The one reader of the extra dicts this project's checkpoints carry (MoCo's `ssl_train_state`,
 * the supervised trainer's `ssl_supervised_state` and its top-level `classes`): `fail` receives
 * what is wrong and throws (a `DataError` naming the file and the dict). Fails with "not a dict"
 * when `value` is not one.
 */
export function dictFields(value: PyValue, fail: (what: string) => never): DictFields {
  if (!(value instanceof Map)) return fail("not a dict");
  return {
    dict: value,
    has: (key) => value.has(key),
    int: (key) => {
      const v = value.get(key);
      return typeof v === "number" && Number.isInteger(v) ? v : fail(`'${key}' is not an int`);
    },
    string: (key) => {
      const v = value.get(key);
      return typeof v === "string" ? v : fail(`'${key}' is not a string`);
    },
    strings: (key) => {
      const v = value.get(key);
      if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
        return fail(`'${key}' is not a list of strings`);
      }
      return v as string[];
    },
  };
}

function trainStateFromPy(value: PyValue, file: string): TrainState {
  const fail = (what: string): never => {
    throw new DataError(`${file}: bad ${TRAIN_STATE_KEY}: ${what}`);
  };
  const f = dictFields(value, fail);
  const words = f.dict.get("rng_words");
  if (!Array.isArray(words) || words.length !== 4 || !words.every((w) => typeof w === "number")) {
    fail("'rng_words' is not a list of 4 ints");
  }
  const spareRaw = f.dict.get("rng_spare_normal");
  const spare = spareRaw === null || spareRaw === undefined ? NaN : Number(spareRaw);
  const policy = f.string("policy");
  return {
    seed: f.int("seed"),
    rng: [...(words as number[]), spare],
    globalStep: f.int("global_step"),
    stepInEpoch: f.has("step_in_epoch") ? f.int("step_in_epoch") : 0,
    policy,
    bnGroups: f.int("bn_groups"),
    batchSize: f.int("batch_size"),
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
  const out: TrainingCheckpoint = { ...ckpt, stateDict: stripModulePrefix(ckpt.stateDict, path) };
  const extra = value instanceof Map ? value.get(TRAIN_STATE_KEY) : undefined;
  if (extra !== undefined) out.trainState = trainStateFromPy(extra, path);
  return out;
}
