/**
 * Per-image view seeds: an image's two views do not depend on which other images share its
 * batch, so a data-parallel rank renders exactly the views one process renders for those rows.
 */
import type { Tensor } from "../../src/gpu/tensor.ts";
import { createImage } from "../../src/image/image.ts";
import { imageSeed } from "../../src/train/seeds.ts";
import { augmentPerImage } from "../../src/train/two_views.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

Deno.test({
  name: "augmentPerImage() renders a batch slice exactly as the same rows of the whole batch",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("two-views");
    const seed = rng.nextUint32();
    const images = Array.from({ length: 6 }, () => {
      const img = createImage(20 + rng.int(12), 20 + rng.int(12));
      for (let i = 0; i < img.data.length; i++) img.data[i] = rng.int(256);
      return img;
    });
    const rngsFor = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => new Rng(imageSeed(seed, 3, from + i)));
    poisonPool(gpu, [6 * 16 * 16 * 3, 2 * 16 * 16 * 3]);
    const whole = await augmentPerImage(gpu, images, "default", rngsFor(0, 6), { size: 16 });
    const part = await augmentPerImage(gpu, images.slice(4), "default", rngsFor(4, 6), {
      size: 16,
    });
    const [wq, wk, pq, pk] = await gpu.recorder.read([whole.q, whole.k, part.q, part.k]);
    const row = 16 * 16 * 3;
    assertArrayEqual(pq, wq.slice(4 * row), "query views of rows 4–5");
    assertArrayEqual(pk, wk.slice(4 * row), "key views of rows 4–5");
    assert(wq.slice(0, row).join() !== wk.slice(0, row).join(), "query and key views differ");
    for (const t of [whole.q, whole.k, part.q, part.k] as Tensor[]) t.release();
    await assertRejects(
      () => augmentPerImage(gpu, images, "default", rngsFor(0, 2), { size: 16 }),
      /2 generators for 6 images/,
    );
  },
});
