/**
 * Multi-model feature fusion (`ModelCombiner`, docs/common.md#model-loading): features of each model in the order
 * given, concatenated (`cat`), summed (`add`) or averaged (`mean`).
 *
 * @module
 */
import type { Tensor } from "../gpu/tensor.ts";
import { concatColumns } from "../ops/concat.ts";
import { axpby } from "../ops/elementwise.ts";
import { sha256Hex, stableStringify } from "../util/hash.ts";
import { UsageError } from "../util/errors.ts";
import type { FeatureExtractor, ModelFile } from "./feature_extractor.ts";

/** How fused features are combined. */
export type FuseMode = "cat" | "add" | "mean";

/** The fuse modes, for flag validation. */
export const FUSE_MODES: readonly FuseMode[] = ["cat", "add", "mean"];

/** Checks a `fuseMode` value; the UsageError names `fuseMode` (scripts say `--fuse-mode`). */
export function parseFuseMode(value: string): FuseMode {
  if (!(FUSE_MODES as readonly string[]).includes(value)) {
    throw new UsageError(`fuseMode: must be one of ${FUSE_MODES.join(", ")}, got '${value}'`);
  }
  return value as FuseMode;
}

/** Several extractors fused into one; owns (and releases) the parts. */
export class CombinedExtractor implements FeatureExtractor {
  readonly name: string;
  readonly dim: number;
  readonly contentKey: string;
  readonly files: readonly ModelFile[];
  readonly inputSize?: number;

  /**
   * Fuses the features of `parts` by `mode`: `cat` concatenates them (dim = the sum), `add` and
   * `mean` combine them element-wise (dim = each part's).
   *
   * @throws UsageError when `add`/`mean` get parts of different dimensions or layers differ.
   */
  constructor(readonly parts: readonly FeatureExtractor[], readonly mode: FuseMode) {
    if (parts.length === 0) throw new UsageError("no models to combine");
    parseFuseMode(mode);
    const layer = parts[0].featureLayer;
    if (parts.some((p) => p.featureLayer !== layer)) {
      throw new UsageError("combined models must use the same feature layer");
    }
    const dims = parts.map((p) => p.dim);
    if (mode !== "cat" && dims.some((d) => d !== dims[0])) {
      throw new UsageError(
        `fuse mode '${mode}' needs models of equal feature size, got ` +
          parts.map((p) => `${p.name} (${p.dim})`).join(", "),
      );
    }
    this.name = parts.map((p) => p.name).join("+");
    this.dim = mode === "cat" ? dims.reduce((a, b) => a + b, 0) : dims[0];
    this.files = parts.flatMap((p) => p.files);
    this.inputSize = parts[0].inputSize;
    this.contentKey = sha256Hex(
      stableStringify({ fuse: mode, parts: parts.map((p) => p.contentKey) }),
    );
  }

  /** The feature layer shared by the parts. */
  get featureLayer(): FeatureExtractor["featureLayer"] {
    return this.parts[0].featureLayer;
  }

  /** Features of every part, fused: [N, dim]. */
  extract(input: Tensor): Tensor {
    const gpu = input.gpu;
    const outs = this.parts.map((p) => p.extract(input));
    if (outs.length === 1) return outs[0];
    let fused: Tensor;
    if (this.mode === "cat") {
      fused = concatColumns(gpu, outs);
    } else {
      fused = outs[0];
      for (let i = 1; i < outs.length; i++) {
        const next = axpby(gpu, 1, fused, 1, outs[i]);
        if (fused !== outs[0]) fused.release();
        fused = next;
      }
      if (this.mode === "mean") {
        const mean = axpby(gpu, 1 / outs.length, fused, 0, fused);
        fused.release();
        fused = mean;
      }
    }
    for (const t of outs) if (t !== fused) t.release();
    return fused;
  }

  /** Releases every part. */
  release(): void {
    for (const p of this.parts) p.release();
  }
}
