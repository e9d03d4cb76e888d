/**
 * Reading PyTorch checkpoints (`.pth`, `.pth.tar`) without Python, in both containers
 * `torch.save` has used:
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
 * Tensors come out as {@link TorchTensor}s (src/io/torch/tensor.ts); everything else follows the
 * table in `pickle.ts` (dicts are `Map`s, tuples `PyTuple`, …). What to do with the value (find
 * the state dict, select an encoder, check keys) is in src/io/torch/state_dict.ts.
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
import { DataError } from "../../util/errors.ts";
import {
  PickleTruncatedError,
  PyCallable,
  PyExternal,
  PyFloat,
  PyGlobal,
  PyObject,
  PyTuple,
  type PyValue,
  unpickle,
} from "../pickle.ts";
import { type ByteSource, bytesSource, fileSource, ZipReader } from "../zip.ts";
import {
  bfloat16ToFloat32,
  DTYPES,
  float16ToFloat32,
  STORAGE_DTYPES,
  TORCH_DTYPE_NAMES,
  type TorchDType,
  type TorchTensorData,
} from "./dtypes.ts";
import { TorchTensor, UNFILLED } from "./tensor.ts";

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
    case "float16":
      return float16ToFloat32(new Uint16Array(buf, off, numel));
    case "bfloat16":
      return bfloat16ToFloat32(new Uint16Array(buf, off, numel));
  }
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
