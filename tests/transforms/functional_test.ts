import { centerCrop } from "../../src/image/crop.ts";
import { imagesEqual, type RgbImage } from "../../src/image/image.ts";
import { resizeShortSide } from "../../src/image/resize.ts";
import { equalize, invert, posterize, toGrayscale } from "../../src/transforms/color.ts";
import { syntheticViews } from "../../src/transforms/functional.ts";
import {
  defaultK,
  SYNTHETIC_FAMILIES,
  type SyntheticFamily,
  syntheticGrid,
} from "../../src/transforms/synthetic_grid.ts";
import { assert, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { seedNote, testRng } from "../util/seed.ts";
import {
  differingPixels,
  expectedImage,
  fixtureInput,
  geometryFixtures,
} from "./geometry_fixtures.ts";

// rotate/affine views may differ from torchvision only where a JS-vs-libm last-ulp difference in
// cos/sin/tan flips a 16.16 fixed-point coefficient (see geometry_test.ts): ≥ 99.5 % identical.
// Flips and resized_crop are uint8-exact.
const EXACT = new Set(["h_flip", "v_flip", "resized_crop"]);

Deno.test({
  name:
    "syntheticViews() equals torchvision's op → Resize(r) → CenterCrop(c), faithful and intended",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const { index } = await geometryFixtures();
    const { resize, cropSize } = index;
    const src = await fixtureInput("photo_50x37");
    const families = [...new Set(index.views.map((v) => v.family))] as SyntheticFamily[];
    let checked = 0;
    for (const family of families) {
      const k = family === "h_flip" || family === "v_flip" ? 2 : 256;
      const grid = syntheticGrid(family, k, { resize, cropSize });
      for (const faithful of [true, false]) {
        // Families without a §9 fix are the same in both modes; their fixtures say intended=false.
        const cases = index.views.filter((v) =>
          v.family === family &&
          (v.intended === !faithful ||
            (!["translation", "scale", "resized_crop"].includes(family) && !v.intended))
        );
        const views = await syntheticViews(gpu, src, family, cases.map((c) => grid[c.index]), {
          resize,
          cropSize,
          faithful,
        });
        for (let i = 0; i < cases.length; i++) {
          const c = cases[i];
          assert(
            JSON.stringify(grid[c.index]) === JSON.stringify(c.params),
            `${family}[${c.index}] params`,
          );
          const expected = await expectedImage(c);
          assert(views[i].width === cropSize && views[i].height === cropSize, "view size");
          const diff = differingPixels(views[i], expected);
          const allowed = EXACT.has(family) ? 0 : 0.005 * cropSize * cropSize;
          assert(
            diff <= allowed,
            `${family}[${c.index}] faithful=${faithful}: ${diff} pixels differ`,
          );
          checked++;
        }
      }
    }
    assert(checked >= 30, `only ${checked} views checked`);
  },
});

Deno.test({
  name: "syntheticViews() serves all 18 families: c×c views, identity flags equal the clean view",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const src = await fixtureInput("photo_50x37");
    const opts = { resize: 40, cropSize: 32 };
    const clean = centerCrop(resizeShortSide(src, 40), 32);
    const rng = testRng("functional families");
    for (const family of SYNTHETIC_FAMILIES) {
      const grid = syntheticGrid(family, defaultK(family), opts);
      // A few views per family keep the software adapter quick; flags keep both.
      const picks = grid.length <= 7
        ? grid
        : [grid[0], grid[rng.int(grid.length)], grid[grid.length - 1]];
      const views = await syntheticViews(gpu, src, family, picks, opts);
      assert(views.length === picks.length, `${family}: ${views.length} views`);
      for (let i = 0; i < views.length; i++) {
        assert(views[i].width === 32 && views[i].height === 32, `${family}[${i}] is 32x32`);
        if (picks[i].aug === false) {
          assert(imagesEqual(views[i], clean), `${family}: aug=false must be the clean view`);
        }
      }
      if (grid[0].aug !== undefined) {
        assert(!imagesEqual(views[1], clean), `${family}: aug=true must change the view`);
      }
    }
  },
});

Deno.test({
  name: "syntheticViews() GPU resize + crop gives the same bytes as the CPU reference path",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const src = await fixtureInput("photo_50x37");
    const rng = testRng("functional gpu resize");
    const families: SyntheticFamily[] = [
      "rotation",
      "translation",
      "scale",
      "shear",
      "brightness",
      "contrast",
      "saturation",
      "sharpness",
      "hue",
      "blur",
    ];
    // Downscale + crop; a crop larger than the resized image (zero padding); and chunks of one
    // view (each read back on its own), which must not change the views or their order.
    for (
      const sizes of [
        { resize: 29, cropSize: 23 },
        { resize: 20, cropSize: 24 },
        { resize: 64, cropSize: 60, chunkBytes: 1 },
      ]
    ) {
      for (const family of families) {
        const grid = syntheticGrid(family, defaultK(family), sizes);
        const picks = [grid[0], grid[rng.int(grid.length)], grid[rng.int(grid.length)]];
        for (const faithful of [false, true]) {
          const opts = { ...sizes, faithful };
          const gpuViews = await syntheticViews(gpu, src, family, picks, opts);
          const cpuViews = await syntheticViews(gpu, src, family, picks, {
            ...opts,
            cpuResize: true,
          });
          assert(gpuViews.length === picks.length, `${family}: ${gpuViews.length} views`);
          for (let i = 0; i < picks.length; i++) {
            assert(
              imagesEqual(gpuViews[i], cpuViews[i]),
              `${family} ${JSON.stringify(picks[i])} ${JSON.stringify(opts)}: GPU and CPU ` +
                `resize differ ${seedNote()}`,
            );
          }
        }
      }
    }
  },
});

Deno.test({
  name: "syntheticViews() CPU families equal the color ops composed with Resize + CenterCrop",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const src = await fixtureInput("photo_50x37");
    const opts = { resize: 40, cropSize: 32 };
    const finish = (img: RgbImage) => centerCrop(resizeShortSide(img, 40), 32);
    const cases: [SyntheticFamily, (img: RgbImage) => RgbImage][] = [
      ["grayscale", toGrayscale],
      ["invert", invert],
      ["equalize", equalize],
    ];
    for (const [family, op] of cases) {
      const [, on] = await syntheticViews(gpu, src, family, syntheticGrid(family, 2), opts);
      assert(imagesEqual(on, finish(op(src))), `${family}`);
    }
    const bits = await syntheticViews(gpu, src, "posterize", syntheticGrid("posterize", 7), opts);
    bits.forEach((v, i) => assert(imagesEqual(v, finish(posterize(src, i + 1))), `bits ${i + 1}`));
  },
});

Deno.test({
  name: "syntheticViews() deform is seeded through ViewOptions and switches model with faithful",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const src = await fixtureInput("photo_50x37");
    const params = syntheticGrid("deform", 256).filter((_, i) => i % 97 === 0);
    const opts = { resize: 40, cropSize: 32 };
    const a = await syntheticViews(gpu, src, "deform", params, { ...opts, seed: 1 });
    const b = await syntheticViews(gpu, src, "deform", params, { ...opts, seed: 1 });
    const c = await syntheticViews(gpu, src, "deform", params, { ...opts, seed: 2 });
    const f = await syntheticViews(gpu, src, "deform", params, {
      ...opts,
      seed: 1,
      faithful: true,
    });
    for (let i = 0; i < params.length; i++) {
      assert(imagesEqual(a[i], b[i]), `view ${i}: same seed`);
      assert(!imagesEqual(a[i], c[i]), `view ${i}: other seed`);
      assert(!imagesEqual(a[i], f[i]), `view ${i}: faithful model differs`);
    }
  },
});

Deno.test({
  name: "syntheticViews() rejects bad sizes and parameter sets, naming the option or key",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const src = await fixtureInput("photo_27x19");
    await assertRejects(
      () => syntheticViews(gpu, src, "rotation", [{ angle: 1 }], { resize: 0 }),
      /^resize: must be a positive integer/,
    );
    await assertRejects(
      () => syntheticViews(gpu, src, "rotation", [{ sigma: 1 }]),
      /rotation view 0: parameter 'angle'/,
    );
    await assertRejects(
      () =>
        syntheticViews(gpu, src, "translation", [{ translate: [1], angle: 0, scale: 1, shear: 0 }]),
      /translation view 0: parameter 'translate' must be a pair/,
    );
    await assertRejects(
      () => syntheticViews(gpu, src, "h_flip", [{ aug: 1 }]),
      /'aug' must be true or false/,
    );
    assert((await syntheticViews(gpu, src, "hue", [])).length === 0, "no params, no views");
  },
});
