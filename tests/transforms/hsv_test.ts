import { createImage } from "../../src/image/image.ts";
import {
  adjustHue,
  hsvToRgbPixel,
  hueShiftByte,
  hueTable,
  rgbToHsvPixel,
  rgbToHue,
  saturationByte,
  saturationTable,
} from "../../src/transforms/hsv.ts";
import { assert, assertRejects } from "../util/assert.ts";
import { seedNote, testRng } from "../util/seed.ts";
import { byteDiff, colorFixture } from "./color_fixture.ts";

Deno.test("rgbToHsvPixel() equals Pillow 9.4 convert('HSV') on 1600 colours (grid + random)", async () => {
  const fx = await colorFixture();
  const c = fx.cases.find((x) => x.op === "hsv")!;
  const d = c.image.data;
  let bad = 0;
  for (let i = 0; i < d.length; i += 3) {
    const got = rgbToHsvPixel(d[i], d[i + 1], d[i + 2]);
    const want = c.expected.data.subarray(i, i + 3);
    if (got.some((v, k) => v !== want[k])) bad++;
  }
  assert(bad === 0, `${bad} of ${d.length / 3} colours differ from Pillow`);
});

Deno.test("adjustHue() is uint8-exact with torchvision adjust_hue on photos, grey, noise and all colours", async () => {
  const fx = await colorFixture();
  const cases = fx.cases.filter((x) => x.op === "hue");
  assert(cases.length >= 18, "hue fixtures");
  for (const c of cases) {
    const d = byteDiff(adjustHue(c.image, c.params.hue as number), c.expected);
    assert(d.max === 0, `${c.input} hue ${c.params.hue}: ${d.count} bytes differ (max ${d.max})`);
  }
});

Deno.test("hsvToRgbPixel() inverts rgbToHsvPixel() up to Pillow's 8-bit rounding", () => {
  const rng = testRng("hsv round trip");
  let worst = 0;
  for (let i = 0; i < 20000; i++) {
    const rgb = [rng.int(256), rng.int(256), rng.int(256)];
    const back = hsvToRgbPixel(...rgbToHsvPixel(rgb[0], rgb[1], rgb[2]));
    worst = Math.max(worst, ...back.map((v, k) => Math.abs(v - rgb[k])));
  }
  // H and S are truncated to 1/255 steps, so a channel may move by a few levels: over all 2^24
  // colours the worst is 7 (e.g. 1,7,248), computed once with this port.
  assert(worst <= 7, `round trip moved a channel by ${worst}${seedNote()}`);
  const [r, g, b] = hsvToRgbPixel(...rgbToHsvPixel(1, 7, 248));
  assert(Math.max(Math.abs(r - 1), Math.abs(g - 7), Math.abs(b - 248)) === 7, "worst colour");
  assert(hsvToRgbPixel(0, 0, 77).join() === "77,77,77", "grey stays grey");
});

Deno.test("hueTable() / saturationTable() give rgbToHue / saturationByte for random pixels (the GPU lookup)", () => {
  const hue = hueTable();
  const sat = saturationTable();
  const rng = testRng("hue table");
  for (let i = 0; i < 50000; i++) {
    const r = rng.int(256), g = rng.int(256), b = rng.int(256);
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    if (maxc === minc) continue;
    const cr = maxc - minc;
    // The kernel's indexing (kernels/image_color.wgsl pillow_hue), restated.
    const [kase, a, bb] = r === maxc
      ? [0, maxc - g, maxc - b]
      : g === maxc
      ? [1, maxc - r, maxc - b]
      : [2, maxc - r, maxc - g];
    const [m, d] = a === cr ? [0, bb] : [1, a];
    const got = hue[((kase * 2 + m) * 256 + cr) * 256 + d];
    assert(got === rgbToHue(r, g, b), `hue of ${r},${g},${b}: ${got}${seedNote()}`);
    assert(sat[cr * 256 + maxc] === saturationByte(cr, maxc), `sat of ${r},${g},${b}`);
  }
});

Deno.test("hueShiftByte() follows numpy's uint8 cast: trunc(h·255) mod 256", () => {
  assert(hueShiftByte(0.5) === 127, "0.5 → 127");
  assert(hueShiftByte(-0.5) === 129, "-0.5 → -127 → 129");
  assert(hueShiftByte(-0.0019607844) === 0, "tiny negative → 0");
  assert(hueShiftByte(0.1) === 25, "0.1 → 25");
  assert(hueShiftByte(-0.1) === 231, "-0.1 → -25 → 231");
});

Deno.test("adjustHue() refuses hue factors outside [-0.5, 0.5]", async () => {
  const img = createImage(2, 2);
  await assertRejects(() => Promise.resolve().then(() => adjustHue(img, 0.51)), /hue factor/);
  await assertRejects(() => Promise.resolve().then(() => adjustHue(img, NaN)), /hue factor/);
});
