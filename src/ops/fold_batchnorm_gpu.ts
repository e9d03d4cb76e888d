/**
 * BatchNorm folding on the GPU: the eval-mode BN after a convolution becomes a per-channel
 * weight scale and a bias, computed from the tensors where they live (no readback), so a model
 * trained or EMA-updated on the GPU can refresh its fused eval weights cheaply. The CPU float64
 * form for weights loaded from files is `foldBatchNorm` in `fold_batchnorm.ts`.
 *
 * @module
 */
import source from "../../kernels/fold_batchnorm.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";
import type { BatchNormParams } from "./batchnorm.ts";

const FILE = "fold_batchnorm.wgsl";
const WG = 64;

/** `struct FoldParams` of `kernels/fold_batchnorm.wgsl`. */
const FOLD = paramStruct(FILE, source, "FoldParams", { n: "u32", cout: "u32", eps: "f32" });

/**
 * Records w'[…, c] = w[…, c]·s[c] and b'[c] = β[c] − μ[c]·s[c] with s = γ/√(σ² + eps), writing
 * into `wOut` (same size as the HWIO weights `w`) and `bOut` ([Cout]).
 *
 * @throws RangeError when the sizes do not match Cout (the weights' innermost dimension).
 */
export function foldBatchNormGpu(
  gpu: Gpu,
  w: Tensor,
  bn: BatchNormParams,
  wOut: Tensor,
  bOut: Tensor,
  eps = 1e-5,
): void {
  const cout = w.shape[w.shape.length - 1];
  const sizes = [bn.gamma, bn.beta, bn.runningMean, bn.runningVar, bOut].map((t) => t.size);
  if (sizes.some((s) => s !== cout) || wOut.size !== w.size || w.size % cout !== 0) {
    throw new RangeError(
      `foldBatchNormGpu: weights [${w.shape}] (Cout ${cout}), output ${wOut.size} and ` +
        `per-channel sizes [${sizes}] do not match`,
    );
  }
  const params = (n: number) => FOLD.pack({ n, cout, eps });
  gpu.recorder.dispatch(
    gpu.kernels.get({ file: FILE, source, entryPoint: "fold_weights", params: FOLD }),
    [w, bn.gamma, bn.runningVar, wOut],
    Math.ceil(w.size / WG),
    params(w.size),
  );
  gpu.recorder.dispatch(
    gpu.kernels.get({ file: FILE, source, entryPoint: "fold_bias", params: FOLD }),
    [bn.gamma, bn.beta, bn.runningMean, bn.runningVar, bOut],
    Math.ceil(cout / WG),
    params(cout),
  );
}
