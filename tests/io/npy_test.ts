/**
 * The .npy reader against arrays numpy wrote, and the writer against numpy's own split files.
 *
 * @module
 */
import { join } from "node:path";
import { encodeNpy, parseNpy, readNpy, writeNpy } from "../../src/io/npy.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

const FIXTURES = new URL("../fixtures/mat/", import.meta.url).pathname;
const EXPECTED: Record<string, { shape: number[]; data: number[] }> = JSON.parse(
  Deno.readTextFileSync(join(FIXTURES, "expected.json")),
);

Deno.test("readNpy() matches numpy on f8, f4, big-endian i4, Fortran-order i2, u1 and 0-d", async () => {
  for (
    const name of [
      "latents_f8.npy",
      "f4.npy",
      "i4_big_endian.npy",
      "fortran.npy",
      "u1.npy",
      "scalar.npy",
    ]
  ) {
    const arr = await readNpy(join(FIXTURES, name));
    assertArrayEqual(arr.shape, EXPECTED[name].shape, `${name} shape`);
    assertArrayEqual(arr.data, EXPECTED[name].data, `${name} values`);
  }
});

Deno.test("encodeNpy() writes the bytes np.save wrote for the 300W and LSP split files", async () => {
  for (
    const name of [
      "300w_indoor+outdoor_train.npy",
      "300w_indoor+outdoor_valid.npy",
      "300w_indoor+outdoor_test.npy",
      "lsp_train.npy",
      "lsp_test.npy",
    ]
  ) {
    const numpyBytes = await Deno.readFile(join(FIXTURES, name));
    const arr = parseNpy(numpyBytes, name);
    assert(arr.type === "i8", `${name}: numpy wrote int64, read ${arr.type}`);
    assertArrayEqual(encodeNpy(arr.data, arr.shape, "<i8"), numpyBytes, `${name} bytes`);
  }
});

Deno.test("writeNpy() round-trips random float64 and int32 matrices", async () => {
  const rng = testRng("npy round trip");
  const dir = await Deno.makeTempDir();
  try {
    const rows = 1 + rng.int(7);
    const cols = 1 + rng.int(9);
    const f = Float64Array.from({ length: rows * cols }, () => rng.uniform() * 2e6 - 1e6);
    await writeNpy(join(dir, "f.npy"), f, [rows, cols], "<f8");
    const back = await readNpy(join(dir, "f.npy"));
    assertArrayEqual(back.shape, [rows, cols], "shape");
    assertArrayEqual(back.data, f, "f8 values");
    const ints = Array.from({ length: rows * cols }, () => rng.int(2 ** 31) - 2 ** 30);
    await writeNpy(join(dir, "i.npy"), ints, [rows, cols], "<i4");
    assertArrayEqual((await readNpy(join(dir, "i.npy"))).data, ints, "i4 values");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readNpy() names the file for missing, truncated and unsupported arrays", async () => {
  await assertRejects(() => readNpy("/nonexistent/latents_0.npy"), /latents_0\.npy/);
  const good = await Deno.readFile(join(FIXTURES, "latents_f8.npy"));
  let err: unknown;
  try {
    parseNpy(good.subarray(0, good.length - 8), "cut.npy");
  } catch (e) {
    err = e;
  }
  assert(err instanceof DataError && /cut\.npy.*needs 320/.test(err.message), `truncated: ${err}`);
  const header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n";
  const objectArray = new Uint8Array([
    ...[0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0],
    ...new TextEncoder().encode(header),
    ...new Uint8Array(8),
  ]);
  try {
    parseNpy(objectArray, "obj.npy");
    err = undefined;
  } catch (e) {
    err = e;
  }
  assert(err instanceof DataError && /obj\.npy.*dtype '\|O'/.test(err.message), `object: ${err}`);
});
