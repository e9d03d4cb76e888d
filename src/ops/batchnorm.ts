/**
 * BatchNorm2d over NHWC activations: train mode (batch statistics, optionally per group of
 * consecutive samples for shuffle-BN emulation, running statistics updated in place on the GPU),
 * eval mode (running statistics) and the backward pass, each with an optional fused ReLU.
 *
 * Statistics are per channel over the N·H·W rows (of each group). Their reductions are
 * deterministic (fixed-order chunk partials and a per-channel tree, no atomics) and stable
 * (two-pass per chunk, Chan's merge across chunks). See `kernels/batchnorm.wgsl`.
 *
 * @module
 */
import source from "../../kernels/batchnorm.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "batchnorm.wgsl";

/** `struct StatsParams` of `kernels/batchnorm.wgsl` (the statistics passes). */
const STATS = paramStruct(FILE, source, "StatsParams", {
  rows_per_group: "u32",
  channels: "u32",
  chunk: "u32",
  chunks_per_group: "u32",
  total: "u32",
  groups: "u32",
  eps: "f32",
  momentum: "f32",
  running_mode: "u32",
});

/** `struct BlockParams` of `kernels/batchnorm.wgsl` (the row-block passes). */
const BLOCK = paramStruct(FILE, source, "BlockParams", {
  total: "u32",
  channels: "u32",
  rows_per_group: "u32",
  rows_per_block: "u32",
  blocks_per_group: "u32",
  eps: "f32",
});
const WG = 64;
/** Rows per chunk partial: short enough to parallelise, long enough to keep partials small. */
const CHUNK = 64;
/**
 * Rows per thread in the elementwise passes. On the software adapter (CPU time per op at
 * C = 64, 8·112·112 rows) 16, 64 and 256 were within the noise of a shared machine, all
 * ~1.2× an axpby over the same tensor for the forward; 64 keeps ≥ 100k threads there.
 */
const BLOCK_ROWS = 64;

/** PyTorch's BatchNorm2d defaults. */
export const BN_EPS = 1e-5;
/** PyTorch's BatchNorm2d default momentum: running ← (1 − m)·running + m·batch statistic. */
export const BN_MOMENTUM = 0.1;

/** The per-channel tensors of a BatchNorm2d layer, each [C]. */
export interface BatchNormParams {
  /** Scale γ [C]. */
  gamma: Tensor;
  /** Shift β [C]. */
  beta: Tensor;
  /** Running mean [C]; updated in place by train-mode forwards. */
  runningMean: Tensor;
  /** Running (unbiased) variance [C]; updated in place by train-mode forwards. */
  runningVar: Tensor;
}

/** Options of {@link batchNorm2dTrain}. */
export interface BatchNormTrainOptions {
  /**
   * Split the batch N into this many equal consecutive groups, each normalised by its own
   * statistics (shuffle-BN emulation of G data-parallel ranks). Default 1.
   */
  groups?: number;
  /**
   * Which statistics update the running ones: `"group0"` (default; what DDP keeps, since it
   * broadcasts rank 0's buffers) or `"mean"` (the mean over groups of each group's batch mean
   * and unbiased variance).
   */
  runningFrom?: "group0" | "mean";
  /** Whether to update the running statistics (default true). */
  updateRunning?: boolean;
  /** Default 0.1 (PyTorch). */
  momentum?: number;
  /** Default 1e-5. */
  eps?: number;
  /** Apply a ReLU to the output (ResNet's BN → ReLU), default false. */
  relu?: boolean;
}

/** What the backward pass needs from a train-mode forward (release with {@link releaseSaved}). */
export interface BatchNormSaved {
  /** Batch mean per (group, channel), [G, C]. */
  mean: Tensor;
  /** 1/sqrt(biased variance + eps) per (group, channel), [G, C]. */
  invStd: Tensor;
  /** Number of groups G. */
  groups: number;
  /** Whether the forward applied a ReLU (the backward then needs its output). */
  relu: boolean;
}

/** Result of {@link batchNorm2dTrain}. */
export interface BatchNormTrainResult {
  /** Output [N, H, W, C]. */
  y: Tensor;
  /** Saved statistics for {@link batchNorm2dBackward}. */
  saved: BatchNormSaved;
}

/** Gradients from {@link batchNorm2dBackward}. */
export interface BatchNormGrads {
  /** dL/dx [N, H, W, C]. */
  dx: Tensor;
  /** dL/dγ [C]. */
  dGamma: Tensor;
  /** dL/dβ [C]. */
  dBeta: Tensor;
}

/** Options of {@link batchNorm2dEval}. */
export interface BatchNormEvalOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Apply a ReLU to the output, default false. */
  relu?: boolean;
}

/** Options of {@link batchNorm2dBackward}. */
export interface BatchNormBackwardOptions {
  /**
   * The forward output (after its ReLU). Required when the forward had `relu: true`: dy is
   * masked by `y > 0` (fused ReLU backward).
   */
  y?: Tensor;
}

interface Layout {
  n: number;
  channels: number;
  rows: number;
}

function layoutOf(op: string, x: Tensor): Layout {
  if (x.shape.length !== 4) {
    throw new RangeError(`${op}: input must be NHWC [N, H, W, C], got [${x.shape}]`);
  }
  if (x.dtype !== "f32") throw new RangeError(`${op}: input must be f32, got ${x.dtype}`);
  const [n, h, w, c] = x.shape;
  return { n, channels: c, rows: n * h * w };
}

function checkChannels(op: string, what: string, t: Tensor, channels: number): void {
  if (t.size !== channels || t.dtype !== "f32") {
    throw new RangeError(
      `${op}: ${what} must be f32 with ${channels} elements (one per channel), got ` +
        `${t.dtype} [${t.shape}]`,
    );
  }
}

const PARAM_NAMES = ["gamma", "beta", "runningMean", "runningVar"] as const;

function checkParams(op: string, params: BatchNormParams, channels: number): void {
  for (const name of PARAM_NAMES) checkChannels(op, name, params[name], channels);
}

function statsParams(
  rowsPerGroup: number,
  channels: number,
  groups: number,
  eps: number,
  momentum: number,
  runningMode: number,
): { params: Uint8Array; total: number; chunksPerGroup: number } {
  const chunksPerGroup = Math.ceil(rowsPerGroup / CHUNK);
  const total = groups * chunksPerGroup * channels;
  const params = STATS.pack({
    rows_per_group: rowsPerGroup,
    channels,
    chunk: CHUNK,
    chunks_per_group: chunksPerGroup,
    total,
    groups,
    eps,
    momentum,
    running_mode: runningMode,
  });
  return { params, total, chunksPerGroup };
}

/** Uniform block and thread count of the row-block passes (see `BlockParams` in the WGSL). */
function blockParams(
  rowsPerGroup: number,
  channels: number,
  groups: number,
  eps = 0,
): { params: Uint8Array; threads: number } {
  const blocksPerGroup = Math.ceil(rowsPerGroup / BLOCK_ROWS);
  const threads = groups * blocksPerGroup * channels;
  const params = BLOCK.pack({
    total: threads,
    channels,
    rows_per_group: rowsPerGroup,
    rows_per_block: BLOCK_ROWS,
    blocks_per_group: blocksPerGroup,
    eps,
  });
  return { params, threads };
}

function kernel(gpu: Gpu, entryPoint: string, relu = false) {
  return gpu.kernels.get({ file: FILE, source, entryPoint, constants: { WG, RELU: relu ? 1 : 0 } });
}

/**
 * Train-mode BatchNorm2d: normalises each channel of x [N, H, W, C] by the mean and biased
 * variance of its group's N/G·H·W rows, y = γ·(x − μ)/sqrt(var + eps) + β (then ReLU if
 * asked), and updates `runningMean`/`runningVar` in place with momentum and the unbiased
 * variance. Returns y [N, H, W, C] and the saved statistics [G, C] for the backward pass.
 *
 * @throws RangeError on shape mismatch, when G does not divide N, or with one row per group.
 */
export function batchNorm2dTrain(
  gpu: Gpu,
  x: Tensor,
  params: BatchNormParams,
  options: BatchNormTrainOptions = {},
): BatchNormTrainResult {
  const op = "batchNorm2dTrain";
  const { n, channels, rows } = layoutOf(op, x);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || n % groups !== 0) {
    throw new RangeError(`${op}: groups ${groups} must be a positive divisor of the batch ${n}`);
  }
  const rowsPerGroup = rows / groups;
  if (rowsPerGroup < 2) {
    throw new RangeError(
      `${op}: need more than one value per channel and group, got ${rowsPerGroup} ` +
        `(input [${x.shape}], ${groups} group(s))`,
    );
  }
  checkParams(op, params, channels);
  const runningFrom = options.runningFrom ?? "group0";
  if (runningFrom !== "group0" && runningFrom !== "mean") {
    throw new RangeError(`${op}: runningFrom must be "group0" or "mean", got ${runningFrom}`);
  }
  const eps = options.eps ?? BN_EPS;
  const relu = options.relu ?? false;
  const runningMode = options.updateRunning === false ? 0 : runningFrom === "group0" ? 1 : 2;
  const sp = statsParams(
    rowsPerGroup,
    channels,
    groups,
    eps,
    options.momentum ?? BN_MOMENTUM,
    runningMode,
  );

  const partial = Tensor.empty(gpu, [sp.total, 2], "f32", "bn partial");
  gpu.recorder.dispatch(
    kernel(gpu, "bn_stats_partial"),
    [x, partial],
    Math.ceil(sp.total / WG),
    sp.params,
  );
  const mean = Tensor.empty(gpu, [groups, channels], "f32", "bn mean");
  const invStd = Tensor.empty(gpu, [groups, channels], "f32", "bn invstd");
  gpu.recorder.dispatch(
    kernel(gpu, "bn_stats_reduce"),
    [partial, mean, invStd, params.runningMean, params.runningVar, x],
    channels,
    sp.params,
  );
  partial.release();

  const y = Tensor.empty(gpu, x.shape, "f32", "bn y");
  const bp = blockParams(rowsPerGroup, channels, groups);
  gpu.recorder.dispatch(
    kernel(gpu, "bn_apply", relu),
    [x, mean, invStd, params.gamma, params.beta, y],
    Math.ceil(bp.threads / WG),
    bp.params,
  );
  return { y, saved: { mean, invStd, groups, relu } };
}

/**
 * Eval-mode BatchNorm2d: y = γ·(x − running_mean)/sqrt(running_var + eps) + β (then ReLU if
 * asked) for x [N, H, W, C]; returns y [N, H, W, C].
 */
export function batchNorm2dEval(
  gpu: Gpu,
  x: Tensor,
  params: BatchNormParams,
  options: BatchNormEvalOptions = {},
): Tensor {
  const op = "batchNorm2dEval";
  const { channels, rows } = layoutOf(op, x);
  checkParams(op, params, channels);
  const y = Tensor.empty(gpu, x.shape, "f32", "bn eval y");
  const bp = blockParams(rows, channels, 1, options.eps ?? BN_EPS);
  gpu.recorder.dispatch(
    kernel(gpu, "bn_eval", options.relu ?? false),
    [x, params.runningMean, params.runningVar, params.gamma, params.beta, y],
    Math.ceil(bp.threads / WG),
    bp.params,
  );
  return y;
}

/**
 * Backward of {@link batchNorm2dTrain}: from dy [N, H, W, C], the forward input x, γ [C] and
 * the saved statistics, returns dx [N, H, W, C] (through each group's own statistics), dγ [C]
 * and dβ [C]. With a fused ReLU forward pass `options.y` (its output) for the mask.
 */
export function batchNorm2dBackward(
  gpu: Gpu,
  dy: Tensor,
  x: Tensor,
  gamma: Tensor,
  saved: BatchNormSaved,
  options: BatchNormBackwardOptions = {},
): BatchNormGrads {
  const op = "batchNorm2dBackward";
  const { channels, rows } = layoutOf(op, x);
  if (dy.shape.join() !== x.shape.join() || dy.dtype !== "f32") {
    throw new RangeError(`${op}: dy [${dy.shape}] must match x [${x.shape}] (f32)`);
  }
  checkChannels(op, "gamma", gamma, channels);
  const groups = saved.groups;
  if (saved.mean.size !== groups * channels || saved.invStd.size !== groups * channels) {
    throw new RangeError(`${op}: saved statistics do not match ${groups} group(s) × ${channels}`);
  }
  const relu = saved.relu;
  if (relu && !options.y) {
    throw new RangeError(`${op}: the forward applied a ReLU, pass its output as options.y`);
  }
  if (options.y && options.y.shape.join() !== x.shape.join()) {
    throw new RangeError(`${op}: y [${options.y.shape}] must match x [${x.shape}]`);
  }
  const maskSource = relu ? options.y! : dy;
  const rowsPerGroup = rows / groups;
  const sp = statsParams(rowsPerGroup, channels, groups, 0, 0, 0);

  const partial = Tensor.empty(gpu, [sp.total, 2], "f32", "bn grad partial");
  gpu.recorder.dispatch(
    kernel(gpu, "bn_grad_partial", relu),
    [dy, x, maskSource, saved.mean, saved.invStd, partial],
    Math.ceil(sp.total / WG),
    sp.params,
  );
  const sums = Tensor.empty(gpu, [groups, channels, 2], "f32", "bn grad sums");
  const dGamma = Tensor.empty(gpu, [channels], "f32", "bn dgamma");
  const dBeta = Tensor.empty(gpu, [channels], "f32", "bn dbeta");
  gpu.recorder.dispatch(
    kernel(gpu, "bn_grad_reduce"),
    [partial, sums, dGamma, dBeta],
    channels,
    sp.params,
  );
  partial.release();

  const dx = Tensor.empty(gpu, x.shape, "f32", "bn dx");
  const bp = blockParams(rowsPerGroup, channels, groups);
  gpu.recorder.dispatch(
    kernel(gpu, "bn_backward_dx", relu),
    [dy, x, maskSource, saved.mean, saved.invStd, gamma, sums, dx],
    Math.ceil(bp.threads / WG),
    bp.params,
  );
  sums.release();
  return { dx, dGamma, dBeta };
}

/** Returns the saved statistics of a train-mode forward to the pool. */
export function releaseSaved(saved: BatchNormSaved): void {
  saved.mean.release();
  saved.invStd.release();
}
