/**
 * PyTorch checkpoints (`.pth`, `.pth.tar`): read and write without Python.
 *
 * Reading understands both containers `torch.save` has used:
 * - the zip format (torch ≥ 1.6): `<archive>/data.pkl` is the pickle, each storage is the stored
 *   entry `<archive>/data/<key>`, `<archive>/byteorder` says the byte order (little when absent);
 * - the legacy format (torch < 1.6, or `_use_new_zipfile_serialization=False`; the official MoCo
 *   releases): a magic-number pickle, the protocol version, a sys-info dict, the main pickle,
 *   the list of storage keys, then each storage as an 8-byte element count and its raw bytes.
 *
 * The pickle machine is restricted ({@link unpickle}): only containers, scalars and the globals
 * PyTorch uses for tensors (`torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`, the storage
 * types, dtypes) are allowed. A foreign global (`os.system`), a truncated or corrupt file, or a
 * file that is not a checkpoint is a `DataError` naming the file and the problem.
 *
 * Tensors come out as {@link TorchTensor}: dtype, shape and a contiguous typed array (views,
 * storage offsets and strides are materialised). float16 and bfloat16 data are widened to
 * `Float32Array` on read and narrowed again on write (exactly, since the values came from there).
 * Everything else follows the table in `pickle.ts` (dicts are `Map`s, tuples `PyTuple`, …).
 *
 * Writing produces the zip format that `torch.load` reads (also with `weights_only=True`):
 * protocol-2 pickle, stored 64-byte aligned records, one storage per tensor. Files are written
 * atomically (temp file + rename).
 *
 * @example
 * ```ts
 * const ckpt = await readTorchCheckpoint("models/default.pth.tar");
 * const backbone = selectEncoder(findStateDict(ckpt, "models/default.pth.tar"), "encoder_q", {
 *   dropHead: true,
 * });
 * checkKeys(backbone, expectedShapes, { file: "models/default.pth.tar" });
 * ```
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import {
  OrderedDict,
  pickle,
  PickleTruncatedError,
  PyCallable,
  PyExternal,
  PyFloat,
  PyGlobal,
  type PyInput,
  type PyKey,
  pyNumber,
  PyObject,
  PyPersistent,
  PyReduce,
  PyTuple,
  type PyValue,
  unpickle,
} from "./pickle.ts";
import { buildZip, type ByteSource, bytesSource, fileSource, ZipReader } from "./zip.ts";

/** Tensor element types that checkpoints hold. */
export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** The typed array behind a tensor of each dtype (float16/bfloat16 are widened to float32). */
export interface TensorDataOf {
  /** `torch.float32`: Float32Array. */
  float32: Float32Array;
  /** `torch.float64`: Float64Array. */
  float64: Float64Array;
  /** `torch.float16`: Float32Array, widened from IEEE half precision. */
  float16: Float32Array;
  /** `torch.bfloat16`: Float32Array, widened from bfloat16 (exact). */
  bfloat16: Float32Array;
  /** `torch.int64`: BigInt64Array. */
  int64: BigInt64Array;
  /** `torch.int32`: Int32Array. */
  int32: Int32Array;
  /** `torch.int16`: Int16Array. */
  int16: Int16Array;
  /** `torch.int8`: Int8Array. */
  int8: Int8Array;
  /** `torch.uint8`: Uint8Array. */
  uint8: Uint8Array;
  /** `torch.bool`: Uint8Array of 0/1. */
  bool: Uint8Array;
}

/** Any tensor's data. */
export type TorchTensorData = TensorDataOf[TorchDType];

interface DTypeInfo {
  size: number;
  storage: string;
  array: new (n: number) => TorchTensorData;
}

const DTYPES: Record<TorchDType, DTypeInfo> = {
  float32: { size: 4, storage: "FloatStorage", array: Float32Array },
  float64: { size: 8, storage: "DoubleStorage", array: Float64Array },
  float16: { size: 2, storage: "HalfStorage", array: Float32Array },
  bfloat16: { size: 2, storage: "BFloat16Storage", array: Float32Array },
  int64: { size: 8, storage: "LongStorage", array: BigInt64Array },
  int32: { size: 4, storage: "IntStorage", array: Int32Array },
  int16: { size: 2, storage: "ShortStorage", array: Int16Array },
  int8: { size: 1, storage: "CharStorage", array: Int8Array },
  uint8: { size: 1, storage: "ByteStorage", array: Uint8Array },
  bool: { size: 1, storage: "BoolStorage", array: Uint8Array },
};

const STORAGE_DTYPES: ReadonlyMap<string, TorchDType> = new Map([
  ...Object.entries(DTYPES).map(([d, info]) => [info.storage, d as TorchDType] as const),
  // An untyped storage is raw bytes; the tensor's dtype comes from the rebuild call.
  ["UntypedStorage", "uint8"],
]);

const TORCH_DTYPE_NAMES: ReadonlyMap<string, TorchDType> = new Map([
  ["float32", "float32"],
  ["float", "float32"],
  ["float64", "float64"],
  ["double", "float64"],
  ["float16", "float16"],
  ["half", "float16"],
  ["bfloat16", "bfloat16"],
  ["int64", "int64"],
  ["long", "int64"],
  ["int32", "int32"],
  ["int", "int32"],
  ["int16", "int16"],
  ["short", "int16"],
  ["int8", "int8"],
  ["uint8", "uint8"],
  ["bool", "bool"],
]);

const UNFILLED = new Float32Array(0);

/** Options of the {@link TorchTensor} constructor. */
export interface TorchTensorOptions {
  /** `requires_grad` as stored in the file. Default false. */
  requiresGrad?: boolean;
  /** Whether it was (and will be written as) a `torch.nn.Parameter`. Default false. */
  isParameter?: boolean;
}

/** A dense, contiguous (row-major) CPU tensor as stored in a checkpoint. */
export class TorchTensor extends PyExternal {
  /** The Python type name shown in messages: `torch.Tensor`. */
  readonly pyType = "torch.Tensor";
  /** Element type as stored in the file. */
  readonly dtype: TorchDType;
  /** Sizes, outermost first (`[]` for a scalar). */
  readonly shape: readonly number[];
  /**
   * Row-major elements. float16/bfloat16 hold their values widened to float32; int64 is a
   * `BigInt64Array`; bool is a `Uint8Array` of 0/1. Replace only with an array of the same
   * type and length.
   */
  data: TorchTensorData;
  /** `requires_grad` as stored. */
  requiresGrad: boolean;
  /** Whether it is (written as) a `torch.nn.Parameter`. */
  isParameter: boolean;

  /** Throws `RangeError` when `data` does not match the dtype or the shape's element count. */
  constructor(
    dtype: TorchDType,
    shape: readonly number[],
    data: TorchTensorData,
    options: TorchTensorOptions = {},
  ) {
    super();
    if (!(dtype in DTYPES)) throw new RangeError(`unknown dtype '${dtype}'`);
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`bad shape [${shape}]`);
    }
    this.dtype = dtype;
    this.shape = [...shape];
    this.data = data;
    this.requiresGrad = options.requiresGrad ?? false;
    this.isParameter = options.isParameter ?? false;
    if (data === UNFILLED) return;
    const want = DTYPES[dtype].array;
    if (
      !(data instanceof want) ||
      (dtype === "uint8" || dtype === "bool") !== (data instanceof Uint8Array)
    ) {
      throw new RangeError(`${dtype} tensor needs a ${want.name}, got ${data.constructor.name}`);
    }
    if (data.length !== this.numel) {
      throw new RangeError(
        `shape [${shape}] needs ${this.numel} elements, data has ${data.length}`,
      );
    }
  }

  /**
   * A tensor over `data` with the dtype its array type implies (`Float32Array` → float32,
   * `Uint8Array` → uint8, …).
   */
  static fromArray(
    data: TorchTensorData,
    shape: readonly number[],
    options?: TorchTensorOptions,
  ): TorchTensor {
    const dtype: TorchDType | undefined = data instanceof Float32Array
      ? "float32"
      : data instanceof Float64Array
      ? "float64"
      : data instanceof BigInt64Array
      ? "int64"
      : data instanceof Int32Array
      ? "int32"
      : data instanceof Int16Array
      ? "int16"
      : data instanceof Int8Array
      ? "int8"
      : data instanceof Uint8Array
      ? "uint8"
      : undefined;
    if (dtype === undefined) throw new RangeError("unsupported tensor data array");
    return new TorchTensor(dtype, shape, data, options);
  }

  /** Number of elements (1 for a scalar). */
  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** The elements as float32 (the array itself for float32/float16/bfloat16, else a copy). */
  toFloat32(): Float32Array {
    if (this.data instanceof Float32Array) return this.data;
    const out = new Float32Array(this.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(this.data[i]);
    return out;
  }
}

/** A state dict: parameter/buffer name → tensor, in file order. */
export type StateDict = Map<string, TorchTensor>;

/** Which container a checkpoint used. */
export type CheckpointFormat = "zip" | "legacy";

/** A checkpoint as read: its Python value and container details. */
export interface LoadedCheckpoint {
  /** The unpickled object (usually a `Map`: a state dict or `{epoch, arch, state_dict, …}`). */
  value: PyValue;
  /** `zip` (torch ≥ 1.6) or `legacy`. */
  format: CheckpointFormat;
  /** The file (or name given for in-memory bytes), as used in error messages. */
  file: string;
}

/**
 * Reads a checkpoint file written by `torch.save` (zip or legacy format).
 * Throws `DataError` naming the file for a missing, truncated, corrupt or unsupported file.
 */
export async function readTorchCheckpoint(path: string): Promise<PyValue> {
  return (await loadTorchCheckpoint(path)).value;
}

/** Like {@link readTorchCheckpoint}, also saying which container format the file used. */
export function loadTorchCheckpoint(path: string): Promise<LoadedCheckpoint> {
  let source: ByteSource;
  try {
    if (!Deno.statSync(path).isFile) {
      return Promise.reject(new DataError(`${path}: not a file, so not a checkpoint`));
    }
    source = fileSource(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : (error as Error).message;
    return Promise.reject(new DataError(`${path}: cannot open checkpoint (${why})`));
  }
  try {
    return Promise.resolve(decodeFrom(source, path));
  } catch (error) {
    return Promise.reject(error);
  } finally {
    source.close();
  }
}

/** Decodes a checkpoint held in memory. `file` names it in error messages. */
export function decodeTorchCheckpoint(bytes: Uint8Array, file = "<checkpoint>"): LoadedCheckpoint {
  return decodeFrom(bytesSource(bytes), file);
}

function decodeFrom(source: ByteSource, file: string): LoadedCheckpoint {
  if (source.size < 4) {
    throw new DataError(`${file}: not a PyTorch checkpoint (${source.size} bytes)`);
  }
  const head = source.read(0, Math.min(source.size, 512));
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    return { value: readZipCheckpoint(source, file), format: "zip", file };
  }
  if (head[0] === 0x80) {
    return { value: readLegacyCheckpoint(source, file), format: "legacy", file };
  }
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
    throw new DataError(`${file}: tar-format checkpoint (torch < 0.4) is not supported`);
  }
  throw new DataError(
    `${file}: not a PyTorch checkpoint (neither a zip archive nor a pickle stream)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Reading

interface StorageRef {
  /** Key of the root storage holding the bytes. */
  rootKey: string;
  /** The storage's element type (uint8 for an untyped storage). */
  dtype: TorchDType;
  untyped: boolean;
  /** Declared element count of the root storage. */
  rootNumel: number;
  /** Element offset of this (legacy view) storage inside the root. */
  elementOffset: number;
}

/** A storage met in the pickle; tensors reference it. */
class StorageValue extends PyExternal {
  readonly pyType = "torch.Storage";
  readonly ref: StorageRef;
  constructor(ref: StorageRef) {
    super();
    this.ref = ref;
  }
}

interface PendingTensor {
  tensor: TorchTensor;
  storage: StorageRef;
  offset: number;
  stride: number[];
}

/**
 * Default of the extra bytes that stride-0 or overlapping views (a tensor with more elements than
 * the storage bytes behind it, e.g. `torch.zeros(1).expand(10**9)`) may materialise: 256 MiB.
 * `SSL_CHECKPOINT_VIEW_LIMIT=<bytes>` changes it.
 */
export const DEFAULT_VIEW_LIMIT = 256 * 1024 * 1024;

/** The view limit in force: `SSL_CHECKPOINT_VIEW_LIMIT` when set to a number, else the default. */
export function checkpointViewLimit(): number {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("SSL_CHECKPOINT_VIEW_LIMIT");
  } catch {
    raw = undefined; // no env permission: the default
  }
  const v = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_VIEW_LIMIT;
}

/** Per-load state: the storages seen and the tensors waiting for their bytes. */
class LoadContext {
  readonly file: string;
  readonly roots = new Map<string, StorageRef>();
  readonly pending: PendingTensor[] = [];
  /** Bytes of tensors materialised so far. */
  #materialised = 0;
  readonly #viewLimit = checkpointViewLimit();

  constructor(file: string) {
    this.file = file;
  }

  /** Bytes the root storages declare (each is checked against its data when read). */
  declaredStorageBytes(): number {
    let total = 0;
    for (const r of this.roots.values()) total += r.rootNumel * DTYPES[r.dtype].size;
    return total;
  }

  /**
   * Memory bound of the load: a tensor may materialise more bytes than its storage holds (a
   * stride-0 or overlapping view) only up to the view limit, and all tensors together at most
   * twice the storages' bytes (tied weights) plus that limit.
   */
  #chargeView(t: TorchTensor, stride: readonly number[], key: string, storageBytes: number): void {
    let bytes = DTYPES[t.dtype].size;
    for (const d of t.shape) bytes *= d;
    const limit = this.#viewLimit;
    const how = "set SSL_CHECKPOINT_VIEW_LIMIT=<bytes> to allow more";
    if (bytes > storageBytes && bytes > limit) {
      this.fail(
        `tensor [${t.shape}] with strides [${stride}] on storage ${key} would materialise ` +
          `${bytes} bytes from ${storageBytes} stored (a stride-0 or overlapping view), more ` +
          `than the limit of ${limit} bytes; ${how}`,
      );
    }
    this.#materialised += bytes;
    const budget = 2 * this.declaredStorageBytes() + limit;
    if (this.#materialised > budget) {
      this.fail(
        `its tensors would materialise more than ${budget} bytes from ` +
          `${this.declaredStorageBytes()} bytes of storage (many views of the same storage); ${how}`,
      );
    }
  }

  fail(what: string): never {
    throw new DataError(`${this.file}: ${what}`);
  }

  /** The allow-list of globals for checkpoints. */
  findGlobal = (module: string, name: string): PyValue | undefined => {
    const qualified = `${module}.${name}`;
    if ((module === "torch" || module.startsWith("torch.")) && STORAGE_DTYPES.has(name)) {
      return new PyGlobal(module, name);
    }
    if (module === "torch" && TORCH_DTYPE_NAMES.has(name)) return new PyGlobal(module, name);
    switch (qualified) {
      case "torch._utils._rebuild_tensor":
        return new PyCallable(module, name, (a) => this.#rebuild(a, 4, undefined));
      case "torch._utils._rebuild_tensor_v2":
        return new PyCallable(module, name, (a) => this.#rebuild(a, 6, undefined));
      case "torch._utils._rebuild_tensor_v3":
        return new PyCallable(module, name, (a) => this.#rebuild(a, 7, a[6]));
      case "torch._utils._rebuild_parameter":
      case "torch._utils._rebuild_parameter_with_state":
        return new PyCallable(module, name, (a) => asParameter(a[0], a[1]));
      case "torch._tensor._rebuild_from_type_v2":
      case "torch.tensor._rebuild_from_type_v2":
      case "torch._tensor._rebuild_from_type":
      case "torch.tensor._rebuild_from_type":
        return new PyCallable(module, name, (a) => this.#rebuildFromType(a));
      case "torch._tensor.Tensor":
      case "torch.tensor.Tensor":
      case "torch.Tensor":
      case "torch.nn.parameter.Parameter":
        return new PyGlobal(module, name);
      case "torch.Size":
        return new PyCallable(module, name, (a) => {
          const items = a[0] instanceof PyTuple ? a[0].items : Array.isArray(a[0]) ? a[0] : [];
          return new PyTuple(items);
        });
      case "torch.device":
        return new PyCallable(
          module,
          name,
          (a) => a.length > 1 && a[1] !== null ? `${a[0]}:${a[1]}` : a[0],
        );
      case "numpy.dtype":
      case "numpy.core.multiarray.scalar":
      case "numpy._core.multiarray.scalar":
        return numpyGlobal(module, name);
    }
    return undefined;
  };

  /** Persistent ids of both formats: `('storage', type, key, location, numel[, view])`. */
  persistentLoad = (id: PyValue): PyValue => {
    const items = id instanceof PyTuple ? id.items : null;
    const kind = items === null ? undefined : asText(items[0]);
    if (kind === "module") {
      this.fail(
        "contains a pickled nn.Module (a whole model saved with torch.save(model)); " +
          "only state dicts and plain containers are supported",
      );
    }
    if (items === null || kind !== "storage" || (items.length !== 5 && items.length !== 6)) {
      this.fail("unknown persistent id in the pickle (not a tensor storage)");
    }
    const [, type, rawKey, , rawNumel, view] = items;
    if (!(type instanceof PyGlobal) || !STORAGE_DTYPES.has(type.name)) {
      this.fail(`unsupported storage type in the pickle`);
    }
    const dtype = STORAGE_DTYPES.get(type.name)!;
    const key = asText(rawKey) ?? (typeof rawKey === "number" ? String(rawKey) : undefined);
    const numel = typeof rawNumel === "number" ? rawNumel : -1;
    if (key === undefined || numel < 0) this.fail("malformed storage reference in the pickle");
    let root = this.roots.get(key);
    if (root === undefined) {
      root = {
        rootKey: key,
        dtype,
        untyped: type.name === "UntypedStorage",
        rootNumel: numel,
        elementOffset: 0,
      };
      this.roots.set(key, root);
    } else if (root.dtype !== dtype) {
      this.fail(`storage ${key} is referenced with two dtypes (${root.dtype}, ${dtype})`);
    }
    if (view === undefined || view === null) return new StorageValue(root);
    // Legacy storage views: (view_key, offset, view_size), offsets in elements of the root.
    const v = view instanceof PyTuple ? view.items : [];
    const offset = v[1];
    const size = v[2];
    if (typeof offset !== "number" || typeof size !== "number" || offset < 0 || size < 0) {
      this.fail("malformed storage view in the pickle");
    }
    if (offset + size > root.rootNumel) this.fail(`storage view exceeds storage ${key}`);
    return new StorageValue({ ...root, elementOffset: offset });
  };

  #rebuild(args: PyValue[], minArgs: number, dtypeArg: PyValue | undefined): PyValue {
    if (args.length < minArgs) this.fail(`tensor rebuild call with ${args.length} arguments`);
    const [storage, offset, size, stride, requiresGrad] = args;
    if (!(storage instanceof StorageValue)) {
      this.fail("tensor rebuilt from something that is not a storage");
    }
    const shape = intTuple(size);
    const strides = intTuple(stride);
    if (shape === undefined || strides === undefined || shape.length !== strides.length) {
      this.fail("tensor with a malformed size or stride");
    }
    if (typeof offset !== "number" || offset < 0) {
      this.fail("tensor with a malformed storage offset");
    }
    let dtype = storage.ref.dtype;
    if (dtypeArg !== undefined) {
      const d = dtypeArg instanceof PyGlobal ? TORCH_DTYPE_NAMES.get(dtypeArg.name) : undefined;
      if (d === undefined) this.fail("tensor with an unsupported dtype");
      dtype = d;
    }
    if (dtype !== storage.ref.dtype && !storage.ref.untyped) {
      this.fail(`${dtype} tensor on a ${storage.ref.dtype} storage`);
    }
    const tensor = new TorchTensor(dtype, shape, UNFILLED, { requiresGrad: requiresGrad === true });
    this.pending.push({ tensor, storage: storage.ref, offset, stride: strides });
    return tensor;
  }

  #rebuildFromType(args: PyValue[]): PyValue {
    const [fn, type, inner] = args;
    if (!(fn instanceof PyCallable) || !(inner instanceof PyTuple)) {
      this.fail("malformed _rebuild_from_type call");
    }
    const result = fn.call([...inner.items]);
    if (type instanceof PyGlobal && type.name === "Parameter") return asParameter(result, true);
    if (!(type instanceof PyGlobal) || type.name !== "Tensor") {
      this.fail("tensor subclass in the checkpoint is not supported");
    }
    return result;
  }

  /** Fills every pending tensor on root storage `key` from the storage's bytes. */
  materialise(key: string, raw: Uint8Array, bigEndian: boolean): void {
    const root = this.roots.get(key)!;
    const declared = root.rootNumel * DTYPES[root.dtype].size;
    if (raw.length < declared) {
      this.fail(`storage ${key} has ${raw.length} bytes, its header says ${declared}`);
    }
    const users = this.pending.filter((p) => p.storage.rootKey === key);
    for (const p of users) {
      const t = p.tensor;
      const es = DTYPES[t.dtype].size;
      const base = p.storage.elementOffset * DTYPES[root.dtype].size;
      if (base % es !== 0) this.fail(`storage view of ${key} is misaligned for ${t.dtype}`);
      this.#chargeView(t, p.stride, key, Math.max(0, raw.length - base));
      t.data = gatherTensor(
        raw.subarray(base),
        t.dtype,
        t.shape,
        p.stride,
        p.offset,
        bigEndian,
        users.length === 1,
        (what) => this.fail(`tensor [${t.shape}] on storage ${key}: ${what}`),
      );
    }
  }
}

function asParameter(value: PyValue, requiresGrad: PyValue): PyValue {
  if (value instanceof TorchTensor) {
    value.isParameter = true;
    value.requiresGrad = requiresGrad === true;
  }
  return value;
}

function asText(v: PyValue | undefined): string | undefined {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return undefined;
}

function intTuple(v: PyValue | undefined): number[] | undefined {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : undefined;
  if (items === undefined) return undefined;
  const out: number[] = [];
  for (const x of items) {
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0) return undefined;
    out.push(x);
  }
  return out;
}

/** numpy scalars (`best_acc1` in some training scripts): `scalar(dtype('f8'), raw bytes)`. */
function numpyGlobal(module: string, name: string): PyCallable {
  if (name === "dtype") {
    return new PyCallable(module, name, (a) => new PyObject(new PyGlobal(module, name), a));
  }
  return new PyCallable(module, name, (a) => {
    const [dtype, raw] = a;
    if (!(dtype instanceof PyObject) || !(raw instanceof Uint8Array)) {
      throw new TypeError("malformed numpy scalar");
    }
    const code = String(dtype.args[0]);
    const order = dtype.state instanceof PyTuple ? dtype.state.items[1] : "<";
    const little = order !== ">";
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const need = (n: number) => {
      if (raw.length !== n) throw new TypeError(`numpy ${code} scalar with ${raw.length} bytes`);
    };
    switch (code) {
      case "f8": {
        need(8);
        const f = v.getFloat64(0, little);
        return Number.isInteger(f) || Object.is(f, -0) ? new PyFloat(f) : f;
      }
      case "f4": {
        need(4);
        const f = v.getFloat32(0, little);
        return Number.isInteger(f) ? new PyFloat(f) : f;
      }
      case "i8": {
        need(8);
        const b = v.getBigInt64(0, little);
        return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(b)
          : b;
      }
      case "i4":
        need(4);
        return v.getInt32(0, little);
      case "b1":
        need(1);
        return raw[0] !== 0;
    }
    throw new TypeError(`numpy scalar of dtype '${code}' is not supported`);
  });
}

/** Copies a (possibly strided) tensor out of its storage bytes into a contiguous typed array. */
function gatherTensor(
  raw: Uint8Array,
  dtype: TorchDType,
  shape: readonly number[],
  stride: readonly number[],
  offset: number,
  bigEndian: boolean,
  exclusive: boolean,
  fail: (what: string) => never,
): TorchTensorData {
  const es = DTYPES[dtype].size;
  let numel = 1;
  for (const d of shape) numel *= d;
  if (numel === 0) return new DTYPES[dtype].array(0);
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
  if (!Number.isSafeInteger(last) || (last + 1) * es > raw.length) {
    fail(`needs element ${last} but the storage holds ${Math.floor(raw.length / es)}`);
  }
  let contiguous = true;
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  let bytes: Uint8Array;
  if (
    contiguous && exclusive && offset === 0 && numel * es === raw.length &&
    raw.byteOffset % es === 0
  ) {
    // The tensor is the whole storage and nothing else uses it: adopt the bytes without a copy.
    bytes = raw;
  } else if (contiguous) {
    bytes = raw.slice(offset * es, (offset + numel) * es);
  } else {
    bytes = new Uint8Array(numel * es);
    const aligned = raw.byteOffset % 4 === 0 ? raw : raw.slice();
    const words = es === 8 ? 2 : 1;
    const wordBytes = es === 8 ? 4 : es;
    const count = Math.floor(aligned.length / wordBytes);
    const src = wordView(aligned, wordBytes, count);
    const dst = wordView(bytes, wordBytes, numel * words);
    const ndim = shape.length;
    const index = new Array<number>(ndim).fill(0);
    let s = offset;
    for (let i = 0; i < numel; i++) {
      if (words === 2) {
        dst[2 * i] = src[2 * s];
        dst[2 * i + 1] = src[2 * s + 1];
      } else dst[i] = src[s];
      for (let d = ndim - 1; d >= 0; d--) {
        index[d]++;
        s += stride[d];
        if (index[d] < shape[d]) break;
        s -= stride[d] * shape[d];
        index[d] = 0;
      }
    }
  }
  if (bigEndian && es > 1) {
    for (let i = 0; i < bytes.length; i += es) bytes.subarray(i, i + es).reverse();
  }
  return decodeElements(bytes, dtype, numel);
}

function wordView(
  bytes: Uint8Array,
  wordBytes: number,
  count: number,
): Uint8Array | Uint16Array | Uint32Array {
  if (wordBytes === 4) return new Uint32Array(bytes.buffer, bytes.byteOffset, count);
  if (wordBytes === 2) return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  return bytes.subarray(0, count);
}

function decodeElements(bytes: Uint8Array, dtype: TorchDType, numel: number): TorchTensorData {
  const buf = bytes.buffer;
  const off = bytes.byteOffset;
  switch (dtype) {
    case "float32":
      return new Float32Array(buf, off, numel);
    case "float64":
      return new Float64Array(buf, off, numel);
    case "int64":
      return new BigInt64Array(buf, off, numel);
    case "int32":
      return new Int32Array(buf, off, numel);
    case "int16":
      return new Int16Array(buf, off, numel);
    case "int8":
      return new Int8Array(buf, off, numel);
    case "uint8":
    case "bool":
      return new Uint8Array(buf, off, numel);
    case "float16": {
      const table = halfTable();
      const h = new Uint16Array(buf, off, numel);
      const out = new Uint32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = table[h[i]];
      return new Float32Array(out.buffer);
    }
    case "bfloat16": {
      const h = new Uint16Array(buf, off, numel);
      const out = new Uint32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = h[i] << 16;
      return new Float32Array(out.buffer);
    }
  }
}

let HALF_TABLE: Uint32Array | undefined;

/** float16 bit pattern → float32 bit pattern, for all 65536 halves. */
function halfTable(): Uint32Array {
  if (HALF_TABLE) return HALF_TABLE;
  const t = new Uint32Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      f[0] = mant * 2 ** -24;
      t[h] = (sign | u[0]) >>> 0;
    } else if (exp === 31) t[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    else t[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  }
  HALF_TABLE = t;
  return t;
}

function readZipCheckpoint(source: ByteSource, file: string): PyValue {
  const zip = ZipReader.open(source, file);
  const pkl = zip.entries.find((e) => e.name === "data.pkl" || e.name.endsWith("/data.pkl"));
  if (pkl === undefined) {
    const names = zip.entries.map((e) => e.name);
    if (names.some((n) => n.endsWith("constants.pkl") || n.includes("/code/"))) {
      throw new DataError(
        `${file}: a TorchScript archive (torch.jit.save), not a torch.save checkpoint`,
      );
    }
    throw new DataError(`${file}: zip archive without data.pkl: not a PyTorch checkpoint`);
  }
  const prefix = pkl.name.slice(0, pkl.name.length - "data.pkl".length);
  const byteorderEntry = zip.get(`${prefix}byteorder`);
  let bigEndian = false;
  if (byteorderEntry !== undefined) {
    const order = new TextDecoder().decode(zip.read(byteorderEntry)).trim();
    if (order !== "little" && order !== "big") {
      throw new DataError(`${file}: unknown byte order '${order}'`);
    }
    bigEndian = order === "big";
  }
  const ctx = new LoadContext(file);
  const { value } = unpickle(zip.read(pkl), {
    file,
    findGlobal: ctx.findGlobal,
    persistentLoad: ctx.persistentLoad,
  });
  for (const key of ctx.roots.keys()) {
    const name = `${prefix}data/${key}`;
    const entry = zip.get(name);
    if (entry === undefined) {
      throw new DataError(`${file}: missing storage entry '${name}'`);
    }
    const root = ctx.roots.get(key)!;
    const declared = root.rootNumel * DTYPES[root.dtype].size;
    if (entry.size < declared) {
      throw new DataError(
        `${file}: storage ${key} has ${entry.size} bytes, its header says ${declared}`,
      );
    }
    ctx.materialise(key, zip.read(entry), bigEndian);
  }
  return value;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function readLegacyCheckpoint(source: ByteSource, file: string): PyValue {
  // The pickles are small next to the storages: read a prefix, growing it if a pickle runs past it.
  let window = Math.min(source.size, 1 << 20);
  for (;;) {
    const bytes = source.read(0, window);
    try {
      return parseLegacy(bytes, source, file);
    } catch (error) {
      if (!(error instanceof PickleTruncatedError) || window === source.size) {
        if (error instanceof PickleTruncatedError) {
          throw new DataError(`${file}: truncated checkpoint (the pickle ends early)`);
        }
        throw error;
      }
      window = Math.min(source.size, window * 8);
    }
  }
}

function parseLegacy(bytes: Uint8Array, source: ByteSource, file: string): PyValue {
  const plain = { file };
  const magic = unpickle(bytes, plain);
  const m = magic.value;
  if (!(typeof m === "bigint" && m === LEGACY_MAGIC)) {
    throw new DataError(`${file}: bad magic number: not a PyTorch checkpoint (or a corrupt one)`);
  }
  const protocol = unpickle(bytes, { ...plain, start: magic.end });
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new DataError(`${file}: unsupported legacy protocol version ${String(protocol.value)}`);
  }
  const sysInfo = unpickle(bytes, { ...plain, start: protocol.end });
  // Legacy storages are little-endian on disk whatever the writer's byte order was.
  const ctx = new LoadContext(file);
  const main = unpickle(bytes, {
    file,
    start: sysInfo.end,
    findGlobal: ctx.findGlobal,
    persistentLoad: ctx.persistentLoad,
  });
  const keysResult = unpickle(bytes, { ...plain, start: main.end });
  const keys = keysResult.value;
  if (!Array.isArray(keys)) throw new DataError(`${file}: corrupt storage key list`);
  let p = keysResult.end;
  const seen = new Set<string>();
  for (const k of keys) {
    const key = asText(k) ?? String(k);
    const root = ctx.roots.get(key);
    if (root === undefined) throw new DataError(`${file}: storage ${key} is listed but never used`);
    if (p + 8 > source.size) {
      throw new DataError(`${file}: truncated checkpoint (storage ${key} missing)`);
    }
    const header = source.read(p, 8);
    const count = new DataView(header.buffer).getBigUint64(0, true);
    const nbytes = Number(count) * DTYPES[root.dtype].size;
    p += 8;
    if (count > BigInt(Number.MAX_SAFE_INTEGER) || p + nbytes > source.size) {
      throw new DataError(
        `${file}: truncated checkpoint (storage ${key} needs ${nbytes} bytes at ${p}, ` +
          `file has ${source.size})`,
      );
    }
    ctx.materialise(key, source.read(p, nbytes), false);
    p += nbytes;
    seen.add(key);
  }
  for (const key of ctx.roots.keys()) {
    if (!seen.has(key)) throw new DataError(`${file}: storage ${key} has no data (corrupt file)`);
  }
  return main.value;
}

// ---------------------------------------------------------------------------------------------
// Writing

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

/** Row-major strides of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** A tensor's elements as little-endian bytes of its own dtype (float16/bfloat16 narrowed). */
export function tensorBytes(t: TorchTensor): Uint8Array {
  const d = t.data;
  if (t.dtype === "float16" || t.dtype === "bfloat16") {
    const src = new Uint32Array(d.buffer, d.byteOffset, d.length);
    const out = new Uint16Array(d.length);
    const narrow = t.dtype === "float16" ? f32BitsToF16 : f32BitsToBf16;
    for (let i = 0; i < out.length; i++) out[i] = narrow(src[i]);
    return new Uint8Array(out.buffer);
  }
  if (t.dtype === "bool") {
    const src = d as Uint8Array;
    return src.every((v) => v <= 1) ? src : src.map((v) => (v ? 1 : 0));
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** float32 bits → float16 bits, round to nearest even (what `tensor.half()` does). */
function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** float32 bits → bfloat16 bits, round to nearest even, NaN kept quiet. */
function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------------------------
// Loading helpers

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

// ---------------------------------------------------------------------------------------------
// MoCo checkpoints (docs/common.md#checkpoint-file)

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
