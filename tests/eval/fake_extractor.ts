/**
 * A small stand-in for a network in evaluation tests: relu(W·x + b) of the flattened normalised
 * image, with fixed random weights on the GPU, and its float64 CPU reference.
 *
 * @module
 */
import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { linearForward } from "../../src/ops/linear.ts";
import { relu } from "../../src/ops/elementwise.ts";
import type { FeatureExtractor } from "../../src/models/feature_extractor.ts";
import { Rng } from "../../src/util/rng.ts";

/** The fake extractor plus a CPU reference of its forward pass. */
export interface FakeExtractor extends FeatureExtractor {
  /** Number of forward passes run (tests assert that a cache skipped the network). */
  calls: number;
  /** Images seen. */
  images: number;
  /** float64 reference of extract() for one image (HWC normalised, size²·3 values). */
  reference(x: ArrayLike<number>): Float64Array;
}

/** A fake extractor for `size × size` inputs giving `dim` features; weights from `seed`. */
export function fakeExtractor(
  gpu: Gpu,
  size: number,
  dim: number,
  seed = 1,
  name = "fake",
): FakeExtractor {
  const inF = size * size * 3;
  const rng = new Rng(seed);
  const w = rng.normalArray(dim * inF, 1 / Math.sqrt(inF));
  // Positive biases: no channel is dead (constant 0) over a test set, so Σ stays invertible.
  const b = rng.normalArray(dim, 0.5).map((v) => v + 3);
  const wT = Tensor.from(gpu, w, [dim, inF], "fake w");
  const bT = Tensor.from(gpu, b, [dim], "fake b");
  const fake: FakeExtractor = {
    name,
    featureLayer: "backbone",
    dim,
    contentKey: `fake-${seed}-${size}-${dim}`,
    files: [{ path: `fake-${seed}.pth`, sha256: `${seed}` }],
    calls: 0,
    images: 0,
    extract(input: Tensor): Tensor {
      const n = input.shape[0];
      if (input.shape[1] !== size || input.shape[2] !== size) {
        throw new RangeError(`fake extractor expects ${size}×${size}, got [${input.shape}]`);
      }
      fake.calls++;
      fake.images += n;
      const y = linearForward(gpu, input.reshape([n, inF]), wT, bT);
      const out = relu(gpu, y);
      y.release();
      return out;
    },
    release(): void {
      wT.release();
      bT.release();
    },
    reference(x: ArrayLike<number>): Float64Array {
      const out = new Float64Array(dim);
      for (let o = 0; o < dim; o++) {
        let s = b[o];
        for (let i = 0; i < inF; i++) s += w[o * inF + i] * x[i];
        out[o] = Math.max(0, s);
      }
      return out;
    },
  };
  return fake;
}
