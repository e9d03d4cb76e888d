/**
 * Loaders for the torchvision / Pillow golden files of tests/fixtures/transforms/geometry
 * (made by tests/fixtures/make_geometry_fixtures.py).
 *
 * @module
 */
import { createImage, type RgbImage } from "../../src/image/image.ts";
import { assert } from "../util/assert.ts";

const ROOT = new URL("../fixtures/transforms/geometry/", import.meta.url);

/** Reads and gunzips a fixture file. */
export async function readGzip(name: string): Promise<Uint8Array> {
  const file = await Deno.open(new URL(name, ROOT));
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A golden image: its place in expected.bin and its size. */
export interface ExpectedImage {
  offset: number;
  width: number;
  height: number;
}

/** The index of expected.bin (see the generator script for the fields). */
export interface GeometryFixtures {
  inputs: { name: string; width: number; height: number }[];
  resize: number;
  cropSize: number;
  rotate: (ExpectedImage & { input: string; angle: number })[];
  affine: (ExpectedImage & {
    input: string;
    params: { angle: number; translate: number[]; scale: number; shear: number | number[] };
  })[];
  flip: (ExpectedImage & { input: string; direction: "horizontal" | "vertical" })[];
  views: (ExpectedImage & {
    input: string;
    family: string;
    index: number;
    intended: boolean;
    params: Record<string, number | boolean | number[]>;
  })[];
}

let cache: Promise<{ index: GeometryFixtures; blob: Uint8Array }> | undefined;

/** The parsed index and the gunzipped expected images. */
export function geometryFixtures(): Promise<{ index: GeometryFixtures; blob: Uint8Array }> {
  return cache ??= (async () => {
    const index = JSON.parse(
      await Deno.readTextFile(new URL("expected.json", ROOT)),
    ) as GeometryFixtures;
    return { index, blob: await readGzip("expected.bin.gz") };
  })();
}

/** A fixture input image by name. */
export async function fixtureInput(name: string): Promise<RgbImage> {
  const { index } = await geometryFixtures();
  const meta = index.inputs.find((i) => i.name === name);
  assert(meta !== undefined, `unknown fixture input ${name}`);
  const data = await Deno.readFile(new URL(`inputs/${name}.raw`, ROOT));
  return createImage(meta.width, meta.height, data);
}

/** The golden image of one case. */
export async function expectedImage(rec: ExpectedImage): Promise<RgbImage> {
  const { blob } = await geometryFixtures();
  const n = rec.width * rec.height * 3;
  return createImage(rec.width, rec.height, blob.slice(rec.offset, rec.offset + n));
}

/** Pixels (all three channels) that differ between two images of the same size. */
export function differingPixels(a: RgbImage, b: RgbImage): number {
  assert(a.width === b.width && a.height === b.height, `sizes differ`);
  let n = 0;
  for (let i = 0; i < a.data.length; i += 3) {
    if (
      a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1] || a.data[i + 2] !== b.data[i + 2]
    ) n++;
  }
  return n;
}
