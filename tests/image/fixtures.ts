/**
 * Access to the Pillow golden fixtures written by tests/fixtures/make_image_fixtures.py
 * (tests/fixtures/images/expected.json and expected/*.bin).
 *
 * @module
 */
import { AssertionError } from "node:assert";
import { decodeImage } from "../../src/image/decode.ts";
import { createImage, type RgbImage } from "../../src/image/image.ts";

/** The fixture directory. */
export const IMAGE_FIXTURES: string = new URL("../fixtures/images/", import.meta.url).pathname;

/** An expected RGB image: full bytes (`expected`) or SHA-256 + per-row sums only. */
export interface ExpectedImage {
  width: number;
  height: number;
  sha256: string;
  expected?: string;
  rowSums?: number[];
}

/** A decode fixture. */
export interface DecodeCase extends ExpectedImage {
  file: string;
  pillowMode: string;
  exact: boolean;
  note?: string;
  transparentMask?: string;
  transparentPixels?: number;
}

/** The whole index (see the generator's docstring). */
export interface ImageFixtures {
  pillow: string;
  torchvision?: string;
  decode: DecodeCase[];
  bad: { file: string; why: string; pillowError: string }[];
  inputs: Record<
    string,
    { key: string; raw?: string; file?: string; width: number; height: number }
  >;
  resize:
    (ExpectedImage & { input: string; targetWidth: number; targetHeight: number; note?: string })[];
  resizeShortSide: (ExpectedImage & { input: string; size: number })[];
  centerCrop: (ExpectedImage & { input: string; cropHeight: number; cropWidth: number })[];
  cropBox: (ExpectedImage & { input: string; box: [number, number, number, number] })[];
  flip: (ExpectedImage & { input: string; direction: "horizontal" | "vertical" })[];
  normalize: {
    input: string;
    mean: number[];
    std: number[];
    layout: "CHW";
    expected: string;
    sha256: string;
  }[];
  pipeline: (ExpectedImage & {
    file: string;
    resize: number;
    crop: number;
    resizedWidth: number;
    resizedHeight: number;
  })[];
}

let cached: ImageFixtures | undefined;

/** The parsed expected.json. */
export function fixtures(): ImageFixtures {
  cached ??= JSON.parse(Deno.readTextFileSync(IMAGE_FIXTURES + "expected.json"));
  return cached!;
}

/** Bytes of a fixture file (path relative to the fixture directory). */
export function fixtureBytes(rel: string): Uint8Array {
  return Deno.readFileSync(IMAGE_FIXTURES + rel);
}

/** A named input image: raw HWC bytes, or a decoded file. */
export async function inputImage(key: string): Promise<RgbImage> {
  const rec = fixtures().inputs[key];
  if (rec === undefined) throw new Error(`unknown fixture input ${key}`);
  if (rec.raw !== undefined) return createImage(rec.width, rec.height, fixtureBytes(rec.raw));
  return await decodeImage(fixtureBytes(rec.file!), rec.file!);
}

/** Hex SHA-256. */
export async function sha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(data)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Asserts `actual` equals the expected image byte for byte. On a mismatch, the message gives the
 * number of differing bytes, the largest difference and the first differing pixel (or, for
 * hash-only fixtures, the rows whose sums differ).
 */
export async function assertImageEqual(
  actual: RgbImage,
  expected: ExpectedImage,
  what: string,
): Promise<void> {
  if (actual.width !== expected.width || actual.height !== expected.height) {
    throw new AssertionError({
      message:
        `${what}: size ${actual.width}x${actual.height}, Pillow ${expected.width}x${expected.height}`,
    });
  }
  if (expected.expected !== undefined) {
    const ref = fixtureBytes(expected.expected);
    let count = 0;
    let max = 0;
    let first = -1;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(actual.data[i] - ref[i]);
      if (d > 0) {
        count++;
        if (first < 0) first = i;
        if (d > max) max = d;
      }
    }
    if (count > 0) {
      const p = Math.floor(first / 3);
      throw new AssertionError({
        message:
          `${what}: ${count} of ${ref.length} bytes differ from Pillow (max |diff| ${max}); ` +
          `first at x=${p % actual.width} y=${Math.floor(p / actual.width)} c=${first % 3}: ` +
          `${actual.data[first]} vs ${ref[first]}`,
      });
    }
    return;
  }
  const hash = await sha256(actual.data);
  if (hash !== expected.sha256) {
    const rows: number[] = [];
    const rowBytes = actual.width * 3;
    for (let y = 0; y < actual.height; y++) {
      let s = 0;
      for (let i = 0; i < rowBytes; i++) s += actual.data[y * rowBytes + i];
      if (s !== expected.rowSums?.[y]) rows.push(y);
    }
    throw new AssertionError({
      message: `${what}: SHA-256 differs from Pillow's; rows with different sums: ` +
        `${rows.length === 0 ? "none" : rows.slice(0, 20).join(", ")}${
          rows.length > 20 ? ", …" : ""
        }`,
    });
  }
}
