/**
 * GEMM: `C = alpha · op(A) · op(B) (+ bias)`, batched, with per-adapter kernel variants, and the
 * deterministic column sum used for bias gradients. Kernels: `kernels/matmul.wgsl`.
 *
 * @module
 */
import source from "../../kernels/matmul.wgsl" with { type: "text" };
import type { Tuner } from "../gpu/autotune.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "matmul.wgsl";

/** `struct MatmulParams` of `kernels/matmul.wgsl`. */
const MATMUL = paramStruct(FILE, source, "MatmulParams", {
  M: "u32",
  N: "u32",
  K: "u32",
  batch: "u32",
  a_stride: "u32",
  b_stride: "u32",
  c_stride: "u32",
  flags: "u32",
  alpha: "f32",
  groups_n: "u32",
  groups_m: "u32",
  threads_n: "u32",
  k_begin: "u32",
  k_end: "u32",
  pad0: "u32",
  pad1: "u32",
});

/** `struct ColsumParams` of `kernels/matmul.wgsl`. */
const COLSUM = paramStruct(FILE, source, "ColsumParams", { rows: "u32", cols: "u32" });

/**
 * Kernel variants:
 * - `reg`: register tiles of 16×16 outputs per invocation (vec4 loads, no workgroup memory).
 * - `reg32`: register tiles of 32×16; fastest on Mesa's software adapter for large shapes.
 * - `wg`: 64×64 workgroup-memory tiles, 4×4 per invocation; usually best on discrete GPUs.
 * - `wg128`: 128×128 workgroup-memory tiles with k-steps of 8, 8×8 per invocation (8 KiB of
 *   workgroup memory); meant for large products on hardware GPUs (slow on llvmpipe).
 */
export type MatmulVariant = "reg" | "reg32" | "wg" | "wg128";

/** Every variant, in the order the tuner tries them. */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ["reg", "reg32", "wg", "wg128"];

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** A is stored transposed: [K, M] (or [batch, K, M]). */
  transA?: boolean;
  /** B is stored transposed: [N, K] (or [batch, N, K]), e.g. PyTorch's linear weight. */
  transB?: boolean;
  /** [N], added to every row of the product (after `alpha`). */
  bias?: Tensor;
  /** Scale of the product. Default 1. */
  alpha?: number;
  /** Write into this tensor ([M, N] or [batch, M, N]) instead of allocating the result. */
  out?: Tensor;
  /** Force a kernel variant instead of the tuner's choice. */
  variant?: MatmulVariant;
}

/** The dimensions of one matmul after validation. */
export interface MatmulShape {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** Whether the result has a batch dimension (either input is 3-D). */
  batched: boolean;
  aStride: number;
  bStride: number;
}

/** Options of {@link matmulTune}. */
export interface MatmulTuneOptions {
  /** Whether A is stored transposed (default false). */
  transA?: boolean;
  /** Whether B is stored transposed (default false). */
  transB?: boolean;
  /** Batch size (default 1: 2-D operands). */
  batch?: number;
  /** Variants to try (default all). */
  variants?: readonly MatmulVariant[];
  /** Timed repetitions per variant (default 3). */
  reps?: number;
  /** Time the variants even when a choice is stored (see `TuneOptions.force`). */
  force?: boolean;
  /** The tuner to store the choice in (default `gpu.tuner`, whose choices `matmul` reads). */
  tuner?: Tuner;
}

/** Validates operand shapes; throws RangeError naming the mismatch. */
export function matmulShape(a: Tensor, b: Tensor, options: MatmulOptions = {}): MatmulShape {
  const where = "matmul";
  for (const [name, t] of [["A", a], ["B", b]] as const) {
    if (t.dtype !== "f32") throw new RangeError(`${where}: ${name} must be f32, got ${t.dtype}`);
    if (t.shape.length !== 2 && t.shape.length !== 3) {
      throw new RangeError(`${where}: ${name} must be 2-D or 3-D, got [${t.shape}]`);
    }
  }
  const a2 = a.shape.slice(-2);
  const b2 = b.shape.slice(-2);
  const [M, Ka] = options.transA ? [a2[1], a2[0]] : [a2[0], a2[1]];
  const [Kb, N] = options.transB ? [b2[1], b2[0]] : [b2[0], b2[1]];
  if (Ka !== Kb) {
    throw new RangeError(
      `${where}: inner dimensions differ: op(A) is [${M}, ${Ka}], op(B) is [${Kb}, ${N}] ` +
        `(A [${a.shape}]${options.transA ? "ᵀ" : ""}, B [${b.shape}]${options.transB ? "ᵀ" : ""})`,
    );
  }
  const aBatch = a.shape.length === 3 ? a.shape[0] : 0;
  const bBatch = b.shape.length === 3 ? b.shape[0] : 0;
  if (aBatch && bBatch && aBatch !== bBatch) {
    throw new RangeError(`${where}: batch sizes differ: A [${a.shape}], B [${b.shape}]`);
  }
  const batched = aBatch > 0 || bBatch > 0;
  const batch = Math.max(aBatch, bBatch, 1);
  if (options.bias) {
    const bias = options.bias;
    if (bias.dtype !== "f32" || bias.size !== N || bias.shape.length !== 1) {
      throw new RangeError(`${where}: bias must be f32 [${N}], got ${bias.dtype} [${bias.shape}]`);
    }
  }
  return {
    batch,
    M,
    N,
    K: Ka,
    batched,
    aStride: aBatch ? M * Ka : 0,
    bStride: bBatch ? Ka * N : 0,
  };
}

/** Next power of two ≥ n (n ≥ 1). */
function pow2Ceil(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/** The tuner's key for a shape: dimensions bucketed to powers of two, transposes, batch or not. */
export function matmulShapeKey(
  M: number,
  N: number,
  K: number,
  { transA = false, transB = false, batch = 1 }: {
    transA?: boolean;
    transB?: boolean;
    batch?: number;
  } = {},
): string {
  const t = `${transA ? "T" : "N"}${transB ? "T" : "N"}`;
  return `${t} b${batch > 1 ? "n" : "1"} m${pow2Ceil(M)} n${pow2Ceil(N)} k${pow2Ceil(K)}`;
}

/**
 * The variant used when the tuner has no stored choice: on the software (fallback) adapter
 * register tiles, 32×16 once the shape fills several such tiles per CPU thread; workgroup tiles
 * on hardware adapters.
 */
export function defaultMatmulVariant(gpu: Gpu, M: number, N: number, K: number): MatmulVariant {
  if (!gpu.summary.isFallbackAdapter) return "wg";
  return M >= 256 && N >= 64 && K >= 64 ? "reg32" : "reg";
}

/**
 * Records `C = alpha · op(A) · op(B) (+ bias)` and returns C.
 *
 * Shapes: op(A) is [M, K] (A is [M, K], or [K, M] with `transA`), op(B) is [K, N] (B is [K, N],
 * or [N, K] with `transB`). If either operand is 3-D ([batch, ·, ·]) the product is batched and C
 * is [batch, M, N]; a 2-D operand is then shared by every batch. Otherwise C is [M, N]. `bias` is
 * [N]. Any M, N, K ≥ 0 works; vec4 loads are used where the operands' contiguous dimensions are
 * multiples of 4.
 *
 * @example
 * ```ts
 * const y = matmul(gpu, x, w, { transB: true, bias: b }); // x [n, in], w [out, in] → [n, out]
 * ```
 */
export function matmul(gpu: Gpu, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const shape = matmulShape(a, b, options);
  const { batch, M, N, K, batched } = shape;
  const outShape = batched ? [batch, M, N] : [M, N];
  let out = options.out;
  if (out) {
    if (out.dtype !== "f32" || out.size !== batch * M * N) {
      throw new RangeError(
        `matmul: out must be f32 [${outShape}], got ${out.dtype} [${out.shape}]`,
      );
    }
    if (out.buffer === a.buffer || out.buffer === b.buffer || out.buffer === options.bias?.buffer) {
      throw new RangeError("matmul: out must not share a buffer with A, B or the bias");
    }
  } else {
    out = Tensor.empty(gpu, outShape, "f32", "matmul");
  }
  if (batch * M * N === 0) return out;
  const variant = options.variant ?? gpu.tuner.choose(
    "matmul",
    matmulShapeKey(M, N, K, { transA: options.transA, transB: options.transB, batch }),
    MATMUL_VARIANTS,
    defaultMatmulVariant(gpu, M, N, K),
  );
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const constants = {
    TRANS_A: transA ? 1 : 0,
    TRANS_B: transB ? 1 : 0,
    A_VEC: (transA ? M : K) % 4 === 0 ? 1 : 0,
    B_VEC: (transB ? K : N) % 4 === 0 ? 1 : 0,
  };
  const ctx: Ctx = {
    gpu,
    a,
    b,
    out,
    bias: options.bias,
    alpha: options.alpha ?? 1,
    shape,
    constants,
  };
  if (variant === "reg") recordReg(ctx, 16, "matmul_reg");
  else if (variant === "reg32") recordReg(ctx, 32, "matmul_reg32");
  else if (variant === "wg") recordWg(ctx, 64, "matmul_wg");
  else if (variant === "wg128") recordWg(ctx, 128, "matmul_wg128");
  else throw new RangeError(`matmul: unknown variant '${variant}' (${MATMUL_VARIANTS.join(", ")})`);
  return out;
}

interface Ctx {
  gpu: Gpu;
  a: Tensor;
  b: Tensor;
  out: Tensor;
  bias: Tensor | undefined;
  alpha: number;
  shape: MatmulShape;
  constants: Record<string, number>;
}

/** Packs the MatmulParams uniform (16 × 4 bytes) for the k range [k0, k1). */
function params(
  ctx: Ctx,
  { groupsN, groupsM, threadsN = 0 }: { groupsN: number; groupsM: number; threadsN?: number },
  k0: number,
  k1: number,
): Uint8Array {
  const { M, N, K, batch, aStride, bStride } = ctx.shape;
  return MATMUL.pack({
    M,
    N,
    K,
    batch,
    a_stride: aStride,
    b_stride: bStride,
    c_stride: M * N,
    flags: ctx.bias && k0 === 0 ? FLAG_BIAS : 0,
    alpha: ctx.alpha,
    groups_n: groupsN,
    groups_m: groupsM,
    threads_n: threadsN,
    k_begin: k0,
    k_end: k1,
    pad0: 0,
    pad1: 0,
  });
}

/**
 * Records one dispatch per K chunk: llvmpipe ends any invocation after 65 535 loop iterations
 * in all, so a K loop longer than that is split, later chunks adding to C.
 */
function dispatchChunks(
  ctx: Ctx,
  entryPoint: string,
  grid: { groupsN: number; groupsM: number; threadsN?: number },
): void {
  const { gpu, a, b, out } = ctx;
  const { K, batch } = ctx.shape;
  const count = grid.groupsN * grid.groupsM * batch;
  for (let k0 = 0; k0 === 0 || k0 < K; k0 += K_CHUNK) {
    const kernel = gpu.kernels.get({
      file: FILE,
      source,
      entryPoint,
      params: MATMUL,
      constants: { ...ctx.constants, ACCUMULATE: k0 > 0 ? 1 : 0 },
    });
    const k1 = Math.min(K, k0 + K_CHUNK);
    gpu.recorder.dispatch(
      kernel,
      [a, a, out, ctx.bias ?? a, b, b],
      count,
      params(ctx, grid, k0, k1),
    );
  }
}

/** K rows per dispatch (a multiple of 16; at most 32 768 loop iterations of any variant). */
const K_CHUNK = 1 << 17;

const FLAG_BIAS = 1;

/**
 * Invocations along N (of 64) for register tiles of `rows`×16 over an M × N output: 8 × 8 for
 * large outputs, skewed when one side is short so fewer invocations fall outside C.
 */
function threadsAlongN(M: number, N: number, rows: number): number {
  const tn = Math.min(64, pow2Ceil(Math.ceil(N / 16)));
  const tm = Math.min(64, pow2Ceil(Math.ceil(M / rows)));
  if (tn < 8) return tn;
  if (tm < 8) return Math.min(64 / tm, tn);
  return 8;
}

function recordReg(ctx: Ctx, rows: number, entryPoint: string): void {
  const { M, N } = ctx.shape;
  const threadsN = threadsAlongN(M, N, rows);
  const groupsN = Math.ceil(N / (16 * threadsN));
  const groupsM = Math.ceil(M / (rows * (64 / threadsN)));
  dispatchChunks(ctx, entryPoint, { groupsN, groupsM, threadsN });
}

/** Workgroup-memory tiles of `tile`×`tile` outputs per workgroup. */
function recordWg(ctx: Ctx, tile: number, entryPoint: string): void {
  const { M, N } = ctx.shape;
  dispatchChunks(ctx, entryPoint, {
    groupsN: Math.ceil(N / tile),
    groupsM: Math.ceil(M / tile),
  });
}

/**
 * Times every variant on random operands of this shape and stores the fastest for this adapter
 * (see `Tuner.tune`); later {@link matmul} calls with a shape in the same power-of-two bucket
 * use it. Returns the chosen variant.
 */
export async function matmulTune(
  gpu: Gpu,
  M: number,
  N: number,
  K: number,
  options: MatmulTuneOptions = {},
): Promise<MatmulVariant> {
  const { transA = false, transB = false, batch = 1 } = options;
  const lead = batch > 1 ? [batch] : [];
  const aShape = [...lead, ...(transA ? [K, M] : [M, K])];
  const bShape = [...lead, ...(transB ? [N, K] : [K, N])];
  const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 13) / 13);
  const a = Tensor.from(gpu, fill(batch * M * K), aShape);
  const b = Tensor.from(gpu, fill(batch * K * N), bShape);
  try {
    const chosen = await (options.tuner ?? gpu.tuner).tune(
      "matmul",
      matmulShapeKey(M, N, K, { transA, transB, batch }),
      options.variants ?? MATMUL_VARIANTS,
      (variant) =>
        matmul(gpu, a, b, { transA, transB, variant: variant as MatmulVariant }).release(),
      { reps: options.reps, force: options.force },
    );
    return chosen as MatmulVariant;
  } finally {
    a.release();
    b.release();
  }
}

/**
 * Records the column sums of a row-major [rows, cols] tensor (any rank: the last dimension is
 * the column) and returns them as [cols]. Deterministic: each column is summed in a fixed order.
 */
export function columnSum(gpu: Gpu, x: Tensor): Tensor {
  if (x.dtype !== "f32" || x.shape.length < 1) {
    throw new RangeError(`columnSum: x must be f32 with at least 1 dimension, got [${x.shape}]`);
  }
  const cols = x.shape[x.shape.length - 1];
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = Tensor.empty(gpu, [cols], "f32", "columnSum");
  if (cols === 0) return out;
  const kernel = gpu.kernels.get({
    file: FILE,
    source,
    entryPoint: "matmul_colsum",
    params: COLSUM,
  });
  gpu.recorder.dispatch(kernel, [x, out], cols, COLSUM.pack({ rows, cols }));
  return out;
}
