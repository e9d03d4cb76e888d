/**
 * Row gather over the leading (batch) axis: `out[i] = x[index[i]]`. The single-device shuffle-BN
 * emulation uses it to permute the key images before the key encoder and to undo the
 * permutation on the keys afterwards (docs/pretraining.md#optimisation). See `kernels/gather.wgsl`.
 *
 * @module
 */
import source from "../../kernels/gather.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "gather.wgsl";

/** `struct GatherParams` of `kernels/gather.wgsl`. */
const GATHER = paramStruct(FILE, source, "GatherParams", {
  rows: "u32",
  row: "u32",
  src_rows: "u32",
});
const WG = 64;

/**
 * Records `out[i, …] = x[index[i], …]` for x of shape [R, …] and a u32 index tensor [N]; returns
 * out [N, …] (same trailing shape as x). An index ≥ R yields a zero row rather than an
 * out-of-bounds read; callers validate permutations on the CPU.
 *
 * @throws RangeError when x has rank 0, is not f32, or index is not a u32/i32 vector.
 * @example
 * ```ts
 * const shuffled = gatherRows(gpu, images, Tensor.from(gpu, Uint32Array.from(perm)));
 * ```
 */
export function gatherRows(gpu: Gpu, x: Tensor, index: Tensor): Tensor {
  if (x.shape.length < 1 || x.dtype !== "f32") {
    throw new RangeError(`gatherRows: x must be an f32 tensor [R, …], got ${x.dtype} [${x.shape}]`);
  }
  if (index.shape.length !== 1 || index.dtype === "f32") {
    throw new RangeError(
      `gatherRows: index must be a u32 vector [N], got ${index.dtype} [${index.shape}]`,
    );
  }
  const srcRows = x.shape[0];
  const rows = index.shape[0];
  const row = srcRows === 0 ? 0 : x.size / srcRows;
  const out = Tensor.empty(gpu, [rows, ...x.shape.slice(1)], "f32", "gather rows");
  if (rows === 0 || row === 0) return out;
  const vec4 = row % 4 === 0;
  const width = vec4 ? 4 : 1;
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: vec4 ? "gather_rows_vec4" : "gather_rows",
    params: GATHER,
  });
  const threads = rows * (row / width);
  gpu.recorder.dispatch(
    kernel,
    [x, index, out],
    Math.ceil(threads / WG),
    GATHER.pack({ rows, row: row / width, src_rows: srcRows }),
  );
  return out;
}
