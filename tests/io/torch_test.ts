import { join } from "node:path";
import type { TorchDType } from "../../src/io/torch/dtypes.ts";
import {
  decodeTorchCheckpoint,
  loadTorchCheckpoint,
  readTorchCheckpoint,
} from "../../src/io/torch/read.ts";
import {
  checkKeys,
  findStateDict,
  selectEncoder,
  stripModulePrefix,
} from "../../src/io/torch/state_dict.ts";
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { encodeTorchCheckpoint, writeTorchCheckpoint } from "../../src/io/torch/write.ts";
import {
  OrderedDict,
  pickle,
  PyFloat,
  type PyKey,
  PyTuple,
  type PyValue,
} from "../../src/io/pickle.ts";
import { buildZip, bytesSource, concatChunks, ZipReader } from "../../src/io/zip.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { assertSameDescription, describe, sha256Hex } from "./describe.ts";
import { assertDataError, fixture, FIXTURES, RECORD } from "./checkpoint_helpers.ts";
import { buildOurCheckpoints, encodeOurCheckpoint } from "../fixtures/write_checkpoint_fixtures.ts";

const bytesOf = (value: Parameters<typeof encodeTorchCheckpoint>[0]) =>
  concatChunks(encodeTorchCheckpoint(value));

Deno.test("readTorchCheckpoint() matches PyTorch exactly on zip, legacy, protocol-4 and deflated fixtures", async () => {
  const names = Object.keys(RECORD.files);
  assert(names.length >= 8, "fixture record lists the torch-written files");
  for (const name of names) {
    const want = RECORD.files[name];
    const loaded = await loadTorchCheckpoint(fixture(name));
    assert(loaded.format === want.format, `${name}: format ${loaded.format} != ${want.format}`);
    assertSameDescription(await describe(loaded.value), RECORD.objects[want.object], name);
  }
});

Deno.test("readTorchCheckpoint() materialises views: transposed, strided, offset and expanded tensors", async () => {
  const value = await readTorchCheckpoint(fixture("tensors_legacy.pth"));
  assert(value instanceof Map, "top level is a dict");
  const get = (k: string) => value.get(k) as TorchTensor;
  const base = get("base").data as Float32Array;
  const at = (i: number, j: number) => base[i * 6 + j];
  const t = get("transposed");
  assert(t.shape.join() === "6,4" && t.data[1 * 4 + 2] === at(2, 1), "transposed element [1,2]");
  const off = get("offset_view");
  assert(
    off.shape.join() === "8" && off.data[0] === base[5] && off.data[7] === base[12],
    "offset view",
  );
  const s = get("strided");
  assert(s.data[0] === at(1, 1) && s.data[3] === at(3, 4), "strided view base[1::2, 1::3]");
  const e = get("expanded");
  assert([...e.data].join() === "1,2,3,1,2,3,1,2,3,1,2,3", "expanded (stride 0) view");
  const i64 = get("i64_view");
  assert(
    i64.data instanceof BigInt64Array && [...i64.data].join() === "3,5,7",
    "int64 strided view",
  );
  const f16 = get("f16");
  assert(
    f16.dtype === "float16" && f16.data instanceof Float32Array && f16.data[2] === 65504,
    "float16 widened",
  );
  const p = get("param");
  assert(p.isParameter && p.requiresGrad, "Parameter keeps its flags");
});

Deno.test("checkpoints written by us load in PyTorch (the fixture script's record) and bytes are unchanged", async () => {
  const ours = await buildOurCheckpoints();
  assert(
    ours.length === Object.keys(RECORD.written_by_us).length,
    "every recorded file is rebuilt",
  );
  for (const c of ours) {
    const rec = RECORD.written_by_us[c.name];
    assert(rec !== undefined, `${c.name} is in the record`);
    const bytes = encodeOurCheckpoint(c);
    assert(bytes.length === rec.size, `${c.name}: size ${bytes.length} != ${rec.size}`);
    assert(
      (await sha256Hex(bytes)) === rec.sha256,
      `${c.name}: bytes differ from what torch.load checked`,
    );
    if (rec.object !== undefined) {
      // What torch read is exactly what we meant to write.
      assertSameDescription(await describe(c.value as PyValue), RECORD.objects[rec.object], c.name);
    } else {
      assert(rec.equals_source === true, `${c.name}: torch read back a copy of ${rec.source}`);
    }
  }
  // weights_only=True accepts our files exactly when it accepts torch's own equivalent ones.
  const pairs: [string, string][] = [
    ["ours_resnet18.pth", "resnet18_w2.pth"],
    ["ours_moco.pth.tar", "moco_r18_w2.pth.tar"],
    ["ours_tensors.pth", "tensors.pth"],
  ];
  for (const [ours, theirs] of pairs) {
    assert(
      RECORD.written_by_us[ours].weights_only === RECORD.files[theirs].weights_only,
      `${ours}: weights_only verdict '${
        RECORD.written_by_us[ours].weights_only
      }' differs from torch's own file`,
    );
  }
  assert(
    RECORD.written_by_us["ours_resnet18.pth"].weights_only === "ok",
    "a state dict loads with weights_only",
  );
});

function randomTensor(rng: Rng, dtype: TorchDType): TorchTensor {
  const ndim = rng.int(4);
  const shape = Array.from({ length: ndim }, () => rng.int(5));
  if (rng.int(8) === 0 && ndim > 0) shape[0] = 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const pick = (f: () => number) => Array.from({ length: n }, f);
  const pow2 = (lo: number, hi: number) => 2 ** (lo + rng.int(hi - lo + 1));
  const signed = (m: number) => rng.int(2 * m + 1) - m;
  switch (dtype) {
    case "float32":
      return new TorchTensor(dtype, shape, Float32Array.from(pick(() => rng.normal() * 10)));
    case "float64":
      return new TorchTensor(dtype, shape, Float64Array.from(pick(() => rng.normal() * 1e10)));
    case "float16": // exactly representable halves, subnormals included
      return new TorchTensor(
        dtype,
        shape,
        Float32Array.from(pick(() => signed(2047) * pow2(-24, 5))),
      );
    case "bfloat16":
      return new TorchTensor(
        dtype,
        shape,
        Float32Array.from(pick(() => signed(255) * pow2(-133, 119))),
      );
    case "int64":
      return new TorchTensor(
        dtype,
        shape,
        BigInt64Array.from(
          pick(() => 0),
          () => BigInt.asIntN(64, (BigInt(rng.nextUint32()) << 32n) | BigInt(rng.nextUint32())),
        ),
      );
    case "int32":
      return new TorchTensor(dtype, shape, Int32Array.from(pick(() => rng.nextUint32() | 0)));
    case "int16":
      return new TorchTensor(dtype, shape, Int16Array.from(pick(() => signed(32767))));
    case "int8":
      return new TorchTensor(dtype, shape, Int8Array.from(pick(() => signed(127))));
    case "uint8":
      return new TorchTensor(dtype, shape, Uint8Array.from(pick(() => rng.int(256))));
    case "bool":
      return new TorchTensor(dtype, shape, Uint8Array.from(pick(() => rng.int(2))));
  }
}

function randomValue(rng: Rng, depth: number): PyValue {
  const dtypes: TorchDType[] = [
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
  ];
  const kind = rng.int(depth > 2 ? 8 : 12);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.int(2) === 0;
    case 2:
      return rng.int(2 ** 32) - 2 ** 31;
    case 3:
      return rng.normal();
    case 4:
      return new PyFloat(rng.int(100));
    case 5:
      return (BigInt(rng.nextUint32()) << 64n) * (rng.int(2) ? 1n : -1n) + 1n;
    case 6:
      return `s${rng.int(1000)}✓`;
    case 7:
      return randomTensor(rng, dtypes[rng.int(dtypes.length)]);
    case 8:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    case 9:
      return new PyTuple(Array.from({ length: rng.int(5) }, () => randomValue(rng, depth + 1)));
    case 10: {
      const m = new Map<PyKey, PyValue>();
      for (let i = rng.int(5); i > 0; i--) {
        m.set(rng.int(2) ? rng.int(50) : `k${rng.int(50)}`, randomValue(rng, depth + 1));
      }
      return m;
    }
    default: {
      const m = new OrderedDict();
      for (let i = rng.int(5); i > 0; i--) m.set(`p${i}`, randomValue(rng, depth + 1));
      return m;
    }
  }
}

Deno.test("encodeTorchCheckpoint() → decodeTorchCheckpoint() round trip is exact for all dtypes and nested values", async () => {
  const rng = testRng("checkpoint round trip");
  const dtypes: TorchDType[] = [
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
  ];
  const tensors = new OrderedDict();
  for (const d of dtypes) {
    for (let i = 0; i < 3; i++) tensors.set(`${d}.${i}`, randomTensor(rng, d));
  }
  const value = new Map<PyKey, PyValue>([["tensors", tensors]]);
  for (let i = 0; i < 20; i++) value.set(i, randomValue(rng, 0));
  for (const forceZip64 of [false, true]) {
    const bytes = concatChunks(encodeTorchCheckpoint(value, { forceZip64 }));
    const back = decodeTorchCheckpoint(bytes, "roundtrip.pth");
    assert(back.format === "zip", "written as zip");
    assertSameDescription(await describe(back.value), await describe(value), `zip64=${forceZip64}`);
  }
});

Deno.test("writeTorchCheckpoint() writes atomically and the file reads back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckpt-test-" });
  try {
    const path = join(dir, "sub", "model.pth.tar");
    const sd = new OrderedDict([["w", new TorchTensor("float32", [2], new Float32Array([1, 2]))]]);
    await writeTorchCheckpoint(path, sd);
    await writeTorchCheckpoint(path, sd); // overwriting is fine
    const back = await readTorchCheckpoint(path);
    assert(
      back instanceof OrderedDict && (back.get("w") as TorchTensor).data[1] === 2,
      "read back",
    );
    const leftovers = [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name);
    assert(leftovers.join() === "model.pth.tar", `no temp files left: ${leftovers}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("selectEncoder() accepts module.encoder_q., encoder_q. and plain keys; dropHead removes fc.*", async () => {
  const moco = findStateDict(await readTorchCheckpoint(fixture("moco_r18_w2.pth.tar")), "moco");
  const resnet = findStateDict(await readTorchCheckpoint(fixture("resnet18_w2.pth")), "resnet");
  const q = selectEncoder(moco, "encoder_q", { dropHead: true });
  const noModule = new Map([...moco].map(([k, v]) => [k.replace(/^module\./, ""), v]));
  const q2 = selectEncoder(noModule, "encoder_q", { dropHead: true });
  const plain = selectEncoder(resnet, "encoder_q", { dropHead: true });
  const names = (m: Map<string, unknown>) => [...m.keys()].join("|");
  assert(names(q) === names(q2), "module.encoder_q. and encoder_q. give the same keys");
  assert(names(q) === names(plain), "MoCo backbone keys are torchvision's");
  assert(
    ![...q.keys()].some((k) =>
      k.startsWith("fc.") || k.includes("encoder") || k.startsWith("queue")
    ),
    "clean",
  );
  assert(selectEncoder(moco, "encoder_q").has("fc.2.weight"), "head kept unless asked");
  assert(
    q.get("conv1.weight") === moco.get("module.encoder_q.conv1.weight"),
    "same tensors, no copies",
  );
  const expected = new Map([...plain].map(([k, t]) => [k, t.shape]));
  checkKeys(q, expected, { file: "moco" });
  checkKeys(selectEncoder(moco, "encoder_k", { dropHead: true }), expected, { file: "moco" });
  await assertDataError(
    () => selectEncoder(moco, "encoder_x", { file: "moco.pth" }),
    /no 'encoder_x' weights.*encoder_q, encoder_k/,
    "moco.pth",
  );
});

Deno.test("stripModulePrefix() strips 'module.' only where present and rejects collisions", async () => {
  const t = new TorchTensor("float32", [1], new Float32Array([1]));
  const out = stripModulePrefix(new Map([["module.a", t], ["b", t], ["x.module.c", t]]));
  assert([...out.keys()].join() === "a,b,x.module.c", `keys ${[...out.keys()]}`);
  await assertDataError(
    () => stripModulePrefix(new Map([["module.a", t], ["a", t]]), "f.pth"),
    /collide/,
    "f.pth",
  );
});

Deno.test("checkKeys() on another architecture lists missing keys, unexpected keys and shape mismatches", async () => {
  const file = fixture("resnet18_w2.pth");
  const sd = findStateDict(await readTorchCheckpoint(file), file);
  // A ResNet-18 at twice the width, plus a layer the file lacks, minus one it has.
  const expected = new Map<string, number[]>();
  for (const [k, t] of sd) {
    if (k === "layer4.1.bn2.num_batches_tracked") continue;
    expected.set(
      k,
      t.shape.length === 4 && k !== "conv1.weight"
        ? t.shape.map((d, i) => (i < 2 ? 2 * d : d))
        : [...t.shape],
    );
  }
  expected.set("layer5.0.conv1.weight", [8, 8, 3, 3]);
  const error = await assertDataError(
    () => checkKeys(sd, expected, { file }),
    /1 missing keys \(layer5\.0\.conv1\.weight\).*1 unexpected keys \(layer4\.1\.bn2\.num_batches_tracked\).*shape mismatches \(layer1\.0\.conv1\.weight: checkpoint \[2, 2, 3, 3\] vs model \[4, 4, 3, 3\]/,
    file,
  );
  assert(/and \d+ more/.test(error.message), "long lists are shortened");
  checkKeys(sd, new Map([...sd].map(([k, t]) => [k, t.shape])), { file }); // exact match passes
  checkKeys(sd, new Map([["conv1.weight", sd.get("conv1.weight")!.shape]]), {
    file,
    ignoreUnexpected: true,
  });
});

Deno.test("findStateDict() finds state_dict / model / a bare state dict and rejects other checkpoints", async () => {
  const t = new TorchTensor("float32", [1], new Float32Array([1]));
  assert(
    findStateDict(new Map([["state_dict", new Map([["a", t]])]]), "x").get("a") === t,
    "state_dict",
  );
  assert(
    findStateDict(new Map<PyKey, PyValue>([["model", new Map([["a", t]])], ["epoch", 1]]), "x")
      .size === 1,
    "model",
  );
  assert(findStateDict(new Map([["a", t]]), "x").size === 1, "bare");
  await assertDataError(
    () => findStateDict(new Map([["epoch", 1]]), "e.pth"),
    /no state dict.*epoch/,
    "e.pth",
  );
  await assertDataError(() => findStateDict([1], "l.pth"), /not a dict/, "l.pth");
});

Deno.test("bad input: missing, truncated, wrong magic, corrupt and non-checkpoint files are DataErrors naming the file", async () => {
  const zip = Deno.readFileSync(fixture("resnet18_w2.pth"));
  const legacy = Deno.readFileSync(fixture("resnet18_w2_legacy.pth"));
  await assertDataError(
    () => readTorchCheckpoint("/nonexistent/x.pth"),
    /no such file/,
    "/nonexistent/x.pth",
  );
  await assertDataError(() => readTorchCheckpoint(FIXTURES), /not a file/, FIXTURES);
  await assertDataError(
    () => decodeTorchCheckpoint(zip.subarray(0, zip.length >> 1), "half.pth"),
    /truncated/,
    "half.pth",
  );
  await assertDataError(
    () => decodeTorchCheckpoint(zip.subarray(0, 10), "tiny.pth"),
    /not a zip|truncated/,
    "tiny.pth",
  );
  await assertDataError(
    () => decodeTorchCheckpoint(legacy.subarray(0, legacy.length - 100), "cut.pth"),
    /truncated/,
    "cut.pth",
  );
  await assertDataError(
    () => decodeTorchCheckpoint(legacy.subarray(0, 3000), "cut2.pth"),
    /truncated/,
    "cut2.pth",
  );
  await assertDataError(
    () => decodeTorchCheckpoint(legacy.subarray(0, 40), "cut3.pth"),
    /truncated/,
    "cut3.pth",
  );
  const badMagic = legacy.slice();
  badMagic[5] ^= 0xff; // inside the magic number's LONG1 bytes
  await assertDataError(
    () => decodeTorchCheckpoint(badMagic, "magic.pth"),
    /bad magic number/,
    "magic.pth",
  );
  const corrupt = zip.slice();
  const entry = ZipReader.open(bytesSource(zip), "z").get("resnet18_w2/data/5")!;
  const header = new DataView(zip.buffer, zip.byteOffset + entry.localHeaderOffset, 30);
  const dataStart = entry.localHeaderOffset + 30 + header.getUint16(26, true) +
    header.getUint16(28, true);
  corrupt[dataStart + 1] ^= 0x55; // inside a storage record
  await assertDataError(() => decodeTorchCheckpoint(corrupt, "crc.pth"), /CRC-32/, "crc.pth");
  await assertDataError(
    () => decodeTorchCheckpoint(new TextEncoder().encode("hello world\n"), "a.txt"),
    /not a PyTorch checkpoint/,
    "a.txt",
  );
  const other = concatChunks(buildZip([{ name: "x/readme.txt", data: new Uint8Array(3) }]));
  await assertDataError(() => decodeTorchCheckpoint(other, "o.zip"), /without data\.pkl/, "o.zip");
  const script = concatChunks(buildZip([{ name: "m/constants.pkl", data: new Uint8Array(3) }]));
  await assertDataError(() => decodeTorchCheckpoint(script, "m.pt"), /TorchScript/, "m.pt");
  await assertDataError(
    () =>
      decodeTorchCheckpoint(
        concatChunks(buildZip([{ name: "a/data.pkl", data: new Uint8Array(0) }])),
        "e.pth",
      ),
    /truncated pickle/,
    "e.pth",
  );
  // A zip whose storage record is missing.
  const one = bytesOf(new Map([["w", new TorchTensor("float32", [2], new Float32Array(2))]]));
  const reader = ZipReader.open(bytesSource(one), "one");
  const noData = concatChunks(
    buildZip([{ name: "archive/data.pkl", data: reader.read("archive/data.pkl") }]),
  );
  await assertDataError(
    () => decodeTorchCheckpoint(noData, "nodata.pth"),
    /missing storage entry 'archive\/data\/0'/,
    "nodata.pth",
  );
});

/** `os.system("echo pwned")` as a protocol-2 pickle, followed by STOP. */
const EVIL = new Uint8Array([
  0x80,
  0x02,
  ...new TextEncoder().encode("cos\nsystem\n"),
  0x58,
  10,
  0,
  0,
  0,
  ...new TextEncoder().encode("echo pwned"),
  0x85,
  0x52,
  0x2e,
]);

Deno.test("bad input: a pickle with a foreign global (os.system) is refused in zip and legacy files", async () => {
  const zip = concatChunks(buildZip([
    { name: "archive/data.pkl", data: EVIL },
    { name: "archive/version", data: new TextEncoder().encode("3\n") },
  ]));
  await assertDataError(
    () => decodeTorchCheckpoint(zip, "evil.pth"),
    /refusing to load global 'os\.system'/,
    "evil.pth",
  );
  const legacyHeader = [
    pickle(0x1950a86a20f9469cfc6cn),
    pickle(1001),
    pickle(new Map<PyKey, PyValue>([["protocol_version", 1001], ["little_endian", true]])),
  ];
  const legacy = concatChunks([...legacyHeader, EVIL]);
  await assertDataError(
    () => decodeTorchCheckpoint(legacy, "evil_legacy.pth"),
    /os\.system/,
    "evil_legacy.pth",
  );
  // A whole pickled nn.Module (legacy 'module' persistent id) is refused too.
  const moduleId = pickle(new PyTuple(["module", "x", "y", "z"]));
  const persid = concatChunks([
    moduleId.subarray(0, moduleId.length - 1),
    new Uint8Array([0x51, 0x2e]),
  ]);
  await assertDataError(
    () => decodeTorchCheckpoint(concatChunks([...legacyHeader, persid]), "mod.pth"),
    /nn\.Module/,
    "mod.pth",
  );
  // An allowed global used with the wrong arguments.
  const misuse = concatChunks([
    new Uint8Array([0x80, 0x02]),
    new TextEncoder().encode("ctorch._utils\n_rebuild_tensor_v2\n"),
    new Uint8Array([0x28, 0x4b, 1, 0x4b, 0, 0x29, 0x29, 0x89, 0x29, 0x74, 0x52, 0x2e]),
  ]);
  const misuseZip = concatChunks(buildZip([{ name: "a/data.pkl", data: misuse }]));
  await assertDataError(
    () => decodeTorchCheckpoint(misuseZip, "mis.pth"),
    /not a storage|arguments/,
    "mis.pth",
  );
});
