/**
 * ToTensor + Normalize of packed 8-bit views on the GPU, into the NHWC float32 the models read.
 * Each byte is looked up in the CPU's {@link normalizationTable}, so the values are the same
 * floats `toNormalizedTensor` (src/image/to_tensor.ts) computes.
 *
 * @module
 */
import source from "../../../kernels/image_normalize.wgsl" with { type: "text" };
import { IMAGE_PRELUDE } from "./prelude.ts";
import type { Gpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { paramStruct } from "../../gpu/uniforms.ts";
import { IMAGENET_MEAN, IMAGENET_STD, normalizationTable } from "../to_tensor.ts";
import { type PackedImages, pixelGridX } from "./packed.ts";

const FILE = "image_normalize.wgsl";

/** `struct NormalizeParams` of `kernels/image_normalize.wgsl`. */
const PARAMS = paramStruct(FILE, source, "NormalizeParams", {
  n_views: "u32",
  size: "u32",
  first: "u32",
  out_start: "u32",
});

const lutCache = new WeakMap<Gpu, Tensor>();

/**
 * Records ToTensor + Normalize(ImageNet) of views [first, first + count) of `views` (all
 * `size × size`, square) into NHWC float32 views [outFirst, outFirst + count) of `out`. Only that
 * range of `out` is bound (from a 256-byte aligned offset), so `out` may exceed the storage
 * binding limit. Throws RangeError for views that are not square and of one size.
 */
export function recordNormalize(
  gpu: Gpu,
  views: PackedImages,
  first: number,
  count: number,
  out: Tensor,
  outFirst: number,
): void {
  if (count === 0) return;
  const size = views.widths[first];
  for (let v = first; v < first + count; v++) {
    if (views.widths[v] !== size || views.heights[v] !== size) {
      throw new RangeError(
        `normalize: view ${v} is ${views.widths[v]}×${views.heights[v]}, expected ${size}×${size}`,
      );
    }
  }
  let lut = lutCache.get(gpu);
  if (!lut) {
    lut = Tensor.from(gpu, normalizationTable(IMAGENET_MEAN, IMAGENET_STD), undefined, "norm lut");
    lutCache.set(gpu, lut);
  }
  const viewBytes = size * size * 12;
  const start = outFirst * viewBytes;
  if (start + count * viewBytes > out.byteSize) {
    throw new RangeError(`normalize: ${outFirst + count} views do not fit the output`);
  }
  const aligned = Math.floor(start / 256) * 256;
  const bytes = start - aligned + count * viewBytes;
  const table = new Uint32Array(4 * views.offsets.length);
  views.offsets.forEach((o, i) => (table[4 * i] = o));
  const t = Tensor.from(gpu, table, undefined, "normalize views");
  gpu.recorder.dispatch(
    gpu.kernels.get({
      file: FILE,
      source,
      entryPoint: "normalize",
      params: PARAMS,
      prelude: IMAGE_PRELUDE,
    }),
    [t, lut, views.tensor, { buffer: out.buffer, offset: aligned, size: bytes }],
    [pixelGridX(size * size), count, 1],
    PARAMS.pack({ n_views: count, size, first, out_start: (start - aligned) / 4 }),
  );
  t.release();
}
