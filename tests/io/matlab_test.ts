/**
 * The MAT-file v5 reader against scipy.io.savemat files and scipy.io.loadmat's view of them.
 *
 * @module
 */
import { join } from "node:path";
import { matNumeric, type MatValue, parseMat, readMat } from "../../src/io/matlab.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";

const FIXTURES = new URL("../fixtures/mat/", import.meta.url).pathname;

interface Expected {
  kind: "numeric" | "char" | "cell" | "struct";
  dims: number[];
  dtype?: string;
  data?: number[];
  imag?: number[];
  rows?: string[];
  items?: Expected[];
  fields?: string[];
  elements?: Record<string, Expected>[];
}
const EXPECTED: Record<string, Record<string, Expected>> = JSON.parse(
  Deno.readTextFileSync(join(FIXTURES, "expected.json")),
);

/** scipy's dtype for each MATLAB class. */
const DTYPES: Record<string, string> = {
  double: "float64",
  single: "float32",
  int8: "int8",
  uint8: "uint8",
  int16: "int16",
  uint16: "uint16",
  int32: "int32",
  uint32: "uint32",
  int64: "int64",
  uint64: "uint64",
};

function compare(actual: MatValue, expected: Expected, where: string): void {
  assert(actual.kind === expected.kind, `${where}: kind ${actual.kind} vs ${expected.kind}`);
  if (actual.kind === "char") {
    // loadmat gives a 1-element array of the string for a 1×N char; compare the strings.
    assertArrayEqual(actual.rows.map((r) => r.length), expected.rows!.map((r) => r.length), where);
    assert(actual.rows.join("|") === expected.rows!.join("|"), `${where}: ${actual.rows}`);
    return;
  }
  assertArrayEqual(actual.dims, expected.dims, `${where} dims`);
  if (actual.kind === "numeric") {
    // loadmat hands logical arrays back as uint8, which is also their MATLAB storage class.
    const dtype = expected.imag ? "complex128" : DTYPES[actual.mclass];
    assert(dtype === expected.dtype, `${where}: class ${actual.mclass} vs scipy ${expected.dtype}`);
    assertArrayEqual(actual.data, expected.data!, `${where} values`);
    if (expected.imag) assertArrayEqual(actual.imag!, expected.imag, `${where} imaginary`);
    else assert(actual.imag === undefined, `${where}: unexpected imaginary part`);
  } else if (actual.kind === "cell") {
    assert(actual.items.length === expected.items!.length, `${where}: cell count`);
    actual.items.forEach((v, i) => compare(v, expected.items![i], `${where}{${i}}`));
  } else {
    assertSame(actual.fieldNames.join(), expected.fields!.join(), `${where} fields`);
    actual.elements.forEach((el, i) => {
      for (const f of actual.fieldNames) {
        compare(el.get(f)!, expected.elements![i][f], `${where}(${i}).${f}`);
      }
    });
  }
}

for (const file of ["numeric.mat", "numeric_z.mat", "nested.mat", "nested_z.mat"]) {
  Deno.test(`readMat() matches scipy.io.loadmat on ${file}`, async () => {
    const vars = await readMat(join(FIXTURES, file));
    const expected = EXPECTED[file];
    assertSame([...vars.keys()].sort().join(), Object.keys(expected).sort().join(), file);
    for (const [name, want] of Object.entries(expected)) compare(vars.get(name)!, want, name);
    if (file.startsWith("numeric")) {
      assert(matNumeric(vars, "lg", file).logical, "lg is a logical array");
      assert(!matNumeric(vars, "u8", file).logical, "u8 is not logical");
    }
  });
}

Deno.test("readMat() reads the Flowers and LSP annotation shapes (compressed and plain)", async () => {
  for (const file of ["flowers_imagelabels.mat", "flowers_setid.mat", "lsp_joints.mat"]) {
    const vars = await readMat(join(FIXTURES, file));
    for (const [name, want] of Object.entries(EXPECTED[file])) {
      compare(matNumeric(vars, name, file), want, `${file}:${name}`);
    }
  }
  const joints = matNumeric(await readMat(join(FIXTURES, "lsp_joints.mat")), "joints", "j");
  // Row-major [3, 14, 5]: joints[0, j=2, i=4] = 10.25 + 3·2 + 0.5·4.
  assert(joints.data[0 * 70 + 2 * 5 + 4] === 18.25, `joints[0,2,4] = ${joints.data[14]}`);
});

Deno.test("readMat() refuses v7.3 (HDF5), v4 and truncated files with the file name", async () => {
  const v73 = new Uint8Array(1024);
  v73.set(
    new TextEncoder().encode(
      "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 .",
    ),
  );
  v73.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], 512);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(join(dir, "setid.mat"), v73);
    await assertRejects(
      () => readMat(join(dir, "setid.mat")),
      /setid\.mat is a MATLAB v7\.3.*-v7.*savemat/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const v4 = new Uint8Array(200); // v4 starts with a binary type word, e.g. 0000 0000
  assertThrows(() => parseMat(v4, "old.mat"), /old\.mat.*v4/);
  const good = await Deno.readFile(join(FIXTURES, "numeric.mat"));
  assertThrows(() => parseMat(good.subarray(0, 300), "cut.mat"), /cut\.mat.*claims/);
  const z = await Deno.readFile(join(FIXTURES, "numeric_z.mat"));
  const bad = z.slice();
  bad[140] ^= 0xff; // inside the first zlib stream
  assertThrows(() => parseMat(bad, "bad.mat"), /bad\.mat/);
  await assertRejects(() => readMat("/nonexistent/imagelabels.mat"), /imagelabels\.mat/);
  const vars = parseMat(good, "numeric.mat");
  assertThrows(
    () => matNumeric(vars, "labels", "numeric.mat"),
    /numeric\.mat: no variable 'labels'/,
  );
  assertThrows(() => matNumeric(vars, "text", "numeric.mat"), /'text' is a char array/);
});

function assertThrows(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof DataError, `expected a DataError, got ${e}`);
    assert(pattern.test(e.message), `'${e.message}' does not match ${pattern}`);
    return;
  }
  assert(false, `expected an error matching ${pattern}`);
}

function assertSame(actual: string, expected: string, what: string): void {
  assert(actual === expected, `${what}: '${actual}' vs '${expected}'`);
}

/** A big-endian ("MI") file built by hand: a 2×3 double and a double stored as miUINT8. */
function bigEndianMat(): Uint8Array {
  const out: number[] = [];
  const u32 = (v: number) => out.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  const header = new TextEncoder().encode("MATLAB 5.0 MAT-file, hand-made big-endian test");
  for (let i = 0; i < 116; i++) out.push(i < header.length ? header[i] : 32);
  for (let i = 0; i < 8; i++) out.push(0);
  out.push(0x01, 0x00, 0x4d, 0x49); // version 0x0100, "MI"
  const f64 = (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    out.push(...b);
  };
  // var "ab": class double, dims 2×3, column-major 1 4 2 5 3 6.
  u32(14), u32(96);
  u32(6), u32(8), u32(6), u32(0); // array flags: mxDOUBLE_CLASS
  u32(5), u32(8), u32(2), u32(3); // dimensions
  u32((2 << 16) | 1), out.push(0x61, 0x62, 0, 0); // small element name "ab"
  u32(9), u32(48);
  [1, 4, 2, 5, 3, 6].forEach(f64);
  // var "c": class double, 1×2, data stored compactly as a small miUINT8 element.
  u32(14), u32(48);
  u32(6), u32(8), u32(6), u32(0);
  u32(5), u32(8), u32(1), u32(2);
  u32((1 << 16) | 1), out.push(0x63, 0, 0, 0);
  u32((2 << 16) | 2), out.push(7, 250, 0, 0);
  return new Uint8Array(out);
}

Deno.test("parseMat() reads big-endian files and doubles stored as smaller integer types", () => {
  const vars = parseMat(bigEndianMat(), "be.mat");
  const ab = matNumeric(vars, "ab", "be.mat");
  assertArrayEqual(ab.dims, [2, 3], "dims");
  assertArrayEqual(ab.data, [1, 2, 3, 4, 5, 6], "row-major values");
  const c = matNumeric(vars, "c", "be.mat");
  assert(c.mclass === "double", c.mclass);
  assertArrayEqual(c.data, [7, 250], "compact storage");
});
