import {
  OrderedDict,
  pickle,
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
