import { createImage, type RgbImage } from "../../src/image/image.ts";
import {
  adjustHueBatch,
  boxBlurParams,
  type ColorOp,
  enhanceBatch,
  type EnhanceKind,
  equalize,
  gaussianBlurBatch,
  gaussianKernel1d,
  invert,
  pillowGaussianBlur,
  posterize,
  recordColorChain,
  recordColorOps,
  toGrayscale,
} from "../../src/transforms/color.ts";
import { readImages, uploadImages } from "../../src/image/gpu/packed.ts";
import { adjustHue } from "../../src/transforms/hsv.ts";
import { assert, assertRejects } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { seedNote, testRng } from "../util/seed.ts";
import { byteDiff, type ColorCase, colorFixture } from "./color_fixture.ts";

async function casesOf(op: string, min: number): Promise<ColorCase[]> {
  const list = (await colorFixture()).cases.filter((c) => c.op === op);
  assert(list.length >= min, `expected ≥ ${min} ${op} fixtures, found ${list.length}`);
  return list;
}

function expectExact(got: RgbImage, c: ColorCase, what: string): void {
  const d = byteDiff(got, c.expected);
  assert(d.max === 0, `${what} on ${c.input}: ${d.count} bytes differ (max ${d.max})`);
}

function expectWithinOne(got: RgbImage, c: ColorCase, what: string): number {
  const d = byteDiff(got, c.expected);
  assert(d.max <= 1, `${what} on ${c.input}: max diff ${d.max} over ${d.count} bytes`);
  return d.count;
}

Deno.test("toGrayscale(), invert(), equalize() are uint8-exact with Pillow on photos, grey, RGBA, 1x1, 13x7, 60x3, flat", async () => {
  for (const c of await casesOf("grayscale", 8)) expectExact(toGrayscale(c.image), c, "grayscale");
  for (const c of await casesOf("invert", 8)) expectExact(invert(c.image), c, "invert");
  for (const c of await casesOf("equalize", 8)) expectExact(equalize(c.image), c, "equalize");
});

Deno.test("posterize() is uint8-exact with ImageOps.posterize for bits 1..7 and refuses other bits", async () => {
  for (const c of await casesOf("posterize", 21)) {
    expectExact(posterize(c.image, c.params.bits as number), c, `posterize ${c.params.bits}`);
  }
  const img = createImage(1, 1, new Uint8Array([255, 128, 7]));
  assert(posterize(img, 8).data.join() === "255,128,7", "8 bits keep everything");
  for (const bad of [0, 9, 2.5]) {
    await assertRejects(() => Promise.resolve().then(() => posterize(img, bad)), /posterize bits/);
  }
});

Deno.test("equalize() keeps single-level and near-empty channels unchanged (Pillow's identity cases)", () => {
  const flat = createImage(3, 1, new Uint8Array([9, 200, 4, 9, 200, 4, 9, 200, 4]));
  assert(equalize(flat).data.join() === flat.data.join(), "one level per channel");
  // Two levels, but (total − last) div 255 = 0: identity.
  const two = createImage(2, 1, new Uint8Array([10, 10, 10, 50, 50, 50]));
  assert(equalize(two).data.join() === two.data.join(), "step 0");
});

Deno.test(
  "enhanceBatch() matches Pillow ImageEnhance (brightness, contrast, color, sharpness) within 1 level",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    let differing = 0;
    for (const kind of ["brightness", "contrast", "color", "sharpness"] as EnhanceKind[]) {
      const cases = await casesOf(kind, 28);
      const byInput = Map.groupBy(cases, (c) => c.input);
      for (const [, list] of byInput) {
        // One call per input: every factor in one dispatch.
        const outs = await enhanceBatch(
          gpu,
          list[0].image,
          kind,
          list.map((c) => c.params.factor as number),
        );
        outs.forEach((o, i) =>
          differing += expectWithinOne(o, list[i], `${kind} ${list[i].params.factor}`)
        );
      }
    }
    // Measured: 0 differing bytes on llvmpipe (the kernel follows Pillow's float order).
    assert(differing <= 20, `${differing} bytes off by one`);
  },
);

Deno.test(
  "adjustHueBatch() matches torchvision adjust_hue within 1 level and the CPU port on random colours",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    for (const [, list] of Map.groupBy(await casesOf("hue", 18), (c) => c.input)) {
      const outs = await adjustHueBatch(
        gpu,
        list[0].image,
        list.map((c) => c.params.hue as number),
      );
      outs.forEach((o, i) => expectWithinOne(o, list[i], `hue ${list[i].params.hue}`));
    }
    const rng = testRng("hue gpu vs cpu");
    const img = createImage(61, 47);
    for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
    const hues = [rng.range(-0.5, 0.5), rng.range(-0.5, 0.5), -0.5, 0.5];
    const outs = await adjustHueBatch(gpu, img, hues);
    let off = 0;
    outs.forEach((o, i) => {
      const d = byteDiff(o, adjustHue(img, hues[i]));
      assert(d.max <= 1, `hue ${hues[i]}: max diff ${d.max} vs the CPU port${seedNote()}`);
      off += d.count;
    });
    assert(off <= outs.length * img.data.length * 0.001, `${off} bytes off by one${seedNote()}`);
  },
);

Deno.test(
  "gaussianBlurBatch() matches torchvision gaussian_blur (23, 5 and 3 taps) within 1 level",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const cases = await casesOf("gaussian_blur", 7);
    for (const [, list] of Map.groupBy(cases, (c) => `${c.input}/${c.params.kernelSize}`)) {
      const outs = await gaussianBlurBatch(
        gpu,
        list[0].image,
        list.map((c) => c.params.sigma as number),
        list[0].params.kernelSize as number,
      );
      outs.forEach((o, i) => expectWithinOne(o, list[i], `blur σ=${list[i].params.sigma}`));
    }
  },
);

Deno.test(
  "gaussianBlurBatch() refuses images torch's reflect padding cannot pad, bad kernel sizes and σ",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const tiny = createImage(1, 1);
    await assertRejects(() => gaussianBlurBatch(gpu, tiny, [1], 23), /larger than 11 px/);
    await assertRejects(() => gaussianBlurBatch(gpu, createImage(30, 11), [1], 23), /30x11/);
    await assertRejects(() => gaussianBlurBatch(gpu, createImage(30, 30), [1], 4), /odd/);
    await assertRejects(() => gaussianBlurBatch(gpu, createImage(30, 30), [0], 5), /sigma/);
  },
);

Deno.test("gaussianKernel1d() equals torchvision's float32 kernel: symmetric, sums to 1, delta for tiny σ", () => {
  const k = gaussianKernel1d(23, 1e-5);
  assert(k[11] === 1 && k.every((v, i) => i === 11 || v === 0), "σ = 1e-5 is a delta");
  const g = gaussianKernel1d(7, 1.3);
  let s = 0;
  for (let i = 0; i < 7; i++) {
    s += g[i];
    assert(g[i] === g[6 - i], "symmetric");
  }
  assert(Math.abs(s - 1) < 1e-6, `sum ${s}`);
  // Hand value: exp(-0.5·(3/1.3)²) / Σ = 0.0346… for the outer tap.
  let z = 0;
  for (let x = -3; x <= 3; x++) z += Math.exp(-0.5 * (x / 1.3) ** 2);
  assert(Math.abs(g[0] - Math.exp(-0.5 * (3 / 1.3) ** 2) / z) < 1e-7, `outer tap ${g[0]}`);
});

Deno.test("pillowGaussianBlur() is uint8-exact with Pillow ImageFilter.GaussianBlur for σ 0.1..2 (MoCo's range)", async () => {
  for (const c of await casesOf("pillow_blur", 20)) {
    expectExact(pillowGaussianBlur(c.image, c.params.sigma as number), c, `blur ${c.params.sigma}`);
  }
  // By hand, σ = 2: σ²/3 = 4/3, L = √17 ≈ 4.12, l = 1, a = 3·(2 − 4) / (6·(4/3 − 4)) = 0.375,
  // box radius 1.375: ww = trunc(2^24 / 3.75) = 4473924, fw = (2^24 − 3·ww) / 2 = 1677722.
  const p = boxBlurParams(2);
  assert(p.radius === 1 && p.ww === 4473924 && p.fw === 1677722, JSON.stringify(p));
  assert(boxBlurParams(0).ww === 1 << 24 && boxBlurParams(0).fw === 0, "σ = 0 is the identity");
});

Deno.test(
  "recordColorOps() writes every pixel of every view (outputs poisoned first) and maps sources",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("color ops poison");
    const a = createImage(17, 9);
    const b = createImage(5, 23);
    for (const img of [a, b]) for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
    const src = uploadImages(gpu, [a, b]);
    poisonPool(gpu, [17 * 9 * 2 + 5 * 23 * 2, 17 * 9 + 5 * 23 * 3]);
    const ops = [
      { kind: "contrast" as const, factor: 1.7 },
      { kind: "sharpness" as const, factor: 3 },
      { kind: "hue" as const, hue: -0.3 },
      { kind: "grayscale" as const },
    ];
    const out = recordColorOps(gpu, src, ops, [0, 1, 1, 0]);
    const [raw] = await gpu.recorder.read([out.tensor]);
    const words = raw as Uint32Array;
    for (let i = 0; i < words.length; i++) {
      assert(words[i] >>> 24 === 0, `word ${i} was not written (0x${words[i].toString(16)})`);
    }
    assert(out.widths.join() === "17,5,5,17" && out.heights.join() === "9,23,23,9", "sizes");
    const [byOne] = await Promise.all([enhanceBatch(gpu, a, "contrast", [1.7])]);
    const first = words.subarray(0, 17 * 9);
    for (let i = 0; i < first.length; i++) {
      const p = byOne[0].data;
      assert(
        first[i] === (p[3 * i] | (p[3 * i + 1] << 8) | (p[3 * i + 2] << 16)),
        "view 0 = contrast(a)",
      );
    }
    assert(toGrayscale(a).data.length === 17 * 9 * 3, "sanity");
    src.tensor.release();
    out.tensor.release();
  },
);

Deno.test(
  "enhanceBatch() refuses negative or non-finite factors and empty images",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const img = createImage(4, 4);
    await assertRejects(() => enhanceBatch(gpu, img, "contrast", [-0.1]), /non-negative/);
    await assertRejects(() => enhanceBatch(gpu, img, "brightness", [Infinity]), /finite/);
    await assertRejects(() => enhanceBatch(gpu, createImage(0, 3), "color", [1]), /empty/);
    await assertRejects(() => adjustHueBatch(gpu, img, [0.7]), /hue factor/);
    await assertRejects(() => enhanceBatch(gpu, img, "hue" as EnhanceKind, [1]), /unknown enhance/);
  },
);

Deno.test(
  "enhanceBatch()/adjustHueBatch()/gaussianBlurBatch() give the same images when split into many chunks",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("chunks");
    const img = createImage(23, 19);
    for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
    const factors = Array.from({ length: 7 }, () => rng.range(0, 3));
    const hues = Array.from({ length: 5 }, () => rng.range(-0.5, 0.5));
    const sigmas = Array.from({ length: 5 }, () => rng.range(0.2, 4));
    // 23·19·4 bytes per output: chunks of 2 outputs.
    const small = { chunkBytes: 2 * 23 * 19 * 4 };
    const pairs = [
      [
        await enhanceBatch(gpu, img, "sharpness", factors),
        await enhanceBatch(gpu, img, "sharpness", factors, small),
      ],
      [await adjustHueBatch(gpu, img, hues), await adjustHueBatch(gpu, img, hues, small)],
      [
        await gaussianBlurBatch(gpu, img, sigmas, 7),
        await gaussianBlurBatch(gpu, img, sigmas, 7, small),
      ],
    ];
    for (const [whole, split] of pairs) {
      assert(whole.length === split.length, "counts");
      whole.forEach((w, i) => assert(byteDiff(w, split[i]).max === 0, `output ${i}${seedNote()}`));
    }
    // And each equals its single-factor call (a chunk boundary cannot shift factors).
    const one = await enhanceBatch(gpu, img, "sharpness", [factors[5]]);
    assert(byteDiff(one[0], pairs[0][1][5]).max === 0, `factor 5${seedNote()}`);
  },
);

Deno.test(
  "recordColorChain() equals applying its ops one at a time (random chains) and refuses bad chains",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("color chain");
    const img = createImage(19, 13);
    for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
    const chains: ColorOp[][] = [];
    for (let v = 0; v < 6; v++) {
      const pool: ColorOp[] = rng.shuffle([
        { kind: "brightness", factor: rng.range(0.2, 2) },
        { kind: "contrast", factor: rng.range(0, 2.5) },
        { kind: "color", factor: rng.range(0, 3) },
        { kind: "hue", hue: rng.range(-0.5, 0.5) },
        { kind: "grayscale" },
      ]);
      const chain = pool.slice(0, 1 + rng.int(4));
      if (v === 0) chain.unshift({ kind: "sharpness", factor: 2.2 });
      chains.push(chain);
    }
    const src = uploadImages(gpu, [img]);
    const out = recordColorChain(gpu, src, chains, chains.map(() => 0));
    const [got] = await readImages(gpu, [out]);
    for (let v = 0; v < chains.length; v++) {
      let x = img;
      for (const op of chains[v]) {
        const one = recordColorOps(gpu, uploadImages(gpu, [x]), [op]);
        x = (await readImages(gpu, [one]))[0][0];
        one.tensor.release();
      }
      assert(byteDiff(got[v], x).max === 0, `chain ${v} ${JSON.stringify(chains[v])}${seedNote()}`);
    }
    src.tensor.release();
    out.tensor.release();
    const bad: [ColorOp[], RegExp][] = [
      [[{ kind: "grayscale" }, { kind: "sharpness", factor: 1 }], /first op/],
      [
        [{ kind: "contrast", factor: 1 }, { kind: "contrast", factor: 2 }],
        /more than one contrast/,
      ],
      [[{ kind: "hue", hue: 0.1 }, { kind: "hue", hue: 0.2 }], /more than one hue/],
      [Array(6).fill({ kind: "grayscale" }), /at most 5/],
    ];
    for (const [chain, re] of bad) {
      const s2 = uploadImages(gpu, [img]);
      await assertRejects(
        () => Promise.resolve().then(() => recordColorChain(gpu, s2, [chain], [0])),
        re,
      );
      s2.tensor.release();
    }
  },
);
