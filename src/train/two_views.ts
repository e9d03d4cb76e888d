/**
 * MoCo's TwoCropsTransform with one generator per image: image i's query view and then its key
 * view draw their parameters from `rngs[i]`. Seeding per image (from the run seed, the epoch and
 * the image's row in the global batch) makes an image's views independent of which process or
 * batch slice renders it, so data-parallel ranks render exactly the views one process would.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { RgbImage } from "../image/image.ts";
import {
  applyAugmentParams,
  type AugmentPolicy,
  drawAugmentParams,
  type ViewParams,
} from "../transforms/augment.ts";
import type { Rng } from "../util/rng.ts";

/**
 * Draws both views of every image from its own generator and renders them on the GPU. Returns
 * NHWC float32 [N, size, size, 3] tensors (ImageNet-normalised; the caller releases them).
 *
 * @throws RangeError when `rngs` and `images` differ in length or a policy/image is invalid.
 */
export function augmentPerImage(
  gpu: Gpu,
  images: readonly RgbImage[],
  policy: AugmentPolicy,
  rngs: readonly Rng[],
  options: { size: number },
): Promise<{ q: Tensor; k: Tensor }> {
  try {
    if (rngs.length !== images.length) {
      throw new RangeError(
        `augmentPerImage: ${rngs.length} generators for ${images.length} images`,
      );
    }
    if (images.length === 0) throw new RangeError("augmentPerImage: no images");
    const q: ViewParams[] = [];
    const k: ViewParams[] = [];
    images.forEach((img, i) => {
      q.push(drawAugmentParams(policy, rngs[i], img.width, img.height));
      k.push(drawAugmentParams(policy, rngs[i], img.width, img.height));
    });
    return Promise.resolve(applyAugmentParams(gpu, images, q, k, options.size));
  } catch (error) {
    return Promise.reject(error);
  }
}
