/**
 * Reader of the Pillow 9.4 / torchvision 0.14 golden images made by
 * tests/fixtures/make_color_fixtures.py (tests/fixtures/transforms/color/).
 *
 * @module
 */
import { createImage, type RgbImage } from "../../src/image/image.ts";

const DIR = new URL("../fixtures/transforms/color/", import.meta.url);

/** One golden case: `op` applied with `params` to `input` gave `expected`. */
export interface ColorCase {
  op: string;
  input: string;
  params: Record<string, unknown>;
  image: RgbImage;
  expected: RgbImage;
}

/** The fixture's inputs by name and its cases. */
export interface ColorFixture {
  inputs: Map<string, RgbImage>;
  cases: ColorCase[];
}

let loaded: Promise<ColorFixture> | undefined;

async function load(): Promise<ColorFixture> {
  const index = JSON.parse(await Deno.readTextFile(new URL("index.json", DIR)));
  const gz = await Deno.readFile(new URL("data.bin.gz", DIR));
  const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
  const blob = new Uint8Array(await new Response(stream).arrayBuffer());
  const images = new Map<string, RgbImage>();
  for (const [name, rec] of Object.entries(index.images)) {
    const { offset, width, height } = rec as { offset: number; width: number; height: number };
    images.set(name, createImage(width, height, blob.slice(offset, offset + width * height * 3)));
  }
  const cases: ColorCase[] = index.cases.map((
    c: { op: string; input: string; output: string; params: Record<string, unknown> },
  ) => ({
    op: c.op,
    input: c.input,
    params: c.params,
    image: images.get(c.input)!,
    expected: images.get(c.output)!,
  }));
  const inputs = new Map([...images].filter(([k]) => !k.includes("#")));
  return { inputs, cases };
}

/** The fixture, read once per test file. */
export function colorFixture(): Promise<ColorFixture> {
  return loaded ??= load();
}

/** Largest absolute byte difference, and how many bytes differ. */
export function byteDiff(a: RgbImage, b: RgbImage): { max: number; count: number } {
  if (a.width !== b.width || a.height !== b.height) return { max: Infinity, count: Infinity };
  let max = 0;
  let count = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d > 0) count++;
    if (d > max) max = d;
  }
  return { max, count };
}
