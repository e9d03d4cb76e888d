/**
 * Windows / OS/2 BMP reader with Pillow 9.4's semantics (`Image.open(f).convert("RGB")`):
 *
 * - headers: OS/2 BITMAPCOREHEADER (12 bytes, 3-byte palette entries) and BITMAPINFOHEADER
 *   V1–V5 (40, 64, 108, 124 bytes, 4-byte palette entries); any other size is a DataError;
 * - 1-, 4- and 8-bit palettes (`biClrUsed` entries, else 2^bits; indices past the palette map to
 *   Pillow's default grey ramp, index i → (i, i, i)); 16-bit 5-5-5 (BI_RGB) and 5-5-5 / 5-6-5
 *   (BI_BITFIELDS), expanded as Pillow's unpackers do (`v * 255 / 31` truncated); 24-bit;
 *   32-bit BI_RGB (4th byte ignored) and the BI_BITFIELDS layouts Pillow knows (BGRX, XBGR,
 *   ABGR, RGBA, BGRA; any alpha is dropped);
 * - bottom-up rows, or top-down when the height is negative; rows padded to 4 bytes;
 * - RLE8 and RLE4 (runs, absolute runs, end of line, delta, end of bitmap).
 *
 * Differences from Pillow 9.4, all in RLE data that Pillow itself mis-reads or rejects:
 * a delta escape (00 02 dx dy) is read as the format defines (Pillow 9.4 skips two extra bytes);
 * an RLE4 absolute run of odd length reads ceil(n / 2) bytes (Pillow reads floor(n / 2) and
 * loses the last pixel and the alignment); an end-of-bitmap before the last row leaves the rest
 * at palette index 0 (Pillow raises "not enough image data"). Pillow's "greyscale palette"
 * shortcut decodes the pixel data with the wrong bit depth for a 2-entry black/white palette in
 * an 8-bit file (or a 16-entry 0..15 grey palette in a 4-bit file); we use the palette instead.
 *
 * Truncated pixel data, unsupported depths, compressions (BI_JPEG, BI_PNG, …) or bitfield
 * layouts are a DataError, and so is a size above Pillow's decompression-bomb limit (limits.ts),
 * checked before the pixels are allocated.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import { createImage, type RgbImage } from "./image.ts";
import { checkImagePixels } from "./limits.ts";

/** Whether the bytes start with the BMP signature "BM". */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

type RawMode =
  | "P;1"
  | "P;4"
  | "P"
  | "BGR;15"
  | "BGR;16"
  | "BGR"
  | "BGRX"
  | "XBGR"
  | "ABGR"
  | "RGBA"
  | "BGRA";

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;

/** Bit-field layouts Pillow 9.4 accepts: "bits:r,g,b[,a]" masks → raw mode. */
const MASK_MODES: Record<string, RawMode> = {
  "32:ff0000,ff00,ff,0": "BGRX",
  "32:ff000000,ff0000,ff00,0": "XBGR",
  "32:ff000000,ff0000,ff00,ff": "ABGR",
  "32:ff,ff00,ff0000,ff000000": "RGBA",
  "32:ff0000,ff00,ff,ff000000": "BGRA",
  "32:0,0,0,0": "BGRA",
  "24:ff0000,ff00,ff": "BGR",
  "16:f800,7e0,1f": "BGR;16",
  "16:7c00,3e0,1f": "BGR;15",
};

/** Decodes a BMP file to RGB; `name` is used in error messages. */
export function decodeBmp(bytes: Uint8Array, name: string): RgbImage {
  const fail = (why: string): never => {
    throw new DataError(`${name}: invalid BMP file: ${why}`);
  };
  if (!isBmp(bytes)) fail("missing the 'BM' signature");
  if (bytes.length < 18) fail("image file is truncated (header)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);

  let offset = u32(10);
  const headerSize = u32(14);
  if (![12, 40, 64, 108, 124].includes(headerSize)) {
    fail(`unsupported header size ${headerSize}`);
  }
  if (bytes.length < 14 + headerSize) fail("image file is truncated (header)");
  let width: number, height: number, bits: number, compression: number, colors: number;
  let topDown = false;
  let paletteEntry = 4;
  let paletteStart = 14 + headerSize;
  let masks: number[] = [];
  if (headerSize === 12) {
    width = u16(18);
    height = u16(20);
    bits = u16(24);
    compression = BI_RGB;
    colors = 0;
    paletteEntry = 3;
  } else {
    topDown = bytes[25] === 0xff; // the height's top byte, as Pillow tests it
    width = u32(18);
    height = topDown ? 2 ** 32 - u32(22) : u32(22);
    bits = u16(28);
    compression = u32(30);
    colors = u32(46);
    if (compression === BI_BITFIELDS) {
      if (headerSize >= 56) {
        masks = [u32(54), u32(58), u32(62), u32(66)];
      } else {
        // A 40-byte header is followed by three masks; the 4th RGBQUAD byte is not alpha.
        if (bytes.length < 66) fail("image file is truncated (bit masks)");
        masks = [u32(54), u32(58), u32(62), 0];
        paletteStart = 66;
      }
    }
  }
  if (width <= 0 || height <= 0 || width > 0x7fffffff || height > 0x7fffffff) {
    fail(`bad size ${width}x${height}`);
  }
  checkImagePixels(width, height, name);
  if (colors === 0) colors = 2 ** bits;
  // Pillow's repair for files whose data offset forgets the palette.
  if (offset === 14 + headerSize && bits <= 8) offset += 4 * colors;

  const defaultModes: Record<number, RawMode> = {
    1: "P;1",
    4: "P;4",
    8: "P",
    16: "BGR;15",
    24: "BGR",
    32: "BGRX",
  };
  let rawMode = defaultModes[bits];
  if (rawMode === undefined) fail(`unsupported pixel depth (${bits} bits)`);
  let rle = false;
  if (compression === BI_BITFIELDS) {
    const hex = (m: number) => m.toString(16);
    const key = bits === 32
      ? `32:${masks.map(hex).join(",")}`
      : `${bits}:${masks.slice(0, 3).map(hex).join(",")}`;
    const mode = MASK_MODES[key];
    if (mode === undefined) fail(`unsupported bitfields layout (${key})`);
    rawMode = mode;
  } else if (compression === BI_RLE8 || compression === BI_RLE4) {
    if (bits !== (compression === BI_RLE8 ? 8 : 4)) {
      fail(`RLE${compression === BI_RLE8 ? 8 : 4} with ${bits} bits per pixel`);
    }
    rle = true;
  } else if (compression !== BI_RGB) {
    fail(`unsupported compression (${compression})`);
  }

  // Palette: entries from the file, then Pillow's default grey ramp.
  let palette: Uint8Array | undefined;
  if (bits <= 8) {
    if (!(colors > 0 && colors <= 65536)) fail(`unsupported palette size (${colors})`);
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) palette.fill(i, 3 * i, 3 * i + 3);
    for (let i = 0; i < Math.min(colors, 256); i++) {
      const o = paletteStart + i * paletteEntry;
      if (o + 3 > bytes.length) break;
      palette[3 * i] = bytes[o + 2];
      palette[3 * i + 1] = bytes[o + 1];
      palette[3 * i + 2] = bytes[o];
    }
  }
  if (offset === 0) offset = paletteStart + (bits <= 8 ? paletteEntry * colors : 0);

  const stride = ((width * bits + 31) >>> 3) & ~3;
  if (!rle && offset + stride * height > bytes.length) {
    fail("image file is truncated (pixel data)");
  }
  const out = createImage(width, height);
  if (rle) {
    const indices = decodeRle(bytes, offset, width, height, compression === BI_RLE4, fail);
    // Pillow honours a negative height for RLE too.
    for (let y = 0; y < height; y++) {
      const src = (topDown ? y : height - 1 - y) * width;
      for (let x = 0; x < width; x++) {
        const p = 3 * indices[src + x];
        const o = 3 * (y * width + x);
        out.data[o] = palette![p];
        out.data[o + 1] = palette![p + 1];
        out.data[o + 2] = palette![p + 2];
      }
    }
    return out;
  }

  const d = out.data;
  for (let y = 0; y < height; y++) {
    const row = offset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 3;
    switch (rawMode) {
      case "P;1":
      case "P;4":
      case "P": {
        const b = bits;
        const perByte = 8 / b;
        const mask = (1 << b) - 1;
        for (let x = 0; x < width; x++) {
          const byte = bytes[row + Math.floor(x / perByte)];
          const idx = b === 8 ? byte : (byte >> (8 - b * (1 + (x % perByte)))) & mask;
          d[o++] = palette![3 * idx];
          d[o++] = palette![3 * idx + 1];
          d[o++] = palette![3 * idx + 2];
        }
        break;
      }
      case "BGR;15":
      case "BGR;16": {
        const g6 = rawMode === "BGR;16";
        for (let x = 0; x < width; x++) {
          const v = bytes[row + 2 * x] | (bytes[row + 2 * x + 1] << 8);
          d[o++] = g6 ? (((v >> 11) & 31) * 255 / 31) | 0 : (((v >> 10) & 31) * 255 / 31) | 0;
          d[o++] = g6 ? (((v >> 5) & 63) * 255 / 63) | 0 : (((v >> 5) & 31) * 255 / 31) | 0;
          d[o++] = ((v & 31) * 255 / 31) | 0;
        }
        break;
      }
      default: {
        // Byte positions of R, G, B within a pixel.
        const [r, g, b, size] = rawMode === "BGR"
          ? [2, 1, 0, 3]
          : rawMode === "BGRX" || rawMode === "BGRA"
          ? [2, 1, 0, 4]
          : rawMode === "RGBA"
          ? [0, 1, 2, 4]
          : [3, 2, 1, 4]; // XBGR, ABGR
        for (let x = 0, p = row; x < width; x++, p += size) {
          d[o++] = bytes[p + r];
          d[o++] = bytes[p + g];
          d[o++] = bytes[p + b];
        }
      }
    }
  }
  return out;
}

/** RLE8 / RLE4 → palette indices in file row order. */
function decodeRle(
  bytes: Uint8Array,
  start: number,
  width: number,
  height: number,
  rle4: boolean,
  fail: (why: string) => never,
): Uint8Array {
  const total = width * height;
  const out = new Uint8Array(total);
  let n = 0; // pixels written (Pillow appends to one flat buffer)
  let x = 0;
  let pos = start;
  const push = (v: number) => {
    if (n < total) out[n] = v;
    n++;
  };
  while (n < total) {
    if (pos + 2 > bytes.length) fail("image file is truncated (RLE data)");
    let count = bytes[pos];
    const value = bytes[pos + 1];
    pos += 2;
    if (count > 0) {
      if (x + count > width) count = Math.max(0, width - x);
      for (let i = 0; i < count; i++) {
        push(rle4 ? (i % 2 === 0 ? value >> 4 : value & 15) : value);
      }
      x += count;
    } else if (value === 0) { // end of line
      while (n % width !== 0) push(0);
      x = 0;
    } else if (value === 1) { // end of bitmap: the rest stays index 0
      break;
    } else if (value === 2) { // delta: skip dx right, dy up
      if (pos + 2 > bytes.length) fail("image file is truncated (RLE delta)");
      const skip = bytes[pos] + bytes[pos + 1] * width;
      pos += 2;
      for (let i = 0; i < skip; i++) push(0);
      x = n % width;
    } else { // absolute run of `value` pixels, padded to a 16-bit boundary
      const dataBytes = rle4 ? Math.ceil(value / 2) : value;
      if (pos + dataBytes > bytes.length) fail("image file is truncated (RLE absolute run)");
      for (let i = 0; i < value; i++) {
        push(
          rle4
            ? (i % 2 === 0 ? bytes[pos + (i >> 1)] >> 4 : bytes[pos + (i >> 1)] & 15)
            : bytes[pos + i],
        );
      }
      pos += dataBytes;
      x += value;
      if (pos % 2 !== 0) pos++; // Pillow aligns the absolute file position
    }
  }
  return out;
}
