/**
 * The query encoder's SGD state (momentum buffers) and its conversion to and from the
 * `optimizer` entry of a MoCo checkpoint: `torch.optim.SGD.state_dict()` with one
 * `momentum_buffer` per parameter index and one parameter group (docs/common.md#checkpoint-file, docs/pretraining.md#optimisation).
 *
 * The optimiser of `main_moco.py` is built over `model.parameters()` of the whole MoCo module, so
 * encoder_q's P parameters have indices 0…P−1 and encoder_k's (never updated, never given state)
 * P…2P−1. Buffers stay on the GPU in the parameter's own layout; only checkpoints convert.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { TorchTensor } from "../io/torch/tensor.ts";
import { fromTorchLayout, type ParameterLayout, toTorchLayout } from "../nn/parameter.ts";
import { sgdStep } from "../ops/sgd.ts";
import { DataError } from "../util/errors.ts";
import type { SgdStateDict } from "./checkpoint.ts";

/**
 * What the optimiser needs of a parameter: a name for messages, its PyTorch shape, its value
 * and gradient on the GPU, and the GPU layout (`hwio` conv weights, else PyTorch's own). The
 * models' `Parameter` (src/nn/parameter.ts) has this shape.
 */
export interface TrainParameter {
  /** PyTorch name, for messages. */
  readonly name: string;
  /** PyTorch shape (OIHW for convolutions). */
  readonly torchShape: readonly number[];
  /** The values on the GPU, updated in place. */
  readonly value: Tensor;
  /** The gradient of the current step, same layout as `value`. */
  readonly grad: Tensor;
  /** `hwio` for convolution weights, `plain` when the GPU layout is PyTorch's. */
  readonly layout: ParameterLayout;
}

/** Hyper-parameters of {@link MomentumSgd}. */
export interface MomentumSgdOptions {
  /** Default 0.9. */
  momentum?: number;
  /** Default 1e-4, applied to every parameter (BN and biases too, docs/quirks.md#q3). */
  weightDecay?: number;
}

/** SGD with momentum and weight decay over a fixed list of parameters, state on the GPU. */
export class MomentumSgd {
  /** Momentum factor (0.9). */
  readonly momentum: number;
  /** L2 penalty on every parameter (1e-4). */
  readonly weightDecay: number;
  readonly #buffers: Tensor[];
  #started = false;

  /** Allocates one momentum buffer per parameter (their contents are set by the first step). */
  constructor(
    readonly gpu: Gpu,
    readonly params: readonly TrainParameter[],
    options: MomentumSgdOptions = {},
  ) {
    this.momentum = options.momentum ?? 0.9;
    this.weightDecay = options.weightDecay ?? 1e-4;
    this.#buffers = params.map((p) => Tensor.empty(gpu, [p.value.size], "f32", "sgd momentum"));
  }

  /** Whether a step has run (PyTorch creates the buffers on the first step). */
  get started(): boolean {
    return this.#started;
  }

  /** The momentum buffers, one per parameter, in the parameter's GPU layout. */
  get buffers(): readonly Tensor[] {
    return this.#buffers;
  }

  /** Records one update θ ← θ − lr·buf with buf ← momentum·buf + ∇θ + wd·θ. */
  step(lr: number): void {
    sgdStep(
      this.gpu,
      this.params.map((p, i) => ({ param: p.value, grad: p.grad, momentum: this.#buffers[i] })),
      { lr, momentum: this.momentum, weightDecay: this.weightDecay, firstStep: !this.#started },
    );
    this.#started = true;
  }

  /**
   * The optimiser's `state_dict()` (one sync): momentum buffers in PyTorch layout keyed by index
   * (none before the first step) and one group listing `totalParams` indices (encoder_q's and
   * encoder_k's, as `model.parameters()` of MoCo yields them).
   */
  async stateDict(lr: number, totalParams = this.params.length): Promise<SgdStateDict> {
    const state = new Map<number, TorchTensor>();
    if (this.#started) {
      const data = await this.gpu.recorder.read(this.#buffers);
      this.params.forEach((p, i) => {
        const torch = toTorchLayout(p, data[i] as Float32Array);
        state.set(i, TorchTensor.fromArray(torch, p.torchShape));
      });
    }
    return {
      state,
      paramGroups: [{
        lr,
        momentum: this.momentum,
        dampening: 0,
        weightDecay: this.weightDecay,
        nesterov: false,
        params: Array.from({ length: totalParams }, (_, i) => i),
      }],
    };
  }

  /**
   * Restores the buffers from a checkpoint's SGD state (recorded uploads). A state without any
   * buffer means "no step yet". Partial state is refused.
   *
   * @throws DataError naming `file` and the parameter whose buffer is missing or mis-shaped.
   */
  loadStateDict(sd: SgdStateDict, file: string): void {
    if (sd.state.size === 0) {
      this.#started = false;
      return;
    }
    this.params.forEach((p, i) => {
      const buf = sd.state.get(i);
      if (!buf) {
        throw new DataError(`${file}: optimizer state has no momentum buffer for ${i} (${p.name})`);
      }
      if (buf.shape.join() !== p.torchShape.join()) {
        throw new DataError(
          `${file}: momentum buffer ${i} (${p.name}) is [${buf.shape}], expected [${p.torchShape}]`,
        );
      }
      const data = fromTorchLayout(p, buf.toFloat32());
      this.gpu.recorder.upload(this.#buffers[i].buffer, 0, data);
    });
    this.#started = true;
  }

  /** Returns the buffers to the pool. */
  release(): void {
    for (const b of this.#buffers) b.release();
  }
}
