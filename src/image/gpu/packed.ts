/**
 * The packed 8-bit GPU image: the one layout every image kernel reads and writes. A pixel is one
 * u32, `R | G << 8 | B << 16` (the WGSL side's `pack` / `unpack` live in
 * kernels/prelude_image.wgsl), rows top to bottom, views back to back in one u32 tensor, so a
 * batch may mix image sizes. This module owns the type, its layout, upload and readback, and the
 * per-view tables the kernels index by.
 *
 * @module
 */
import type { Gpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { createImage, type RgbImage } from "../image.ts";

/** Threads per workgroup of the pixel-strided image kernels (see {@link pixelGridX}). */
const WG = 256;

/** A batch of 8-bit RGB images on the GPU, one u32 (R | G<<8 | B<<16) per pixel. */
export interface PackedImages {
  /** u32 tensor holding every view's pixels back to back. */
  tensor: Tensor;
  /** Per view width. */
  widths: number[];
  /** Per view height. */
  heights: number[];
  /** Per view first pixel in `tensor`. */
  offsets: number[];
}

/** Pixel offsets of views with these sizes laid back to back, and the total. */
export function packedLayout(
  widths: readonly number[],
  heights: readonly number[],
): { offsets: number[]; total: number } {
  const offsets: number[] = [];
  let total = 0;
  for (let i = 0; i < widths.length; i++) {
    offsets.push(total);
    total += widths[i] * heights[i];
  }
  return { offsets, total };
}

/** Packs RGB pixels one per u32 (r | g << 8 | b << 16), the GPU kernels' layout. */
export function packRgb(img: RgbImage): Uint32Array {
  const n = img.width * img.height;
  const out = new Uint32Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) out[i] = d[3 * i] | (d[3 * i + 1] << 8) | (d[3 * i + 2] << 16);
  return out;
}

/** Packs images into one Uint32Array (layout of {@link packedLayout}). */
export function packImages(images: readonly RgbImage[]): Uint32Array {
  const { total } = packedLayout(images.map((i) => i.width), images.map((i) => i.height));
  const out = new Uint32Array(Math.max(total, 1));
  let o = 0;
  for (const img of images) {
    const d = img.data;
    for (let i = 0; i < d.length; i += 3) out[o++] = d[i] | (d[i + 1] << 8) | (d[i + 2] << 16);
  }
  return out;
}

/** Records an upload of `images` as one packed batch. */
export function uploadImages(gpu: Gpu, images: readonly RgbImage[]): PackedImages {
  const widths = images.map((i) => i.width);
  const heights = images.map((i) => i.height);
  const { offsets } = packedLayout(widths, heights);
  const tensor = Tensor.from(gpu, packImages(images), undefined, "packed images");
  return { tensor, widths, heights, offsets };
}

/** An uninitialised packed batch of views with these sizes. */
export function allocImages(
  gpu: Gpu,
  widths: readonly number[],
  heights: readonly number[],
  label = "packed images",
): PackedImages {
  const { offsets, total } = packedLayout(widths, heights);
  const tensor = Tensor.empty(gpu, [Math.max(total, 1)], "u32", label);
  return { tensor, widths: [...widths], heights: [...heights], offsets };
}

/**
 * The batch view of `count` same-size `width × height` views lying back to back in `tensor`
 * (as the geometry and resize kernels write them); the tensor is shared, not copied.
 */
export function uniformImages(
  tensor: Tensor,
  width: number,
  height: number,
  count: number,
): PackedImages {
  const widths = new Array<number>(count).fill(width);
  const heights = new Array<number>(count).fill(height);
  return { tensor, widths, heights, offsets: packedLayout(widths, heights).offsets };
}

/** Unpacks views from a read-back packed buffer. */
export function unpackImages(data: Uint32Array, layout: PackedImages): RgbImage[] {
  return layout.widths.map((w, v) => {
    const h = layout.heights[v];
    const img = createImage(w, h);
    const d = img.data;
    for (let i = 0, o = layout.offsets[v]; i < w * h; i++, o++) {
      const p = data[o];
      d[3 * i] = p & 255;
      d[3 * i + 1] = (p >>> 8) & 255;
      d[3 * i + 2] = (p >>> 16) & 255;
    }
    return img;
  });
}

/** Unpacks `count` images of `width × height` packed pixels starting at `offset`. */
export function unpackRgbImages(
  packed: Uint32Array,
  width: number,
  height: number,
  count: number,
  offset = 0,
): RgbImage[] {
  const n = width * height;
  const out: RgbImage[] = [];
  for (let v = 0; v < count; v++) {
    const img = createImage(width, height);
    const d = img.data;
    const base = offset + v * n;
    for (let i = 0; i < n; i++) {
      const p = packed[base + i];
      d[3 * i] = p & 0xff;
      d[3 * i + 1] = (p >>> 8) & 0xff;
      d[3 * i + 2] = (p >>> 16) & 0xff;
    }
    out.push(img);
  }
  return out;
}

/** Reads packed batches back with one sync and returns their images. */
export async function readImages(
  gpu: Gpu,
  batches: readonly PackedImages[],
): Promise<RgbImage[][]> {
  const data = await gpu.recorder.read(batches.map((b) => b.tensor));
  return batches.map((b, i) => unpackImages(data[i] as Uint32Array, b));
}

/** Workgroups along x for views of at most `maxPixels` pixels (each thread loops ~4 pixels). */
export function pixelGridX(maxPixels: number): number {
  return Math.max(1, Math.min(65535, Math.ceil(maxPixels / (WG * 4))));
}

/** The per-view table vec4u(srcOffset, dstOffset, width, height) the image kernels read. */
export function viewTable(
  src: PackedImages,
  dst: PackedImages,
  sources: readonly number[],
): Uint32Array {
  const t = new Uint32Array(Math.max(1, sources.length) * 4);
  sources.forEach((s, v) => {
    if (src.widths[s] !== dst.widths[v] || src.heights[s] !== dst.heights[v]) {
      throw new RangeError(`view ${v}: source ${s} and output sizes differ`);
    }
    t.set([src.offsets[s], dst.offsets[v], dst.widths[v], dst.heights[v]], 4 * v);
  });
  return t;
}
