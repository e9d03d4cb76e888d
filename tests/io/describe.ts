/**
 * The canonical description of a Python value that `tests/fixtures/make_checkpoint_fixtures.py`
 * records for what `torch.load` returned (its `describe()`), computed here from our values, and
 * a comparison that tolerates only the summation order of float sums.
 *
 * @module
 */
import { AssertionError } from "node:assert";
import { OrderedDict, PyFloat, PyObject, PyTuple, type PyValue } from "../../src/io/pickle.ts";
import { tensorBytes, TorchTensor } from "../../src/io/torch/tensor.ts";

/** A JSON description (see the Python generator). */
export type Description = { [key: string]: unknown };

function hexOf(x: number): string {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x, false);
  return [...new Uint8Array(v.buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Decodes a big-endian float64 hex string. */
export function fromHex(hex: string): number {
  const v = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < 8; i++) v.setUint8(i, parseInt(hex.slice(2 * i, 2 * i + 2), 16));
  return v.getFloat64(0, false);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const copy = new Uint8Array(bytes);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", copy));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 hex of some bytes. */
export function sha256Hex(bytes: Uint8Array): Promise<string> {
  return sha256(bytes);
}

function compactSorted(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(compactSorted).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${
      keys.map((k) => `${JSON.stringify(k)}:${compactSorted((v as Description)[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

async function describeTensor(t: TorchTensor): Promise<Description> {
  const d = t.data;
  const float = d instanceof Float32Array || d instanceof Float64Array;
  let sum: string;
  let head: string[];
  if (float) {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i];
    sum = hexOf(s);
    head = [...d.subarray(0, 2)].map(hexOf);
  } else {
    let s = 0n;
    for (let i = 0; i < d.length; i++) s += BigInt(d[i]);
    sum = String(BigInt.asIntN(64, s));
    head = [...d.subarray(0, 2)].map((x) => String(x));
  }
  return {
    t: "tensor",
    dtype: t.dtype,
    shape: [...t.shape],
    parameter: t.isParameter,
    requires_grad: t.requiresGrad,
    sha256: await sha256(tensorBytes(t)),
    sum,
    head,
  };
}

/** Describes one of our values like the Python `describe()` describes torch's. */
export async function describe(v: PyValue): Promise<Description> {
  if (v === null) return { t: "none" };
  if (typeof v === "boolean") return { t: "bool", v };
  if (typeof v === "bigint") return { t: "int", v: String(v) };
  if (typeof v === "number") {
    return Number.isInteger(v) && !Object.is(v, -0)
      ? { t: "int", v: String(v) }
      : { t: "float", hex: hexOf(v) };
  }
  if (v instanceof PyFloat) return { t: "float", hex: hexOf(v.value) };
  if (typeof v === "string") return { t: "str", v };
  if (v instanceof Uint8Array) {
    return { t: "bytes", hex: [...v].map((b) => b.toString(16).padStart(2, "0")).join("") };
  }
  if (v instanceof TorchTensor) return await describeTensor(v);
  if (v instanceof Map) {
    const items = [];
    for (const [k, x] of v) items.push([await describe(k), await describe(x)]);
    const out: Description = { t: v instanceof OrderedDict ? "odict" : "dict", items };
    const meta = v instanceof OrderedDict ? v.attributes?.get("_metadata") : undefined;
    if (meta !== undefined) out.metadata = await describe(meta);
    return out;
  }
  if (Array.isArray(v)) return { t: "list", items: await Promise.all(v.map(describe)) };
  if (v instanceof PyTuple) return { t: "tuple", items: await Promise.all(v.items.map(describe)) };
  if (v instanceof PyObject) {
    return { t: "object", class: v.cls.qualifiedName, state: await describe(v.state ?? null) };
  }
  if (v instanceof Set) {
    const items = await Promise.all([...v].map(describe));
    items.sort((a, b) => (compactSorted(a) < compactSorted(b) ? -1 : 1));
    return { t: "set", items };
  }
  throw new TypeError(`cannot describe ${String(v)}`);
}

/**
 * Asserts `actual` equals `expected` exactly, except float tensor sums, which may differ by the
 * summation order (relative 1e-9).
 */
export function assertSameDescription(actual: unknown, expected: unknown, path = "$"): void {
  const fail = (what: string) => {
    throw new AssertionError({ message: `${path}: ${what}` });
  };
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return fail(`expected a list, got ${JSON.stringify(actual)}`);
    if (actual.length !== expected.length) fail(`length ${actual.length} != ${expected.length}`);
    expected.forEach((e, i) => assertSameDescription(actual[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object") {
      return fail(`expected an object, got ${actual}`);
    }
    const e = expected as Description;
    const a = actual as Description;
    const ek = Object.keys(e).sort().join(",");
    const ak = Object.keys(a).sort().join(",");
    if (ek !== ak) fail(`fields {${ak}} != {${ek}}`);
    for (const k of Object.keys(e)) {
      if (k === "sum" && e.t === "tensor" && /^(float|bfloat)/.test(String(e.dtype))) {
        const x = fromHex(String(a.sum));
        const y = fromHex(String(e.sum));
        const ok = Object.is(x, y) || Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)) ||
          (Number.isNaN(x) && Number.isNaN(y));
        if (!ok) fail(`tensor sum ${x} != ${y}`);
        continue;
      }
      assertSameDescription(a[k], e[k], `${path}.${k}`);
    }
    return;
  }
  if (actual !== expected) fail(`${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
}
