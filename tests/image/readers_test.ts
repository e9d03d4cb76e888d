// Hand-made BMP / Netpbm edge cases beyond the Pillow fixtures: Pillow's tokenizer quirks that we
// reproduce on purpose, and the RLE cases where we follow the BMP format instead of Pillow 9.4.
import { decodeBmp } from "../../src/image/bmp.ts";
import { decodeNetpbm } from "../../src/image/netpbm.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert } from "../util/assert.ts";

const text = (s: string) => new TextEncoder().encode(s);

function rejects(fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
  } catch (error) {
    assert(error instanceof DataError, `${what}: ${(error as Error).name} is not a DataError`);
    assert(
      pattern.test((error as Error).message),
      `${what}: message '${(error as Error).message}'`,
    );
    return;
  }
  throw new Error(`${what}: expected a DataError`);
}

function grey(img: { data: Uint8Array }): number[] {
  return Array.from({ length: img.data.length / 3 }, (_, i) => img.data[3 * i]);
}

Deno.test("decodeNetpbm() reproduces Pillow's tokenizer: comments glue tokens, 10-character limit", () => {
  // "1#c\n2" is the single header token "12" (Pillow keeps reading the token after a comment).
  const glued = decodeNetpbm(text("P2\n1#c\n2 1\n255\n" + "1 ".repeat(12)), "glued.pgm");
  assert(glued.width === 12 && glued.height === 1, `size ${glued.width}x${glued.height}`);
  // In plain data a comment is cut out with its line end: "1#c\n0" is the sample 10.
  const data = decodeNetpbm(text("P2 2 1 255 1#c\n0 7\n"), "data.pgm");
  assert(grey(data).join() === "10,7", `samples ${grey(data)}`);
  // Samples are rescaled by round-half-even(v / maxval * 255): maxval 2 → 0, 128 (127.5), 255.
  const scaled = decodeNetpbm(text("P2 3 1 2\n0 1 2"), "max2.pgm");
  assert(grey(scaled).join() === "0,128,255", `maxval 2: ${grey(scaled)}`);
  rejects(
    () => decodeNetpbm(text("P5\n12345678901 1\n255\n"), "long.pgm"),
    /long\.pgm.*too long/,
    "long token",
  );
  rejects(
    () => decodeNetpbm(text("P2 2 1 9\n3 10"), "big.pgm"),
    /big\.pgm.*larger than maxval/,
    "sample > maxval",
  );
  rejects(
    () => decodeNetpbm(text("P1 2 1\n0 2"), "bad.pbm"),
    /bad\.pbm.*invalid PBM token/,
    "P1 token",
  );
  rejects(
    () => decodeNetpbm(text("P3 2 1 255\n1 2 3 4 5"), "short.ppm"),
    /short\.ppm.*not enough/,
    "short P3",
  );
  rejects(
    () => decodeNetpbm(text("P6 0 1 255\n"), "zero.ppm"),
    /zero\.ppm.*bad size/,
    "zero width",
  );
  rejects(
    () => decodeNetpbm(text("P5 x 1 255\n"), "nan.pgm"),
    /nan\.pgm.*not an integer/,
    "non-integer",
  );
});

/** A BMP with a 40-byte header, an 8-bit palette of `colors` grey-ish entries and `pixels`. */
function rleBmp(width: number, height: number, bits: 4 | 8, pixels: number[]): Uint8Array {
  const colors = bits === 8 ? 4 : 16;
  const header = 14 + 40 + 4 * colors;
  const out = new Uint8Array(header + pixels.length);
  const v = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  v.setUint32(2, out.length, true);
  v.setUint32(10, header, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, bits, true);
  v.setUint32(30, bits === 8 ? 1 : 2, true);
  v.setUint32(46, colors, true);
  for (let i = 0; i < colors; i++) out.set([10 * i + 1, 10 * i + 2, 10 * i + 3, 0], 54 + 4 * i);
  out.set(pixels, header);
  return out;
}

Deno.test("decodeBmp() RLE: delta escapes and an early end-of-bitmap follow the BMP format (Pillow 9.4 mis-reads them)", () => {
  // 4×3, bottom-up. Row 0 (bottom): run of 2×1, delta (+1, +1) → row 1 x=3; run 1×2; EOL;
  // then end of bitmap: everything else is index 0.
  const img = decodeBmp(rleBmp(4, 3, 8, [2, 1, 0, 2, 1, 1, 1, 2, 0, 0, 0, 1]), "rle8.bmp");
  // Palette entry i is stored B,G,R = (10i+1, 10i+2, 10i+3) → R = 10i + 3.
  const red = grey(img); // channel R of each pixel, top row first
  const r = (i: number) => 10 * i + 3;
  assert(
    red.join() === [r(0), r(0), r(0), r(0), r(0), r(0), r(0), r(2), r(1), r(1), r(0), r(0)].join(),
    `${red}`,
  );
  // RLE4: an absolute run of 3 nibbles (odd) reads ceil(3/2) = 2 bytes, then word alignment.
  const img4 = decodeBmp(rleBmp(3, 1, 4, [0, 3, 0x12, 0x30, 0, 1]), "rle4.bmp");
  assert(grey(img4).join() === [r(1), r(2), r(3)].join(), `rle4 ${grey(img4)}`);
  rejects(
    () => decodeBmp(rleBmp(4, 3, 8, [2, 1]), "cut.bmp"),
    /cut\.bmp.*truncated/,
    "RLE without end",
  );
});

Deno.test("decodeBmp() rejects unsupported headers, depths, compressions and truncated data", () => {
  const good = rleBmp(4, 3, 8, [0, 1]);
  const patch = (at: number, value: number, size: 2 | 4) => {
    const b = good.slice();
    const v = new DataView(b.buffer);
    if (size === 2) v.setUint16(at, value, true);
    else v.setUint32(at, value, true);
    return b;
  };
  rejects(() => decodeBmp(patch(14, 52, 4), "h52.bmp"), /h52\.bmp.*header size 52/, "header 52");
  rejects(() => decodeBmp(patch(28, 2, 2), "b2.bmp"), /b2\.bmp.*pixel depth/, "2 bits");
  rejects(() => decodeBmp(patch(30, 5, 4), "png.bmp"), /png\.bmp.*compression \(5\)/, "BI_PNG");
  rejects(() => decodeBmp(good.subarray(0, 30), "hdr.bmp"), /hdr\.bmp.*truncated/, "short header");
  const raw = patch(30, 0, 4); // BI_RGB 8-bit: needs 3 rows of 4 bytes
  rejects(() => decodeBmp(raw, "px.bmp"), /px\.bmp.*truncated/, "short pixel data");
  const bf = patch(30, 3, 4); // BI_BITFIELDS on an 8-bit image
  rejects(() => decodeBmp(bf, "bf.bmp"), /bf\.bmp.*bitfields/, "bitfields on 8 bits");
});
