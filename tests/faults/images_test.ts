/**
 * Fault suite: hostile images. Decompression bombs by header (RLE BMP, PNG, GIF, Netpbm), headers
 * whose sizes overflow, garbage after every signature, seeded byte flips of real files; each must
 * be a one-line DataError (or decode), refused before allocating, and skippable with
 * `onBadImage: "skip"` (`--on-bad-image skip`). Pillow's warn/error split is checked with a lowered limit.
 *
 * @module
 */
import { join } from "node:path";
import { BadImageLog, decodeOrSkip } from "../../src/data/bad_images.ts";
import { decodeImage } from "../../src/image/decode.ts";
import { PILLOW_MAX_IMAGE_PIXELS } from "../../src/image/limits.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert } from "../util/assert.ts";
import { ROOT, Tally } from "./harness.ts";
import { bmp, gifHeader, mutate, netpbm, pngHeader, rleBomb, xorshift } from "./hostile.ts";

interface HostileImage {
  name: string;
  bytes: Uint8Array;
  /** What the refusal says; undefined: decoding is acceptable too. */
  message: RegExp | undefined;
}

const BOMB = /exceeds limit of \d+ pixels, could be decompression bomb/;

function hostileImages(): HostileImage[] {
  const out: HostileImage[] = [
    { name: "rle8-30000x30000.bmp", bytes: rleBomb(30000, 30000), message: BOMB },
    {
      name: "rle4-65535x65535.bmp",
      bytes: bmp(65535, 65535, 4, 2, Uint8Array.of(0, 1)),
      message: BOMB,
    },
    {
      name: "bmp24-20000x20000.bmp",
      bytes: bmp(20000, 20000, 24, 0, new Uint8Array(64)),
      message: BOMB,
    },
    {
      name: "bmp-2^31-1-wide.bmp",
      bytes: bmp(0x7fffffff, 1, 24, 0, new Uint8Array(16)),
      message: BOMB,
    },
    {
      name: "bmp-topdown-huge.bmp",
      bytes: bmp(100000, -100000, 24, 0, new Uint8Array(16)),
      message: BOMB,
    },
    {
      name: "bmp-zero-width.bmp",
      bytes: bmp(0, 10, 24, 0, new Uint8Array(16)),
      message: /bad size/,
    },
    {
      name: "bmp-truncated-data.bmp",
      bytes: bmp(100, 100, 24, 0, new Uint8Array(16)),
      message: /truncated/,
    },
    { name: "bmp-bits-7.bmp", bytes: bmp(10, 10, 7, 0, new Uint8Array(400)), message: /depth/ },
    {
      name: "bmp-header-only.bmp",
      bytes: Uint8Array.of(0x42, 0x4d, 1, 2, 3),
      message: /truncated/,
    },
    {
      name: "ppm-9999999999.ppm",
      bytes: netpbm("P6\n9999999999 9999999999\n255\n"),
      message: BOMB,
    },
    {
      name: "pgm-65535x65535.pgm",
      bytes: netpbm("P5 65535 65535 65535\n", new Uint8Array(8)),
      message: BOMB,
    },
    { name: "pbm-plain-huge.pbm", bytes: netpbm("P1 99999 99999\n0 1 0\n"), message: BOMB },
    { name: "pbm-raw-huge.pbm", bytes: netpbm("P4 4000000000 3\n"), message: BOMB },
    { name: "ppm-plain-huge.ppm", bytes: netpbm("P3 20000 20000 255\n1 2 3\n"), message: BOMB },
    { name: "ppm-negative.ppm", bytes: netpbm("P6 -3 4 255\n"), message: /bad size/ },
    {
      name: "ppm-token-overflow.ppm",
      bytes: netpbm("P6 99999999999 1 255\n"),
      message: /too long/,
    },
    { name: "ppm-maxval-0.ppm", bytes: netpbm("P6 2 2 0\n"), message: /maxval/ },
    { name: "ppm-maxval-huge.ppm", bytes: netpbm("P6 2 2 9999999\n"), message: /maxval/ },
    {
      name: "ppm-truncated.ppm",
      bytes: netpbm("P6 300 300 255\n", new Uint8Array(10)),
      message: /truncated/,
    },
    { name: "ppm-header-eof.ppm", bytes: netpbm("P6 3"), message: /end of the file/ },
    { name: "png-100000x100000.png", bytes: pngHeader(100000, 100000), message: BOMB },
    { name: "png-2^31-1.png", bytes: pngHeader(0x7fffffff, 0x7fffffff), message: /./ },
    { name: "png-0x0.png", bytes: pngHeader(0, 0), message: /./ },
    { name: "gif-65535x65535.gif", bytes: gifHeader(65535, 65535), message: /./ },
    // libvips reads a 0×0 GIF screen as 1×1: decoding is fine too.
    { name: "gif-0x0.gif", bytes: gifHeader(0, 0), message: undefined },
  ];
  // Garbage after every signature the sniffer knows.
  const signatures: [string, number[]][] = [
    ["jpg", [0xff, 0xd8, 0xff]],
    ["png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
    ["gif", [0x47, 0x49, 0x46, 0x38]],
    ["webp", [0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50]],
    ["tif", [0x49, 0x49, 0x2a, 0x00]],
    ["tiff-be", [0x4d, 0x4d, 0x00, 0x2a]],
    ["bmp", [0x42, 0x4d]],
    ["ppm", [0x50, 0x36, 0x0a]],
    ["pbm", [0x50, 0x31, 0x20]],
  ];
  const next = xorshift(1234);
  for (const [ext, sig] of signatures) {
    for (const len of [0, 7, 300]) {
      const bytes = new Uint8Array(sig.length + len);
      bytes.set(sig);
      for (let i = sig.length; i < bytes.length; i++) bytes[i] = next() & 0xff;
      out.push({ name: `garbage-${len}.${ext}`, bytes, message: /./ });
    }
  }
  out.push({ name: "empty.png", bytes: new Uint8Array(0), message: /empty/ });
  out.push({
    name: "text.jpg",
    bytes: new TextEncoder().encode("not an image"),
    message: /not a supported image/,
  });
  return out;
}

/** Why decoding did not end in a one-line DataError naming the file (or a decoded image). */
async function outcome(
  name: string,
  bytes: Uint8Array,
  message: RegExp | undefined,
): Promise<string | undefined> {
  const t0 = performance.now();
  try {
    const img = await decodeImage(bytes, name);
    if (message !== undefined) return `decoded ${img.width}x${img.height} instead of refusing`;
    return undefined;
  } catch (error) {
    const m = (error as Error).message;
    if (!(error instanceof DataError)) return `${(error as Error).name}: ${m}`;
    if (!m.startsWith(`${name}: `) || m.includes("\n")) return `message ${JSON.stringify(m)}`;
    if (message !== undefined && !message.test(m)) return `message ${JSON.stringify(m)}`;
    // Refused from the header: no time spent decoding pixels.
    if (performance.now() - t0 > 5000) return "took more than 5 s";
    return undefined;
  }
}

Deno.test("faults: hostile images (bombs, overflowing headers, garbage) are one-line DataErrors", async () => {
  const tally = new Tally("images (crafted)");
  for (const h of hostileImages()) tally.add(h.name, await outcome(h.name, h.bytes, h.message));
  await tally.finish();
});

Deno.test("faults: seeded byte flips of real images decode or fail with a DataError", async () => {
  const dir = join(ROOT, "tests/fixtures/images");
  const files = ["astronaut_256x270.jpg", "bad_truncated.png", "bad_truncated.bmp"];
  const tally = new Tally("images (fuzz)");
  const extra: [string, Uint8Array][] = [
    ["p6.ppm", netpbm("P6 8 8 255\n", new Uint8Array(192).fill(7))],
    ["p5-16.pgm", netpbm("P5 8 8 65535\n", new Uint8Array(128).fill(9))],
    ["p3.ppm", netpbm("P3 2 2 255\n" + "1 2 3 ".repeat(4))],
    ["rle8.bmp", bmp(8, 8, 8, 1, Uint8Array.of(8, 1, 0, 0, 8, 2, 0, 0, 0, 1))],
    ["bmp24.bmp", bmp(8, 8, 24, 0, new Uint8Array(8 * 24).fill(100))],
  ];
  const inputs: [string, Uint8Array][] = [
    ...await Promise.all(
      files.map(async (f) => [f, await Deno.readFile(join(dir, f))] as [string, Uint8Array]),
    ),
    ...extra,
  ];
  for (const [label, bytes] of inputs) {
    for (let i = 0; i < 24; i++) {
      const name = `${label}#${i}`;
      tally.add(name, await outcome(name, mutate(bytes, 77, i), undefined));
    }
  }
  await tally.finish();
});

Deno.test("faults: Pillow's warn/error split (lowered limit), and --on-bad-image skip skips every decoder failure", async () => {
  const tally = new Tally("images (limit and skip policy)");
  assert(PILLOW_MAX_IMAGE_PIXELS === 89478485, "Pillow's MAX_IMAGE_PIXELS");
  const tmp = await Deno.makeTempDir({ prefix: "faults-img-" });
  const old = Deno.env.get("SSL_MAX_IMAGE_PIXELS");
  const warnings: string[] = [];
  const consoleError = console.error;
  console.error = (...a: unknown[]) => warnings.push(a.join(" "));
  try {
    Deno.env.set("SSL_MAX_IMAGE_PIXELS", "1000");
    // 1200 pixels: above the limit, below twice it: decoded with one warning.
    const warn = bmp(40, 30, 24, 0, new Uint8Array(40 * 30 * 3 + 30 * 0));
    const img = await decodeImage(warn, "warn.bmp").catch((e) => e as Error);
    tally.add(
      "1200 px at limit 1000 decodes with a warning",
      img instanceof Error ? img.message : warnings.length === 1 &&
          /warning: warn\.bmp: .*DecompressionBombWarning/.test(warnings[0])
        ? undefined
        : `warnings: ${warnings.join(" | ")}`,
    );
    // 2500 pixels: above twice the limit: refused.
    tally.add(
      "2500 px at limit 1000 is refused",
      await outcome("error.ppm", netpbm("P6 50 50 255\n", new Uint8Array(7500)), BOMB),
    );
    Deno.env.set("SSL_MAX_IMAGE_PIXELS", "none");
    tally.add(
      "limit none decodes it",
      await outcome("none.ppm", netpbm("P6 50 50 255\n", new Uint8Array(7500)), undefined),
    );
    if (old === undefined) Deno.env.delete("SSL_MAX_IMAGE_PIXELS");
    else Deno.env.set("SSL_MAX_IMAGE_PIXELS", old);
    // Every hostile image through the loaders' policy: skip records it, fail names it.
    const log = new BadImageLog();
    for (const h of hostileImages()) {
      const path = join(tmp, h.name);
      await Deno.writeFile(path, h.bytes);
      const skipped = await decodeOrSkip(path, "skip", log).then(
        (v) => (v === undefined ? undefined : "decoded"),
        (e) => `${(e as Error).name}: ${(e as Error).message}`,
      );
      const failed = await decodeOrSkip(path, "fail", new BadImageLog()).then(
        () => "decoded",
        (e) =>
          e instanceof DataError && /use onBadImage: "skip"/.test((e as Error).message) &&
            !(e as Error).message.includes("\n")
            ? undefined
            : `${(e as Error).name}: ${(e as Error).message}`,
      );
      if (h.message === undefined) continue;
      tally.add(`${h.name} (skip, fail)`, skipped ?? failed);
      await Deno.remove(path);
    }
    const refused = hostileImages().filter((h) => h.message !== undefined).length;
    assert(log.skipped.length >= refused, `every hostile image skipped (${log.skipped.length})`);
  } finally {
    console.error = consoleError;
    if (old === undefined) Deno.env.delete("SSL_MAX_IMAGE_PIXELS");
    else Deno.env.set("SSL_MAX_IMAGE_PIXELS", old);
    await Deno.remove(tmp, { recursive: true });
  }
  await tally.finish();
});
