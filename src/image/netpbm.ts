/**
 * Netpbm reader (PBM / PGM / PPM: P1–P6) with Pillow 9.4's semantics, so a file decodes to the
 * same RGB bytes as `Image.open(f).convert("RGB")`:
 *
 * - header tokens are separated by whitespace; `#` starts a comment that runs to the next CR or
 *   LF and does not end the token it interrupts (Pillow's tokenizer); a token is at most 10
 *   characters; the pixel data starts right after the single whitespace byte ending the last
 *   header token;
 * - maxval 255 (or 1-bit PBM) is used as is; any other maxval is rescaled per sample to
 *   `round(v / maxval * 255)` with Python's round (half to even), samples of 2 bytes (big-endian)
 *   when maxval > 255;
 * - a grey image with maxval > 255 becomes Pillow's 32-bit mode "I" (`round(v / maxval * 65535)`,
 *   or the raw 16-bit value when maxval is 65535), and Pillow's I → RGB conversion then CLIPS it
 *   to 255: a 16-bit PGM comes out mostly white. This is what the Python pipeline saw, so it is
 *   reproduced;
 * - PBM: 1 is black, 0 is white; binary rows are padded to a byte.
 *
 * Truncated pixel data, a bad header, maxval outside 1..65535, a plain sample above maxval or
 * anything but P1–P6 (P7/PAM, Pillow's private "Py*" modes) are a DataError, and so is a size
 * above Pillow's decompression-bomb limit (limits.ts), checked before the pixels are allocated.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import { createImage, greyToRgb, type RgbImage, roundHalfEven } from "./image.ts";
import { checkImagePixels } from "./limits.ts";

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Whether the bytes start like a P1–P6 Netpbm file ("P", a digit 1–6, whitespace). */
export function isNetpbm(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x50 && bytes[1] >= 0x31 && bytes[1] <= 0x36 &&
    isSpace(bytes[2]);
}

/** Decodes a P1–P6 file to RGB; `name` is used in error messages. */
export function decodeNetpbm(bytes: Uint8Array, name: string): RgbImage {
  const fail = (why: string): never => {
    throw new DataError(`${name}: invalid Netpbm file: ${why}`);
  };
  // Magic: up to 6 bytes, ended by whitespace (consumed) or EOF.
  let pos = 0;
  let magic = "";
  while (pos < bytes.length && magic.length < 6) {
    const c = bytes[pos++];
    if (isSpace(c)) break;
    magic += String.fromCharCode(c);
  }
  const kind = /^P([1-6])$/.exec(magic);
  if (kind === null) fail(`unsupported magic number ${JSON.stringify(magic)}`);
  const type = Number(kind![1]);

  const readToken = (): number => {
    let token = "";
    while (token.length <= 10) {
      if (pos >= bytes.length) break;
      const c = bytes[pos++];
      if (isSpace(c)) {
        if (token.length === 0) continue;
        break;
      }
      if (c === 0x23) { // '#': skip to CR / LF (consumed); the token goes on
        while (pos < bytes.length) {
          const d = bytes[pos++];
          if (d === 0x0a || d === 0x0d) break;
        }
        continue;
      }
      token += String.fromCharCode(c);
    }
    if (token.length === 0) fail("reached the end of the file while reading the header");
    if (token.length > 10) fail(`header token too long: ${token}`);
    if (!/^[+-]?[0-9]+$/.test(token)) fail(`header token is not an integer: ${token}`);
    return Number(token);
  };

  const width = readToken();
  const height = readToken();
  if (width <= 0 || height <= 0) fail(`bad size ${width}x${height}`);
  const bitmap = type === 1 || type === 4;
  const bands = type === 3 || type === 6 ? 3 : 1;
  const maxval = bitmap ? 1 : readToken();
  if (!(maxval > 0 && maxval < 65536)) {
    fail(`maxval must be greater than 0 and less than 65536, got ${maxval}`);
  }
  checkImagePixels(width, height, name);
  const plain = type <= 3;
  const n = width * height;
  // Binary data must be all there before anything is allocated for it.
  const need = bitmap ? ((width + 7) >> 3) * height : n * bands * (maxval < 256 ? 1 : 2);
  if (!plain && bytes.length - pos < need) fail("image file is truncated");
  const samples = new Uint8Array(n * bands);

  if (bitmap) {
    if (plain) {
      let k = 0;
      for (let i = pos; i < bytes.length && k < n; i++) {
        const c = bytes[i];
        if (c === 0x23) { // comment: to CR / LF, inclusive
          while (i + 1 < bytes.length && bytes[i + 1] !== 0x0a && bytes[i + 1] !== 0x0d) i++;
          i++;
          continue;
        }
        if (isSpace(c)) continue;
        if (c !== 0x30 && c !== 0x31) fail(`invalid PBM token ${String.fromCharCode(c)}`);
        samples[k++] = c === 0x31 ? 0 : 255;
      }
      if (k < n) fail(`not enough image data (${k} of ${n} pixels)`);
    } else {
      const stride = (width + 7) >> 3;
      if (bytes.length - pos < stride * height) fail("image file is truncated");
      for (let y = 0; y < height; y++) {
        const row = pos + y * stride;
        for (let x = 0; x < width; x++) {
          const bit = (bytes[row + (x >> 3)] >> (7 - (x & 7))) & 1;
          samples[y * width + x] = bit ? 0 : 255;
        }
      }
    }
    return greyToRgb(width, height, samples);
  }

  // Pillow's grey images above 8 bits are mode "I" (0..65535), clipped to 255 for RGB.
  const wide = bands === 1 && maxval > 255;
  const outMax = wide ? 65535 : 255;
  const scale = (v: number): number => {
    const s = Math.min(outMax, roundHalfEven(v / maxval * outMax));
    return s > 255 ? 255 : s;
  };
  const count = n * bands;

  if (plain) {
    // Pillow strips comments (from '#' to CR / LF inclusive) before splitting on whitespace,
    // so a comment glues the text around it into one token.
    let k = 0;
    let token = "";
    const flush = () => {
      if (token.length === 0 || k >= count) return;
      if (token.length > 10) fail(`token too long in the data: ${token.slice(0, 11)}`);
      if (!/^[+-]?[0-9]+$/.test(token)) fail(`invalid sample ${JSON.stringify(token)}`);
      const v = Number(token);
      if (v > maxval) fail(`sample value ${v} is larger than maxval ${maxval}`);
      if (v < 0) fail(`negative sample value ${v}`);
      samples[k++] = scale(v);
      token = "";
    };
    for (let i = pos; i < bytes.length && k < count; i++) {
      const c = bytes[i];
      if (c === 0x23) {
        while (i + 1 < bytes.length && bytes[i + 1] !== 0x0a && bytes[i + 1] !== 0x0d) i++;
        i++;
        continue;
      }
      if (isSpace(c)) flush();
      else {
        token += String.fromCharCode(c);
        if (token.length > 10) fail(`token too long in the data: ${token}`);
      }
    }
    flush();
    if (k < count) fail(`not enough image data (${k} of ${count} samples)`);
  } else {
    const inBytes = maxval < 256 ? 1 : 2;
    if (bytes.length - pos < count * inBytes) fail("image file is truncated");
    if (maxval === 255) {
      samples.set(bytes.subarray(pos, pos + count));
    } else if (inBytes === 1) {
      const lut = new Uint8Array(256);
      for (let v = 0; v < 256; v++) lut[v] = scale(v);
      for (let i = 0; i < count; i++) samples[i] = lut[bytes[pos + i]];
    } else if (wide && maxval === 65535) {
      for (let i = 0; i < count; i++) {
        const v = (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
        samples[i] = v > 255 ? 255 : v;
      }
    } else {
      for (let i = 0; i < count; i++) {
        samples[i] = scale((bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1]);
      }
    }
  }
  return bands === 1 ? greyToRgb(width, height, samples) : createImage(width, height, samples);
}
