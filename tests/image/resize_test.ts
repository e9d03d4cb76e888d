import { centerCrop } from "../../src/image/crop.ts";
import { loadImage } from "../../src/image/decode.ts";
import { createImage } from "../../src/image/image.ts";
import {
  PRECISION_BITS,
  resize,
  resizeCoefficients,
  resizeShortSide,
  shortSideSize,
} from "../../src/image/resize.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { assertImageEqual, fixtures, IMAGE_FIXTURES, inputImage } from "./fixtures.ts";

Deno.test("resize() is uint8-exact with Pillow BILINEAR: down 2.3x, slightly, up, mixed, one pass, 1x1, 1xN, 300x7", async () => {
  const list = fixtures().resize;
  assert(list.length >= 20, "resize fixtures");
  const failures: string[] = [];
  for (const c of list) {
    const src = await inputImage(c.input);
    const what = `${c.input} ${src.width}x${src.height} -> ${c.targetWidth}x${c.targetHeight}` +
      (c.note ? ` (${c.note})` : "");
    try {
      const out = resize(src, c.targetWidth, c.targetHeight);
      await assertImageEqual(out, c, what);
      assert(out.data !== src.data, `${what}: must not alias the input`);
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  assert(failures.length === 0, `\n${failures.join("\n")}`);
});

Deno.test("resizeShortSide() equals torchvision Resize(int): truncated long side, unchanged when short == s", async () => {
  for (const c of fixtures().resizeShortSide) {
    const src = await inputImage(c.input);
    const out = resizeShortSide(src, c.size);
    await assertImageEqual(out, c, `${c.input} Resize(${c.size})`);
    if (Math.min(src.width, src.height) === c.size) assert(out === src, "unchanged input returned");
  }
  // trunc(256·500/375) = 341; trunc(224·333/500) = 149 (149.18); exact integers stay exact.
  assert(shortSideSize(500, 375, 256).join() === "341,256", "500x375");
  assert(shortSideSize(375, 500, 256).join() === "256,341", "375x500");
  assert(shortSideSize(500, 333, 224).join() === "336,224", "500x333");
  assert(shortSideSize(333, 500, 224).join() === "224,336", "333x500");
  assert(shortSideSize(300, 7, 5).join() === "214,5", "300x7");
  assert(shortSideSize(640, 480, 240).join() === "320,240", "exact");
  assert(shortSideSize(256, 256, 256).join() === "256,256", "square unchanged");
});

Deno.test("Resize(R) + CenterCrop(C) on real JPEG photos equals torchvision + Pillow (SHA-256)", async () => {
  const list = fixtures().pipeline;
  assert(list.length >= 6, "pipeline fixtures");
  for (const c of list) {
    const img = await loadImage(IMAGE_FIXTURES + c.file);
    const resized = resizeShortSide(img, c.resize);
    assert(
      resized.width === c.resizedWidth && resized.height === c.resizedHeight,
      `${c.file}: resized to ${resized.width}x${resized.height}, torchvision ${c.resizedWidth}x${c.resizedHeight}`,
    );
    await assertImageEqual(
      centerCrop(resized, c.crop),
      c,
      `${c.file} Resize(${c.resize}) CenterCrop(${c.crop})`,
    );
  }
});

Deno.test("resize() keeps constant images constant and rejects bad sizes", () => {
  const rng = testRng("resize-constant");
  for (let t = 0; t < 20; t++) {
    const w = 1 + rng.int(40);
    const h = 1 + rng.int(40);
    const img = createImage(w, h);
    const v = [rng.int(256), rng.int(256), rng.int(256)];
    for (let i = 0; i < w * h; i++) img.data.set(v, 3 * i);
    const ow = 1 + rng.int(60);
    const oh = 1 + rng.int(60);
    const out = resize(img, ow, oh);
    for (let i = 0; i < ow * oh; i++) {
      for (let c = 0; c < 3; c++) {
        assert(out.data[3 * i + c] === v[c], `${w}x${h} -> ${ow}x${oh}: pixel ${i} channel ${c}`);
      }
    }
  }
  const img = createImage(4, 4);
  for (const [w, h] of [[0, 4], [4, 0], [-1, 2], [2.5, 2]]) {
    let threw = false;
    try {
      resize(img, w, h);
    } catch (error) {
      threw = error instanceof RangeError;
    }
    assert(threw, `resize to ${w}x${h} must throw RangeError`);
  }
  let threw = false;
  try {
    resize(createImage(0, 3), 2, 2);
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw, "resizing an empty image must throw RangeError");
});

Deno.test("resizeCoefficients() matches hand-computed Pillow taps: 4 → 2 and identity 3 → 3", () => {
  // 4 → 2: scale 2, support 2, ksize 5. Output 0: centre 1, taps x = 0..2 with triangle weights
  // 0.75, 0.75, 0.25 → 3/7, 3/7, 1/7 of 2^22, rounded half away from zero.
  const c = resizeCoefficients(4, 2);
  const one = 2 ** PRECISION_BITS;
  assert(c.ksize === 5, `ksize ${c.ksize}`);
  assert(c.bounds[0] === 0 && c.bounds[1] === 3, `bounds[0] ${c.bounds.slice(0, 2)}`);
  const w0 = [3 / 7, 3 / 7, 1 / 7].map((w) => Math.round(w * one));
  assert(
    [...c.weights.slice(0, 5)].join() === [...w0, 0, 0].join(),
    `weights ${c.weights.slice(0, 5)}`,
  );
  // Output 1: centre 3, taps x = 1..3 (clamped at 4): mirror image of output 0.
  assert(c.bounds[2] === 1 && c.bounds[3] === 3, `bounds[1] ${c.bounds.slice(2, 4)}`);
  assert([...c.weights.slice(5, 8)].join() === [...w0].reverse().join(), "weights of output 1");
  // Same size: each pixel maps onto itself with weight exactly 1.0 (so a skipped pass is a copy).
  const id = resizeCoefficients(3, 3);
  for (let i = 0; i < 3; i++) {
    assert(id.bounds[2 * i] === i && id.weights[i * id.ksize] === one, `identity tap ${i}`);
  }
});
