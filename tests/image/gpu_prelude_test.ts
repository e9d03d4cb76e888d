import { kernelKey } from "../../src/gpu/kernel.ts";
import { IMAGE_PRELUDE } from "../../src/image/gpu/prelude.ts";
import { assert } from "../util/assert.ts";

Deno.test("kernelKey() names the prelude, so a kernel with and without it are cached apart", () => {
  const spec = { file: "image_resize.wgsl", source: "", entryPoint: "resize_h" };
  const plain = kernelKey(spec);
  const withPrelude = kernelKey({ ...spec, prelude: IMAGE_PRELUDE });
  assert(plain !== withPrelude, withPrelude);
  assert(withPrelude.startsWith("prelude_image.wgsl+image_resize.wgsl#"), withPrelude);
});

Deno.test("pack / unpack / clip8 are declared only in kernels/prelude_image.wgsl", async () => {
  const dir = new URL("../../kernels/", import.meta.url);
  const owners: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".wgsl")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    if (/\bfn (pack|unpack|clip8)\s*\(/.test(text)) owners.push(entry.name);
  }
  assert(owners.length === 1 && owners[0] === "prelude_image.wgsl", `declared in ${owners}`);
});
