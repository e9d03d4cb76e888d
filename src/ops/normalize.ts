/**
 * Row L2 normalisation y = x / max(‖x‖₂, eps) of [N, D] (PyTorch's `F.normalize(x, dim=1)`,
 * eps 1e-12) and its backward. See `kernels/normalize.wgsl`.
 *
 * @module
 */
import source from "../../kernels/normalize.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "normalize.wgsl";
const WG = 64;

/** PyTorch's default eps of `F.normalize`. */
export const NORMALIZE_EPS = 1e-12;

/** Options of {@link l2NormalizeForward} and {@link l2NormalizeBackward}. */
export interface L2NormalizeOptions {
  /** Lower bound of the norm (default 1e-12). */
  eps?: number;
}

function rowsOf(op: string, x: Tensor): [number, number] {
  if (x.shape.length !== 2 || x.dtype !== "f32") {
    throw new RangeError(`${op}: input must be f32 [N, D], got ${x.dtype} [${x.shape}]`);
  }
  return [x.shape[0], x.shape[1]];
}

/** `struct NormParams` of `kernels/normalize.wgsl`. */
const NORM = paramStruct(FILE, source, "NormParams", { rows: "u32", dim: "u32", eps: "f32" });

function params(rows: number, dim: number, eps: number): Uint8Array {
  return NORM.pack({ rows, dim, eps });
}

/** Returns each row of x [N, D] divided by max(its L2 norm, eps), shape [N, D]. */
export function l2NormalizeForward(gpu: Gpu, x: Tensor, options: L2NormalizeOptions = {}): Tensor {
  const [rows, dim] = rowsOf("l2NormalizeForward", x);
  const y = Tensor.empty(gpu, x.shape, "f32", "l2 normalize y");
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "l2_normalize_forward",
    params: NORM,
    constants: { WG },
  });
  gpu.recorder.dispatch(kernel, [x, y], rows, params(rows, dim, options.eps ?? NORMALIZE_EPS));
  return y;
}

/**
 * Backward of {@link l2NormalizeForward} from the forward input x [N, D] and dy [N, D]:
 * dx = (dy − y·(y·dy)) / ‖x‖ per row, or dy / eps where the norm is clamped. Returns [N, D].
 */
export function l2NormalizeBackward(
  gpu: Gpu,
  dy: Tensor,
  x: Tensor,
  options: L2NormalizeOptions = {},
): Tensor {
  const op = "l2NormalizeBackward";
  const [rows, dim] = rowsOf(op, x);
  if (dy.shape.join() !== x.shape.join() || dy.dtype !== "f32") {
    throw new RangeError(`${op}: dy [${dy.shape}] must match x [${x.shape}] (f32)`);
  }
  const dx = Tensor.empty(gpu, x.shape, "f32", "l2 normalize dx");
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "l2_normalize_backward",
    params: NORM,
    constants: { WG },
  });
  gpu.recorder.dispatch(
    kernel,
    [x, dy, dx],
    rows,
    params(rows, dim, options.eps ?? NORMALIZE_EPS),
  );
  return dx;
}
