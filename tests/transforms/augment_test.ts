import { centerCrop, cropBox, hflip } from "../../src/image/crop.ts";
import { createImage, type RgbImage } from "../../src/image/image.ts";
import { resize, resizeShortSide } from "../../src/image/resize.ts";
import { toNormalizedTensor } from "../../src/image/to_tensor.ts";
import {
  applyAugmentParams,
  augmentBatch,
  drawAugmentParams,
  isAugmentPolicy,
  randomResizedCropBox,
  recordPillowBlur,
  renderViews,
  type ViewParams,
} from "../../src/transforms/augment.ts";
import {
  adjustHueBatch,
  enhanceBatch,
  pillowGaussianBlur,
  toGrayscale,
} from "../../src/transforms/color.ts";
import { readImages, uploadImages } from "../../src/image/gpu/packed.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { seedNote, testRng } from "../util/seed.ts";
import { byteDiff, colorFixture } from "./color_fixture.ts";

const PLAIN: ViewParams = { crop: null, jitter: null, grayscale: false, blur: null, flip: false };

/** The policy's ops applied one by one: CPU geometry / grey / blur, single-op GPU enhance + hue. */
async function composeSingleOps(gpu: Gpu, img: RgbImage, p: ViewParams, size: number) {
  let x = img;
  if (p.crop) {
    const { top, left, height, width } = p.crop;
    x = resize(cropBox(x, left, top, left + width, top + height), size, size);
  }
  if (p.jitter) {
    for (const id of p.jitter.order) {
      if (id === 3) x = (await adjustHueBatch(gpu, x, [p.jitter.hue]))[0];
      else {
        const kind = (["brightness", "contrast", "color"] as const)[id];
        const f = [p.jitter.brightness, p.jitter.contrast, p.jitter.saturation][id];
        x = (await enhanceBatch(gpu, x, kind, [f]))[0];
      }
    }
  }
  if (p.grayscale) x = toGrayscale(x);
  if (p.blur !== null) x = pillowGaussianBlur(x, p.blur);
  if (!p.crop) x = centerCrop(resizeShortSide(x, size), size);
  if (p.flip) x = hflip(x);
  return x;
}

Deno.test(
  "renderViews() with fixed draws is uint8-exact with torchvision/Pillow default, ventral and dorsal pipelines",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    const cases = fx.cases.filter((c) => c.op === "policy");
    assert(cases.length >= 5, "policy fixtures");
    for (const c of cases) {
      const p = c.params as Record<string, unknown> & { crop: number[] | null };
      const view: ViewParams = {
        crop: p.crop
          ? { top: p.crop[0], left: p.crop[1], height: p.crop[2], width: p.crop[3] }
          : null,
        jitter: p.jitter as ViewParams["jitter"],
        grayscale: p.grayscale as boolean,
        blur: p.blur as number | null,
        flip: p.flip as boolean,
      };
      const [got] = await renderViews(gpu, [c.image], [view], [0], p.size as number);
      const d = byteDiff(got, c.expected);
      assert(
        d.max === 0,
        `${p.policy} ${JSON.stringify(view)}: ${d.count} bytes differ (max ${d.max})`,
      );
    }
  },
);

Deno.test(
  "renderViews() crops + resizes like torchvision resized_crop and Resize+CenterCrop (down, up, stretched, 60x3 strip)",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    for (const c of fx.cases.filter((x) => x.op === "resized_crop")) {
      const p = c.params as Record<string, number>;
      const crop = { top: p.top, left: p.left, height: p.height, width: p.width };
      const [got] = await renderViews(gpu, [c.image], [{ ...PLAIN, crop }], [0], p.size);
      const d = byteDiff(got, c.expected);
      assert(
        d.max === 0,
        `resized_crop ${JSON.stringify(p)} on ${c.input}: ${d.count} bytes differ`,
      );
    }
    for (const c of fx.cases.filter((x) => x.op === "resize_center_crop")) {
      const [got] = await renderViews(gpu, [c.image], [PLAIN], [0], c.params.size as number);
      const d = byteDiff(got, c.expected);
      assert(d.max === 0, `resize+center crop on ${c.input}: ${d.count} bytes differ`);
    }
  },
);

Deno.test(
  "recordPillowBlur() on the GPU is uint8-exact with Pillow GaussianBlur, several σ in one batch",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    const byInput = Map.groupBy(fx.cases.filter((c) => c.op === "pillow_blur"), (c) => c.input);
    for (const [, list] of byInput) {
      const src = uploadImages(gpu, list.map((c) => c.image));
      const out = recordPillowBlur(gpu, src, list.map((c) => c.params.sigma as number));
      const [imgs] = await readImages(gpu, [out]);
      imgs.forEach((img, i) => {
        const d = byteDiff(img, list[i].expected);
        assert(
          d.max === 0,
          `blur σ=${list[i].params.sigma} on ${list[i].input}: ${d.count} differ`,
        );
      });
      src.tensor.release();
      out.tensor.release();
    }
  },
);

Deno.test(
  "ColorJitter with a fixed order equals torchvision's composition of the single ops within 1 level",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    for (const c of fx.cases.filter((x) => x.op === "color_jitter")) {
      const j = c.params as unknown as NonNullable<ViewParams["jitter"]>;
      let x = c.image;
      for (const id of j.order) {
        if (id === 3) x = (await adjustHueBatch(gpu, x, [j.hue]))[0];
        else {
          const kind = (["brightness", "contrast", "color"] as const)[id];
          x = (await enhanceBatch(gpu, x, kind, [[j.brightness, j.contrast, j.saturation][id]]))[0];
        }
      }
      const d = byteDiff(x, c.expected);
      assert(d.max <= 1, `jitter ${JSON.stringify(j)}: max diff ${d.max}`);
    }
  },
);

Deno.test(
  "renderViews() with random draws equals the composition of the single ops, for all three policies",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    const img = fx.inputs.get("astronaut_big")!;
    const odd = fx.inputs.get("chelsea")!;
    const rng = testRng("policy composition");
    for (const policy of ["default", "ventral", "dorsal"] as const) {
      const images = [img, odd];
      const views: ViewParams[] = [];
      const sources: number[] = [];
      for (let i = 0; i < 6; i++) {
        const s = i % 2;
        views.push(drawAugmentParams(policy, rng, images[s].width, images[s].height));
        sources.push(s);
      }
      // Make sure every op appears at least once.
      if (policy === "default") {
        views[0] = { ...views[0], grayscale: true, flip: true, blur: 1.7 };
        views[1] = {
          ...views[1],
          jitter: {
            order: [1, 3, 2, 0],
            brightness: 1.3,
            contrast: 0.7,
            saturation: 1.2,
            hue: 0.05,
          },
        };
      }
      const size = policy === "dorsal" ? 20 : 24;
      const got = await renderViews(gpu, images, views, sources, size);
      for (let v = 0; v < views.length; v++) {
        const want = await composeSingleOps(gpu, images[sources[v]], views[v], size);
        const d = byteDiff(got[v], want);
        assert(
          d.max === 0,
          `${policy} view ${v} ${JSON.stringify(views[v])}: ${d.count} differ${seedNote()}`,
        );
      }
    }
  },
);

Deno.test(
  "applyAugmentParams() normalises exactly like ToTensor + Normalize, q and k from the same images",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    const images = [
      fx.inputs.get("astronaut_big")!,
      fx.inputs.get("chelsea")!,
      fx.inputs.get("odd")!,
    ];
    const rng = testRng("apply params");
    const q = images.map((im) =>
      drawAugmentParams("default", rng, im.width, im.height, { size: 16 })
    );
    const k = images.map((im) =>
      drawAugmentParams("default", rng, im.width, im.height, { size: 16 })
    );
    poisonPool(gpu, [3 * 16 * 16 * 3]);
    const out = applyAugmentParams(gpu, images, q, k, 16);
    assert(out.q.shape.join() === "3,16,16,3" && out.k.shape.join() === "3,16,16,3", "shapes");
    const [qa, ka] = await gpu.recorder.read([out.q, out.k]);
    const views = await renderViews(
      gpu,
      [...images, ...images],
      [...q, ...k],
      [0, 1, 2, 3, 4, 5],
      16,
    );
    const want = new Float32Array(6 * 16 * 16 * 3);
    views.forEach((v, i) => toNormalizedTensor(v, { layout: "HWC", out: want, offset: i * 768 }));
    assertArrayEqual(qa, want.subarray(0, 3 * 768), `q${seedNote()}`);
    assertArrayEqual(ka, want.subarray(3 * 768), `k${seedNote()}`);
    out.q.release();
    out.k.release();
  },
);

Deno.test(
  "augmentBatch() is reproducible from the seed, gives [N,size,size,3] q/k that differ, and ventral keeps colours",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    const images = [fx.inputs.get("astronaut_big")!, fx.inputs.get("chelsea")!];
    const seed = testRng("augment seed").nextUint32();
    const a = await augmentBatch(gpu, images, "default", new Rng(seed), { size: 12 });
    const b = await augmentBatch(gpu, images, "default", new Rng(seed), { size: 12 });
    const [aq, ak, bq, bk] = await gpu.recorder.read([a.q, a.k, b.q, b.k]);
    assert(a.q.shape.join() === "2,12,12,3", `shape ${a.q.shape}`);
    assertArrayEqual(aq, bq, "same seed, same q");
    assertArrayEqual(ak, bk, "same seed, same k");
    assert(aq.some((v, i) => v !== ak[i]), `q and k views differ${seedNote()}`);
    for (const t of [a.q, a.k, b.q, b.k]) t.release();
    // Ventral = spatial only: the pixels are exactly a crop + resize (+ flip) of the input.
    const rng = testRng("ventral");
    const img = images[0];
    const views = Array.from(
      { length: 8 },
      () => drawAugmentParams("ventral", rng, img.width, img.height),
    );
    assert(
      views.every((v) => !v.jitter && !v.grayscale && v.blur === null && v.crop),
      "ventral draws",
    );
    const got = await renderViews(
      gpu,
      [img],
      views,
      views.map(() => 0),
      16,
    );
    views.forEach((v, i) => {
      const c = v.crop!;
      let want = resize(cropBox(img, c.left, c.top, c.left + c.width, c.top + c.height), 16, 16);
      if (v.flip) want = hflip(want);
      assert(byteDiff(got[i], want).max === 0, `ventral view ${i}${seedNote()}`);
    });
  },
);

Deno.test(
  "dorsal never moves pixels: no crop/flip draws, and a marked pixel lands where CenterCrop puts it",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("dorsal");
    // A one-hot image: a single white pixel stays where the centre crop puts it after colour ops.
    const img = createImage(40, 30);
    for (let i = 0; i < 40 * 30; i++) {
      const v = 60 + (i % 7);
      img.data.set([v, v + 20, v + 40], 3 * i);
    }
    img.data.set([255, 255, 255], 3 * (15 * 40 + 25));
    for (let i = 0; i < 200; i++) {
      const p = drawAugmentParams("dorsal", rng, 40, 30);
      assert(p.crop === null && !p.flip, "dorsal draws no geometry");
    }
    const views = Array.from({ length: 4 }, () => ({
      ...drawAugmentParams("dorsal", rng, 40, 30),
      blur: null,
    }));
    const got = await renderViews(gpu, [img], views, [0, 0, 0, 0], 30);
    for (let v = 0; v < 4; v++) {
      const want = await composeSingleOps(gpu, img, views[v], 30);
      assert(byteDiff(got[v], want).max === 0, `dorsal view ${v}${seedNote()}`);
      // Centre crop of 40x30 to 30: left = 5, so the white pixel sits at (20, 15).
      let brightest = 0;
      let at = -1;
      for (let i = 0; i < 30 * 30; i++) {
        const s = got[v].data[3 * i] + got[v].data[3 * i + 1] + got[v].data[3 * i + 2];
        if (s > brightest) [brightest, at] = [s, i];
      }
      assert(at === 15 * 30 + 20, `view ${v}: brightest pixel at ${at}${seedNote()}`);
    }
  },
);

Deno.test("drawAugmentParams() rates: jitter 80 %, grayscale 20 %, blur 50 %, flip 50 %, factors in range", () => {
  const rng = testRng("draw statistics");
  const n = 4000;
  const counts = { jitter: 0, gray: 0, blur: 0, flip: 0 };
  for (let i = 0; i < n; i++) {
    const w = 100 + rng.int(400);
    const h = 100 + rng.int(400);
    const p = drawAugmentParams("default", rng, w, h);
    const c = p.crop!;
    assert(
      c.top >= 0 && c.left >= 0 && c.top + c.height <= h && c.left + c.width <= w,
      "crop fits",
    );
    const frac = (c.width * c.height) / (w * h);
    // Accepted tries have area in [0.2, 1]·A up to rounding; the fallback is the full image.
    assert(frac > 0.18 && frac <= 1, `crop area fraction ${frac}${seedNote()}`);
    if (p.jitter) {
      counts.jitter++;
      const j = p.jitter;
      assert([...j.order].sort().join() === "0,1,2,3", "order is a permutation");
      for (const f of [j.brightness, j.contrast, j.saturation]) {
        assert(f >= 0.6 && f <= 1.4, `${f}`);
      }
      assert(j.hue >= -0.1 && j.hue <= 0.1, `hue ${j.hue}`);
      assert(Math.fround(j.brightness) === j.brightness, "float32 draws");
    }
    if (p.grayscale) counts.gray++;
    if (p.blur !== null) {
      counts.blur++;
      assert(p.blur >= 0.1 && p.blur < 2, `σ ${p.blur}`);
    }
    if (p.flip) counts.flip++;
  }
  for (const [k, pr] of [["jitter", 0.8], ["gray", 0.2], ["blur", 0.5], ["flip", 0.5]] as const) {
    const sd = Math.sqrt(n * pr * (1 - pr));
    const dev = Math.abs(counts[k] - n * pr);
    assert(dev < 5 * sd, `${k}: ${counts[k]} of ${n}, expected ${n * pr} ± ${5 * sd}${seedNote()}`);
  }
});

Deno.test("randomResizedCropBox() falls back like torchvision for extreme aspect ratios", () => {
  const rng = testRng("rrc fallback");
  // 1000x10: every try needs h ≥ 40 > 10, so the fallback: h = 10, w = round(10·4/3) = 13.
  const wide = randomResizedCropBox(rng, 1000, 10);
  assert(
    JSON.stringify(wide) === '{"top":0,"left":493,"height":10,"width":13}',
    JSON.stringify(wide),
  );
  const tall = randomResizedCropBox(rng, 10, 1000);
  // w = 10, h = round(10 / 0.75) = 13, top = (1000 − 13) div 2 = 493.
  assert(
    JSON.stringify(tall) === '{"top":493,"left":0,"height":13,"width":10}',
    JSON.stringify(tall),
  );
  const one = randomResizedCropBox(rng, 1, 1);
  assert(JSON.stringify(one) === '{"top":0,"left":0,"height":1,"width":1}', JSON.stringify(one));
});

Deno.test(
  "augment API refuses unknown policies, boxes outside the image, mixed batches and empty images",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    assert(isAugmentPolicy("dorsal") && !isAugmentPolicy("aug+"), "isAugmentPolicy");
    const img = createImage(8, 6);
    await assertRejects(
      () => augmentBatch(gpu, [img], "aug+" as "default", new Rng(1)),
      /unknown augmentation policy "aug\+"/,
    );
    await assertRejects(() => augmentBatch(gpu, [], "default", new Rng(1)), /no images/);
    await assertRejects(
      () => augmentBatch(gpu, [createImage(0, 5)], "default", new Rng(1)),
      /empty/,
    );
    const outside = { ...PLAIN, crop: { top: 2, left: 0, height: 5, width: 8 } };
    await assertRejects(() => renderViews(gpu, [img], [outside], [0], 4), /does not fit a 8x6/);
    const crop = { ...PLAIN, crop: { top: 0, left: 0, height: 6, width: 8 } };
    await assertRejects(() => renderViews(gpu, [img], [crop, PLAIN], [0, 0], 4), /cannot share/);
    const badOrder = {
      ...crop,
      jitter: { order: [0, 0, 1, 2], brightness: 1, contrast: 1, saturation: 1, hue: 0 },
    };
    await assertRejects(() => renderViews(gpu, [img], [badOrder], [0], 4), /permutation/);
  },
);

Deno.test(
  "applyAugmentParams() split into runs under a small binding limit equals one run (12 px views: unaligned offsets)",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    const pick = ["astronaut_big", "chelsea", "odd", "astronaut", "strip"];
    const images = pick.map((k) => fx.inputs.get(k)!);
    const rng = testRng("augment chunks");
    for (const policy of ["default", "dorsal"] as const) {
      const q = images.map((im) => drawAugmentParams(policy, rng, im.width, im.height));
      const k = images.map((im) => drawAugmentParams(policy, rng, im.width, im.height));
      const one = applyAugmentParams(gpu, images, q, k, 12);
      // 64x48 RGB packed = 12288 bytes, 2·(64·48·4) = 24576 for dorsal: runs of one or two images.
      const split = applyAugmentParams(gpu, images, q, k, 12, { bindingLimit: 26000 });
      const [a, b, c, d] = await gpu.recorder.read([one.q, one.k, split.q, split.k]);
      assertArrayEqual(c, a, `${policy} q${seedNote()}`);
      assertArrayEqual(d, b, `${policy} k${seedNote()}`);
      for (const t of [one.q, one.k, split.q, split.k]) t.release();
    }
    const big = [fx.inputs.get("astronaut_big")!];
    const p = [drawAugmentParams("default", rng, 64, 48)];
    await assertRejects(
      () =>
        Promise.resolve().then(() =>
          applyAugmentParams(gpu, big, p, p, 12, { bindingLimit: 4096 })
        ),
      /storage binding limit/,
    );
  },
);

Deno.test(
  "policies handle a 1x1 image and a 60x3 strip (RRC fallback, upsampling) like the composed single ops",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const fx = await colorFixture();
    const images = [fx.inputs.get("tiny")!, fx.inputs.get("strip")!];
    const rng = testRng("edge images");
    for (const policy of ["default", "ventral", "dorsal"] as const) {
      const views = [0, 1, 0, 1].map((s) =>
        drawAugmentParams(policy, rng, images[s].width, images[s].height)
      );
      const got = await renderViews(gpu, images, views, [0, 1, 0, 1], 8);
      for (let v = 0; v < 4; v++) {
        const want = await composeSingleOps(gpu, images[v % 2], views[v], 8);
        const d = byteDiff(got[v], want);
        assert(d.max === 0, `${policy} view ${v} ${JSON.stringify(views[v])}${seedNote()}`);
      }
    }
  },
);

Deno.test(
  "renderViews() crop + resize equals the Pillow-exact CPU resize on random boxes and sizes",
  GPU_TEST,
  async () => {
    const gpu = await testGpu();
    const rng = testRng("random resize");
    const img = createImage(97, 71);
    for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
    for (let rep = 0; rep < 3; rep++) {
      const size = 1 + rng.int(60);
      const views = Array.from({ length: 12 }, (): ViewParams => {
        const width = 1 + rng.int(97);
        const height = 1 + rng.int(71);
        const crop = {
          top: rng.int(71 - height + 1),
          left: rng.int(97 - width + 1),
          height,
          width,
        };
        return { ...PLAIN, crop, flip: rng.uniform() < 0.5 };
      });
      const got = await renderViews(gpu, [img], views, views.map(() => 0), size);
      views.forEach((v, i) => {
        const c = v.crop!;
        let want = resize(
          cropBox(img, c.left, c.top, c.left + c.width, c.top + c.height),
          size,
          size,
        );
        if (v.flip) want = hflip(want);
        const d = byteDiff(got[i], want);
        assert(
          d.max === 0,
          `box ${JSON.stringify(c)} → ${size}: ${d.count} bytes differ${seedNote()}`,
        );
      });
    }
  },
);
