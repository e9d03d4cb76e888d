/**
 * Early refusal of a training run that cannot fit the adapter: the largest GPU buffers a MoCo
 * step allocates (activations of the widest layers, the MLP weight, the queue, InfoNCE
 * temporaries) are computed from the architecture before anything is allocated, and each is
 * checked against the device's `maxStorageBufferBindingSize` and `maxBufferSize`.
 *
 * @module
 */
import { UsageError } from "../util/errors.ts";

/** What decides the buffer sizes. */
export interface TrainFootprint {
  /** `resnet18`, `resnet50`, `resnet50w3`, … (a `wN` suffix multiplies the width). */
  arch: string;
  /** Base width (64 for the real networks; tests use narrow ones). */
  baseWidth?: number;
  /** Images per step (one view; the key view has the same shape). */
  batch: number;
  /** Input side (224). */
  imageSize: number;
  /** Embedding size (`--moco-dim`). */
  dim: number;
  /** Queue length (`--moco-k`). */
  queueSize: number;
  /** MLP head (`--mlp`). */
  mlp: boolean;
}

/** A field of {@link TrainFootprint}: what a refusal names. */
export type FootprintOption = keyof TrainFootprint;

/**
 * How a refusal names an option: the {@link TrainFootprint} field by default; a caller with its
 * own names (a config field, a command-line flag) passes its own.
 */
export type FootprintNamer = (option: FootprintOption) => string;

/** The default {@link FootprintNamer}: the {@link TrainFootprint} field. */
export const footprintFieldName: FootprintNamer = (option) => option;

/** One planned buffer. */
export interface PlannedBuffer {
  /** What the buffer holds. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** Its size in bytes. */
  bytes: number;
}

const BOTTLENECK = new Set(["resnet50", "resnet101", "resnet152"]);

/** Splits `resnet50w3` into the base arch and the width multiplier. */
export function splitArch(arch: string): { base: string; width: number } {
  const m = /^(resnet\d+)(?:w(\d+))?$/.exec(arch);
  if (!m) {
    throw new UsageError(`arch: '${arch}' is not a ResNet name like resnet50 or resnet50w3`);
  }
  return { base: m[1], width: m[2] ? Number(m[2]) : 1 };
}

/** The largest buffers of one training step, biggest first. */
export function plannedBuffers(f: TrainFootprint): PlannedBuffer[] {
  const { base, width } = splitArch(f.arch);
  const stem = (f.baseWidth ?? 64) * width;
  const expansion = BOTTLENECK.has(base) ? 4 : 1;
  const out: PlannedBuffer[] = [];
  const add = (name: string, shape: number[]) =>
    out.push({ name, shape, bytes: shape.reduce((a, b) => a * b, 4) });
  const n = f.batch;
  let side = Math.ceil(f.imageSize / 2);
  add("input views [N, H, W, 3]", [n, f.imageSize, f.imageSize, 3]);
  add("stem conv output", [n, side, side, stem]);
  side = Math.ceil(side / 2);
  let channels = stem;
  for (let s = 0; s < 4; s++) {
    if (s > 0) side = Math.ceil(side / 2);
    const planes = stem * 2 ** s;
    channels = planes * expansion;
    add(`layer${s + 1} output`, [n, side, side, channels]);
    add(`layer${s + 1} 3×3 conv weight`, [3, 3, planes, planes]);
  }
  if (f.mlp) add("MLP fc.0 weight", [channels, channels]);
  add("projection fc weight", [f.dim, channels]);
  add("queue [dim, K]", [f.dim, f.queueSize]);
  return out.sort((a, b) => b.bytes - a.bytes);
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Throws a `UsageError` naming the first planned buffer that exceeds the device's binding or
 * buffer size limit, with both sizes and a hint (smaller batch or image size, named by `name`).
 */
export function checkTrainingFits(
  f: TrainFootprint,
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number },
  name: FootprintNamer = footprintFieldName,
): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const b of plannedBuffers(f)) {
    if (b.bytes > limit) {
      const which = limits.maxStorageBufferBindingSize <= limits.maxBufferSize
        ? "maxStorageBufferBindingSize"
        : "maxBufferSize";
      throw new UsageError(
        `${f.arch} at batch ${f.batch}, ${f.imageSize}×${f.imageSize} does not fit this adapter: ` +
          `the ${b.name} [${b.shape}] needs ${mb(b.bytes)}, but the adapter binds at most ` +
          `${mb(limit)} per buffer (${which}); use a smaller ${name("batch")} or ${
            name("imageSize")
          }`,
      );
    }
  }
}
