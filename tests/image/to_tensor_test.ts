import { createImage } from "../../src/image/image.ts";
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizationTable,
  toNormalizedTensor,
  toTensor,
} from "../../src/image/to_tensor.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { fixtureBytes, fixtures, inputImage } from "./fixtures.ts";

Deno.test("toNormalizedTensor() is bit-exact with torchvision ToTensor + Normalize(ImageNet) in float32, CHW", async () => {
  for (const c of fixtures().normalize) {
    const src = await inputImage(c.input);
    const raw = fixtureBytes(c.expected);
    const expected = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    assertArrayEqual(toNormalizedTensor(src), expected, `${c.input} CHW`);
    assertArrayEqual(
      toNormalizedTensor(src, { mean: c.mean, std: c.std }),
      expected,
      `${c.input} explicit mean/std`,
    );
  }
  assert(
    IMAGENET_MEAN.join() === "0.485,0.456,0.406" && IMAGENET_STD.join() === "0.229,0.224,0.225",
    "constants",
  );
});

Deno.test("toNormalizedTensor() HWC is the transpose of CHW; out/offset fill a batch slot; toTensor() is v/255", () => {
  const rng = testRng("to-tensor-layout");
  const img = createImage(13, 7);
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
  const n = 13 * 7;
  const chw = toNormalizedTensor(img);
  const hwc = toNormalizedTensor(img, { layout: "HWC" });
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      assert(Object.is(hwc[3 * p + c], chw[c * n + p]), `pixel ${p} channel ${c}`);
    }
  }
  const batch = new Float32Array(3 * n * 3).fill(NaN);
  toNormalizedTensor(img, { layout: "HWC", out: batch, offset: 3 * n });
  assertArrayEqual(batch.subarray(3 * n, 6 * n), hwc, "slot 1");
  assert(batch.subarray(0, 3 * n).every(Number.isNaN), "slot 0 untouched");
  assert(batch.subarray(6 * n).every(Number.isNaN), "slot 2 untouched");
  let threw = false;
  try {
    toNormalizedTensor(img, { out: batch, offset: 7 * n });
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw, "an out array that is too short is a RangeError");

  const plain = toTensor(img, "HWC");
  for (let i = 0; i < plain.length; i++) {
    assert(plain[i] === Math.fround(img.data[i] / 255), `toTensor element ${i}`);
  }
  const lut = normalizationTable(IMAGENET_MEAN, IMAGENET_STD);
  // Spot values: float32 steps as torch, e.g. (0/255 − 0.485)/0.229 and (255/255 − 0.406)/0.225.
  assert(lut[0] === Math.fround(Math.fround(-Math.fround(0.485)) / Math.fround(0.229)), "lut[0]");
  assert(
    lut[512 + 255] === Math.fround(Math.fround(1 - Math.fround(0.406)) / Math.fround(0.225)),
    "lut[767]",
  );
});
