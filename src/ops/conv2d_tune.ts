/**
 * Tuning the convolution ops: times every variant of forward, backward data and backward
 * filter for one geometry and stores the winners in the tuner's cache (`src/gpu/autotune.ts`),
 * where `conv2d_family.ts` finds them.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { conv2dBackwardData, conv2dBackwardFilter } from "./conv2d_backward.ts";
import { chooseGemm, chooseWgrad, type Conv2dOp, conv2dVariants } from "./conv2d_family.ts";
import { conv2dForward } from "./conv2d_forward.ts";
import { geometry, rank4, shapeKey, type Size2 } from "./conv2d_geometry.ts";

/** Variants chosen by {@link conv2dTune}, per op. */
export interface Conv2dTuning {
  /** Variant chosen for {@link conv2dForward}. */
  forward: string;
  /** Variant chosen for {@link conv2dBackwardData}. */
  backwardData: string;
  /** Variant chosen for {@link conv2dBackwardFilter}. */
  backwardFilter: string;
}

/**
 * Times every variant of the three convolution ops for one geometry on this adapter and stores
 * the winners in the tuner's on-disk cache, so later calls with this shape use them. Allocates
 * its own inputs (uninitialised) and releases them.
 *
 * @param xShape forward input [N, H, W, Cin]
 * @param wShape weights [kH, kW, Cin, Cout]
 */
export async function conv2dTune(
  gpu: Gpu,
  xShape: readonly number[],
  wShape: readonly number[],
  options: {
    stride?: number;
    pad?: Size2;
    ops?: readonly Conv2dOp[];
    /** Time the variants even when choices are stored (see `TuneOptions.force`). */
    force?: boolean;
    /** Timed samples per variant (default 3). */
    reps?: number;
  } = {},
): Promise<Conv2dTuning> {
  const op = "conv2dTune";
  rank4(op, "xShape", xShape);
  const [kh, kw, cin, cout] = rank4(op, "wShape", wShape);
  const g = geometry(op, xShape, [kh, kw], cout, options.stride, options.pad);
  const ops = options.ops ?? ["forward", "backwardData", "backwardFilter"];
  const x = Tensor.zeros(gpu, xShape);
  const w = Tensor.zeros(gpu, wShape);
  const dy = Tensor.zeros(gpu, [g.n, g.outH, g.outW, cout]);
  const conv = { stride: g.stride, pad: [g.padH, g.padW] as const };
  const tuneOptions = { force: options.force, reps: options.reps };
  const result: Conv2dTuning = {
    forward: chooseGemm(gpu, "forward", g, g.n * g.outH * g.outW, cin, cout, undefined),
    backwardData: chooseGemm(gpu, "backwardData", g, g.n * g.h * g.w, cout, cin, undefined),
    backwardFilter: "",
  };
  try {
    if (ops.includes("forward")) {
      result.forward = await gpu.tuner.tune(
        "conv2d_forward",
        shapeKey(g),
        conv2dVariants("forward", cin, cout),
        (variant) => conv2dForward(gpu, x, w, { ...conv, variant }).release(),
        tuneOptions,
      );
    }
    if (ops.includes("backwardData")) {
      result.backwardData = await gpu.tuner.tune(
        "conv2d_backwardData",
        shapeKey(g),
        conv2dVariants("backwardData", cin, cout),
        (variant) =>
          conv2dBackwardData(gpu, dy, w, { ...conv, inputShape: xShape, variant }).release(),
        tuneOptions,
      );
    }
    const filterVariants = conv2dVariants("backwardFilter", cin, cout);
    result.backwardFilter = ops.includes("backwardFilter")
      ? await gpu.tuner.tune(
        "conv2d_backwardFilter",
        shapeKey(g),
        filterVariants,
        (variant) =>
          conv2dBackwardFilter(gpu, x, dy, { ...conv, kernelSize: [kh, kw], variant }).release(),
        tuneOptions,
      )
      : chooseWgrad(gpu, g);
  } finally {
    x.release();
    w.release();
    dy.release();
  }
  return result;
}
