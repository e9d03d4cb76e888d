/**
 * Writing PyTorch checkpoints: the zip format that `torch.load` reads (also with
 * `weights_only=True`): protocol-2 pickle, stored 64-byte aligned records, one storage per
 * tensor. Files are written atomically (temp file + rename). Values follow the table in
 * `pickle.ts`; tensors are {@link TorchTensor}s (float16/bfloat16 narrowed back exactly).
 *
 * @module
 */
import { writeFileAtomic } from "../atomic.ts";
import {
  OrderedDict,
  pickle,
  PyGlobal,
  type PyInput,
  PyPersistent,
  PyReduce,
  PyTuple,
} from "../pickle.ts";
import { buildZip } from "../zip.ts";
import { DTYPES } from "./dtypes.ts";
import { contiguousStrides, tensorBytes, TorchTensor } from "./tensor.ts";

/** Options of {@link encodeTorchCheckpoint} / {@link writeTorchCheckpoint}. */
export interface TorchWriteOptions {
  /** Top folder inside the zip (PyTorch uses the file's stem or `archive`). Default `archive`. */
  archiveName?: string;
  /** Write ZIP64 records even for small files (tests). Default false. */
  forceZip64?: boolean;
}

const REBUILD_TENSOR = new PyGlobal("torch._utils", "_rebuild_tensor_v2");
const REBUILD_PARAMETER = new PyGlobal("torch._utils", "_rebuild_parameter");

/**
 * Encodes `value` as a torch ≥ 1.6 zip checkpoint and returns the file as chunks (tensor data is
 * referenced, not copied, where possible). Values follow the table in `pickle.ts`; tensors are
 * {@link TorchTensor}s. Throws `TypeError` for a value that cannot be pickled.
 */
export function encodeTorchCheckpoint(
  value: PyInput,
  options: TorchWriteOptions = {},
): Uint8Array[] {
  const archive = options.archiveName ?? "archive";
  const keys = new Map<TorchTensor, string>();
  const storages: { key: string; bytes: Uint8Array }[] = [];
  const tensorReduce = (t: TorchTensor): PyReduce => {
    let key = keys.get(t);
    if (key === undefined) {
      key = String(keys.size);
      keys.set(t, key);
      storages.push({ key, bytes: tensorBytes(t) });
    }
    const pid = new PyTuple([
      "storage",
      new PyGlobal("torch", DTYPES[t.dtype].storage),
      key,
      "cpu",
      t.numel,
    ]);
    return new PyReduce(REBUILD_TENSOR, [
      new PyPersistent(pid),
      0,
      new PyTuple(t.shape),
      new PyTuple(contiguousStrides(t.shape)),
      t.isParameter ? false : t.requiresGrad,
      new OrderedDict(),
    ]);
  };
  const data = pickle(value, {
    replace: (v) => {
      if (!(v instanceof TorchTensor)) return undefined;
      const inner = tensorReduce(v);
      return v.isParameter
        ? new PyReduce(REBUILD_PARAMETER, [inner, v.requiresGrad, new OrderedDict()])
        : inner;
    },
  });
  // PyTorch lists storages in string order of their keys.
  storages.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const enc = new TextEncoder();
  return buildZip([
    { name: `${archive}/data.pkl`, data },
    { name: `${archive}/byteorder`, data: enc.encode("little") },
    ...storages.map((s) => ({ name: `${archive}/data/${s.key}`, data: s.bytes })),
    { name: `${archive}/version`, data: enc.encode("3\n") },
  ], { align: 64, forceZip64: options.forceZip64 });
}

/**
 * Writes `value` as a PyTorch zip checkpoint at `path`, atomically (temp file + rename).
 *
 * @example
 * ```ts
 * await writeTorchCheckpoint("models/random.pth.tar", stateDictAsOrderedDict);
 * ```
 */
export async function writeTorchCheckpoint(
  path: string,
  value: PyInput,
  options: TorchWriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, encodeTorchCheckpoint(value, options));
}
