/**
 * Helpers for the downstream / Causal3DIdent loader tests: miniature trees in temp folders with
 * tiny lossless images whose pixels encode their coordinates, so crops can be checked by hand.
 *
 * @module
 */
import { dirname, join } from "node:path";
import sharp from "sharp";

/** Fixture folder written by tests/fixtures/make_mat_fixtures.py. */
export const MAT_FIXTURES: string = new URL("../fixtures/mat/", import.meta.url).pathname;

/** The parsed tests/fixtures/mat/expected.json. */
// deno-lint-ignore no-explicit-any
export const MAT_EXPECTED: Record<string, any> = JSON.parse(
  Deno.readTextFileSync(join(MAT_FIXTURES, "expected.json")),
);

/** Pixel (x, y) of a test image with seed `s`: distinct, cheap to recompute in assertions. */
export function pixel(s: number, x: number, y: number): [number, number, number] {
  return [(x * 3 + s) & 255, (y * 5 + s * 7) & 255, (x + y + 11 * s) & 255];
}

/**
 * Writes a width×height PNG whose pixels are `pixel(seed, x, y)`. The name may end in `.jpg`:
 * our decoder sniffs the bytes, so lossless pixels can stand in for a JPEG-named file.
 */
export async function writeTestImage(
  path: string,
  width: number,
  height: number,
  seed: number,
): Promise<void> {
  const raw = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(pixel(seed, x, y), (y * width + x) * 3);
  }
  const png = await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeFile(path, new Uint8Array(png));
}

/** Temp folders for the loaders' trees: the same helper as the real-world tests use. */
export { withTempDir } from "./make_trees.ts";

/** Copies a fixture file from tests/fixtures/mat into `path`. */
export async function copyFixture(name: string, path: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.copyFile(join(MAT_FIXTURES, name), path);
}
