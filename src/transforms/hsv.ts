/**
 * Pillow's 8-bit RGB ↔ HSV conversions (libImaging/Convert.c `rgb2hsv_row` / `hsv2rgb`, Pillow
 * 8–9) and torchvision's PIL `adjust_hue`, bit-exact on the CPU, plus the tables the GPU hue
 * kernel uses so that its RGB → HSV step is exact too.
 *
 * Convert.c mixes float and double arithmetic; each step below rounds where C does: `float`
 * variables and float·float products are `Math.fround`ed, expressions with a double literal
 * (`2.0 + rc − bc`, `h / 6.0 + 1.0`, `v * (1.0 − fs)`) stay in double. H, S and V are all
 * 0..255; H is `trunc(255 · fmod(h/6 + 1, 1))`.
 *
 * Checked once against torchvision 0.14 / Pillow 9.4 `adjust_hue` on all 2^24 colours for hue
 * 0, −0.5 and 0.37: identical bytes (the committed tests use 1600 colours and photos). The GPU
 * kernel (image_color.wgsl) gave the same bytes as this port on all 2^24 colours for hue 0,
 * −0.5, 0.1 and 0.37 on llvmpipe.
 *
 * @module
 */
import { createImage, type RgbImage } from "../image/image.ts";

const f32 = Math.fround;

function clip8(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : v;
}

/** Pillow's HSV hue byte of one RGB pixel (`Image.convert("HSV")`, band H). */
export function rgbToHue(r: number, g: number, b: number): number {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  if (maxc === minc) return 0;
  const cr = maxc - minc;
  const rc = f32((maxc - r) / cr);
  const gc = f32((maxc - g) / cr);
  const bc = f32((maxc - b) / cr);
  let h: number;
  if (r === maxc) h = f32(bc - gc);
  else if (g === maxc) h = f32(2.0 + rc - bc);
  else h = f32(4.0 + gc - rc);
  // fmod of a positive double: JS `%` is fmod.
  h = f32((h / 6.0 + 1.0) % 1.0);
  return clip8(Math.trunc(h * 255.0));
}

/** Pillow's HSV saturation byte for a pixel with max channel `maxc` and max − min `cr`. */
export function saturationByte(cr: number, maxc: number): number {
  if (cr === 0) return 0;
  return clip8(Math.trunc(f32(cr / maxc) * 255.0));
}

/** One pixel RGB → Pillow HSV, each 0..255. */
export function rgbToHsvPixel(r: number, g: number, b: number): [number, number, number] {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  return [rgbToHue(r, g, b), saturationByte(maxc - minc, maxc), maxc];
}

/** `floor(h · 6 / 255)` of Pillow's hsv2rgb (the sector, 0..6). */
export function hueSector(h: number): number {
  return Math.floor(h * 6.0 / 255.0);
}

/** The float `f = h·6/255 − i` of Pillow's hsv2rgb. */
export function hueFraction(h: number): number {
  return f32(h * 6.0 / 255.0 - hueSector(h));
}

/** The float `fs = s / 255` of Pillow's hsv2rgb. */
export function saturationFraction(s: number): number {
  return f32(s / 255.0);
}

/** One pixel Pillow HSV → RGB (C `round` = half away from zero; all values here are ≥ 0). */
export function hsvToRgbPixel(h: number, s: number, v: number): [number, number, number] {
  if (s === 0) return [v, v, v];
  const i = hueSector(h);
  const f = hueFraction(h);
  const fs = saturationFraction(s);
  const p = clip8(Math.round(v * (1.0 - fs)));
  const q = clip8(Math.round(v * (1.0 - f32(fs * f))));
  const t = clip8(Math.round(v * (1.0 - fs * (1.0 - f))));
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/**
 * The byte torchvision adds to H: `np.uint8(hue · 255)`. For negative values numpy's float →
 * uint8 cast wraps the truncated integer modulo 256 in practice (−127.5 → 129).
 */
export function hueShiftByte(hue: number): number {
  if (!Number.isFinite(hue)) throw new RangeError(`hue shift must be finite, got ${hue}`);
  return ((Math.trunc(hue * 255) % 256) + 256) % 256;
}

/**
 * torchvision `adjust_hue(img, hue)` on an RGB PIL image: RGB → HSV, H += uint8(hue·255)
 * (wrapping), HSV → RGB. `hue` must lie in [−0.5, 0.5] as torchvision requires.
 */
export function adjustHue(img: RgbImage, hue: number): RgbImage {
  if (!(hue >= -0.5 && hue <= 0.5)) {
    throw new RangeError(`hue factor must be in [-0.5, 0.5], got ${hue}`);
  }
  const shift = hueShiftByte(hue);
  const out = createImage(img.width, img.height);
  const s = img.data;
  const d = out.data;
  for (let i = 0; i < s.length; i += 3) {
    const [h, sat, v] = rgbToHsvPixel(s[i], s[i + 1], s[i + 2]);
    const [r, g, b] = hsvToRgbPixel((h + shift) & 255, sat, v);
    d[i] = r;
    d[i + 1] = g;
    d[i + 2] = b;
  }
  return out;
}

/** Entries of the hue table: 3 max-channel cases × 2 min-channel cases × 256 (max−min) × 256. */
export const HUE_TABLE_SIZE = 6 * 256 * 256;

/**
 * Pillow's hue byte tabulated for the GPU, indexed as the kernel does:
 * `((case · 2 + m) · 256 + cr) · 256 + d`, where case 0/1/2 means R/G/B is the maximum (R wins
 * ties, then G, as in Convert.c), cr = max − min, m = 0 when the first of the two other channels
 * (G,B for case 0; R,B for case 1; R,G for case 2) is the minimum, and d = max − (the other one).
 * Hue depends only on these differences, so each entry is computed on a canonical pixel with max
 * 255. Unreachable entries hold whatever that pixel gives.
 */
export function hueTable(): Uint8Array {
  const table = new Uint8Array(HUE_TABLE_SIZE);
  for (let c = 0; c < 3; c++) {
    for (let m = 0; m < 2; m++) {
      for (let cr = 1; cr < 256; cr++) {
        for (let d = 0; d <= cr; d++) {
          const lo = 255 - cr;
          const other = 255 - d;
          const first = m === 0 ? lo : other;
          const second = m === 0 ? other : lo;
          const px = c === 0
            ? [255, first, second]
            : c === 1
            ? [first, 255, second]
            : [first, second, 255];
          table[((c * 2 + m) * 256 + cr) * 256 + d] = rgbToHue(px[0], px[1], px[2]);
        }
      }
    }
  }
  return table;
}

/** Pillow's saturation byte tabulated as `table[cr · 256 + maxc]`. */
export function saturationTable(): Uint8Array {
  const table = new Uint8Array(256 * 256);
  for (let cr = 1; cr < 256; cr++) {
    for (let maxc = cr; maxc < 256; maxc++) table[cr * 256 + maxc] = saturationByte(cr, maxc);
  }
  return table;
}
