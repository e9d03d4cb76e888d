/**
 * MoCo's contrastive loss (InfoNCE): cross-entropy with target 0 over the logits
 * `[q_i·k_i, q_i·queue[:, j] for j < K] / T`, its gradient with respect to q, the top-1 / top-5
 * counts of the contrastive classifier, and the queue's ring-buffer write.
 *
 * The [N, 1 + K] logits are never materialised: one streaming pass over the queue keeps, per row
 * and per chunk of columns, an online log-sum-exp (running max, rescaled sum) together with the
 * softmax-weighted sum of keys, so the loss and dq come out of the same pass (see
 * `kernels/contrastive.wgsl`). The temporaries are O(N·chunks·dim) with chunks ≤ ~1024 / ⌈N/8⌉,
 * a few MB at N = 256, dim = 128, K = 65 536 (the queue itself is 32 MB).
 *
 * @module
 */
import source from "../../kernels/contrastive.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "contrastive.wgsl";

/** `struct PosParams` of `kernels/contrastive.wgsl`. */
const POS = paramStruct(FILE, source, "PosParams", { n: "u32", dim: "u32", temperature: "f32" });
/** `struct ChunkParams` of `kernels/contrastive.wgsl`. */
const CHUNK = paramStruct(FILE, source, "ChunkParams", {
  n: "u32",
  dim: "u32",
  kq: "u32",
  tiles_per_chunk: "u32",
  chunks: "u32",
  row_blocks: "u32",
  temperature: "f32",
});
/** `struct FinalParams` of `kernels/contrastive.wgsl`. */
const FINAL = paramStruct(FILE, source, "FinalParams", { n: "u32", chunks: "u32" });
/** `struct DqParams` of `kernels/contrastive.wgsl`. */
const DQ = paramStruct(FILE, source, "DqParams", {
  n: "u32",
  dim: "u32",
  chunks: "u32",
  scale: "f32",
});
/** `struct EnqueueParams` of `kernels/contrastive.wgsl`. */
const ENQUEUE = paramStruct(FILE, source, "EnqueueParams", {
  n: "u32",
  dim: "u32",
  kq: "u32",
  ptr: "u32",
});
const WG = 64;
/** Rows per workgroup of the chunk pass (`RB` in the WGSL). */
const ROWS_PER_BLOCK = 8;
/** Queue columns per tile (`TILE` in the WGSL). */
const TILE = 256;
/** Aim for about this many workgroups in the chunk pass: enough to fill any adapter. */
const TARGET_WORKGROUPS = 1024;

/** Options of {@link infoNce}. */
export interface InfoNceOptions {
  /** Softmax temperature T (MoCo v2: 0.2; MoCo's default 0.07). */
  temperature: number;
  /**
   * Queue tiles (256 columns each) per chunk. Default: chosen so that about 1024 workgroups
   * run. Exposed for tests; any value gives the same result up to f32 rounding.
   */
  tilesPerChunk?: number;
  /**
   * Load path of the streaming pass: `"vec4"` (needs dim and K divisible by 4, MoCo's shapes;
   * about 2× faster on the software adapter) or `"scalar"` (any shape). Default: vec4 when the
   * shapes allow it. Both give bit-identical results.
   */
  variant?: InfoNceVariant;
}

/** Load paths of {@link infoNce}. */
export type InfoNceVariant = "scalar" | "vec4";

/** Result of {@link infoNce}; the caller releases the tensors. */
export interface InfoNceResult {
  /** [1] f32: mean over rows of logsumexp(logits_i) − logits_i[0]. */
  loss: Tensor;
  /** [N, dim] f32: gradient of the mean loss with respect to q (k and the queue get none). */
  dq: Tensor;
  /**
   * [2] u32: how many rows have the positive ranked top-1 and within the top-5 of their 1 + K
   * logits. Ties count against the positive: a negative whose logit is ≥ the positive's
   * (compared in f32, both logits summed in the same order) ranks above it, so a row whose
   * logits are all equal is counted as wrong. Divide by N for acc@1 / acc@5.
   */
  correct: Tensor;
}

function checkMatrix(name: string, t: Tensor, rank: number): void {
  if (t.shape.length !== rank || t.dtype !== "f32") {
    throw new RangeError(
      `${name} must be an f32 tensor of rank ${rank}, got ${t.dtype} [${t.shape}]`,
    );
  }
}

/**
 * Records the InfoNCE loss of MoCo (docs/common.md#moco), fused with its gradient with respect to q.
 *
 * @param q [N, dim] queries (already L2-normalised; only they carry gradients).
 * @param k [N, dim] keys; k_i is the positive of q_i.
 * @param queue [dim, K] negatives as columns (PyTorch's buffer layout), before this step's
 *   enqueue.
 * @returns loss [1], dq [N, dim], correct [2] (u32 top-1 / top-5 counts). Read loss and correct
 *   together with one `gpu.recorder.read([loss, correct])`; the op itself never syncs.
 * @throws RangeError on mismatched shapes or a non-positive temperature.
 * @example
 * ```ts
 * const { loss, dq, correct } = infoNce(gpu, q, k, queue, { temperature: 0.2 });
 * const [l, c] = await gpu.recorder.read([loss, correct]);
 * ```
 */
export function infoNce(
  gpu: Gpu,
  q: Tensor,
  k: Tensor,
  queue: Tensor,
  options: InfoNceOptions,
): InfoNceResult {
  checkMatrix("infoNce: q", q, 2);
  checkMatrix("infoNce: k", k, 2);
  checkMatrix("infoNce: queue", queue, 2);
  const [n, dim] = q.shape;
  const kq = queue.shape[1];
  if (k.shape[0] !== n || k.shape[1] !== dim) {
    throw new RangeError(`infoNce: k [${k.shape}] must match q [${q.shape}]`);
  }
  if (queue.shape[0] !== dim) {
    throw new RangeError(`infoNce: queue [${queue.shape}] must be [dim=${dim}, K]`);
  }
  if (n < 1 || dim < 1 || kq < 1) {
    throw new RangeError(`infoNce: empty input (N=${n}, dim=${dim}, K=${kq})`);
  }
  const t = options.temperature;
  if (!(t > 0) || !Number.isFinite(t)) {
    throw new RangeError(`infoNce: temperature must be positive, got ${t}`);
  }
  const rowBlocks = Math.ceil(n / ROWS_PER_BLOCK);
  const tiles = Math.ceil(kq / TILE);
  let tilesPerChunk = options.tilesPerChunk ??
    Math.ceil(tiles / Math.max(1, Math.floor(TARGET_WORKGROUPS / rowBlocks)));
  if (!Number.isInteger(tilesPerChunk) || tilesPerChunk < 1) {
    throw new RangeError(`infoNce: tilesPerChunk must be a positive integer, got ${tilesPerChunk}`);
  }
  tilesPerChunk = Math.min(tilesPerChunk, tiles);
  const chunks = Math.ceil(tiles / tilesPerChunk);
  const vec4Ok = dim % 4 === 0 && kq % 4 === 0;
  const variant = options.variant ?? (vec4Ok ? "vec4" : "scalar");
  if (variant === "vec4" && !vec4Ok) {
    throw new RangeError(
      `infoNce: the vec4 variant needs dim and K divisible by 4 (${dim}, ${kq})`,
    );
  }

  const lpos = Tensor.empty(gpu, [n], "f32", "infonce lpos");
  const stats = Tensor.empty(gpu, [n, chunks, 3], "f32", "infonce stats");
  const o = Tensor.empty(gpu, [n, chunks, dim], "f32", "infonce o");
  const coef = Tensor.empty(gpu, [n], "f32", "infonce coef");
  const loss = Tensor.empty(gpu, [1], "f32", "infonce loss");
  const correct = Tensor.empty(gpu, [2], "u32", "infonce correct");
  const dq = Tensor.empty(gpu, [n, dim], "f32", "infonce dq");

  const kernel = (entryPoint: string) => gpu.kernels.get({ file: FILE, source, entryPoint });
  gpu.recorder.dispatch(
    kernel("infonce_positive"),
    [q, k, lpos],
    Math.ceil(n / WG),
    POS.pack({ n, dim, temperature: t }),
  );

  gpu.recorder.dispatch(
    kernel(variant === "vec4" ? "infonce_chunk_vec4" : "infonce_chunk"),
    [q, queue, lpos, stats, o],
    rowBlocks * chunks,
    CHUNK.pack({
      n,
      dim,
      kq,
      tiles_per_chunk: tilesPerChunk,
      chunks,
      row_blocks: rowBlocks,
      temperature: t,
    }),
  );

  gpu.recorder.dispatch(
    kernel("infonce_finalize"),
    [lpos, stats, coef, loss, correct],
    1,
    FINAL.pack({ n, chunks }),
  );

  gpu.recorder.dispatch(
    kernel("infonce_dq"),
    [k, stats, coef, o, dq],
    Math.ceil((n * dim) / WG),
    DQ.pack({ n, dim, chunks, scale: 1 / (n * t) }),
  );

  for (const temp of [lpos, stats, o, coef]) temp.release();
  return { loss, dq, correct };
}

/**
 * Records MoCo's enqueue: writes the N keys as columns `queue[:, ptr : ptr + N]` in place.
 * The caller keeps the pointer; the next one is returned for convenience.
 *
 * @param queue [dim, K] queue, modified in place.
 * @param k [N, dim] keys of this step (the global batch, rank 0 first).
 * @param ptr current write position, a multiple of N in [0, K).
 * @returns the next pointer, (ptr + N) mod K.
 * @throws RangeError if K is not divisible by N (MoCo asserts it), or on a bad pointer or shape.
 */
export function enqueue(gpu: Gpu, queue: Tensor, k: Tensor, ptr: number): number {
  checkMatrix("enqueue: queue", queue, 2);
  checkMatrix("enqueue: k", k, 2);
  const [dim, kq] = queue.shape;
  const [n, kdim] = k.shape;
  if (kdim !== dim) throw new RangeError(`enqueue: k [${k.shape}] must be [N, dim=${dim}]`);
  if (n < 1 || kq % n !== 0) {
    throw new RangeError(`enqueue: the queue size K=${kq} must be divisible by the batch N=${n}`);
  }
  if (!Number.isInteger(ptr) || ptr < 0 || ptr >= kq || ptr % n !== 0) {
    throw new RangeError(`enqueue: ptr ${ptr} must be a multiple of N=${n} in [0, ${kq})`);
  }
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "enqueue_keys",
    params: ENQUEUE,
  });
  gpu.recorder.dispatch(
    kernel,
    [k, queue],
    Math.ceil((n * dim) / WG),
    ENQUEUE.pack({ n, dim, kq, ptr }),
  );
  return (ptr + n) % kq;
}
