/**
 * BatchNorm2d over NHWC activations with PyTorch's parameters (weight γ, bias β) and buffers
 * (running_mean, running_var, num_batches_tracked), train mode with optional per-group
 * statistics (shuffle-BN emulation), eval mode, and the backward pass.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import {
  batchNorm2dBackward,
  batchNorm2dEval,
  batchNorm2dTrain,
  type BatchNormParams,
  type BatchNormSaved,
  BN_EPS,
  releaseSaved,
} from "../ops/batchnorm.ts";
import { accumulateGrad, type Buffer, createParameter, type Parameter } from "./parameter.ts";

/** Initial values of a {@link BatchNorm2d} (PyTorch's defaults when omitted). */
export interface BatchNorm2dInit {
  weight?: Float32Array;
  bias?: Float32Array;
  runningMean?: Float32Array;
  runningVar?: Float32Array;
  numBatchesTracked?: number;
}

/** What {@link BatchNorm2d.backward} needs from a train-mode forward. */
export interface BatchNorm2dTape {
  /** The forward input. */
  x: Tensor;
  /** The forward output (needed when it had a fused ReLU). */
  y: Tensor;
  saved: BatchNormSaved;
}

/** Options of {@link BatchNorm2d.forwardTrain}. */
export interface BatchNorm2dTrainOptions {
  /** Groups of consecutive samples with their own statistics (default 1). */
  groups?: number;
  /** Fuse a ReLU after the normalisation. */
  relu?: boolean;
}

/** A BatchNorm2d layer (eps 1e-5, momentum 0.1, affine). */
export class BatchNorm2d {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly runningMean: Buffer;
  readonly runningVar: Buffer;
  readonly numBatchesTracked: Buffer;
  readonly eps = BN_EPS;

  /** A layer named `name` over `channels` channels. */
  constructor(
    readonly gpu: Gpu,
    name: string,
    readonly channels: number,
    init: BatchNorm2dInit = {},
  ) {
    const c = channels;
    const ones = () => new Float32Array(c).fill(1);
    this.weight = createParameter(gpu, `${name}.weight`, [c], [c], "plain", init.weight ?? ones());
    this.bias = createParameter(
      gpu,
      `${name}.bias`,
      [c],
      [c],
      "plain",
      init.bias ?? new Float32Array(c),
    );
    this.runningMean = {
      name: `${name}.running_mean`,
      torchShape: [c],
      dtype: "float32",
      value: Tensor.from(gpu, init.runningMean ?? new Float32Array(c), [c]),
    };
    this.runningVar = {
      name: `${name}.running_var`,
      torchShape: [c],
      dtype: "float32",
      value: Tensor.from(gpu, init.runningVar ?? ones(), [c]),
    };
    this.numBatchesTracked = {
      name: `${name}.num_batches_tracked`,
      torchShape: [],
      dtype: "int64",
      count: init.numBatchesTracked ?? 0,
    };
  }

  /** The op-level view of the four per-channel tensors. */
  get params(): BatchNormParams {
    return {
      gamma: this.weight.value,
      beta: this.bias.value,
      runningMean: this.runningMean.value!,
      runningVar: this.runningVar.value!,
    };
  }

  /** Parameters in PyTorch order (weight, bias). */
  parameters(): Parameter[] {
    return [this.weight, this.bias];
  }

  /** Buffers in PyTorch order. */
  buffers(): Buffer[] {
    return [this.runningMean, this.runningVar, this.numBatchesTracked];
  }

  /**
   * Train mode: normalises with batch statistics (per group), updates the running statistics
   * from group 0 (what DDP keeps) and counts the batch. Returns the output and the tape.
   */
  forwardTrain(x: Tensor, options: BatchNorm2dTrainOptions = {}): BatchNorm2dTape {
    const { y, saved } = batchNorm2dTrain(this.gpu, x, this.params, {
      groups: options.groups ?? 1,
      relu: options.relu ?? false,
      eps: this.eps,
    });
    this.numBatchesTracked.count! += 1;
    return { x, y, saved };
  }

  /** Eval mode with the running statistics. */
  forwardEval(x: Tensor, relu = false): Tensor {
    return batchNorm2dEval(this.gpu, x, this.params, { relu, eps: this.eps });
  }

  /** Accumulates dγ, dβ and returns dL/dx; releases the tape's saved statistics. */
  backward(dy: Tensor, tape: BatchNorm2dTape): Tensor {
    const g = batchNorm2dBackward(this.gpu, dy, tape.x, this.weight.value, tape.saved, {
      y: tape.saved.relu ? tape.y : undefined,
    });
    accumulateGrad(this.gpu, this.weight, g.dGamma);
    accumulateGrad(this.gpu, this.bias, g.dBeta);
    releaseSaved(tape.saved);
    return g.dx;
  }
}
