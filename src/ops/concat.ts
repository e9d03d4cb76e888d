/**
 * Concatenation of [N, Dᵢ] matrices along the feature axis on the GPU (multi-model feature
 * fusion, docs/common.md#model-loading `cat`).
 *
 * @module
 */
import source from "../../kernels/concat.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

/** `struct ConcatParams` of `kernels/concat.wgsl`. */
const CONCAT = paramStruct("concat.wgsl", source, "ConcatParams", {
  rows: "u32",
  cols: "u32",
  total: "u32",
  offset: "u32",
});

/**
 * Records [a | b | …] for f32 matrices with the same number of rows; returns [N, ΣDᵢ].
 *
 * @throws RangeError when a part is not a 2-D f32 matrix with N rows.
 */
export function concatColumns(gpu: Gpu, parts: readonly Tensor[]): Tensor {
  if (parts.length === 0) throw new RangeError("concatColumns: nothing to concatenate");
  const rows = parts[0].shape[0];
  for (const t of parts) {
    if (t.shape.length !== 2 || t.shape[0] !== rows || t.dtype !== "f32") {
      throw new RangeError(
        `concatColumns: every part must be f32 [${rows}, D], got ${t.dtype} [${t.shape}]`,
      );
    }
  }
  const total = parts.reduce((s, t) => s + t.shape[1], 0);
  const out = Tensor.empty(gpu, [rows, total], "f32", "concat");
  const kernel = gpu.kernels.get({
    file: "concat.wgsl",
    source,
    entryPoint: "concat_columns",
    params: CONCAT,
  });
  let offset = 0;
  for (const t of parts) {
    const cols = t.shape[1];
    gpu.recorder.dispatch(
      kernel,
      [t, out],
      Math.ceil((rows * cols) / 64),
      CONCAT.pack({ rows, cols, total, offset }),
    );
    offset += cols;
  }
  return out;
}
