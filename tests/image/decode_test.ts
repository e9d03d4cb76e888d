import { decodeImage, loadImage, sniffFormat } from "../../src/image/decode.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertRejects } from "../util/assert.ts";
import {
  assertImageEqual,
  type DecodeCase,
  fixtureBytes,
  fixtures,
  IMAGE_FIXTURES,
} from "./fixtures.ts";

function cases(pattern: RegExp): DecodeCase[] {
  const list = fixtures().decode.filter((c) => pattern.test(c.file) && c.exact);
  assert(list.length > 0, `no fixtures match ${pattern}`);
  return list;
}

async function checkAll(list: DecodeCase[]): Promise<void> {
  const failures: string[] = [];
  for (const c of list) {
    try {
      const img = await loadImage(IMAGE_FIXTURES + c.file);
      await assertImageEqual(img, c, `${c.file} (Pillow mode ${c.pillowMode})`);
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  assert(failures.length === 0, `\n${failures.join("\n")}`);
}

Deno.test("loadImage() equals Pillow's convert('RGB') on PNG: RGB, RGBA, LA, L, 1-bit, palette, tRNS, 16-bit, ICC", async () => {
  await checkAll(cases(/\.png$/));
});

// sharp 0.35.5 bundles libvips 8.18 with mozjpeg (libjpeg-turbo's decoder); Debian's Pillow uses
// libjpeg-turbo 2.1.5. Both use the accurate integer IDCT and "fancy" (triangle) chroma
// upsampling by default, so the decoded bytes are identical: the difference is asserted to be 0.
Deno.test("loadImage() equals Pillow on JPEG: 4:2:0, 4:2:2, 4:4:4, progressive, grey, CMYK (with / without Adobe marker), EXIF, ICC, libjpeg warning (max |diff| 0)", async () => {
  await checkAll(cases(/\.jpg$/));
});

Deno.test("loadImage() equals Pillow on WebP (lossy and lossless), TIFF (raw, LZW, RGBA, L, CMYK, 16-bit) and GIF", async () => {
  await checkAll(cases(/\.(webp|tif|gif)$/));
});

Deno.test("loadImage() equals Pillow on BMP: 1/4/8-bit palettes, 16/24/32-bit, bitfields, top-down, OS/2, RLE8, RLE4", async () => {
  await checkAll(cases(/\.bmp$/));
});

Deno.test("loadImage() equals Pillow on Netpbm: P1-P6, maxval 1..65535, comments, odd PBM rows", async () => {
  await checkAll(cases(/\.(ppm|pgm|pbm)$/));
});

// libvips returns transparent GIF pixels as 0; Pillow's frame 0 is mode P and convert("RGB") gives
// the palette colour of the transparent index. Everything else is identical.
Deno.test("loadImage() on a GIF with transparency differs from Pillow only at transparent pixels (0 here)", async () => {
  const c = fixtures().decode.find((d) => d.file === "photo_trns.gif")!;
  const img = await loadImage(IMAGE_FIXTURES + c.file);
  const ref = fixtureBytes(c.expected!);
  const mask = fixtureBytes(c.transparentMask!);
  assert(img.width === c.width && img.height === c.height, "size");
  let transparent = 0;
  for (let p = 0; p < mask.length; p++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = img.data[3 * p + ch];
      if (mask[p]) assert(v === 0, `transparent pixel ${p} channel ${ch} is ${v}, expected 0`);
      else {assert(
          v === ref[3 * p + ch],
          `opaque pixel ${p} channel ${ch}: ${v} vs Pillow ${ref[3 * p + ch]}`,
        );}
    }
    transparent += mask[p];
  }
  assert(transparent === c.transparentPixels && transparent > 0, "transparent pixel count");
});

Deno.test("loadImage() decodes the pipeline photos exactly as Pillow (SHA-256)", async () => {
  await checkAll(fixtures().decode.filter((c) => c.expected === undefined));
});

Deno.test("loadImage() rejects broken files with a DataError naming the file", async () => {
  const bad = fixtures().bad;
  assert(bad.length >= 10, "bad-file fixtures");
  for (const b of bad) {
    const path = IMAGE_FIXTURES + b.file;
    const error = await assertRejects(() => loadImage(path), /./, b.file);
    assert(error instanceof DataError, `${b.file} (${b.why}): ${error.name}: ${error.message}`);
    assert(
      error.message.includes(path),
      `${b.file}: message does not name the file: ${error.message}`,
    );
  }
  const missing = IMAGE_FIXTURES + "no_such_file.jpg";
  const error = await assertRejects(() => loadImage(missing), /no_such_file\.jpg/, "missing");
  assert(error instanceof DataError, "missing file is a DataError");
});

Deno.test("decodeImage() dispatches on the magic bytes, not the file name", async () => {
  const png = fixtureBytes("photo.png");
  const bmp = fixtureBytes("photo.bmp");
  const ppm = fixtureBytes("photo.ppm");
  assert(
    sniffFormat(png) === "png" && sniffFormat(bmp) === "bmp" && sniffFormat(ppm) === "netpbm",
    "sniff",
  );
  assert(sniffFormat(fixtureBytes("photo.jpg")) === "jpeg", "jpeg");
  assert(sniffFormat(fixtureBytes("photo_lossy.webp")) === "webp", "webp");
  assert(sniffFormat(fixtureBytes("photo.tif")) === "tiff", "tiff");
  assert(sniffFormat(fixtureBytes("photo.gif")) === "gif", "gif");
  assert(sniffFormat(new TextEncoder().encode("P7\n")) === undefined, "PAM");
  const expected = fixtures().decode.find((c) => c.file === "photo.png")!;
  await assertImageEqual(await decodeImage(png, "really_a_png.jpg"), expected, "png named .jpg");
  await assertImageEqual(await decodeImage(bmp, "really_a_bmp.png"), expected, "bmp named .png");
  await assertImageEqual(await decodeImage(ppm, "really_a_ppm.tif"), expected, "ppm named .tif");
  const error = await assertRejects(
    () => decodeImage(new TextEncoder().encode("GIF89a junk"), "mem.gif"),
    /mem\.gif/,
    "corrupt GIF",
  );
  assert(error instanceof DataError, "corrupt in-memory data is a DataError");
});
