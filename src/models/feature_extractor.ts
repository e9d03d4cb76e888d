/**
 * What every evaluation consumes: a network that maps normalised NHWC images to features, with
 * a content key for caches and the files the weights came from.
 *
 * @module
 */
import type { Tensor } from "../gpu/tensor.ts";
import type { FeatureLayer, ResNet } from "./resnet.ts";

/** A checkpoint a model was loaded from. */
export interface ModelFile {
  /** Path of the checkpoint file. */
  path: string;
  /** Hex sha256 of its bytes (part of the model's content key). */
  sha256: string;
}

/** A forward pass from images to features. */
export interface FeatureExtractor {
  /** Model name as given on the command line: `default`, `default+ventral+dorsal`, `random` … */
  readonly name: string;
  /** The layer features come from. */
  readonly featureLayer: FeatureLayer;
  /** Output feature dimension (after fusion). */
  readonly dim: number;
  /** Input side the model expects (informational). */
  readonly inputSize?: number;
  /** sha256 over the checkpoint sha256s, architecture, layer and fuse mode: the cache key. */
  readonly contentKey: string;
  /** The checkpoint files, in load order. */
  readonly files: readonly ModelFile[];
  /** Records the forward pass of NHWC normalised [N, H, W, 3] → [N, dim] (caller releases). */
  extract(input: Tensor): Tensor;
  /** Frees the weights. */
  release(): void;
}

/** A single ResNet in eval mode, its head removed: pooled features of one layer. */
export class ResNetFeatureExtractor implements FeatureExtractor {
  readonly dim: number;
  readonly inputSize = 224;

  /** Wraps (and takes ownership of) `model`. */
  constructor(
    readonly name: string,
    readonly model: ResNet,
    readonly featureLayer: FeatureLayer,
    readonly contentKey: string,
    readonly files: readonly ModelFile[],
  ) {
    this.dim = model.featureDim(featureLayer);
  }

  /** Eval-mode pooled features [N, dim]. */
  extract(input: Tensor): Tensor {
    return this.model.forwardEval(input, this.featureLayer);
  }

  /** Releases the network. */
  release(): void {
    this.model.release();
  }
}
