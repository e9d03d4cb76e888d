/**
 * Seeded weight initialisation with PyTorch's schemes for ResNets (docs/common.md#resnet): Kaiming-normal
 * (fan_out, ReLU gain) convolutions and `nn.Linear`'s default uniform init. Values are i.i.d.,
 * so they are drawn directly in whatever layout the caller stores.
 *
 * @module
 */
import type { Rng } from "../util/rng.ts";

/** Conv weights ~ N(0, 2 / (Cout·kH·kW)) (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`). */
export function kaimingNormalConv(rng: Rng, cout: number, cin: number, k: number): Float32Array {
  return rng.normalArray(k * k * cin * cout, Math.sqrt(2 / (cout * k * k)));
}

/**
 * `nn.Linear`'s default init: W and b ~ U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5
 * gives this bound for W).
 */
export function linearDefaultInit(
  rng: Rng,
  outFeatures: number,
  inFeatures: number,
): { weight: Float32Array; bias: Float32Array } {
  const bound = 1 / Math.sqrt(inFeatures);
  return {
    weight: rng.uniformArray(outFeatures * inFeatures, -bound, bound),
    bias: rng.uniformArray(outFeatures, -bound, bound),
  };
}
