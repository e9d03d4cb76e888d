import { Tensor } from "../../src/gpu/tensor.ts";
import { centerCrop, centerCropWindow, type CropWindow } from "../../src/image/crop.ts";
import { createImage, imagesEqual, type RgbImage } from "../../src/image/image.ts";
import { resize, resizeShortSide } from "../../src/image/resize.ts";
import { packRgb, unpackRgbImages } from "../../src/image/gpu/packed.ts";
import {
  recordResizeCrop,
  recordShortSideCenterCrop,
  resizeImagesGpu,
} from "../../src/image/gpu/resize.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertRejects } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { seedNote, testRng } from "../util/seed.ts";

/** Noise with saturated and black blocks, so sums reach both ends of clip8's range. */
function randomImage(rng: Rng, width: number, height: number): RgbImage {
  const img = createImage(width, height);
  const d = img.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.int(256);
  const bw = Math.max(1, width >> 2);
  const bh = Math.max(1, height >> 2);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      d.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
      const bx = width - 1 - x;
      const by = height - 1 - y;
      d.fill(0, (by * width + bx) * 3, (by * width + bx) * 3 + 3);
    }
  }
  return img;
}

function firstDifference(a: RgbImage, b: RgbImage): string {
  if (a.width !== b.width || a.height !== b.height) {
    return `size ${a.width}x${a.height} vs ${b.width}x${b.height}`;
  }
  for (let i = 0; i < a.data.length; i++) {
    if (a.data[i] !== b.data[i]) {
      const p = Math.floor(i / 3);
      return `pixel (${p % a.width}, ${Math.floor(p / a.width)}) channel ${i % 3}: ` +
        `${a.data[i]} vs ${b.data[i]}`;
    }
  }
  return "equal";
}

/**
 * Runs recordResizeCrop on `images` with its output and intermediate poisoned first, checks no
 * packed pixel has bits above 24 (a poisoned word left unwritten would), and unpacks.
 */
async function gpuResizeCrop(
  images: readonly RgbImage[],
  width: number,
  height: number,
  window: CropWindow,
): Promise<RgbImage[]> {
  const gpu = await testGpu();
  const { width: w, height: h } = images[0];
  const packed = new Uint32Array(images.length * w * h);
  images.forEach((img, i) => packed.set(packRgb(img), i * w * h));
  const src = Tensor.from(gpu, packed);
  poisonPool(gpu, [images.length * window.width * window.height, images.length * h * width]);
  const out = recordResizeCrop(gpu, src, images.length, w, h, width, height, window);
  const [data] = await gpu.recorder.read([out]);
  out.release();
  src.release();
  const words = data as Uint32Array;
  for (let i = 0; i < words.length; i++) {
    if (words[i] >>> 24 !== 0) throw new Error(`output word ${i} left unwritten (poison)`);
  }
  return unpackRgbImages(words, window.width, window.height, images.length);
}

Deno.test({
  name: "GPU resize equals CPU resize() byte for byte: odd sizes, up, down, mixed, extreme aspect",
  ...GPU_TEST,
  fn: async () => {
    const rng = testRng("resize_gpu sizes");
    // [source w, h, target w, h]
    const cases: [number, number, number, number][] = [
      [37, 29, 17, 11], // down, odd
      [13, 9, 31, 27], // up, odd
      [41, 23, 67, 7], // up in x, down in y
      [50, 37, 50, 21], // vertical pass only
      [50, 37, 19, 37], // horizontal pass only
      [301, 5, 3, 77], // extreme aspect, down 100x in x, up 15x in y
      [3, 257, 129, 2], // the other way round
      [1, 1, 7, 5], // 1x1 source
      [29, 31, 1, 1], // to 1x1
      [97, 61, 10, 9], // down ~10x
    ];
    for (const [sw, sh, tw, th] of cases) {
      const images = [randomImage(rng, sw, sh), randomImage(rng, sw, sh)];
      const window = { left: 0, top: 0, width: tw, height: th };
      const got = await gpuResizeCrop(images, tw, th, window);
      images.forEach((img, i) => {
        const expected = resize(img, tw, th);
        assert(
          imagesEqual(got[i], expected),
          `${sw}x${sh} -> ${tw}x${th} view ${i}: ${
            firstDifference(got[i], expected)
          } ${seedNote()}`,
        );
      });
    }
  },
});

Deno.test({
  name: "GPU Resize(r) + CenterCrop(c) equals the CPU pair, crops larger than the image padded",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const rng = testRng("resize_gpu crop");
    // [w, h, r, c]: landscape, portrait, crop > long side (padding on both axes), crop between
    // short and long side, short side already r (resize skipped), odd/even centre rounding.
    const cases: [number, number, number, number][] = [
      [50, 37, 32, 28],
      [37, 50, 32, 27],
      [23, 17, 9, 15],
      [40, 21, 16, 20],
      [45, 32, 32, 24],
      [31, 64, 11, 10],
    ];
    for (const [w, h, r, c] of cases) {
      const images = [randomImage(rng, w, h), randomImage(rng, w, h), randomImage(rng, w, h)];
      const packed = new Uint32Array(images.length * w * h);
      images.forEach((img, i) => packed.set(packRgb(img), i * w * h));
      const src = Tensor.from(gpu, packed);
      poisonPool(gpu, [images.length * c * c]);
      const out = recordShortSideCenterCrop(gpu, src, images.length, w, h, r, c);
      const [data] = await gpu.recorder.read([out]);
      out.release();
      src.release();
      const got = unpackRgbImages(data as Uint32Array, c, c, images.length);
      images.forEach((img, i) => {
        const expected = centerCrop(resizeShortSide(img, r), c);
        assert(
          imagesEqual(got[i], expected),
          `${w}x${h} Resize(${r}) CenterCrop(${c}) view ${i}: ` +
            `${firstDifference(got[i], expected)} ${seedNote()}`,
        );
      });
    }
  },
});

Deno.test({
  name: "resizeImagesGpu() with an off-centre window equals a crop of the CPU resize",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const rng = testRng("resize_gpu window");
    const img = randomImage(rng, 33, 19);
    const full = resize(img, 21, 40);
    // Window hanging over the top-left corner: the outside must be zero.
    const window = { left: -3, top: 30, width: 12, height: 14 };
    const [got] = await resizeImagesGpu(gpu, [img], 21, 40, window);
    const expected = createImage(12, 14);
    for (let y = 0; y < 14; y++) {
      for (let x = 0; x < 12; x++) {
        const sx = x - 3;
        const sy = y + 30;
        if (sx < 0 || sy >= 40) continue;
        for (let ch = 0; ch < 3; ch++) {
          expected.data[(y * 12 + x) * 3 + ch] = full.data[(sy * 21 + sx) * 3 + ch];
        }
      }
    }
    assert(imagesEqual(got, expected), `window: ${firstDifference(got, expected)} ${seedNote()}`);
    // A window entirely outside the resized image is all zero.
    const [none] = await resizeImagesGpu(gpu, [img], 21, 40, {
      left: 30,
      top: 0,
      width: 4,
      height: 4,
    });
    assert(none.data.every((v) => v === 0), "window outside the image must be black");
  },
});

Deno.test("centerCropWindow() follows CenterCrop's rounding and padding", () => {
  // (341 − 224) / 2 = 58.5 → 58 (half to even); (256 − 224) / 2 = 16.
  const a = centerCropWindow(341, 256, 224);
  assert(a.left === 58 && a.top === 16 && a.width === 224, `341x256: ${JSON.stringify(a)}`);
  // 5 wide, crop 8: pad 1 before, 2 after → window starts at −1.
  const b = centerCropWindow(5, 20, 8);
  assert(b.left === -1 && b.top === 6, `5x20: ${JSON.stringify(b)}`);
  let threw = false;
  try {
    centerCropWindow(10, 10, 0);
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw, "crop size 0 must throw RangeError");
});

Deno.test({
  name: "recordResizeCrop() rejects bad sizes and a source too small for the views",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const src = Tensor.from(gpu, new Uint32Array(10 * 10));
    const win = { left: 0, top: 0, width: 4, height: 4 };
    await assertRejects(
      () => Promise.resolve(recordResizeCrop(gpu, src, 2, 10, 10, 4, 4, win)),
      /fewer than 2 views/,
    );
    await assertRejects(
      () => Promise.resolve(recordResizeCrop(gpu, src, 1, 10, 10, 0, 4, win)),
      /width must be/,
    );
    await assertRejects(
      () => Promise.resolve(recordResizeCrop(gpu, src, 1, 10, 10, 4, 4, { ...win, width: 0 })),
      /bad crop window/,
    );
    src.release();
  },
});
