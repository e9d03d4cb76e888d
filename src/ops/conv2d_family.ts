/**
 * Which convolution kernel runs: the family from the channel counts (vec4 when Cin and Cout are
 * multiples of 4, scalar-input for other Cin such as the RGB stem, scalar for any other Cout),
 * the variant (tile shape, workgroup memory or not) through the tuner — the cached winner of
 * `conv2dTune` for that shape, else a per-adapter default (register tiles without workgroup
 * memory on software adapters, 64×64 workgroup-memory tiles elsewhere) — and the limits of
 * loop-limited adapters that the ops respect.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { type Geometry, shapeKey } from "./conv2d_geometry.ts";

/** The three convolution ops, as named for variants and tuning. */
export type Conv2dOp = "forward" | "backwardData" | "backwardFilter";

/** Kernel family, chosen from the channel counts of the GEMM (input side, output side). */
export type Family = "v4" | "xs" | "scalar";

/** The family of a GEMM with `cin` reduction channels and `cout` output channels. */
export function family(cin: number, cout: number): Family {
  if (cout % 4 !== 0) return "scalar";
  return cin % 4 === 0 ? "v4" : "xs";
}

/** Variants of the forward-form GEMM per family. Register-tile variants are "r<pixels or reduction rows>x<channels>"; "wg64" uses workgroup memory. */
export const GEMM_VARIANTS: Record<Family, readonly string[]> = {
  v4: ["r32x32", "r16x32", "r32x16", "r16x16", "wg64"],
  xs: ["r32x32", "r16x16", "wg64"],
  scalar: ["r4x4", "wg64"],
};

/** Variants of the weight-gradient GEMM per family. */
export const WGRAD_VARIANTS: Record<Family, readonly string[]> = {
  v4: ["r32x32", "r16x16", "wg64"],
  xs: ["r32x32", "wg64"],
  scalar: ["r4x4", "wg64"],
};

/**
 * The variants an op can run for the given channel counts (those of the forward convolution).
 * Every variant computes the same result; they differ in speed per adapter and shape.
 */
export function conv2dVariants(op: Conv2dOp, cin: number, cout: number): readonly string[] {
  if (op === "forward") return GEMM_VARIANTS[family(cin, cout)];
  if (op === "backwardData") return GEMM_VARIANTS[family(cout, cin)];
  return WGRAD_VARIANTS[family(cin, cout)];
}

// ---------------------------------------------------------------------------------------------
// Adapter defaults and limits

/** Whether register tiles without workgroup memory are the default (software adapters). */
export function registerTilesByDefault(gpu: Gpu): boolean {
  return gpu.summary.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(gpu.summary.description);
}

/**
 * Whether the adapter stops a loop after 65 535 iterations per invocation (llvmpipe's loop
 * limiter counts all loops of an invocation together and ends them silently). Ops keep every
 * kernel's per-invocation iteration count below it there, or throw.
 */
export function loopLimited(gpu: Gpu): boolean {
  return registerTilesByDefault(gpu);
}

/** Iterations one invocation may run on a loop-limited adapter (with a safety margin). */
export const MAX_LOOP_ITERATIONS = 60000;

/** Output pixels one backward-filter invocation may visit there (both variants stay far below). */
export const MAX_PIXELS_PER_INVOCATION = 16384;

/** Invocations per workgroup of the register-tile kernels: one SIMD group on llvmpipe. */
export function registerWorkgroup(gpu: Gpu): number {
  return registerTilesByDefault(gpu) ? 8 : 64;
}

/** `variant` if it is one of `variants`, else a RangeError naming `op` and the choices. */
export function checkVariant(op: string, variant: string, variants: readonly string[]): string {
  if (!variants.includes(variant)) {
    throw new RangeError(`${op}: unknown variant '${variant}' (have ${variants.join(", ")})`);
  }
  return variant;
}

/** Tile shape (GEMM rows, channels) per invocation of a register variant. */
export function registerTile(variant: string): [number, number] {
  const m = /^r(\d+)x(\d+)$/.exec(variant);
  if (!m) throw new Error(`not a register variant: ${variant}`);
  return [Number(m[1]), Number(m[2])];
}

/** The default variant of the forward-form GEMM for an untuned shape. */
export function defaultGemmVariant(gpu: Gpu, fam: Family, m: number, cout: number): string {
  if (!registerTilesByDefault(gpu)) return "wg64";
  if (fam === "scalar") return "r4x4";
  // Largest tile that still leaves enough invocations to keep every core busy.
  const candidates = fam === "v4" ? ["r32x32", "r32x16", "r16x32", "r16x16"] : ["r32x32", "r16x16"];
  for (const v of candidates) {
    const [tm, tn] = registerTile(v);
    if (tn > 16 && cout <= 16) continue;
    if (Math.ceil(m / tm) * Math.ceil(cout / tn) >= 64) return v;
  }
  return candidates[candidates.length - 1];
}

/**
 * The variant of the forward-form GEMM (forward, or backward data with the channel roles
 * swapped) for geometry `g` and `m` output pixels: `requested` if given (checked), else the
 * tuner's stored winner, else the adapter default.
 */
export function chooseGemm(
  gpu: Gpu,
  op: Conv2dOp,
  g: Geometry,
  m: number,
  gemmCin: number,
  gemmCout: number,
  requested: string | undefined,
): string {
  const fam = family(gemmCin, gemmCout);
  const variants = GEMM_VARIANTS[fam];
  if (requested !== undefined) return checkVariant(`conv2d ${op}`, requested, variants);
  const fallback = defaultGemmVariant(gpu, fam, m, gemmCout);
  return gpu.tuner.choose(`conv2d_${op}`, shapeKey(g), variants, fallback);
}

/**
 * The variant of the weight-gradient GEMM for geometry `g`: `requested` if given (checked,
 * errors naming `op`), else the tuner's stored winner, else the adapter default.
 */
export function chooseWgrad(
  gpu: Gpu,
  g: Geometry,
  requested?: string,
  op = "conv2dBackwardFilter",
): string {
  const variants = WGRAD_VARIANTS[family(g.cin, g.cout)];
  if (requested !== undefined) return checkVariant(op, requested, variants);
  return gpu.tuner.choose(
    "conv2d_backwardFilter",
    shapeKey(g),
    variants,
    registerTilesByDefault(gpu) ? variants[0] : "wg64",
  );
}
