/**
 * State-dict rules: finding the state dict inside a checkpoint, the prefix surgery that
 * DataParallel/DDP and MoCo's two encoders need (`module.`, `encoder_q.`), dropping the head,
 * checking keys and shapes against a model, and refusing non-finite weights. These read any
 * checkpoint (MoCo, torchvision, supervised); the MoCo training checkpoint's own fields
 * (`epoch`, `arch`, `optimizer`) are src/train/checkpoint.ts's.
 *
 * @module
 */
import { DataError } from "../../util/errors.ts";
import type { PyKey, PyValue } from "../pickle.ts";
import { type StateDict, TorchTensor } from "./tensor.ts";

/**
 * The state dict inside a checkpoint: the value of `state_dict` (MoCo and most training
 * scripts), of `model` (torchvision's reference scripts), or the checkpoint itself when it is a
 * name → tensor mapping. Throws `DataError` naming `file` when there is none.
 */
export function findStateDict(value: PyValue, file: string): StateDict {
  if (!(value instanceof Map)) {
    throw new DataError(`${file}: checkpoint is not a dict, so it holds no state dict`);
  }
  for (const key of ["state_dict", "model"]) {
    const inner = value.get(key);
    if (inner instanceof Map && [...inner.values()].some((v) => v instanceof TorchTensor)) {
      return asStateDict(inner, file);
    }
  }
  if (value.size > 0 && [...value.values()].every((v) => v instanceof TorchTensor)) {
    return asStateDict(value, file);
  }
  const keys = [...value.keys()].slice(0, 8).map(String).join(", ");
  throw new DataError(`${file}: no state dict found (top-level keys: ${keys || "none"})`);
}

function asStateDict(map: Map<PyKey, PyValue>, file: string): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of map) {
    if (typeof k !== "string") {
      throw new DataError(`${file}: state dict key ${String(k)} is not a string`);
    }
    if (!(v instanceof TorchTensor)) {
      throw new DataError(`${file}: state dict entry '${k}' is not a tensor`);
    }
    out.set(k, v);
  }
  return out;
}

/**
 * Removes the `module.` prefix that DataParallel/DistributedDataParallel add, from the keys that
 * have it (the original dropped 7 characters from every key unconditionally, docs/quirks.md#q5).
 * Throws `DataError` if stripping makes two keys collide.
 */
export function stripModulePrefix(stateDict: StateDict, file = "<state dict>"): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of stateDict) {
    const name = k.startsWith("module.") ? k.slice(7) : k;
    if (out.has(name)) {
      throw new DataError(`${file}: keys '${k}' and '${name}' collide after removing 'module.'`);
    }
    out.set(name, v);
  }
  return out;
}

/** Options of {@link selectEncoder}. */
export interface SelectEncoderOptions {
  /** Drop the classifier/projection head (`fc.*`), as feature extraction does. Default false. */
  dropHead?: boolean;
  /** File name for error messages. */
  file?: string;
}

/**
 * The backbone keys of one MoCo encoder with plain torchvision names: accepts
 * `module.encoder_q.conv1.weight`, `encoder_q.conv1.weight` and plain `conv1.weight` (a
 * torchvision or re-saved state dict). Keys of other encoders and MoCo's `queue`/`queue_ptr` are
 * left out. Throws `DataError` when the state dict holds other encoders but not this one.
 */
export function selectEncoder(
  stateDict: StateDict,
  encoder = "encoder_q",
  options: SelectEncoderOptions = {},
): StateDict {
  const file = options.file ?? "<state dict>";
  const plain = stripModulePrefix(stateDict, file);
  const prefix = `${encoder}.`;
  let out: StateDict = new Map();
  for (const [k, v] of plain) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  if (out.size === 0) {
    const others = [
      ...new Set(
        [...plain.keys()].filter((k) => /^encoder_\w+\./.test(k)).map((k) => k.split(".")[0]),
      ),
    ];
    if (others.length > 0) {
      throw new DataError(
        `${file}: no '${encoder}' weights (the checkpoint has ${others.join(", ")})`,
      );
    }
    out = new Map([...plain].filter(([k]) => k !== "queue" && k !== "queue_ptr"));
  }
  return options.dropHead ? dropHead(out) : out;
}

/** The state dict without the head `head.*` (default `fc`: torchvision's classifier or MoCo's MLP). */
export function dropHead(stateDict: StateDict, head = "fc"): StateDict {
  return new Map([...stateDict].filter(([k]) => !k.startsWith(`${head}.`)));
}

/** Options of {@link checkKeys}. */
export interface CheckKeysOptions {
  /** File name for the error message. */
  file?: string;
  /** Accept keys the model does not have. Default false. */
  ignoreUnexpected?: boolean;
}

/**
 * Checks a state dict against the model's expected names and shapes. Throws one `DataError`
 * listing the missing keys, unexpected keys and shape mismatches (the original loaded
 * non-strictly and silently kept random weights).
 */
export function checkKeys(
  stateDict: StateDict,
  expected: ReadonlyMap<string, readonly number[]>,
  options: CheckKeysOptions = {},
): void {
  const missing = [...expected.keys()].filter((k) => !stateDict.has(k));
  const unexpected = options.ignoreUnexpected
    ? []
    : [...stateDict.keys()].filter((k) => !expected.has(k));
  const mismatched: string[] = [];
  for (const [k, shape] of expected) {
    const t = stateDict.get(k);
    if (t !== undefined && !sameShape(t.shape, shape)) {
      mismatched.push(`${k}: checkpoint [${t.shape.join(", ")}] vs model [${shape.join(", ")}]`);
    }
  }
  if (missing.length + unexpected.length + mismatched.length === 0) return;
  const list = (what: string, items: string[]) => {
    if (items.length === 0) return [];
    const shown = items.slice(0, 10).join("; ");
    const more = items.length > 10 ? `; … and ${items.length - 10} more` : "";
    return [`${items.length} ${what} (${shown}${more})`];
  };
  const parts = [
    ...list("missing keys", missing),
    ...list("unexpected keys", unexpected),
    ...list("shape mismatches", mismatched),
  ];
  throw new DataError(
    `${options.file ?? "<state dict>"}: state dict does not match the model: ${parts.join(", ")}`,
  );
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Where a state dict holds NaN or ±Infinity: the first such tensor, its count and first value. */
export interface NonFiniteTensor {
  /** The tensor's key. */
  name: string;
  /** How many of its elements are not finite. */
  count: number;
  /** Number of elements. */
  numel: number;
  /** Flat index of the first one. */
  index: number;
  /** Its value (NaN, Infinity or -Infinity). */
  value: number;
}

/** The first floating-point tensor of `tensors` holding NaN or ±Infinity, else `undefined`. */
export function findNonFinite(
  tensors: Iterable<[string, TorchTensor]>,
): NonFiniteTensor | undefined {
  for (const [name, t] of tensors) {
    const d = t.data;
    if (!(d instanceof Float32Array || d instanceof Float64Array)) continue;
    let count = 0;
    let index = -1;
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      if (v - v !== 0) { // NaN or ±Infinity
        if (index < 0) index = i;
        count++;
      }
    }
    if (count > 0) return { name, count, numel: d.length, index, value: d[index] };
  }
  return undefined;
}

/**
 * Throws a `DataError` naming `file` and the first tensor of `tensors` with NaN or ±Infinity
 * (`what` says what the tensors are, e.g. "weights"): such weights give NaN features and
 * meaningless statistics, so they are refused instead of evaluated.
 */
export function assertFiniteTensors(
  tensors: Iterable<[string, TorchTensor]>,
  file: string,
  what = "weights",
): void {
  const bad = findNonFinite(tensors);
  if (bad === undefined) return;
  throw new DataError(
    `${file}: ${what} '${bad.name}' hold ${bad.count} non-finite value(s) of ${bad.numel} ` +
      `(first: ${bad.value} at index ${bad.index}); the checkpoint comes from a diverged run or ` +
      `is corrupt`,
  );
}
