import { loadImage } from "../src/image/decode.ts";
import { drawAugmentParams, renderViews, type ViewParams } from "../src/transforms/augment.ts";
import { imageSeed } from "../src/train/seeds.ts";
import { Rng } from "../src/util/rng.ts";
import { testGpu } from "../tests/util/gpu.ts";
const files = (await Deno.readTextFile("/work/exp/v10/view_files.txt")).trim().split("\n");
const gpu = await testGpu();
const params: ViewParams[] = [];
const bytes: number[] = [];
for (let b = 0; b < files.length; b += 50) {
  const imgs = await Promise.all(files.slice(b, b + 50).map(loadImage));
  const views: ViewParams[] = [];
  const sources: number[] = [];
  imgs.forEach((img, i) => {
    const rng = new Rng(imageSeed(9, 3, b + i));
    for (let v = 0; v < 2; v++) {
      views.push(drawAugmentParams("default", rng, img.width, img.height));
      sources.push(i);
    }
  });
  const out = await renderViews(gpu, imgs, views, sources, 32);
  for (const o of out) bytes.push(...o.data);
  params.push(...views);
}
await Deno.writeTextFile("/work/exp/v10/view_params.json", JSON.stringify(params));
await Deno.writeFile("/work/exp/v10/views_ours.bin", new Uint8Array(bytes));
console.log(params.length, bytes.length);
