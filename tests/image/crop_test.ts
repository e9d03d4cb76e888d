import { centerCrop, cropBox, hflip, vflip } from "../../src/image/crop.ts";
import { createImage, imagesEqual, roundHalfEven } from "../../src/image/image.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { assertImageEqual, fixtures, inputImage } from "./fixtures.ts";

Deno.test("centerCrop() equals torchvision CenterCrop: half-to-even offsets, zero padding when smaller", async () => {
  const list = fixtures().centerCrop;
  assert(list.length >= 10, "centerCrop fixtures");
  for (const c of list) {
    const src = await inputImage(c.input);
    await assertImageEqual(
      centerCrop(src, c.cropHeight, c.cropWidth),
      c,
      `${c.input} ${src.width}x${src.height} CenterCrop(${c.cropHeight}, ${c.cropWidth})`,
    );
  }
});

Deno.test("cropBox() equals PIL crop with fractional, out-of-range and empty boxes", async () => {
  const list = fixtures().cropBox;
  assert(list.length >= 8, "cropBox fixtures");
  for (const c of list) {
    const src = await inputImage(c.input);
    const [l, t, r, b] = c.box;
    await assertImageEqual(cropBox(src, l, t, r, b), c, `crop(${c.box.join(", ")})`);
  }
  const img = createImage(4, 4);
  for (const box of [[3, 0, 2, 1], [0, 3, 1, 2], [0, 0, NaN, 1], [0, 0, Infinity, 1]]) {
    let threw = false;
    try {
      cropBox(img, box[0], box[1], box[2], box[3]);
    } catch (error) {
      threw = error instanceof RangeError;
    }
    assert(threw, `crop(${box.join(", ")}) must throw RangeError`);
  }
});

Deno.test("hflip() and vflip() equal PIL FLIP_LEFT_RIGHT / FLIP_TOP_BOTTOM and are involutions", async () => {
  for (const c of fixtures().flip) {
    const src = await inputImage(c.input);
    const out = c.direction === "horizontal" ? hflip(src) : vflip(src);
    await assertImageEqual(out, c, `${c.input} ${c.direction} flip`);
    const back = c.direction === "horizontal" ? hflip(out) : vflip(out);
    assert(imagesEqual(back, src), `${c.input}: double ${c.direction} flip is the identity`);
  }
});

Deno.test("roundHalfEven() matches Python round() and crops tile consistently", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, 0],
    [-1.5, -2],
    [-2.5, -2],
    [2.4999999, 2],
    [2.5000001, 3],
    [-3.7, -4],
    [7, 7],
  ];
  for (const [x, r] of cases) {
    assert(roundHalfEven(x) === r, `round(${x}) = ${roundHalfEven(x)}, expected ${r}`);
  }
  // A crop is a window: each output pixel equals the source pixel at the rounded offset.
  const rng = testRng("crop-window");
  const src = createImage(23, 17);
  for (let i = 0; i < src.data.length; i++) src.data[i] = rng.int(256);
  for (let t = 0; t < 50; t++) {
    const l = rng.range(-10, 30);
    const top = rng.range(-10, 25);
    const r = l + rng.range(0, 30);
    const b = top + rng.range(0, 30);
    const out = cropBox(src, l, top, r, b);
    const x0 = roundHalfEven(l);
    const y0 = roundHalfEven(top);
    for (let y = 0; y < out.height; y++) {
      for (let x = 0; x < out.width; x++) {
        const sx = x + x0;
        const sy = y + y0;
        const inside = sx >= 0 && sy >= 0 && sx < src.width && sy < src.height;
        for (let c = 0; c < 3; c++) {
          const v = inside ? src.data[(sy * src.width + sx) * 3 + c] : 0;
          assert(out.data[(y * out.width + x) * 3 + c] === v, `box ${[l, top, r, b]} at ${x},${y}`);
        }
      }
    }
  }
});
