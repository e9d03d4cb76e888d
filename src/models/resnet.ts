/**
 * torchvision-style ResNets ("v1.5": the stride on the 3×3 conv) with a width multiplier and an
 * optional base width, built from the `src/nn` layers (docs/common.md#resnet). PyTorch module names, shapes
 * and `named_parameters()` / `state_dict()` orders, so checkpoints convert one to one.
 *
 * Two forward paths:
 * - {@link ResNet.forwardEval}: eval-mode BN folded into the convolutions (weights and bias
 *   computed on the GPU, refreshed whenever the weights or statistics may have changed), the
 *   residual add and ReLU fused into each block's last convolution; returns pooled features.
 * - {@link ResNet.forwardTrain} / {@link ResNet.backward}: train-mode BN (optionally per group of
 *   samples, shuffle-BN emulation), activations kept on an explicit tape, gradients accumulated
 *   into each {@link Parameter}'s `grad`.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { checkKeys } from "../io/torch/state_dict.ts";
import { type StateDict, TorchTensor } from "../io/torch/tensor.ts";
import type { Conv2dOp } from "../ops/conv2d_family.ts";
import { conv2dTune } from "../ops/conv2d_tune.ts";
import { add, addRelu, reluBackward } from "../ops/elementwise.ts";
import { foldBatchNormGpu } from "../ops/fold_batchnorm_gpu.ts";
import { oihwToHwio } from "../ops/fold_batchnorm.ts";
import { BatchNorm2d, type BatchNorm2dInit, type BatchNorm2dTape } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv2d.ts";
import { Linear } from "../nn/linear.ts";
import {
  type Buffer,
  fromTorchLayout,
  type Parameter,
  releaseParameter,
  toTorchLayout,
  zeroGrad,
} from "../nn/parameter.ts";
import { GlobalAvgPool, MaxPool2d } from "../nn/pool.ts";
import { ReLU } from "../nn/relu.ts";
import { Sequential } from "../nn/sequential.ts";
import { DataError, UsageError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import { kaimingNormalConv, linearDefaultInit } from "./init.ts";

/** The ResNet depths. */
export type ResNetArch = "resnet18" | "resnet34" | "resnet50" | "resnet101" | "resnet152";
/**
 * The layers features can be taken from, in depth order: `backbone` (= pooled layer4, the
 * default) or the pooled output of one stage. The one list every flag, loader and model uses.
 */
export const FEATURE_LAYERS = ["backbone", "layer1", "layer2", "layer3", "layer4"] as const;
/** Where features are taken: pooled output of a stage, or `backbone` (= pooled layer4). */
export type FeatureLayer = typeof FEATURE_LAYERS[number];

/** Whether `value` names a {@link FeatureLayer}. */
export function isFeatureLayer(value: string): value is FeatureLayer {
  return (FEATURE_LAYERS as readonly string[]).includes(value);
}

/**
 * `value` as a {@link FeatureLayer}, or a UsageError naming `flag` and the accepted layers.
 * `flag` is what the user typed (a script passes `--feature-layer`).
 */
export function parseFeatureLayer(value: string, flag = "--feature-layer"): FeatureLayer {
  if (isFeatureLayer(value)) return value;
  throw new UsageError(`${flag} must be one of ${FEATURE_LAYERS.join(", ")}, got '${value}'`);
}
/** torchvision's `fc` (linear), MoCo's MLP `fc.0`/`fc.2`, or no head. */
export type HeadKind = "none" | "linear" | "mlp";

/** Architecture of a {@link ResNet}. */
export interface ResNetConfig {
  /** Depth: `resnet18`, `resnet50` and the other torchvision depths. */
  arch: ResNetArch;
  /** Width multiplier w (every channel count × w), default 1. */
  widthMultiplier?: number;
  /** Channels of the stem at w = 1, default 64 (tests use narrow networks). */
  baseWidth?: number;
  /** Head, default `linear`. */
  head?: HeadKind;
  /** Outputs of the head, default 1000. */
  numClasses?: number;
}

const ARCHS: Record<ResNetArch, { block: "basic" | "bottleneck"; layers: number[] }> = {
  resnet18: { block: "basic", layers: [2, 2, 2, 2] },
  resnet34: { block: "basic", layers: [3, 4, 6, 3] },
  resnet50: { block: "bottleneck", layers: [3, 4, 6, 3] },
  resnet101: { block: "bottleneck", layers: [3, 4, 23, 3] },
  resnet152: { block: "bottleneck", layers: [3, 8, 36, 3] },
};

/**
 * The config named by an architecture string: `resnet50`, `resnet50w3`, `resnet18w2`, … (the
 * original's `-a` values). Throws `UsageError` for anything else.
 */
export function parseArch(name: string): ResNetConfig {
  const m = /^(resnet(?:18|34|50|101|152))(?:w([1-9]\d*))?$/.exec(name);
  if (!m) {
    throw new UsageError(
      `unknown architecture '${name}' (expected resnet18/34/50/101/152 with an optional ` +
        `width suffix such as resnet50w3)`,
    );
  }
  return { arch: m[1] as ResNetArch, widthMultiplier: m[2] ? Number(m[2]) : 1 };
}

/** The canonical name of a config's architecture (`resnet50`, `resnet50w3`). */
export function archName(config: ResNetConfig): string {
  const w = config.widthMultiplier ?? 1;
  return w === 1 ? config.arch : `${config.arch}w${w}`;
}

// ---------------------------------------------------------------------------------------------
// Structure (pure, no GPU): names and shapes of every layer

interface ConvPlan {
  name: string;
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  pad: number;
}

interface UnitPlan {
  conv: ConvPlan;
  bn: string;
}

interface BlockPlan {
  units: UnitPlan[];
  downsample?: UnitPlan;
  out: number;
}

interface LinearPlan {
  name: string;
  inFeatures: number;
  outFeatures: number;
}

interface Plan {
  stem: UnitPlan;
  stages: BlockPlan[][];
  head: LinearPlan[];
  stageChannels: number[];
}

function resolved(config: ResNetConfig): Required<ResNetConfig> {
  if (!(config.arch in ARCHS)) throw new UsageError(`unknown architecture '${config.arch}'`);
  const out = {
    arch: config.arch,
    widthMultiplier: config.widthMultiplier ?? 1,
    baseWidth: config.baseWidth ?? 64,
    head: config.head ?? "linear",
    numClasses: config.numClasses ?? 1000,
  };
  for (const key of ["widthMultiplier", "baseWidth", "numClasses"] as const) {
    if (!Number.isInteger(out[key]) || out[key] < 1) {
      throw new UsageError(`ResNet ${key} must be a positive integer, got ${out[key]}`);
    }
  }
  if (!["none", "linear", "mlp"].includes(out.head)) {
    throw new UsageError(`ResNet head must be none, linear or mlp, got '${out.head}'`);
  }
  return out;
}

function conv(name: string, cin: number, cout: number, kernel: number, stride = 1): ConvPlan {
  return { name, cin, cout, kernel, stride, pad: kernel === 7 ? 3 : kernel === 3 ? 1 : 0 };
}

function plan(config: Required<ResNetConfig>): Plan {
  const { block, layers } = ARCHS[config.arch];
  const stemWidth = config.baseWidth * config.widthMultiplier;
  const expansion = block === "bottleneck" ? 4 : 1;
  const stem = { conv: conv("conv1", 3, stemWidth, 7, 2), bn: "bn1" };
  let inplanes = stemWidth;
  const stageChannels: number[] = [];
  const stages = layers.map((count, s) => {
    const planes = stemWidth * 2 ** s;
    const out = planes * expansion;
    const blocks: BlockPlan[] = [];
    for (let b = 0; b < count; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = b === 0 && s > 0 ? 2 : 1;
      const units: UnitPlan[] = block === "bottleneck"
        ? [
          { conv: conv(`${p}.conv1`, inplanes, planes, 1), bn: `${p}.bn1` },
          { conv: conv(`${p}.conv2`, planes, planes, 3, stride), bn: `${p}.bn2` },
          { conv: conv(`${p}.conv3`, planes, out, 1), bn: `${p}.bn3` },
        ]
        : [
          { conv: conv(`${p}.conv1`, inplanes, planes, 3, stride), bn: `${p}.bn1` },
          { conv: conv(`${p}.conv2`, planes, planes, 3), bn: `${p}.bn2` },
        ];
      const downsample = stride !== 1 || inplanes !== out
        ? { conv: conv(`${p}.downsample.0`, inplanes, out, 1, stride), bn: `${p}.downsample.1` }
        : undefined;
      blocks.push({ units, downsample, out });
      inplanes = out;
    }
    stageChannels.push(out);
    return blocks;
  });
  const d = inplanes;
  const head: LinearPlan[] = config.head === "linear"
    ? [{ name: "fc", inFeatures: d, outFeatures: config.numClasses }]
    : config.head === "mlp"
    ? [
      { name: "fc.0", inFeatures: d, outFeatures: d },
      { name: "fc.2", inFeatures: d, outFeatures: config.numClasses },
    ]
    : [];
  return { stem, stages, head, stageChannels };
}

function allUnits(p: Plan): UnitPlan[] {
  const out = [p.stem];
  for (const stage of p.stages) {
    for (const b of stage) out.push(...b.units, ...(b.downsample ? [b.downsample] : []));
  }
  return out;
}

/**
 * PyTorch's state-dict names and shapes of a config, in `state_dict()` order. BN
 * `num_batches_tracked` entries have shape `[]`.
 */
export function resnetStateDictShapes(config: ResNetConfig): Map<string, number[]> {
  const p = plan(resolved(config));
  const out = new Map<string, number[]>();
  for (const u of allUnits(p)) {
    const c = u.conv;
    out.set(`${c.name}.weight`, [c.cout, c.cin, c.kernel, c.kernel]);
    for (const s of ["weight", "bias", "running_mean", "running_var"]) {
      out.set(`${u.bn}.${s}`, [c.cout]);
    }
    out.set(`${u.bn}.num_batches_tracked`, []);
  }
  for (const l of p.head) {
    out.set(`${l.name}.weight`, [l.outFeatures, l.inFeatures]);
    out.set(`${l.name}.bias`, [l.outFeatures]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Layers and tapes

/** Where a new model's values come from. */
interface WeightSource {
  conv(c: ConvPlan): Float32Array;
  bn(name: string, channels: number): BatchNorm2dInit;
  linear(l: LinearPlan): { weight: Float32Array; bias: Float32Array };
}

interface Unit {
  conv: Conv2d;
  bn: BatchNorm2d;
  /** BN-folded weights and bias for the eval path (allocated on first use). */
  foldedW?: Tensor;
  foldedB?: Tensor;
}

interface Block {
  units: Unit[];
  downsample?: Unit;
  out: number;
}

interface UnitTape {
  /** The convolution's input (not owned by the tape). */
  input: Tensor;
  /** The convolution's output = the BN input. */
  a: Tensor;
  bn: BatchNorm2dTape;
}

interface BlockTape {
  input: Tensor;
  units: UnitTape[];
  downsample?: UnitTape;
  out: Tensor;
}

interface Tape {
  input: Tensor;
  stem: UnitTape;
  poolIndices: Tensor;
  blocks: BlockTape[];
  final: Tensor;
  pooled: Tensor;
}

/** One convolution as run on a given input: shapes, stride and padding. */
export interface ConvGeometry {
  /** Input [N, H, W, Cin]. */
  xShape: number[];
  /** Weights [kH, kW, Cin, Cout]. */
  wShape: number[];
  /** Stride, both spatial dimensions. */
  stride: number;
  /** Zero padding on each side, pixels. */
  pad: number;
}

/** Options of {@link ResNet.forwardTrain}. */
export interface ForwardTrainOptions {
  /**
   * Split the batch into this many consecutive groups with their own BN statistics (shuffle-BN
   * emulation; running statistics follow group 0, as DDP keeps rank 0's). Default 1.
   */
  bnGroups?: number;
  /**
   * Keep the activations for {@link ResNet.backward} (default true). MoCo's key encoder passes
   * false: it never back-propagates.
   */
  keepTape?: boolean;
}

/**
 * A ResNet on the GPU.
 *
 * @example
 * ```ts
 * const net = ResNet.create(gpu, parseArch("resnet50"), new Rng(0));
 * const features = net.forwardEval(images); // [N, 2048], images NHWC [N, 224, 224, 3]
 * const [values] = await gpu.recorder.read([features]);
 *
 * const out = net.forwardTrain(images, { bnGroups: 8 }); // [N, 1000]
 * net.zeroGrad();
 * net.backward(dOut); // fills every parameters()[i].grad
 * ```
 */
export class ResNet {
  /** The architecture as given (defaults not filled in). */
  readonly config: ResNetConfig;
  readonly #full: Required<ResNetConfig>;
  readonly #stem: Unit;
  readonly #stages: Block[][];
  readonly #head: Linear[];
  /** The head as run: `fc`, or `fc.0 → ReLU → fc.2`. */
  readonly #headChain: Sequential;
  readonly #stageChannels: number[];
  readonly #maxPool: MaxPool2d;
  readonly #avgPool: GlobalAvgPool;
  /**
   * Bytes one activation may occupy (default: the device's maxStorageBufferBindingSize). Lower
   * it to force {@link forwardEval}'s batch slicing, e.g. in tests.
   */
  maxBindingBytes: number | undefined;
  #tape: Tape | undefined;
  #foldedStale = true;
  #released = false;

  private constructor(readonly gpu: Gpu, config: ResNetConfig, source: WeightSource) {
    this.#full = resolved(config);
    this.config = { ...this.#full };
    const p = plan(this.#full);
    const unit = (u: UnitPlan): Unit => ({
      conv: new Conv2d(gpu, u.conv.name, u.conv, source.conv(u.conv)),
      bn: new BatchNorm2d(gpu, u.bn, u.conv.cout, source.bn(u.bn, u.conv.cout)),
    });
    this.#stem = unit(p.stem);
    this.#stages = p.stages.map((stage) =>
      stage.map((b) => ({
        units: b.units.map(unit),
        downsample: b.downsample ? unit(b.downsample) : undefined,
        out: b.out,
      }))
    );
    this.#head = p.head.map((l) => {
      const { weight, bias } = source.linear(l);
      return new Linear(gpu, l.name, l.inFeatures, l.outFeatures, weight, bias);
    });
    this.#headChain = new Sequential(
      this.#head.length === 2 ? [this.#head[0], new ReLU(gpu), this.#head[1]] : this.#head,
    );
    this.#stageChannels = p.stageChannels;
    this.#maxPool = new MaxPool2d(gpu, { kernel: 3, stride: 2, padding: 1 });
    this.#avgPool = new GlobalAvgPool(gpu);
  }

  /**
   * A freshly initialised network (docs/common.md#resnet): Kaiming-normal (fan_out) convolutions, BN γ = 1,
   * β = 0, running mean 0 / variance 1, PyTorch's default Linear init; all draws from `rng`.
   */
  static create(gpu: Gpu, config: ResNetConfig, rng: Rng): ResNet {
    return new ResNet(gpu, config, {
      conv: (c) => kaimingNormalConv(rng, c.cout, c.cin, c.kernel),
      bn: () => ({}),
      linear: (l) => linearDefaultInit(rng, l.outFeatures, l.inFeatures),
    });
  }

  /**
   * A network holding the weights of a PyTorch state dict (plain torchvision names, no
   * `module.`/`encoder_q.` prefix). Strict: missing keys, unexpected keys and shape mismatches
   * raise one `DataError` listing them and naming `source`. `num_batches_tracked` may be absent
   * (old torchvision files) and then counts from 0.
   */
  static fromStateDict(
    gpu: Gpu,
    config: ResNetConfig,
    sd: StateDict,
    source: string,
  ): ResNet {
    const checked = checkStateDict(config, sd, source);
    const get = (name: string) => floatData(checked, name, source);
    return new ResNet(gpu, config, {
      conv: (c) => oihwToHwio(get(`${c.name}.weight`), [c.cout, c.cin, c.kernel, c.kernel]),
      bn: (name) => ({
        weight: get(`${name}.weight`),
        bias: get(`${name}.bias`),
        runningMean: get(`${name}.running_mean`),
        runningVar: get(`${name}.running_var`),
        numBatchesTracked: countOf(checked.get(`${name}.num_batches_tracked`)),
      }),
      linear: (l) => ({ weight: get(`${l.name}.weight`), bias: get(`${l.name}.bias`) }),
    });
  }

  /**
   * A deep copy on the same GPU: same config, parameters, buffers and batch counts (the values
   * are copied on the GPU, recorded into the current command encoder). Gradients start at zero.
   */
  clone(): ResNet {
    const copy = new ResNet(this.gpu, this.config, {
      conv: (c) => new Float32Array(c.kernel * c.kernel * c.cin * c.cout),
      bn: () => ({}),
      linear: (l) => ({
        weight: new Float32Array(l.outFeatures * l.inFeatures),
        bias: new Float32Array(l.outFeatures),
      }),
    });
    const recorder = this.gpu.recorder;
    const mine = this.parameters();
    copy.parameters().forEach((p, i) => recorder.copy(mine[i].value, p.value, p.value.byteSize));
    const myBuffers = this.buffers();
    copy.buffers().forEach((b, i) => {
      if (b.value) recorder.copy(myBuffers[i].value!, b.value, b.value.byteSize);
      else b.count = myBuffers[i].count;
    });
    return copy;
  }

  /**
   * Times every kernel variant of each distinct convolution this network runs on inputs of
   * `inputShape` [N, H, W, 3] (forward only by default; add `backwardData`/`backwardFilter`
   * for training) and stores the winners in the GPU's tuner, so later passes use them. Costs
   * compile and run time once per adapter and shape (cached on disk); a no-op choice per shape
   * when `SSL_AUTOTUNE=0`.
   */
  async tune(
    inputShape: readonly number[],
    ops: readonly Conv2dOp[] = ["forward"],
  ): Promise<number> {
    const seen = new Set<string>();
    let count = 0;
    for (const g of this.convGeometries(inputShape)) {
      const key = `${g.xShape}|${g.wShape}|${g.stride}|${g.pad}`;
      if (seen.has(key)) continue;
      seen.add(key);
      await conv2dTune(this.gpu, g.xShape, g.wShape, { stride: g.stride, pad: g.pad, ops });
      count++;
    }
    return count;
  }

  /** Every convolution's input shape, HWIO weight shape, stride and padding, in run order. */
  convGeometries(inputShape: readonly number[]): ConvGeometry[] {
    const out: ConvGeometry[] = [];
    const n = inputShape[0];
    let [h, w] = [inputShape[1], inputShape[2]];
    const run = (u: Unit, hin: number, win: number) => {
      const c = u.conv;
      out.push({
        xShape: [n, hin, win, c.cin],
        wShape: [c.kernel, c.kernel, c.cin, c.cout],
        stride: c.stride,
        pad: c.pad,
      });
      const size = (v: number) => Math.floor((v + 2 * c.pad - c.kernel) / c.stride) + 1;
      return [size(hin), size(win)];
    };
    [h, w] = run(this.#stem, h, w);
    [h, w] = [Math.floor((h - 1) / 2) + 1, Math.floor((w - 1) / 2) + 1];
    for (const stage of this.#stages) {
      for (const b of stage) {
        if (b.downsample) run(b.downsample, h, w);
        let [bh, bw] = [h, w];
        for (const u of b.units) [bh, bw] = run(u, bh, bw);
        [h, w] = [bh, bw];
      }
    }
    return out;
  }

  /** Channels of the pooled output of `layer` (`backbone` = layer4). */
  featureDim(layer: FeatureLayer = "backbone"): number {
    return this.#stageChannels[stageCount(layer) - 1];
  }

  /** Output width of {@link forwardTrain}: the head's outputs, or the backbone's with no head. */
  get outputDim(): number {
    const last = this.#head[this.#head.length - 1];
    return last ? last.outFeatures : this.featureDim();
  }

  /**
   * Eval-mode features: x NHWC f32 [N, H, W, 3] (normalised) → pooled [N, C] of `layer`
   * (default the backbone, i.e. pooled layer4; the head is not applied). BN uses the running
   * statistics, folded into the convolutions. The caller releases the result.
   */
  forwardEval(x: Tensor, layer: FeatureLayer = "backbone"): Tensor {
    this.#checkInput("forwardEval", x);
    this.#refreshFolded();
    const [n, h, w, c] = x.shape;
    const chunk = this.maxBatch([n, h, w, c], "forwardEval");
    if (n <= chunk) return this.#forwardEvalChunk(x, layer);
    // Every activation must fit one storage binding: run the batch in slices of rows and
    // gather the pooled rows (contiguous in both the input and the output).
    const dim = this.featureDim(layer);
    const out = Tensor.empty(this.gpu, [n, dim], "f32", "resnet features");
    const rowBytes = h * w * c * 4;
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const part = Tensor.empty(this.gpu, [rows, h, w, c], "f32", "resnet input slice");
      this.gpu.recorder.copy(x, part, rows * rowBytes, start * rowBytes);
      const y = this.#forwardEvalChunk(part, layer);
      this.gpu.recorder.copy(y, out, y.byteSize, 0, start * dim * 4);
      part.release();
      y.release();
    }
    return out;
  }

  /**
   * The largest batch of `inputShape` [N, H, W, 3] images whose every activation fits one
   * storage-buffer binding of this device (e.g. 41 at 224×224 under llvmpipe's 128 MiB).
   * {@link forwardEval} splits larger batches by itself; {@link forwardTrain} cannot (BN needs
   * the whole batch) and refuses them with this number in the message.
   *
   * @throws RangeError when not even one image fits.
   */
  maxBatch(inputShape: readonly number[], op = "ResNet"): number {
    const limit = this.maxBindingBytes ?? this.gpu.device.limits.maxStorageBufferBindingSize;
    let perImage = inputShape[1] * inputShape[2] * inputShape[3];
    for (const g of this.convGeometries([1, ...inputShape.slice(1)])) {
      const [, hin, win, cin] = g.xShape;
      const out = Math.floor((hin + 2 * g.pad - g.wShape[0]) / g.stride) + 1;
      const outW = Math.floor((win + 2 * g.pad - g.wShape[1]) / g.stride) + 1;
      perImage = Math.max(perImage, hin * win * cin, out * outW * g.wShape[3]);
    }
    const fits = Math.floor(limit / (perImage * 4));
    if (fits < 1) {
      throw new RangeError(
        `${op}: one ${inputShape[1]}×${inputShape[2]} image needs a ${perImage * 4}-byte ` +
          `activation, more than this adapter's ${limit}-byte storage binding limit`,
      );
    }
    return fits;
  }

  #forwardEvalChunk(x: Tensor, layer: FeatureLayer): Tensor {
    const stages = stageCount(layer);
    const stem = this.#evalUnit(this.#stem, x, { relu: true });
    const pooled = this.#maxPool.forward(stem);
    stem.release();
    pooled.indices.release();
    let h = pooled.y;
    for (let s = 0; s < stages; s++) {
      for (const block of this.#stages[s]) {
        const next = this.#evalBlock(block, h);
        h.release();
        h = next;
      }
    }
    const out = this.#avgPool.forward(h);
    h.release();
    return out;
  }

  /**
   * Train-mode forward: BN with batch statistics (per group with `bnGroups`), running statistics
   * updated as PyTorch does; activations kept for {@link backward}. Returns the head's output
   * [N, numClasses] (pooled [N, C] with head `none`); the caller releases it and must keep `x`
   * alive until the backward pass.
   */
  forwardTrain(x: Tensor, options: ForwardTrainOptions = {}): Tensor {
    this.#checkInput("forwardTrain", x);
    this.clearTape();
    this.#foldedStale = true;
    const groups = options.bnGroups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || x.shape[0] % groups !== 0) {
      throw new UsageError(
        `bnGroups ${groups} must be a positive divisor of the batch size ${x.shape[0]}`,
      );
    }
    const most = this.maxBatch(x.shape, "forwardTrain");
    if (x.shape[0] > most) {
      throw new UsageError(
        `forwardTrain: a batch of ${x.shape[0]} ${x.shape[1]}×${x.shape[2]} images exceeds this ` +
          `adapter's storage binding limit (${
            this.maxBindingBytes ?? this.gpu.device.limits.maxStorageBufferBindingSize
          } bytes per activation); use at most ${most} images per batch`,
      );
    }
    const stem = this.#trainUnit(this.#stem, x, groups, true);
    const pool = this.#maxPool.forward(stem.bn.y);
    const blocks: BlockTape[] = [];
    let h = pool.y;
    for (const stage of this.#stages) {
      for (const block of stage) {
        const t = this.#trainBlock(block, h, groups);
        blocks.push(t);
        h = t.out;
      }
    }
    const pooled = this.#avgPool.forward(h);
    const tape: Tape = { input: x, stem, poolIndices: pool.indices, blocks, final: h, pooled };
    const keep = options.keepTape !== false;
    let out: Tensor;
    if (this.#head.length === 0) {
      // The caller owns the output; the tape keeps its own pooled tensor.
      out = Tensor.empty(this.gpu, pooled.shape, "f32", "resnet out");
      this.gpu.recorder.copy(pooled, out, pooled.byteSize);
    } else {
      out = this.#headChain.forward(pooled, keep);
    }
    if (!keep) releaseTape(tape);
    else this.#tape = tape;
    return out;
  }

  /**
   * Back-propagates dL/d(output) `dy` (same shape as {@link forwardTrain}'s result) through the
   * tape: accumulates every parameter's gradient and frees the activations. The caller keeps
   * ownership of `dy`.
   */
  backward(dy: Tensor): void {
    const tape = this.#tape;
    if (!tape) {
      throw new UsageError("ResNet.backward() needs a forwardTrain() with the tape kept first");
    }
    const n = tape.pooled.shape[0];
    if (dy.shape.length !== 2 || dy.shape[0] !== n || dy.shape[1] !== this.outputDim) {
      throw new RangeError(
        `ResNet.backward: dy must be [${n}, ${this.outputDim}], got [${dy.shape}]`,
      );
    }
    this.#tape = undefined;
    this.#foldedStale = true;
    const dPooled = this.#head.length === 0 ? dy : this.#headChain.backward(dy);
    let d = this.#avgPool.backward(dPooled, tape.final.shape);
    if (dPooled !== dy) dPooled.release();
    for (let i = tape.blocks.length - 1; i >= 0; i--) {
      const block = this.#blockAt(i);
      const next = this.#backwardBlock(block, tape.blocks[i], d);
      d.release();
      d = next;
    }
    const dStem = this.#maxPool.backward(d, tape.poolIndices, tape.stem.bn.y.shape);
    d.release();
    const dA = this.#stem.bn.backward(dStem, tape.stem.bn);
    dStem.release();
    this.#stem.conv.backward(tape.input, dA, false);
    dA.release();
    releaseTape(tape);
  }

  /** Frees the activations of a forwardTrain() that will not be back-propagated. */
  clearTape(): void {
    this.#headChain.clearTape();
    if (this.#tape) releaseTape(this.#tape);
    this.#tape = undefined;
  }

  /** Every parameter, in PyTorch's `named_parameters()` order. */
  parameters(): Parameter[] {
    return [
      ...this.#units().flatMap((u) => [u.conv.weight, ...u.bn.parameters()]),
      ...this.#head.flatMap((l) => l.parameters()),
    ];
  }

  /** Every buffer (running_mean, running_var, num_batches_tracked per BN), PyTorch order. */
  buffers(): Buffer[] {
    return this.#units().flatMap((u) => u.bn.buffers());
  }

  /** Records clearing every gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) zeroGrad(this.gpu, p);
  }

  /**
   * Tells the model its parameters or buffers were changed from outside (e.g. an EMA update
   * without a following forwardTrain), so the fused eval weights are rebuilt. Training steps
   * (forwardTrain, backward) and {@link loadStateDict} do this themselves.
   */
  invalidateFolded(): void {
    this.#foldedStale = true;
  }

  /** The state dict with PyTorch names, order, dtypes and layouts (OIHW); one GPU sync. */
  async stateDict(): Promise<StateDict> {
    const entries = this.#stateEntries();
    const gpuTensors = entries.flatMap((e) => (e.tensor ? [e.tensor] : []));
    const data = await this.gpu.recorder.read(gpuTensors);
    const out: StateDict = new Map();
    let k = 0;
    for (const e of entries) {
      if (e.count !== undefined) {
        out.set(e.name, new TorchTensor("int64", [], new BigInt64Array([BigInt(e.count)])));
        continue;
      }
      const raw = data[k++] as Float32Array;
      const values = e.param ? toTorchLayout(e.param, raw) : raw;
      out.set(e.name, new TorchTensor("float32", e.torchShape, values));
    }
    return out;
  }

  /**
   * Replaces every parameter and buffer with a state dict's values (same rules as
   * {@link fromStateDict}: strict keys and shapes, `DataError` naming `source`).
   */
  loadStateDict(sd: StateDict, source: string): void {
    const checked = checkStateDict(this.config, sd, source);
    for (const e of this.#stateEntries()) {
      const t = checked.get(e.name);
      if (e.count !== undefined) {
        const buffer = this.buffers().find((b) => b.name === e.name)!;
        buffer.count = countOf(t);
        continue;
      }
      const values = floatData(checked, e.name, source);
      const gpuValues = e.param ? fromTorchLayout(e.param, values) : values;
      this.gpu.recorder.upload(e.tensor!.buffer, 0, gpuValues);
    }
    this.#foldedStale = true;
  }

  /** Releases every GPU tensor of the model (parameters, gradients, buffers, tape). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.clearTape();
    for (const u of this.#units()) {
      u.foldedW?.release();
      u.foldedB?.release();
    }
    for (const p of this.parameters()) releaseParameter(p);
    for (const b of this.buffers()) b.value?.release();
  }

  // ---- internals -------------------------------------------------------------------------

  #units(): Unit[] {
    const out = [this.#stem];
    for (const stage of this.#stages) {
      for (const b of stage) out.push(...b.units, ...(b.downsample ? [b.downsample] : []));
    }
    return out;
  }

  #blockAt(index: number): Block {
    let i = index;
    for (const stage of this.#stages) {
      if (i < stage.length) return stage[i];
      i -= stage.length;
    }
    throw new RangeError(`no block ${index}`);
  }

  #stateEntries(): {
    name: string;
    torchShape: number[];
    tensor?: Tensor;
    param?: Parameter;
    count?: number;
  }[] {
    const out = [];
    const param = (p: Parameter) => ({
      name: p.name,
      torchShape: p.torchShape,
      tensor: p.value,
      param: p,
    });
    for (const u of this.#units()) {
      out.push(param(u.conv.weight));
      for (const p of u.bn.parameters()) out.push(param(p));
      for (const b of u.bn.buffers()) {
        out.push({ name: b.name, torchShape: b.torchShape, tensor: b.value, count: b.count });
      }
    }
    for (const l of this.#head) for (const p of l.parameters()) out.push(param(p));
    return out;
  }

  #checkInput(op: string, x: Tensor): void {
    if (this.#released) throw new UsageError(`ResNet.${op}: the model was released`);
    if (x.shape.length !== 4 || x.shape[3] !== 3 || x.dtype !== "f32") {
      throw new RangeError(
        `ResNet.${op}: input must be NHWC f32 [N, H, W, 3], got ${x.dtype} [${x.shape}]`,
      );
    }
  }

  #refreshFolded(): void {
    if (!this.#foldedStale) return;
    for (const u of this.#units()) {
      u.foldedW ??= Tensor.empty(this.gpu, u.conv.weight.value.shape, "f32", "folded w");
      u.foldedB ??= Tensor.empty(this.gpu, [u.conv.cout], "f32", "folded b");
      foldBatchNormGpu(this.gpu, u.conv.weight.value, u.bn.params, u.foldedW, u.foldedB, u.bn.eps);
    }
    this.#foldedStale = false;
  }

  #evalUnit(u: Unit, x: Tensor, opts: { relu?: boolean; residual?: Tensor }): Tensor {
    return u.conv.forward(x, { weight: u.foldedW, bias: u.foldedB, ...opts });
  }

  #evalBlock(block: Block, x: Tensor): Tensor {
    const shortcut = block.downsample ? this.#evalUnit(block.downsample, x, {}) : x;
    let h = x;
    const last = block.units.length - 1;
    for (let i = 0; i < last; i++) {
      const next = this.#evalUnit(block.units[i], h, { relu: true });
      if (h !== x) h.release();
      h = next;
    }
    const out = this.#evalUnit(block.units[last], h, { relu: true, residual: shortcut });
    if (h !== x) h.release();
    if (shortcut !== x) shortcut.release();
    return out;
  }

  #trainUnit(u: Unit, x: Tensor, groups: number, withRelu: boolean): UnitTape {
    const a = u.conv.forward(x);
    return { input: x, a, bn: u.bn.forwardTrain(a, { groups, relu: withRelu }) };
  }

  #trainBlock(block: Block, x: Tensor, groups: number): BlockTape {
    const units: UnitTape[] = [];
    let h = x;
    block.units.forEach((u, i) => {
      const t = this.#trainUnit(u, h, groups, i < block.units.length - 1);
      units.push(t);
      h = t.bn.y;
    });
    const ds = block.downsample ? this.#trainUnit(block.downsample, x, groups, false) : undefined;
    const out = addRelu(this.gpu, h, ds ? ds.bn.y : x);
    // The last BN and the shortcut BN have no ReLU: their backward needs only their inputs.
    h.release();
    ds?.bn.y.release();
    return { input: x, units, downsample: ds, out };
  }

  #backwardUnit(u: Unit, t: UnitTape, dy: Tensor, needDx = true): Tensor | undefined {
    const dA = u.bn.backward(dy, t.bn);
    const dx = u.conv.backward(t.input, dA, needDx);
    dA.release();
    return dx;
  }

  #backwardBlock(block: Block, t: BlockTape, dOut: Tensor): Tensor {
    const dSum = reluBackward(this.gpu, dOut, t.out);
    let d = dSum;
    for (let i = block.units.length - 1; i >= 0; i--) {
      const next = this.#backwardUnit(block.units[i], t.units[i], d)!;
      if (d !== dSum) d.release();
      d = next;
    }
    const dShort = block.downsample
      ? this.#backwardUnit(block.downsample, t.downsample!, dSum)!
      : dSum;
    const dx = add(this.gpu, d, dShort);
    d.release();
    if (dShort !== dSum) dShort.release();
    dSum.release();
    return dx;
  }
}

/** Stages run to reach `layer`: `layerN` needs N, `backbone` all four. */
function stageCount(layer: FeatureLayer): number {
  const parsed = parseFeatureLayer(layer, "feature layer");
  // FEATURE_LAYERS is in depth order after `backbone`: layerN sits at index N.
  return parsed === "backbone" ? 4 : FEATURE_LAYERS.indexOf(parsed);
}

function releaseUnitTape(t: UnitTape): void {
  t.a.release();
  if (!t.bn.y.released) t.bn.y.release();
  if (!t.bn.saved.mean.released) {
    t.bn.saved.mean.release();
    t.bn.saved.invStd.release();
  }
}

/** Frees a tape's activations (not its input, which the caller owns). */
function releaseTape(tape: Tape): void {
  releaseUnitTape(tape.stem);
  tape.poolIndices.release();
  for (const b of tape.blocks) {
    b.input.release();
    for (const u of b.units) releaseUnitTape(u);
    if (b.downsample) releaseUnitTape(b.downsample);
  }
  tape.final.release();
  tape.pooled.release();
}

function checkStateDict(config: ResNetConfig, sd: StateDict, source: string): StateDict {
  const expected = resnetStateDictShapes(config);
  const given = new Map(sd);
  for (const name of expected.keys()) {
    // Old torchvision files have no num_batches_tracked; it then counts from 0.
    if (name.endsWith(".num_batches_tracked") && !given.has(name)) expected.delete(name);
  }
  checkKeys(given, expected, { file: source });
  for (const [name, t] of given) {
    const isCount = name.endsWith(".num_batches_tracked");
    const ok = isCount
      ? t.dtype === "int64" || t.dtype === "int32"
      : ["float32", "float64", "float16", "bfloat16"].includes(t.dtype);
    if (!ok) throw new DataError(`${source}: '${name}' has dtype ${t.dtype}`);
  }
  return given;
}

function floatData(sd: StateDict, name: string, source: string): Float32Array {
  const t = sd.get(name);
  if (!t) throw new DataError(`${source}: missing key '${name}'`);
  return t.toFloat32();
}

function countOf(t: TorchTensor | undefined): number {
  return t ? Number(t.data[0]) : 0;
}
