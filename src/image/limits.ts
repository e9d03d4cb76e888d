/**
 * Pillow's decompression-bomb check (`Image._decompression_bomb_check`, Pillow 9.4): an image of
 * more than `MAX_IMAGE_PIXELS` = 89 478 485 pixels (1 GiB of 24-bit data divided by 3… as Pillow
 * computes it: `1024 * 1024 * 1024 // 4 // 3`) gets a `DecompressionBombWarning`; more than twice
 * that is a `DecompressionBombError`. Every decoder here checks the size from the header, before
 * allocating anything for the pixels.
 *
 * `SSL_MAX_IMAGE_PIXELS=<n>` changes the limit (Pillow's `Image.MAX_IMAGE_PIXELS = n`);
 * `SSL_MAX_IMAGE_PIXELS=none` turns the check off, as `Image.MAX_IMAGE_PIXELS = None` does.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";

/** Pillow's default `Image.MAX_IMAGE_PIXELS`. */
export const PILLOW_MAX_IMAGE_PIXELS = Math.floor(1024 * 1024 * 1024 / 4 / 3);

/** The limit in force: `SSL_MAX_IMAGE_PIXELS` (a number or `none`), else Pillow's default. */
export function maxImagePixels(): number {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("SSL_MAX_IMAGE_PIXELS");
  } catch {
    raw = undefined;
  }
  if (raw === undefined || raw === "") return PILLOW_MAX_IMAGE_PIXELS;
  if (raw.toLowerCase() === "none") return Infinity;
  const v = Number(raw);
  return Number.isFinite(v) && v > 0 ? v : PILLOW_MAX_IMAGE_PIXELS;
}

const warned = new Set<string>();

/**
 * Pillow's check for a `width × height` image called `name`: above twice the limit a DataError
 * (the file is a decompression bomb, or claims to be); above the limit one warning on stderr per
 * file. `warn` receives the warning (default: `console.error`).
 */
export function checkImagePixels(
  width: number,
  height: number,
  name: string,
  warn: (line: string) => void = (line) => console.error(line),
): void {
  const limit = maxImagePixels();
  const pixels = width * height;
  if (!(pixels > limit)) return;
  const what = `image size (${pixels} pixels, ${width}x${height}) exceeds limit of ` +
    `${limit} pixels, could be decompression bomb DOS attack`;
  if (pixels > 2 * limit) {
    throw new DataError(
      `${name}: ${what}: refused (Pillow's DecompressionBombError; SSL_MAX_IMAGE_PIXELS raises ` +
        `the limit)`,
    );
  }
  if (warned.has(name)) return;
  warned.add(name);
  warn(`warning: ${name}: ${what} (Pillow's DecompressionBombWarning)`);
}
