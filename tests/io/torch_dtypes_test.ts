/**
 * src/io/torch/dtypes.ts: the float16/bfloat16 conversions are exact both ways over every bit
 * pattern, and narrowing rounds to nearest even (what `tensor.half()` / `tensor.bfloat16()` do).
 */
import {
  bfloat16ToFloat32,
  DTYPES,
  f32BitsToBf16,
  f32BitsToF16,
  float16ToFloat32,
  STORAGE_DTYPES,
} from "../../src/io/torch/dtypes.ts";
import { assert } from "../util/assert.ts";

const ALL_HALVES = Uint16Array.from({ length: 65536 }, (_, i) => i);

Deno.test("float16ToFloat32() → f32BitsToF16() gives back every one of the 65536 halves", () => {
  const wide = float16ToFloat32(ALL_HALVES);
  const bits = new Uint32Array(wide.buffer);
  for (let h = 0; h < 65536; h++) {
    const back = f32BitsToF16(bits[h]);
    const isNan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    // NaNs come back as a quiet NaN with the same sign; everything else bit for bit.
    if (isNan) assert((back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0, `NaN ${h}`);
    else assert(back === h, `half 0x${h.toString(16)} came back as 0x${back.toString(16)}`);
  }
  assert(wide[0x3c00] === 1 && wide[0x7bff] === 65504 && wide[1] === 2 ** -24, "known values");
});

Deno.test("bfloat16ToFloat32() → f32BitsToBf16() gives back every non-NaN bfloat16", () => {
  const wide = bfloat16ToFloat32(ALL_HALVES);
  const bits = new Uint32Array(wide.buffer);
  for (let h = 0; h < 65536; h++) {
    const isNan = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
    if (!isNan) assert(f32BitsToBf16(bits[h]) === h, `bfloat16 0x${h.toString(16)}`);
  }
});

Deno.test("f32BitsToF16() and f32BitsToBf16() round to nearest even", () => {
  const bitsOf = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
  // 1 + 2^-11 is half-way between 1 and the next half: ties to the even 1.
  assert(f32BitsToF16(bitsOf(1 + 2 ** -11)) === 0x3c00, "tie to even (down)");
  assert(f32BitsToF16(bitsOf(1 + 3 * 2 ** -11)) === 0x3c02, "tie to even (up)");
  assert(f32BitsToF16(bitsOf(65520)) === 0x7c00, "overflow to infinity");
  assert(f32BitsToBf16(bitsOf(1 + 2 ** -8)) === 0x3f80, "bfloat16 tie to even");
  assert(f32BitsToBf16(bitsOf(1 + 3 * 2 ** -8)) === 0x3f82, "bfloat16 tie to even (up)");
});

Deno.test("every dtype's storage class maps back to it", () => {
  for (const [dtype, info] of Object.entries(DTYPES)) {
    assert(STORAGE_DTYPES.get(info.storage) === dtype, `${dtype} ↔ ${info.storage}`);
  }
  assert(STORAGE_DTYPES.get("UntypedStorage") === "uint8", "untyped storages are bytes");
});
