/**
 * Miniature dataset trees for the loader tests: real file and folder names, tiny PNG contents
 * (a few pixels, colour derived from the path so files differ), written into temp folders.
 * The PNG encoder is local (zlib + CRC-32) so building a tree needs neither sharp nor Python.
 * Every image is a PNG whatever its extension: the decoder sniffs the format from the bytes.
 *
 * @module
 */
import { deflateSync } from "node:zlib";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** An 8-bit RGB PNG of `width`×`height` pixels from HWC `rgb` bytes. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type RGB, deflate, filter 0, no interlace
  const raw = new Uint8Array(height * (1 + 3 * width));
  for (let y = 0; y < height; y++) {
    raw.set(rgb.subarray(y * 3 * width, (y + 1) * 3 * width), y * (1 + 3 * width) + 1);
  }
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The colour a tree file gets: a hash of its relative path, so every file's pixels differ. */
export function colourOf(rel: string): [number, number, number] {
  let h = 0x811c9dc5;
  for (let i = 0; i < rel.length; i++) h = Math.imul(h ^ rel.charCodeAt(i), 0x01000193) >>> 0;
  return [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff];
}

/** A 3×2 PNG filled with {@link colourOf}(`rel`). */
export function tinyPng(rel: string): Uint8Array {
  const [r, g, b] = colourOf(rel);
  const rgb = new Uint8Array(3 * 2 * 3);
  for (let i = 0; i < 6; i++) rgb.set([r, g, b], 3 * i);
  return encodePng(3, 2, rgb);
}

/** Writes a tiny PNG at `<root>/<rel>` for each relative path (folders created as needed). */
export async function writeImages(root: string, rels: readonly string[]): Promise<void> {
  for (const rel of rels) {
    const path = `${root}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, tinyPng(rel));
  }
}

/** Runs `fn` with a fresh temp folder (optionally with `suffix` in its name), then removes it. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  suffix?: string,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ssl-tree-", suffix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `<from>…<to>` inclusive. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** COIL100: `COIL100/obj<N>__<angle>.png`. */
export function coil100Files(objects: readonly number[], angles: readonly number[]): string[] {
  return objects.flatMap((o) => angles.map((a) => `COIL100/obj${o}__${a}.png`));
}

/** ALOI-VIEW: `ALOI/viewpoint/<obj>/<obj>_r<angle>.png`. */
export function aloiViewFiles(objects: readonly number[], angles: readonly number[]): string[] {
  return objects.flatMap((o) => angles.map((a) => `ALOI/viewpoint/${o}/${o}_r${a}.png`));
}

/** ALOI-ILL: `ALOI/illumination/<obj>/<obj>_l<light>c<camera>.png`. */
export function aloiIllFiles(
  objects: readonly number[],
  lights: readonly number[],
  cameras: readonly number[],
): string[] {
  return objects.flatMap((o) =>
    lights.flatMap((l) => cameras.map((c) => `ALOI/illumination/${o}/${o}_l${l}c${c}.png`))
  );
}

/** ALOI-COL: `ALOI/temperature/<obj>/<obj>_i<temp>.png`. */
export function aloiColFiles(objects: readonly number[], temps: readonly number[]): string[] {
  return objects.flatMap((o) => temps.map((t) => `ALOI/temperature/${o}/${o}_i${t}.png`));
}

/** The 12 ALOI-COL colour temperatures (the world generator renders the same set). */
export { ALOI_TEMPERATURES } from "../../src/world/world.ts";

/** One ALOT texture's 100 images: 4 cameras × lights 1–5, 8 × rotations 0/60/120/180 + 4 `i`. */
export function alotTextureFiles(t: number): string[] {
  const out: string[] = [];
  for (const c of [1, 2, 3, 4]) {
    for (const l of [1, 2, 3, 4, 5, 8]) {
      out.push(`ALOT/${t}/${t}_c${c}l${l}.png`);
      for (const r of [60, 120, 180]) out.push(`ALOT/${t}/${t}_c${c}l${l}r${r}.png`);
    }
    out.push(`ALOT/${t}/${t}_c${c}i.png`);
  }
  return out;
}

/** The five exposure renderings of one FiveK image. */
export const EXPOSURE_SUFFIXES: readonly string[] = ["N1.5", "N1", "0", "P1", "P1.5"];

/** ExposureErrors: `GT_IMAGES/<id>-<name>.jpg`, `INPUT_IMAGES/<id>-<name>_<ev>.JPG`. */
export function exposureFiles(scenes: readonly string[]): string[] {
  return scenes.flatMap((s) => [
    `ExposureErrors/GT_IMAGES/${s}.jpg`,
    ...EXPOSURE_SUFFIXES.map((e) => `ExposureErrors/INPUT_IMAGES/${s}_${e}.JPG`),
  ]);
}

/** DaLI: `DaLI/input/png/<scene>/<image>.png`. */
export function daliFiles(scenes: readonly number[], perScene: number): string[] {
  return scenes.flatMap((s) =>
    range(1, perScene).map((k) => `DaLI/input/png/${s}/img_${String(k).padStart(2, "0")}.png`)
  );
}

/** Flickr1024: `Flickr1024/<split>/<nnnn>_L.png` and `_R.png`. */
export function flickrFiles(split: string, ids: readonly number[]): string[] {
  return ids.flatMap((i) => {
    const stem = `Flickr1024/${split}/${String(i).padStart(4, "0")}`;
    return [`${stem}_L.png`, `${stem}_R.png`];
  });
}

/** The RealBlur-J folder the original reads. */
export const REAL_BLUR_REF = "RealBlur/RealBlur-J_ECC_IMCORR_centroid_itensity_ref";

/** RealBlur: `<ref>/<scene>/gt/gt_<n>.png` and `<ref>/<scene>/blur/blur_<n>.png`. */
export function realBlurFiles(scenes: readonly string[], ns: readonly number[]): string[] {
  return scenes.flatMap((s) =>
    ns.flatMap((
      n,
    ) => [`${REAL_BLUR_REF}/${s}/gt/gt_${n}.png`, `${REAL_BLUR_REF}/${s}/blur/blur_${n}.png`])
  );
}

/** Group members as paths relative to `base`, for comparing with hand-written expectations. */
export function relativeGroups(
  groups: readonly { paths: readonly string[] }[],
  base: string,
): string[][] {
  return groups.map((g) =>
    g.paths.map((p) => (p.startsWith(`${base}/`) ? p.slice(base.length + 1) : p))
  );
}

/** Throws with both sides printed when `actual` and `expected` differ (deep, order-sensitive). */
export function assertSame(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}:\n  actual   ${a}\n  expected ${e}`);
}
