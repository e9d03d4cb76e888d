import {
  getStrOrBytesKey,
  OrderedDict,
  pickle,
  PyBytes,
  PyExternal,
  PyFloat,
  PyGlobal,
  type PyKey,
  PyObject,
  PyTuple,
  type PyValue,
  unpickle,
} from "../../src/io/pickle.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { assertDataError, fromHexBytes, RECORD } from "./checkpoint_helpers.ts";
import { assertSameDescription, describe } from "./describe.ts";

const enc = new TextEncoder();
const bytes = (...parts: (number[] | string)[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...enc.encode(p)] : p)));

Deno.test("unpickle() reads CPython's pickles of protocols 0 to 5 exactly", async () => {
  const protocols = Object.keys(RECORD.pickles);
  assert(protocols.join() === "0,1,2,3,4,5", `recorded protocols ${protocols}`);
  for (const p of protocols) {
    const data = fromHexBytes(RECORD.pickles[p]);
    const { value, end } = unpickle(data, { file: `protocol${p}.pkl` });
    assert(end === data.length, `protocol ${p}: consumed ${end} of ${data.length} bytes`);
    assertSameDescription(await describe(value), RECORD.objects.plain_object, `protocol ${p}`);
    // Memoised references come back as one shared object, as in Python.
    const shared = (value as Map<PyKey, PyValue>).get("shared") as PyValue[][];
    assert(shared[0] === shared[1], `protocol ${p}: memo keeps sharing`);
  }
});

Deno.test("pickle() → unpickle() round trip is exact for nested Python values", async () => {
  const rng = testRng("pickle round trip");
  const longList = Array.from({ length: 2500 }, () => rng.int(1 << 30) - (1 << 29));
  const bigDict = new Map<PyKey, PyValue>();
  for (let i = 0; i < 1200; i++) bigDict.set(i % 2 ? i : `k${i}`, rng.normal());
  const od = new OrderedDict([["z", 1], ["a", new PyFloat(-0)]]);
  od.attributes = new Map<string, PyValue>([[
    "_metadata",
    new OrderedDict([["", new Map([["version", 2]])]]),
  ]]);
  const value = new Map<PyKey, PyValue>([
    ["ints", [0, 1, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2 ** 53 - 1, -(2 ** 53) + 1]],
    ["bigints", [2n ** 64n, -(2n ** 64n), 2n ** 2000n + 17n, -(2n ** 63n)]],
    ["floats", [
      0.1,
      -2.5e-308,
      5e-324,
      Infinity,
      -Infinity,
      NaN,
      new PyFloat(3),
      new PyFloat(-0),
      -0,
    ]],
    ["strings", ["", "ascii", "héllo ✓ 日本 😀", "x".repeat(300)]],
    ["bytes", [new Uint8Array(0), new Uint8Array([0, 255]), new Uint8Array(300).fill(7)]],
    [
      "tuples",
      new PyTuple([
        new PyTuple([]),
        new PyTuple([1]),
        new PyTuple([1, 2]),
        new PyTuple([1, 2, 3, 4, 5]),
      ]),
    ],
    ["long list", longList],
    ["big dict", bigDict],
    ["odict", od],
    [new PyTuple(["tuple", "key"]), true],
    [7, null],
    ["set", new Set<PyKey>([1, "a", new PyTuple([2])])],
  ]);
  const back = unpickle(pickle(value), { file: "roundtrip.pkl" }).value;
  assertSameDescription(await describe(back), await describe(value));
  const bm = back as Map<PyKey, PyValue>;
  const floats = bm.get("floats") as PyValue[];
  assert(
    Object.is(floats[8], -0) || (floats[8] instanceof PyFloat && Object.is(floats[8].value, -0)),
    "-0 is a float",
  );
  assert(floats[6] instanceof PyFloat && floats[6].value === 3, "integral float stays a float");
  const odBack = bm.get("odict") as OrderedDict;
  assert(
    odBack instanceof OrderedDict && odBack.attributes?.has("_metadata") === true,
    "OrderedDict attributes",
  );
});

Deno.test("pickle() writes argparse.Namespace-like objects and reads them back as PyObject", () => {
  const ns = new PyObject(
    new PyGlobal("argparse", "Namespace"),
    [],
    new Map<PyKey, PyValue>([["lr", 0.03], ["arch", "resnet50"]]),
  );
  const back = unpickle(pickle(new Map([["args", ns]])), { file: "ns.pkl" }).value as Map<
    PyKey,
    PyValue
  >;
  const obj = back.get("args");
  assert(
    obj instanceof PyObject && obj.cls.qualifiedName === "argparse.Namespace",
    "Namespace class",
  );
  assert(obj.state instanceof Map && obj.state.get("arch") === "resnet50", "Namespace attributes");
});

Deno.test("unpickle() refuses foreign globals (GLOBAL, STACK_GLOBAL) and old-style instances", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "os.pkl",
      bytes([0x80, 2], "cos\nsystem\n", [0x58, 2, 0, 0, 0], "ls", [0x85, 0x52, 0x2e]),
      /'os\.system'/,
    ],
    [
      "eval.pkl",
      bytes([0x80, 4, 0x8c, 8], "builtins", [0x8c, 4], "eval", [0x93, 0x8c, 1], "1", [
        0x85,
        0x52,
        0x2e,
      ]),
      /'builtins\.eval'/,
    ],
    ["posix.pkl", bytes("cposix\nsystem\n(S'ls'\ntR."), /'posix\.system'/],
    ["inst.pkl", bytes("(ios\nsystem\nS'ls'\n."), /INST|old-style/],
    // Torch's rebuild functions are not allowed outside the checkpoint reader.
    [
      "torch.pkl",
      bytes("ctorch._utils\n_rebuild_tensor_v2\n)R."),
      /'torch\._utils\._rebuild_tensor_v2'/,
    ],
    ["persid.pkl", bytes([0x80, 2, 0x4b, 1, 0x51, 0x2e]), /persistent id/],
  ];
  for (const [file, data, pattern] of cases) {
    await assertDataError(() => unpickle(data, { file }), pattern, file);
  }
});

Deno.test("unpickle() reports truncated and malformed streams as DataErrors naming the file", async () => {
  const good = pickle(new Map<PyKey, PyValue>([["a", [1, 2, 3]], ["b", "text"]]));
  for (const cut of [1, 5, good.length >> 1, good.length - 1]) {
    await assertDataError(
      () => unpickle(good.subarray(0, cut), { file: "cut.pkl" }),
      /truncated/,
      "cut.pkl",
    );
  }
  await assertDataError(
    () => unpickle(bytes([0xff]), { file: "junk.pkl" }),
    /unknown opcode 0xff/,
    "junk.pkl",
  );
  await assertDataError(
    () => unpickle(bytes([0x80, 9]), { file: "proto.pkl" }),
    /protocol 9/,
    "proto.pkl",
  );
  await assertDataError(
    () => unpickle(bytes([0x2e]), { file: "empty.pkl" }),
    /underflow/,
    "empty.pkl",
  );
  await assertDataError(
    () => unpickle(bytes([0x68, 3, 0x2e]), { file: "memo.pkl" }),
    /memo entry 3/,
    "memo.pkl",
  );
  await assertDataError(
    () => unpickle(bytes([0x65, 0x2e]), { file: "mark.pkl" }),
    /MARK/,
    "mark.pkl",
  );
  await assertDataError(
    () => unpickle(bytes([0x5d, 0x5d, 0x5d, 0x73, 0x2e]), { file: "key.pkl" }),
    /unhashable|non-dict/,
    "key.pkl",
  );
  await assertDataError(
    () => unpickle(bytes([0x58, 2, 0, 0, 0, 0xc3, 0x28, 0x2e]), { file: "utf8.pkl" }),
    /UTF-8/,
    "utf8.pkl",
  );
  await assertDataError(
    () => unpickle(bytes([0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e]), { file: "len.pkl" }),
    /truncated/,
    "len.pkl",
  );
});

class Opaque extends PyExternal {
  readonly pyType = "opaque";
}

Deno.test("pickle() rejects cycles and objects it cannot represent with a TypeError", () => {
  const cyclic: PyValue[] = [];
  cyclic.push(cyclic);
  let threw = "";
  try {
    pickle(cyclic);
  } catch (error) {
    threw = `${(error as Error).name}: ${(error as Error).message}`;
  }
  assert(threw === "TypeError: cannot pickle a cyclic structure", threw);
  try {
    pickle([new Opaque()]);
    threw = "";
  } catch (error) {
    threw = `${(error as Error).name}: ${(error as Error).message}`;
  }
  assert(threw === "TypeError: cannot pickle a opaque", threw);
  // Shared (non-cyclic) references are fine.
  const shared = [1, 2];
  const back = unpickle(pickle([shared, shared]), { file: "s" }).value as PyValue[][];
  assert(back[0].join() === "1,2" && back[1].join() === "1,2", "shared reference written twice");
});

const u32le = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24];

Deno.test("unpickle() takes bytes dict keys (protocol 3 and protocol 2 via _codecs) apart from str keys", () => {
  // {b'data': 1, 'data': 2, b'\x80\xff': 3}, opcodes written out by hand (protocol 3).
  const p3 = bytes(
    [0x80, 3, 0x7d, 0x28],
    [0x43, 4],
    "data",
    [0x4b, 1],
    [0x58, ...u32le(4)],
    "data",
    [0x4b, 2],
    [0x43, 2, 0x80, 0xff],
    [0x4b, 3],
    [0x75, 0x2e],
  );
  const d = unpickle(p3, { file: "p3.pkl" }).value as Map<PyKey, PyValue>;
  assert(d instanceof Map && d.size === 3, `3 distinct keys, got ${d.size}`);
  assert(d.get(PyBytes.of("data")) === 1, "b'data' by a string spelling");
  assert(d.get(PyBytes.of(enc.encode("data"))) === 1, "b'data' by its bytes");
  assert(d.get("data") === 2, "the str key 'data' is another key");
  assert(d.get(PyBytes.of(new Uint8Array([0x80, 0xff]))) === 3, "non-ASCII bytes key");
  const first = [...d.keys()][0];
  assert(first instanceof PyBytes && first === PyBytes.of("data"), "keys are interned PyBytes");
  assert(String(first) === "b'data'" && first.length === 4, `repr ${String(first)}`);
  assert(String(PyBytes.of("\x80'")) === "b'\\x80\\''", `repr ${String(PyBytes.of("\x80'"))}`);

  // Protocol 2 writes bytes as _codecs.encode('labels', 'latin1'): {b'labels': [7]}.
  const p2 = bytes(
    [0x80, 2, 0x7d],
    "c_codecs\nencode\n",
    [0x58, ...u32le(6)],
    "labels",
    [0x58, ...u32le(6)],
    "latin1",
    [0x86, 0x52],
    [0x5d, 0x4b, 7, 0x61],
    [0x73, 0x2e],
  );
  const d2 = unpickle(p2, { file: "p2.pkl" }).value as Map<PyKey, PyValue>;
  const labels = getStrOrBytesKey(d2, "labels");
  assert(Array.isArray(labels) && labels[0] === 7, "b'labels' found by getStrOrBytesKey");
  assert(d2.get("labels") === undefined, "no str key 'labels'");
  // getStrOrBytesKey prefers the str key when both exist.
  assert(getStrOrBytesKey(d, "data") === 2, "str key first");
});

Deno.test("unpickle() dedupes bytes set members by value; pickle() round-trips bytes keys", () => {
  // {b'a', b'a', b'b'} via EMPTY_SET + ADDITEMS (protocol 4).
  const set = unpickle(
    bytes([0x80, 4, 0x8f, 0x28, 0x43, 1], "a", [0x43, 1], "a", [0x43, 1], "b", [0x90, 0x2e]),
    { file: "set.pkl" },
  ).value;
  assert(set instanceof Set && set.size === 2, `set of 2 bytes, got ${(set as Set<PyKey>).size}`);
  assert(set.has(PyBytes.of("a")) && set.has(PyBytes.of("b")), "members by value");

  const rng = testRng("pickle bytes keys");
  const raw = new Uint8Array(1 + rng.int(40)).map(() => rng.int(256));
  const value = new Map<PyKey, PyValue>([
    [PyBytes.of("k"), 1],
    ["k", 2],
    [PyBytes.of(raw), raw],
  ]);
  const back = unpickle(pickle(value), { file: "rt.pkl" }).value as Map<PyKey, PyValue>;
  assert(back.size === 3, `3 keys back, got ${back.size}`);
  assert(back.get(PyBytes.of("k")) === 1 && back.get("k") === 2, "bytes and str keys kept apart");
  const v = back.get(PyBytes.of(raw));
  assert(v instanceof Uint8Array && v.every((b, i) => b === raw[i]), "random bytes key → value");
  let threw = false;
  try {
    PyBytes.of("\u0100");
  } catch (error) {
    threw = error instanceof TypeError;
  }
  assert(threw, "PyBytes.of() refuses characters above U+00FF");
});

Deno.test("unpickle() decodes Python 2 str (BINSTRING, SHORT_BINSTRING) that is not UTF-8 as Latin-1", () => {
  // Every byte value, including 0x80–0x9F (which windows-1252 would remap): code point = byte.
  const all = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
  const text = unpickle(bytes([0x80, 2, 0x54, ...u32le(256), ...all, 0x2e]), { file: "s.pkl" })
    .value;
  assert(typeof text === "string" && text.length === 256, "256 characters");
  for (let i = 0; i < 256; i++) {
    assert(text.charCodeAt(i) === all[i], `byte ${all[i]} → U+${text.charCodeAt(i).toString(16)}`);
  }
  const short = unpickle(bytes([0x55, 3, 0x41, 0xe9, 0x85, 0x2e]), { file: "t.pkl" }).value;
  assert(short === "A\u00e9\u0085", `SHORT_BINSTRING Latin-1: ${JSON.stringify(short)}`);
  // A large record of fresh random bytes (a CIFAR-like data string), decoded byte for byte.
  const rng = testRng("pickle latin1");
  const n = (1 << 20) + rng.int(4096);
  const big = new Uint8Array(n).map(() => rng.int(256));
  big[0] = 0xff; // never valid UTF-8
  const decoded = unpickle(bytes([0x54, ...u32le(n)], [...big], [0x2e]), { file: "big.pkl" })
    .value as string;
  assert(decoded.length === n, `length ${decoded.length} of ${n}`);
  for (let i = 0; i < n; i++) {
    if (decoded.charCodeAt(i) !== big[i]) throw new Error(`char ${i}: ${decoded.charCodeAt(i)}`);
  }
});
