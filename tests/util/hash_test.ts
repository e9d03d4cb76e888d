import { sha256File, sha256Hex, stableKey, stableStringify } from "../../src/util/hash.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertRejects } from "./assert.ts";

Deno.test("sha256Hex() and sha256File() match the FIPS 180-2 'abc' vector", async () => {
  const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert(sha256Hex("abc") === abc, "sha256Hex(abc)");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "abc");
    assert((await sha256File(`${dir}/f`)) === abc, "sha256File(abc)");
    const err = await assertRejects(() => sha256File(`${dir}/missing`), /missing/);
    assert(err instanceof DataError, "a missing file is a DataError");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stableStringify() sorts keys at every level, so key order does not change keys", () => {
  assert(
    stableStringify({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }) ===
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    "sorted keys",
  );
  assert(stableKey({ a: 1, b: 2 }) === stableKey({ b: 2, a: 1 }), "order-free key");
  assert(stableKey({ a: 1 }) !== stableKey({ a: 2 }), "distinct keys");
});
