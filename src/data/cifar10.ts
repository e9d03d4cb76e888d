/**
 * CIFAR-10 as torchvision's `CIFAR10(root, train)` reads it (docs/downstream.md#datasets): the Python version
 * `<root>/cifar-10-batches-py/{data_batch_1 … data_batch_5, test_batch}` (Python 2 cPickle files:
 * a dict with `data`, a uint8 numpy array [10000, 3072] of planar R, G, B 32×32 planes, and
 * `labels`), or, when that folder is absent, the binary version
 * `<root>/cifar-10-batches-bin/{data_batch_1.bin … data_batch_5.bin, test_batch.bin}` (records of
 * one label byte + 3072 pixel bytes, same plane order). Nothing is downloaded.
 *
 * @module
 */
import { createImage, type RgbImage } from "../image/image.ts";
import {
  getStrOrBytesKey,
  PyCallable,
  PyGlobal,
  type PyKey,
  pyNumber,
  PyObject,
  PyTuple,
  type PyValue,
  unpickle,
} from "../io/pickle.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { SupervisedDataset } from "./dataset.ts";

/** The ten class names in label order. */
export const CIFAR10_CLASSES: readonly string[] = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

const PIXELS = 32 * 32;
const ROW = 3 * PIXELS;
const TRAIN_BATCHES = [
  "data_batch_1",
  "data_batch_2",
  "data_batch_3",
  "data_batch_4",
  "data_batch_5",
];

interface Batch {
  file: string;
  data: Uint8Array;
  labels: number[];
  hash: string;
}

/**
 * Loads the CIFAR-10 train (50 000) or test (10 000) split from `<root>`, where `root` is the
 * dataset folder (`<data_root>/CIFAR10`). Missing folders or batch files, and batches that are
 * not CIFAR pickles / records, are DataErrors naming the file.
 */
export async function loadCifar10(root: string, train: boolean): Promise<SupervisedDataset> {
  const base = root.replace(/\/+$/, "");
  const pyDir = `${base}/cifar-10-batches-py`;
  const binDir = `${base}/cifar-10-batches-bin`;
  const names = train ? TRAIN_BATCHES : ["test_batch"];
  let batches: Batch[];
  if (await isDirectory(pyDir)) {
    batches = [];
    for (const n of names) {
      batches.push(parsePickleBatch(await readBatch(`${pyDir}/${n}`), `${pyDir}/${n}`));
    }
  } else if (await isDirectory(binDir)) {
    batches = [];
    for (const n of names) {
      const file = `${binDir}/${n}.bin`;
      batches.push(parseBinaryBatch(await readBatch(file), file));
    }
  } else {
    throw new DataError(
      `${base}: no CIFAR-10 data; expected ${pyDir}/{data_batch_1..5,test_batch} (the Python ` +
        `version) or ${binDir}/{data_batch_1..5,test_batch}.bin (the binary version)`,
    );
  }
  const length = batches.reduce((a, b) => a + b.labels.length, 0);
  const data = new Uint8Array(length * ROW);
  const targets = new Float64Array(length);
  const origin: { file: string; row: number }[] = [];
  let at = 0;
  for (const b of batches) {
    data.set(b.data, at * ROW);
    b.labels.forEach((label, r) => {
      targets[at + r] = label;
      origin.push({ file: b.file, row: r });
    });
    at += b.labels.length;
  }
  const name = train ? "cifar10-train" : "cifar10-test";
  return {
    name,
    length,
    contentKey: sha256Hex(`cifar10\n${batches.map((b) => b.hash).join("\n")}`),
    kind: "classification",
    targetDim: 1,
    numClasses: CIFAR10_CLASSES.length,
    targets,
    image(index: number): Promise<RgbImage> {
      if (!Number.isInteger(index) || index < 0 || index >= length) {
        return Promise.reject(
          new RangeError(`${name}: image index ${index} outside 0…${length - 1}`),
        );
      }
      // Planar R, G, B planes → interleaved HWC (torchvision's reshape + transpose).
      const img = createImage(32, 32);
      const src = data.subarray(index * ROW, (index + 1) * ROW);
      for (let p = 0; p < PIXELS; p++) {
        img.data[p * 3] = src[p];
        img.data[p * 3 + 1] = src[PIXELS + p];
        img.data[p * 3 + 2] = src[2 * PIXELS + p];
      }
      return Promise.resolve(img);
    },
    describe(index: number): string {
      const o = origin[index];
      return o === undefined ? `${name}[${index}]` : `${o.file}#${o.row}`;
    },
  };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function readBatch(file: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(file);
  } catch (e) {
    throw new DataError(`cannot read CIFAR-10 batch ${file}: ${(e as Error).message}`);
  }
}

/** One binary batch: records of a label byte followed by 3072 planar pixel bytes. */
function parseBinaryBatch(bytes: Uint8Array, file: string): Batch {
  const record = ROW + 1;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new DataError(
      `${file}: ${bytes.length} bytes is not a whole number of ${record}-byte ` +
        `CIFAR-10 records`,
    );
  }
  const n = bytes.length / record;
  const data = new Uint8Array(n * ROW);
  const labels: number[] = [];
  for (let r = 0; r < n; r++) {
    const label = bytes[r * record];
    if (label > 9) throw new DataError(`${file}: record ${r} has label ${label}, expected 0–9`);
    labels.push(label);
    data.set(bytes.subarray(r * record + 1, (r + 1) * record), r * ROW);
  }
  return { file, data, labels, hash: sha256Hex(bytes) };
}

const NDARRAY = new PyGlobal("numpy", "ndarray");

/** The numpy globals a pickled uint8 array needs; anything else stays refused. */
function numpyGlobals(module: string, name: string): PyValue | undefined {
  const core = module === "numpy.core.multiarray" || module === "numpy._core.multiarray";
  if (core && name === "_reconstruct") {
    return new PyCallable(module, name, (args) => new PyObject(NDARRAY, args));
  }
  if (module === "numpy" && name === "ndarray") return NDARRAY;
  if (module === "numpy" && name === "dtype") {
    const dtype = new PyGlobal("numpy", "dtype");
    return new PyCallable(module, name, (args) => new PyObject(dtype, args));
  }
  return undefined;
}

/** Bytes of a Python 2 `str` the unpickler turned into text (UTF-8 if valid, else Latin-1). */
function py2Bytes(value: PyValue, expected: number): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (typeof value !== "string") return undefined;
  if (value.length === expected) {
    // One character per byte: Latin-1 (or pure-ASCII UTF-8, which is the same).
    const out = new Uint8Array(expected);
    for (let i = 0; i < expected; i++) {
      const c = value.charCodeAt(i);
      if (c > 255) return undefined;
      out[i] = c;
    }
    return out;
  }
  return new TextEncoder().encode(value); // it was valid UTF-8: re-encoding restores the bytes
}

/** `dict[key]` under a Python 2 str key or a Python 3 re-pickle's bytes key. */
function dictGet(dict: Map<PyKey, PyValue>, key: string): PyValue | undefined {
  return getStrOrBytesKey(dict, key);
}

/** One Python batch: `{'data': uint8 ndarray [n, 3072], 'labels': [n ints], …}`. */
function parsePickleBatch(bytes: Uint8Array, file: string): Batch {
  const fail = (what: string): never => {
    throw new DataError(`${file}: not a CIFAR-10 Python batch: ${what}`);
  };
  const value = unpickle(bytes, { file, findGlobal: numpyGlobals }).value;
  if (!(value instanceof Map)) return fail("the pickle does not hold a dict");
  const dict = value as Map<PyKey, PyValue>;
  const labelsValue = dictGet(dict, "labels") ?? dictGet(dict, "fine_labels");
  const array = dictGet(dict, "data");
  if (!Array.isArray(labelsValue)) return fail("no 'labels' list");
  if (!(array instanceof PyObject) || array.cls !== NDARRAY) {
    return fail("'data' is not a numpy array");
  }
  const state = array.state;
  if (!(state instanceof PyTuple) || state.length < 5) return fail("'data' has no array state");
  const [, shapeValue, dtype, fortran, raw] = state.items;
  const shape = shapeValue instanceof PyTuple ? shapeValue.items.map((v) => pyNumber(v)) : [];
  const n = labelsValue.length;
  if (shape.length !== 2 || shape[0] !== n || shape[1] !== ROW) {
    fail(`'data' has shape (${shape.join(", ")}), expected (${n}, ${ROW}) for ${n} labels`);
  }
  const dtypeName = dtype instanceof PyObject ? dtype.args[0] : undefined;
  const typeText = dtypeName instanceof Uint8Array
    ? new TextDecoder().decode(dtypeName)
    : dtypeName;
  if (typeText !== "u1") fail(`'data' has dtype ${String(typeText)}, expected uint8 ('u1')`);
  if (fortran === true) fail("'data' is in Fortran order");
  const data = py2Bytes(raw, n * ROW);
  if (data === undefined || data.length !== n * ROW) {
    return fail(`'data' holds ${data?.length ?? 0} bytes, expected ${n * ROW}`);
  }
  const labels = labelsValue.map((v, i) => {
    const label = pyNumber(v);
    if (label === undefined || !Number.isInteger(label) || label < 0 || label > 9) {
      return fail(`label ${i} is ${String(v)}, expected an integer 0–9`);
    }
    return label;
  });
  return { file, data, labels, hash: sha256Hex(bytes) };
}
