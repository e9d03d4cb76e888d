/**
 * The MoCo v2 module (docs/common.md#moco): a query encoder, a key encoder that starts as its copy, and
 * the queue of L2-normalised negatives. The training step itself (EMA, shuffle-BN, InfoNCE,
 * enqueue) lives in `src/train`; this file owns construction and the state dict in PyTorch's
 * layout (`queue`, `queue_ptr`, `encoder_q.*`, `encoder_k.*`, without DDP's `module.`).
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { stripModulePrefix } from "../io/torch/state_dict.ts";
import { type StateDict, TorchTensor } from "../io/torch/tensor.ts";
import { DataError, UsageError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import { ResNet, type ResNetConfig } from "./resnet.ts";

/** Construction options of {@link MoCo}: the backbone plus MoCo's own hyper-parameters. */
export interface MoCoConfig extends Omit<ResNetConfig, "head" | "numClasses"> {
  /** Output dimension of the projection (default 128; the paper's w3 runs use 384). */
  dim?: number;
  /** Queue length (default 65536). */
  K?: number;
  /** MLP head fc.0 → ReLU → fc.2 instead of a single fc (MoCo v2: true). Default false. */
  mlp?: boolean;
}

/**
 * MoCo's encoders and queue on the GPU.
 *
 * @example
 * ```ts
 * const moco = MoCo.create(gpu, { ...parseArch("resnet50"), dim: 128, mlp: true }, new Rng(0));
 * const sd = await moco.stateDict(); // queue, queue_ptr, encoder_q.*, encoder_k.*
 * ```
 */
export class MoCo {
  /** Queue [dim, K] f32, columns L2-normalised (PyTorch's buffer layout, as `infoNce` reads). */
  readonly queue: Tensor;
  /** Next column the enqueue writes. */
  queuePtr = 0;
  /** Output dimension of the projection head (`--moco-dim`, default 128). */
  readonly dim: number;
  /** Queue length in keys (`--moco-k`, default 65536). */
  readonly K: number;
  /** Whether the head is MoCo v2's two-layer MLP (`--mlp`) rather than one linear layer. */
  readonly mlp: boolean;

  private constructor(
    readonly gpu: Gpu,
    readonly encoderQ: ResNet,
    readonly encoderK: ResNet,
    queue: Float32Array,
    dim: number,
    K: number,
    mlp: boolean,
  ) {
    this.dim = dim;
    this.K = K;
    this.mlp = mlp;
    this.queue = Tensor.from(gpu, queue, [dim, K], "moco queue");
  }

  /**
   * A new MoCo: encoder_q freshly initialised from `rng` with a `dim`-output head (MLP when
   * `mlp`), encoder_k a copy of it, and the queue filled with standard-normal values whose
   * columns are L2-normalised.
   */
  static create(gpu: Gpu, config: MoCoConfig, rng: Rng): MoCo {
    const { dim = 128, K = 65536, mlp = false, ...backbone } = config;
    for (const [name, v] of [["dim", dim], ["K", K]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new UsageError(`MoCo ${name} must be a positive integer, got ${v}`);
      }
    }
    const encoderQ = ResNet.create(
      gpu,
      { ...backbone, head: mlp ? "mlp" : "linear", numClasses: dim },
      rng,
    );
    const encoderK = encoderQ.clone();
    const queue = rng.normalArray(dim * K);
    const norms = new Float64Array(K);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < K; j++) norms[j] += queue[i * K + j] ** 2;
    }
    // F.normalize(dim=0): x / max(‖x‖, 1e-12).
    for (let j = 0; j < K; j++) norms[j] = 1 / Math.max(Math.sqrt(norms[j]), 1e-12);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < K; j++) queue[i * K + j] *= norms[j];
    }
    return new MoCo(gpu, encoderQ, encoderK, queue, dim, K, mlp);
  }

  /**
   * PyTorch's `MoCo.state_dict()`: `queue` [dim, K], `queue_ptr` (int64 [1]), then
   * `encoder_q.*` and `encoder_k.*` (no `module.` prefix; the checkpoint writer adds it).
   * One GPU sync.
   */
  async stateDict(): Promise<StateDict> {
    const [queue] = await this.gpu.recorder.read([this.queue]);
    const q = await this.encoderQ.stateDict();
    const k = await this.encoderK.stateDict();
    const out: StateDict = new Map([
      ["queue", new TorchTensor("float32", [this.dim, this.K], queue as Float32Array)],
      ["queue_ptr", new TorchTensor("int64", [1], new BigInt64Array([BigInt(this.queuePtr)]))],
    ]);
    for (const [name, t] of q) out.set(`encoder_q.${name}`, t);
    for (const [name, t] of k) out.set(`encoder_k.${name}`, t);
    return out;
  }

  /**
   * Loads a MoCo state dict (with or without DDP's `module.` prefix). Strict: every encoder key
   * must be present with its shape, the queue must be [dim, K], and nothing else may be there;
   * otherwise a `DataError` naming `source` lists the problems.
   */
  loadStateDict(sd: StateDict, source: string): void {
    const plain = stripModulePrefix(sd, source);
    const parts = { q: new Map(), k: new Map() } as Record<"q" | "k", StateDict>;
    const other: string[] = [];
    for (const [name, t] of plain) {
      if (name.startsWith("encoder_q.")) parts.q.set(name.slice(10), t);
      else if (name.startsWith("encoder_k.")) parts.k.set(name.slice(10), t);
      else if (name !== "queue" && name !== "queue_ptr") other.push(name);
    }
    if (other.length > 0) {
      throw new DataError(
        `${source}: unexpected keys in a MoCo state dict: ${other.slice(0, 10).join(", ")}`,
      );
    }
    const queue = plain.get("queue");
    if (!queue || queue.shape.join() !== `${this.dim},${this.K}`) {
      throw new DataError(
        `${source}: 'queue' must be [${this.dim}, ${this.K}], got ` +
          (queue ? `[${queue.shape}]` : "nothing"),
      );
    }
    const ptrTensor = plain.get("queue_ptr");
    const ptr = ptrTensor && ptrTensor.numel === 1 ? Number(ptrTensor.data[0]) : NaN;
    if (!Number.isInteger(ptr) || ptr < 0 || ptr >= this.K) {
      throw new DataError(`${source}: 'queue_ptr' must be one integer in [0, ${this.K})`);
    }
    this.encoderQ.loadStateDict(parts.q, `${source} (encoder_q)`);
    this.encoderK.loadStateDict(parts.k, `${source} (encoder_k)`);
    this.gpu.recorder.upload(this.queue.buffer, 0, queue.toFloat32());
    this.queuePtr = ptr;
  }

  /** Releases both encoders and the queue. */
  release(): void {
    this.encoderQ.release();
    this.encoderK.release();
    this.queue.release();
  }
}
