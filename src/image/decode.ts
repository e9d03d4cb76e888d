/**
 * Image loading: any supported file → 8-bit RGB, as the Python pipeline's
 * `Image.open(f).convert("RGB")` (Pillow 9.4; docs/common.md#image-loading).
 *
 * The format is chosen from the file's first bytes, never its extension:
 * - JPEG, PNG, WebP, TIFF, GIF are decoded by sharp (libvips, prebuilt in its npm package; it
 *   needs `--allow-ffi` or `-A`). Checked against Pillow 9.4 with Debian's libjpeg-turbo 2.1.5
 *   (tests/image/decode_test.ts): JPEG (baseline, progressive, 4:2:0, 4:2:2, 4:4:4, grey, CMYK),
 *   lossy and lossless WebP, PNG and TIFF give identical bytes.
 * - BMP and Netpbm (P1–P6), which sharp does not read, by our readers (bmp.ts, netpbm.ts).
 *
 * Pillow's semantics kept here:
 * - an alpha channel is dropped, never composited (sharp's raw output keeps it; we discard it);
 * - grey, grey + alpha, palette and 1-bit images are expanded to RGB;
 * - embedded ICC profiles are ignored (sharp would convert to sRGB: `ignoreIcc`) and the EXIF
 *   orientation is not applied;
 * - CMYK (JPEG, with Adobe inversion handled by libjpeg/libvips as by Pillow, and TIFF) is
 *   converted with Pillow's naive formula `R = 255 − K − C·(255 − K)/255` (rounded as Pillow's
 *   MULDIV255), not with libvips' colour-managed CMYK profile (that differs by up to ~40 levels);
 * - 16-bit grey (PNG, TIFF) is Pillow mode "I", whose RGB conversion CLIPS the 16-bit value to
 *   255 (so such images come out mostly white, as they did in Python); 16-bit RGB(A) and grey +
 *   alpha keep the high byte;
 * - multi-frame files (GIF, TIFF, WebP) give their first frame;
 * - truncated data is refused (Pillow: "image file is truncated", even for a JPEG missing only
 *   its end-of-image marker) while libjpeg's warnings, such as extraneous bytes before a marker,
 *   are tolerated (sharp's `failOn: "truncated"`).
 * Known difference: GIF pixels with the transparent palette index are 0 here (libvips) but the
 * palette colour of that index in Pillow. GIF is not an ImageFolder extension, so datasets do not
 * meet this.
 *
 * A file that is empty, truncated, corrupt or of another format is a DataError naming the file,
 * and so is any other failure of a decoder. Images above Pillow's decompression-bomb limit
 * (limits.ts: 89 478 485 pixels warn, twice that is refused) are caught from the header, before
 * the pixels are allocated.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import { decodeBmp, isBmp } from "./bmp.ts";
import { createImage, greyToRgb, type RgbImage } from "./image.ts";
import { checkImagePixels, maxImagePixels } from "./limits.ts";
import { decodeNetpbm, isNetpbm } from "./netpbm.ts";
import { loadSharp, type Sharp } from "./sharp.ts";

/** Formats recognised by their leading bytes. */
export type ImageFormat = "jpeg" | "png" | "webp" | "tiff" | "gif" | "bmp" | "netpbm";

/** The format announced by the first bytes, or undefined for anything we do not decode. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  const starts = (...sig: number[]) => sig.every((v, i) => b[i] === v);
  if (b.length < 3) return undefined;
  if (starts(0xff, 0xd8, 0xff)) return "jpeg";
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "gif"; // GIF8
  if (
    starts(0x52, 0x49, 0x46, 0x46) && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 &&
    b[11] === 0x50
  ) return "webp"; // RIFF....WEBP
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return "tiff";
  if (isBmp(b)) return "bmp";
  if (isNetpbm(b)) return "netpbm";
  return undefined;
}

/**
 * Reads and decodes an image file to 8-bit RGB (Pillow's `convert("RGB")`).
 * Rejects with a DataError naming `path` when the file is missing, empty, truncated, corrupt or
 * not one of JPEG, PNG, WebP, TIFF, GIF, BMP, PPM/PGM/PBM.
 */
export async function loadImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new DataError(`${path}: cannot read image file: ${(error as Error).message}`);
  }
  return await decodeImage(bytes, path);
}

/**
 * Decodes image bytes to 8-bit RGB; `name` (usually the path) is used in error messages.
 * See the module documentation for the conversion rules.
 */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbImage> {
  if (bytes.length === 0) throw new DataError(`${name}: empty image file`);
  const format = sniffFormat(bytes);
  if (format === undefined) {
    const head = Array.from(bytes.subarray(0, 8), (v) => v.toString(16).padStart(2, "0"));
    throw new DataError(
      `${name}: not a supported image (JPEG, PNG, WebP, TIFF, GIF, BMP, PPM/PGM/PBM); ` +
        `it starts with ${head.join(" ")}`,
    );
  }
  if (format === "bmp" || format === "netpbm") {
    try {
      return format === "bmp" ? decodeBmp(bytes, name) : decodeNetpbm(bytes, name);
    } catch (error) {
      // Whatever a hostile header provokes (an allocation too large, …) is a bad file.
      if (error instanceof DataError) throw error;
      throw new DataError(`${name}: cannot decode ${format} image: ${oneLine(error)}`);
    }
  }
  // Outside the try: failing to load sharp (e.g. without --allow-ffi) is not a bad file.
  const sharp = await loadSharp();
  try {
    return await decodeWithSharp(sharp, bytes, name);
  } catch (error) {
    if (error instanceof DataError) {
      throw error.message.startsWith(`${name}: `)
        ? error
        : new DataError(`${name}: ${error.message}`);
    }
    throw new DataError(`${name}: cannot decode ${format} image: ${oneLine(error)}`);
  }
}

/** libvips repeats its warnings line by line: the distinct lines, joined into one. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return [...new Set(text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== ""))].join("; ");
}

/** MULDIV255 of Pillow's Convert.c: a·b/255 rounded, in integer arithmetic. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

async function decodeWithSharp(
  sharp: Sharp,
  bytes: Uint8Array,
  name: string,
): Promise<RgbImage> {
  const limit = maxImagePixels();
  const options = {
    failOn: "truncated", // as Pillow: refuse truncated data, tolerate libjpeg's warnings
    ignoreIcc: true,
    autoOrient: false,
    pages: 1,
    page: 0,
  } as const;
  // Pillow's decompression-bomb check, from the header (metadata decodes no pixel), so a bomb
  // gets Pillow's message rather than libvips' terse one.
  const header = await sharp(bytes, { ...options, limitInputPixels: false }).metadata();
  const pageHeight = header.pageHeight ?? header.height;
  if (header.width !== undefined && pageHeight !== undefined) {
    checkImagePixels(header.width, pageHeight, name);
  }
  // libvips' own guard stays, at Pillow's error threshold.
  const input = sharp(bytes, {
    ...options,
    limitInputPixels: Number.isFinite(limit) ? Math.floor(2 * limit) : false,
  });
  const meta = await input.metadata();
  if (meta.space === "cmyk") {
    const { data, info } = await input.pipelineColourspace("cmyk").toColourspace("cmyk").raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels < 4) throw new DataError(`CMYK image decoded to ${info.channels} channels`);
    const out = createImage(info.width, info.height);
    const ch = info.channels;
    for (let i = 0, n = info.width * info.height; i < n; i++) {
      const p = i * ch;
      const nk = 255 - data[p + 3];
      for (let c = 0; c < 3; c++) {
        const v = nk - mulDiv255(data[p + c], nk);
        out.data[3 * i + c] = v < 0 ? 0 : v;
      }
    }
    return out;
  }
  if (meta.depth === "ushort" && meta.channels === 1) {
    // Pillow: 16-bit grey is mode "I"; I → RGB clips to 0..255.
    const { data, info } = await input.toColourspace("grey16").raw({ depth: "ushort" })
      .toBuffer({ resolveWithObject: true });
    const grey = new Uint8Array(info.width * info.height);
    for (let i = 0; i < grey.length; i++) {
      const v = data[2 * i] | (data[2 * i + 1] << 8); // native (little-endian) order
      grey[i] = v > 255 ? 255 : v;
    }
    return greyToRgb(info.width, info.height, grey);
  }
  const { data, info } = await input.toColourspace("srgb").raw().toBuffer({
    resolveWithObject: true,
  });
  const n = info.width * info.height;
  const ch = info.channels;
  if (ch === 3) {
    // A copy: our image owns a plain, transferable ArrayBuffer.
    return createImage(info.width, info.height, new Uint8Array(data.subarray(0, n * 3)));
  }
  if (ch === 1 || ch === 2) {
    const grey = new Uint8Array(n);
    for (let i = 0; i < n; i++) grey[i] = data[i * ch];
    return greyToRgb(info.width, info.height, grey);
  }
  const out = createImage(info.width, info.height);
  for (let i = 0; i < n; i++) { // drop alpha (and any extra band)
    out.data[3 * i] = data[i * ch];
    out.data[3 * i + 1] = data[i * ch + 1];
    out.data[3 * i + 2] = data[i * ch + 2];
  }
  return out;
}
