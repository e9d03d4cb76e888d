/**
 * Appearance transforms with Pillow 9.4 / torchvision 0.14 semantics on PIL images (docs/synthetic.md#view-order,
 * §2.3):
 * - CPU, exact and cheap: {@link toGrayscale}, {@link invert}, {@link posterize},
 *   {@link equalize} (serial histogram work), {@link pillowGaussianBlur} (the reference for the
 *   MoCo blur);
 * - GPU, batched: {@link enhanceBatch} (ImageEnhance Brightness / Contrast / Color /
 *   Sharpness), {@link adjustHueBatch}, {@link gaussianBlurBatch} (torchvision gaussian_blur).
 *   Each uploads the image once, runs every factor in one dispatch per chunk (outputs ≤ ~128 MB)
 *   and reads each chunk back once.
 *
 * The GPU ops work on {@link PackedImages}: one u32 per pixel (R | G<<8 | B<<16), views back to
 * back, so a batch may mix image sizes. `recordColorOps`, `recordColorChain` (up to five ops per
 * view in one pass) and `recordGaussianBlur` only record into the current command encoder;
 * augment.ts chains them with its own kernels.
 *
 * Accuracy: on the Pillow 9.4 / torchvision 0.14 fixtures every GPU op gave identical bytes on
 * llvmpipe. The hue kernel looks Pillow's RGB → HSV up in exact tables; its HSV → RGB step and
 * the blends run in f32 where C mixes float and double, so another adapter (FMA contraction)
 * may differ by one level on rare pixels — the tests allow 1.
 *
 * @module
 */
import source from "../../kernels/image_color.wgsl" with { type: "text" };
import { IMAGE_PRELUDE } from "../image/gpu/prelude.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import { createImage, type RgbImage } from "../image/image.ts";
import {
  allocImages,
  type PackedImages,
  pixelGridX,
  readImages,
  uploadImages,
  viewTable,
} from "../image/gpu/packed.ts";
import {
  HUE_TABLE_SIZE,
  hueFraction,
  hueSector,
  hueShiftByte,
  hueTable,
  saturationFraction,
  saturationTable,
} from "./hsv.ts";

const FILE = "image_color.wgsl";

/** `struct ColorParams` of `kernels/image_color.wgsl` (luma_chain and color_chain). */
const COLOR = paramStruct(FILE, source, "ColorParams", {
  n_views: "u32",
  _pad0: "u32",
  _pad1: "u32",
  _pad2: "u32",
});

/** `struct GaussParams` of `kernels/image_color.wgsl` (gauss_h and gauss_v). */
const GAUSS = paramStruct(FILE, source, "GaussParams", {
  n_views: "u32",
  ksize: "u32",
  _pad0: "u32",
  _pad1: "u32",
});
/** Threads per workgroup of the image_color.wgsl entry points. */
const WG = 256;
/** Output bytes per GPU chunk of the *Batch functions. */
const CHUNK_BYTES = 128 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// CPU ops

/** Pillow's "L" conversion of one pixel: (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
export function lumaOf(r: number, g: number, b: number): number {
  return (19595 * r + 38470 * g + 7471 * b + 0x8000) >>> 16;
}

/** torchvision `rgb_to_grayscale(img, 3)`: Pillow's luma replicated to 3 channels. */
export function toGrayscale(img: RgbImage): RgbImage {
  const out = createImage(img.width, img.height);
  const s = img.data;
  const d = out.data;
  for (let i = 0; i < s.length; i += 3) {
    const l = lumaOf(s[i], s[i + 1], s[i + 2]);
    d[i] = l;
    d[i + 1] = l;
    d[i + 2] = l;
  }
  return out;
}

/** `ImageOps.invert`: 255 − v. */
export function invert(img: RgbImage): RgbImage {
  const out = createImage(img.width, img.height);
  for (let i = 0; i < img.data.length; i++) out.data[i] = 255 - img.data[i];
  return out;
}

/** `ImageOps.posterize(img, bits)`: keeps the top `bits` bits (1..8) of every channel. */
export function posterize(img: RgbImage, bits: number): RgbImage {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new RangeError(`posterize bits must be an integer in 1..8, got ${bits}`);
  }
  const mask = ~((1 << (8 - bits)) - 1) & 255;
  const out = createImage(img.width, img.height);
  for (let i = 0; i < img.data.length; i++) out.data[i] = img.data[i] & mask;
  return out;
}

/**
 * `ImageOps.equalize` per channel: from the channel's histogram h, with nz its non-zero bins,
 * step = (Σnz − last(nz)) div 255 (Pillow 8–9, docs/synthetic.md#view-order); identity when nz has ≤ 1 entry or step is 0; otherwise
 * lut[i] = n div step with n starting at step div 2 and growing by h[i] (Image.point clips the
 * table to 255).
 */
export function equalize(img: RgbImage): RgbImage {
  const out = createImage(img.width, img.height);
  const s = img.data;
  for (let c = 0; c < 3; c++) {
    const hist = new Float64Array(256);
    for (let i = c; i < s.length; i += 3) hist[s[i]]++;
    let total = 0;
    let last = 0;
    let nonZero = 0;
    for (let v = 0; v < 256; v++) {
      if (hist[v] > 0) {
        total += hist[v];
        last = hist[v];
        nonZero++;
      }
    }
    const lut = new Uint8Array(256);
    const step = nonZero <= 1 ? 0 : Math.floor((total - last) / 255);
    if (step === 0) {
      for (let v = 0; v < 256; v++) lut[v] = v;
    } else {
      let n = Math.floor(step / 2);
      for (let v = 0; v < 256; v++) {
        lut[v] = Math.min(255, Math.floor(n / step));
        n += hist[v];
      }
    }
    for (let i = c; i < s.length; i += 3) out.data[i] = lut[s[i]];
  }
  return out;
}

/** The box-blur parameters Pillow derives from a GaussianBlur radius (BoxBlur.c). */
export interface BoxBlurParams {
  /** Integer box radius r: each pass sums 2r + 1 pixels at weight `ww`… */
  radius: number;
  /** …weight of the inner taps, in 1/2^24 units. */
  ww: number;
  /** Weight of the two fractional taps at distance r + 1, in 1/2^24 units. */
  fw: number;
}

/**
 * Pillow's `_gaussian_blur_radius` (3 passes, Gwosdek et al.'s extended box) followed by
 * ImagingHorizontalBoxBlur's fixed-point weights, with C's float/double rounding: `sigma` is
 * first rounded to float32 as Python → C passes it.
 */
export function boxBlurParams(sigma: number, passes = 3): BoxBlurParams {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`blur radius must be a finite number >= 0, got ${sigma}`);
  }
  const f = Math.fround;
  const r = f(sigma);
  const sigma2 = f(f(r * r) / passes);
  const L = f(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = f(Math.floor((L - 1.0) / 2.0));
  let a = f(f(f(2 * l) + 1) * f(f(l * f(l + 1)) - f(3 * sigma2)));
  a = f(a / f(6 * f(sigma2 - f(f(l + 1) * f(l + 1)))));
  const floatRadius = f(l + a);
  const radius = Math.trunc(floatRadius);
  const ww = Math.trunc(f(16777216 / f(f(floatRadius * 2) + 1)));
  const fw = Math.floor((16777216 - (radius * 2 + 1) * ww) / 2);
  return { radius, ww, fw };
}

function boxBlurLine(
  src: Uint8Array,
  dst: Uint8Array,
  start: number,
  stride: number,
  n: number,
  p: BoxBlurParams,
): void {
  const last = n - 1;
  const at = (i: number) => src[start + stride * (i < 0 ? 0 : i > last ? last : i)];
  for (let x = 0; x < n; x++) {
    let acc = 0;
    for (let k = -p.radius; k <= p.radius; k++) acc += at(x + k);
    const bulk = acc * p.ww + (at(x - p.radius - 1) + at(x + p.radius + 1)) * p.fw;
    dst[start + stride * x] = Math.floor((bulk + 0x800000) / 0x1000000);
  }
}

/**
 * Pillow `img.filter(ImageFilter.GaussianBlur(sigma))` on an RGB image: three horizontal then
 * three vertical extended-box passes with edge clamping, each rounded to uint8 (BoxBlur.c). This
 * is MoCo v2's blur (σ ~ U[0.1, 2]); the GPU version lives in augment.ts.
 */
export function pillowGaussianBlur(img: RgbImage, sigma: number): RgbImage {
  const p = boxBlurParams(sigma);
  const { width: w, height: h } = img;
  let a = img.data.slice();
  let b = new Uint8Array(a.length);
  for (let pass = 0; pass < 3; pass++) {
    for (let y = 0; y < h; y++) {
      for (let c = 0; c < 3; c++) boxBlurLine(a, b, y * w * 3 + c, 3, w, p);
    }
    [a, b] = [b, a];
  }
  for (let pass = 0; pass < 3; pass++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) boxBlurLine(a, b, x * 3 + c, w * 3, h, p);
    }
    [a, b] = [b, a];
  }
  return createImage(w, h, a);
}

/**
 * torchvision's `_get_gaussian_kernel1d(kernelSize, sigma)` in float32: taps at
 * x = −(k−1)/2 … (k−1)/2, exp(−½(x/σ)²), divided by their sum.
 */
export function gaussianKernel1d(kernelSize: number, sigma: number): Float32Array {
  if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0) {
    throw new RangeError(`kernel size must be a positive odd integer, got ${kernelSize}`);
  }
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`gaussian blur sigma must be finite and > 0, got ${sigma}`);
  }
  const f = Math.fround;
  const s = f(sigma);
  const half = (kernelSize - 1) / 2;
  const pdf = new Float32Array(kernelSize);
  let sum = 0;
  for (let i = 0; i < kernelSize; i++) {
    const x = f(f(i - half) / s);
    pdf[i] = f(Math.exp(f(-0.5 * f(x * x))));
    sum = f(sum + pdf[i]);
  }
  for (let i = 0; i < kernelSize; i++) pdf[i] = f(pdf[i] / sum);
  return pdf;
}

function identitySources(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function checkSources(src: PackedImages, sources: readonly number[]): void {
  for (const s of sources) {
    if (!Number.isInteger(s) || s < 0 || s >= src.widths.length) {
      throw new RangeError(`source view ${s} is not in a batch of ${src.widths.length}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Appearance ops on the GPU

/** ImageEnhance kinds. */
export type EnhanceKind = "brightness" | "contrast" | "color" | "sharpness";

/** Every {@link EnhanceKind}. */
export const ENHANCE_KINDS: readonly EnhanceKind[] = [
  "brightness",
  "contrast",
  "color",
  "sharpness",
];

/** One per-view appearance op: enhance factor, hue shift in [−0.5, 0.5], or none. */
export type ColorOp =
  | { kind: "copy" | "grayscale" }
  | { kind: EnhanceKind; factor: number }
  | { kind: "hue"; hue: number };

const OP_CODES = {
  copy: 0,
  brightness: 1,
  contrast: 2,
  color: 3,
  sharpness: 4,
  hue: 5,
  grayscale: 6,
} as const;

/** Luma sums use u32 atomics: 255 · pixels must stay below 2^32. */
const MAX_CONTRAST_PIXELS = Math.floor(0xffffffff / 255);

interface HsvTables {
  bytes: Tensor;
  floats: Tensor;
}

const hsvTables = new WeakMap<Gpu, HsvTables>();

function hsvTablesFor(gpu: Gpu): HsvTables {
  let t = hsvTables.get(gpu);
  if (!t) {
    const bytes = new Uint8Array(HUE_TABLE_SIZE + 65536);
    bytes.set(hueTable(), 0);
    bytes.set(saturationTable(), HUE_TABLE_SIZE);
    const floats = new Float32Array(768);
    for (let i = 0; i < 256; i++) {
      floats[i] = saturationFraction(i);
      floats[256 + i] = hueFraction(i);
      floats[512 + i] = hueSector(i);
    }
    t = {
      bytes: Tensor.from(gpu, new Uint32Array(bytes.buffer), undefined, "hsv tables"),
      floats: Tensor.from(gpu, floats, undefined, "hsv floats"),
    };
    hsvTables.set(gpu, t);
  }
  return t;
}

function checkFactor(kind: string, f: number): void {
  if (!Number.isFinite(f)) throw new RangeError(`${kind} factor must be finite, got ${f}`);
  if (f < 0) throw new RangeError(`${kind} factor must be non-negative, got ${f}`);
}

/**
 * Records one appearance op per output view: output v = `ops[v]` applied to source view
 * `sources[v]` (default v). Returns a new packed batch (the caller releases it). Factors are
 * rounded to float32 as Pillow's C blend receives them.
 */
export function recordColorOps(
  gpu: Gpu,
  src: PackedImages,
  ops: readonly ColorOp[],
  sources: readonly number[] = identitySources(ops.length),
): PackedImages {
  return recordColorChain(gpu, src, ops.map((op) => [op]), sources);
}

/** Most ops one chain may hold (ColorJitter's four, then RandomGrayscale). */
export const MAX_CHAIN = 5;

/**
 * Records up to {@link MAX_CHAIN} appearance ops per output view, applied in order in one pass:
 * output v = `chains[v]` applied to source view `sources[v]` (default v). A chain may hold at
 * most one contrast and one hue op, and sharpness only as its first op (it reads neighbours of
 * the source). The result equals applying the ops one by one. Returns a new packed batch.
 */
export function recordColorChain(
  gpu: Gpu,
  src: PackedImages,
  chains: readonly (readonly ColorOp[])[],
  sources: readonly number[] = identitySources(chains.length),
): PackedImages {
  if (sources.length !== chains.length) {
    throw new RangeError(`${chains.length} op chains but ${sources.length} source indices`);
  }
  checkSources(src, sources);
  const widths = sources.map((s) => src.widths[s]);
  const heights = sources.map((s) => src.heights[s]);
  const dst = allocImages(gpu, widths, heights, "color op out");
  const n = chains.length;
  if (n === 0) return dst;
  const table = new Uint32Array(16 * n);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  let contrastViews = 0;
  chains.forEach((chain, v) => {
    if (chain.length > MAX_CHAIN) {
      throw new RangeError(`view ${v}: ${chain.length} ops, at most ${MAX_CHAIN} per chain`);
    }
    const codes = [0, 0, 0, 0, 0];
    const bits = [0, 0, 0, 0, 0];
    let shift = 0;
    let contrastStep = 5;
    let hues = 0;
    chain.forEach((op, s) => {
      codes[s] = OP_CODES[op.kind];
      if (op.kind === "hue") {
        if (!(op.hue >= -0.5 && op.hue <= 0.5)) {
          throw new RangeError(`hue factor must be in [-0.5, 0.5], got ${op.hue}`);
        }
        if (++hues > 1) throw new RangeError(`view ${v}: more than one hue op in a chain`);
        shift = hueShiftByte(op.hue);
      } else if ("factor" in op) {
        checkFactor(op.kind, op.factor);
        f32[0] = op.factor;
        bits[s] = u32[0];
        if (op.kind === "sharpness" && s > 0) {
          throw new RangeError(`view ${v}: sharpness must be the first op of a chain`);
        }
        if (op.kind === "contrast") {
          if (contrastStep < 5) throw new RangeError(`view ${v}: more than one contrast op`);
          if (widths[v] * heights[v] > MAX_CONTRAST_PIXELS) {
            throw new RangeError(`contrast: image of ${widths[v]}x${heights[v]} is too large`);
          }
          contrastStep = s;
        }
      }
    });
    if (contrastStep < 5) contrastViews++;
    table.set([
      ...codes.slice(0, 4),
      ...bits.slice(0, 4),
      codes[4],
      bits[4],
      shift,
      contrastStep,
      v,
    ], 16 * v);
  });
  const maxPixels = Math.max(...widths.map((w, i) => w * heights[i]));
  const opsT = Tensor.from(gpu, table, undefined, "color ops");
  const viewsT = Tensor.from(gpu, viewTable(src, dst, sources), undefined, "color views");
  const luma = Tensor.zeros(gpu, [Math.max(1, n)], "u32", "luma sums");
  const hsv = hsvTablesFor(gpu);
  const params = COLOR.pack({ n_views: n });
  if (contrastViews > 0) {
    gpu.recorder.dispatch(
      gpu.kernels.get({
        file: FILE,
        source,
        entryPoint: "luma_chain",
        prelude: IMAGE_PRELUDE,
        params: COLOR,
      }),
      [hsv.bytes, hsv.floats, viewsT, opsT, src.tensor, luma],
      [Math.max(1, Math.min(65535, Math.ceil(maxPixels / (WG * 64)))), n, 1],
      params,
    );
  }
  gpu.recorder.dispatch(
    gpu.kernels.get({
      file: FILE,
      source,
      entryPoint: "color_chain",
      prelude: IMAGE_PRELUDE,
      params: COLOR,
    }),
    [hsv.bytes, hsv.floats, viewsT, opsT, src.tensor, luma, dst.tensor],
    [pixelGridX(maxPixels), n, 1],
    params,
  );
  opsT.release();
  viewsT.release();
  luma.release();
  return dst;
}

/**
 * Records torchvision's `gaussian_blur(img, [k, k], [σ, σ])` per output view (view v blurs
 * source `sources[v]` with `sigmas[v]`): float32 taps, reflect padding, rounding half to even.
 * Throws RangeError where torch's reflect pad would fail (a side ≤ k div 2).
 */
export function recordGaussianBlur(
  gpu: Gpu,
  src: PackedImages,
  sigmas: readonly number[],
  kernelSize: number,
  sources: readonly number[] = identitySources(sigmas.length),
): PackedImages {
  if (sources.length !== sigmas.length) {
    throw new RangeError(`${sigmas.length} sigmas but ${sources.length} source indices`);
  }
  checkSources(src, sources);
  const weights = new Float32Array(Math.max(1, sigmas.length * kernelSize));
  sigmas.forEach((s, v) => weights.set(gaussianKernel1d(kernelSize, s), v * kernelSize));
  const half = (kernelSize - 1) / 2;
  const widths = sources.map((s) => src.widths[s]);
  const heights = sources.map((s) => src.heights[s]);
  widths.forEach((w, v) => {
    if (half >= w || half >= heights[v]) {
      throw new RangeError(
        `gaussian blur: a ${kernelSize}-tap kernel needs an image larger than ${half} px on ` +
          `each side (reflect padding), got ${w}x${heights[v]}`,
      );
    }
  });
  const dst = allocImages(gpu, widths, heights, "gaussian blur out");
  const n = sigmas.length;
  if (n === 0) return dst;
  const views = Tensor.from(gpu, viewTable(src, dst, sources), undefined, "blur views");
  const w = Tensor.from(gpu, weights, undefined, "blur taps");
  const tmp = Tensor.empty(gpu, [Math.max(1, dst.tensor.size) * 4], "f32", "blur tmp");
  const maxPixels = Math.max(...widths.map((x, i) => x * heights[i]));
  const grid: [number, number, number] = [pixelGridX(maxPixels), n, 1];
  const params = GAUSS.pack({ n_views: n, ksize: kernelSize });
  const kh = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "gauss_h",
    prelude: IMAGE_PRELUDE,
    params: GAUSS,
  });
  const kv = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "gauss_v",
    prelude: IMAGE_PRELUDE,
    params: GAUSS,
  });
  gpu.recorder.dispatch(kh, [views, w, src.tensor, tmp], grid, params);
  gpu.recorder.dispatch(kv, [views, w, tmp, dst.tensor], grid, params);
  views.release();
  w.release();
  tmp.release();
  return dst;
}

/** Options of the *Batch functions. */
export interface BatchOptions {
  /** Most output bytes per GPU chunk (default 128 MiB); each chunk is one dispatch + readback. */
  chunkBytes?: number;
}

/** Splits `count` outputs of `pixels` pixels each into chunks of ≤ `chunkBytes`. */
function chunks(count: number, pixels: number, chunkBytes: number): [number, number][] {
  const per = Math.max(1, Math.floor(chunkBytes / Math.max(1, pixels * 4)));
  const out: [number, number][] = [];
  for (let i = 0; i < count; i += per) out.push([i, Math.min(count, i + per)]);
  return out;
}

async function batchOver<T>(
  gpu: Gpu,
  img: RgbImage,
  params: readonly T[],
  record: (src: PackedImages, part: readonly T[]) => PackedImages,
  options: BatchOptions,
  scratchPerPixel = 4,
): Promise<RgbImage[]> {
  if (img.width < 1 || img.height < 1) {
    throw new RangeError(`cannot transform an empty ${img.width}x${img.height} image`);
  }
  // Every buffer a kernel binds must fit the storage binding limit (128 MiB on llvmpipe);
  // `scratchPerPixel` is the widest per-output-pixel buffer of the op (16 for the blur's floats).
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  const pixels = img.width * img.height;
  if (pixels * scratchPerPixel > limit) {
    throw new RangeError(
      `a ${img.width}x${img.height} image exceeds the GPU's ${limit}-byte storage binding limit`,
    );
  }
  const src = uploadImages(gpu, [img]);
  const out: RgbImage[] = [];
  try {
    const budget = Math.min(options.chunkBytes ?? CHUNK_BYTES, limit * 4 / scratchPerPixel);
    for (const [a, b] of chunks(params.length, pixels, budget)) {
      const dst = record(src, params.slice(a, b));
      try {
        out.push(...(await readImages(gpu, [dst]))[0]);
      } finally {
        dst.tensor.release();
      }
    }
  } finally {
    src.tensor.release();
  }
  return out;
}

/**
 * Pillow `ImageEnhance.<Kind>(img).enhance(f)` for every factor (torchvision's
 * adjust_brightness / adjust_contrast / adjust_saturation / adjust_sharpness): one result per
 * factor, in order. Factors must be finite and ≥ 0 (torchvision refuses negatives).
 */
export async function enhanceBatch(
  gpu: Gpu,
  img: RgbImage,
  kind: EnhanceKind,
  factors: readonly number[],
  options: BatchOptions = {},
): Promise<RgbImage[]> {
  if (!ENHANCE_KINDS.includes(kind)) {
    throw new RangeError(`unknown enhance kind "${kind}"`);
  }
  for (const f of factors) checkFactor(kind, f);
  return await batchOver(
    gpu,
    img,
    factors,
    (src, part) =>
      recordColorOps(gpu, src, part.map((factor) => ({ kind, factor })), part.map(() => 0)),
    options,
  );
}

/** torchvision `adjust_hue(img, h)` (Pillow HSV) for every h in [−0.5, 0.5]. */
export async function adjustHueBatch(
  gpu: Gpu,
  img: RgbImage,
  hues: readonly number[],
  options: BatchOptions = {},
): Promise<RgbImage[]> {
  return await batchOver(
    gpu,
    img,
    hues,
    (src, part) =>
      recordColorOps(
        gpu,
        src,
        part.map((hue) => ({ kind: "hue" as const, hue })),
        part.map(() => 0),
      ),
    options,
  );
}

/**
 * torchvision `gaussian_blur(img, [k, k], [σ, σ])` on a PIL image for every σ > 0: float32
 * kernel, reflect padding of k div 2, rounded back to uint8.
 */
export async function gaussianBlurBatch(
  gpu: Gpu,
  img: RgbImage,
  sigmas: readonly number[],
  kernelSize: number,
  options: BatchOptions = {},
): Promise<RgbImage[]> {
  for (const s of sigmas) gaussianKernel1d(kernelSize, s);
  return await batchOver(
    gpu,
    img,
    sigmas,
    (src, part) => recordGaussianBlur(gpu, src, part, kernelSize, part.map(() => 0)),
    options,
    16,
  );
}
