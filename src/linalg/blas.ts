/**
 * The dense float64 kernels of the solvers, on the system's OpenBLAS (BLAS + LAPACK) through Deno's
 * FFI, with the JavaScript kernels of `reference.ts` as the fallback and as the parity reference.
 *
 * Kernels (row-major `Float64Array`s throughout):
 * - {@link gemm}: C = α·op(A)·op(B) + β·C (`cblas_dgemm`);
 * - {@link syrk}: the lower triangle of C = α·A·Aᵀ + β·C or α·Aᵀ·A + β·C (`cblas_dsyrk`);
 * - {@link potrf}: in-place Cholesky A = L·Lᵀ on the lower triangle (`dpotrf_`);
 * - {@link potrs}: solves L·Lᵀ·X = B for right-hand sides stored as rows (`dpotrs_`);
 * - {@link trsmRows}: L·X = B or Lᵀ·X = B for rows of B (`cblas_dtrsm`);
 * - {@link lowerInverse}: L⁻¹ of a lower-triangular L (`dtrtri_`).
 *
 * Row-major data is column-major data transposed, so the row-major lower triangle is LAPACK's
 * column-major upper triangle: the LAPACK calls pass `uplo = 'U'`. The `*Async` variants call the
 * same symbols with `nonblocking: true` (Deno runs them on a worker thread), so timers and progress
 * lines keep running during a factorisation of minutes; they must not be given arrays that other
 * code writes meanwhile.
 *
 * Engine choice, once per process (see {@link linalgInfo}):
 * - `SSL_LINALG_ENGINE=js` forces the JavaScript kernels; `=openblas` (or `SSL_REQUIRE_OPENBLAS=1`,
 *   set by CI) requires OpenBLAS and fails with a DataError naming what to install.
 * - Otherwise OpenBLAS is used when it loads; when it does not, one line on stderr says so and how
 *   to install it, and the JavaScript kernels run (same results to rounding, several times slower).
 * - The library: `SSL_OPENBLAS_LIB` (a path or soname), else the candidates in
 *   {@link OPENBLAS_LIBRARIES}. Threads: OpenBLAS's own `OPENBLAS_NUM_THREADS` (default: all cores).
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import {
  checkShape,
  choleskyLowerJs,
  gemmNT,
  lowerInverseJs,
  NotPositiveDefiniteError,
  solveLowerRowsJs,
  solveLowerTransposedRowsJs,
} from "./reference.ts";

/** Library names and paths tried in order (Debian/Ubuntu, Fedora, generic); `SSL_OPENBLAS_LIB` overrides. */
export const OPENBLAS_LIBRARIES: readonly string[] = [
  "libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib64/libopenblas.so.0",
  "/usr/lib64/libopenblasp.so.0",
  "/usr/local/lib/libopenblas.so.0",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
  "libopenblas.so",
];

/** How to get OpenBLAS, for messages. */
const INSTALL_HINT = "install it with `apt-get install libopenblas0-pthread` " +
  "(Fedora: `dnf install openblas-threads`) or set SSL_OPENBLAS_LIB to libopenblas.so's path";

// CBLAS enums.
const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;
const LOWER = 122;
const RIGHT = 142;
const NON_UNIT = 131;

const GEMM = {
  parameters: [
    ...["i32", "i32", "i32", "i32", "i32", "i32"],
    ...["f64", "buffer", "i32", "buffer", "i32", "f64", "buffer", "i32"],
  ],
  result: "void",
} as const;
const SYRK = {
  parameters: ["i32", "i32", "i32", "i32", "i32", "f64", "buffer", "i32", "f64", "buffer", "i32"],
  result: "void",
} as const;
const TRSM = {
  parameters: [
    ...["i32", "i32", "i32", "i32", "i32", "i32", "i32"],
    ...["f64", "buffer", "i32", "buffer", "i32"],
  ],
  result: "void",
} as const;
// Fortran LAPACK: every argument by reference, then one hidden length per character argument.
const POTRF = {
  parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "usize"],
  result: "void",
} as const;
const POTRS = {
  parameters: [
    ...["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    "usize",
  ],
  result: "void",
} as const;
const TRTRI = {
  parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "usize", "usize"],
  result: "void",
} as const;

const SYMBOLS = {
  cblas_dgemm: GEMM,
  cblas_dsyrk: SYRK,
  cblas_dtrsm: TRSM,
  dpotrf_: POTRF,
  dpotrs_: POTRS,
  dtrtri_: TRTRI,
  gemmAsync: { name: "cblas_dgemm", ...GEMM, nonblocking: true },
  syrkAsync: { name: "cblas_dsyrk", ...SYRK, nonblocking: true },
  potrfAsync: { name: "dpotrf_", ...POTRF, nonblocking: true },
  potrsAsync: { name: "dpotrs_", ...POTRS, nonblocking: true },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
  openblas_get_corename: { parameters: [], result: "pointer" },
  openblas_get_config: { parameters: [], result: "pointer" },
} as const;

type BlasLibrary = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Which implementation runs the kernels. */
export type LinalgEngine = "openblas" | "js";

/** What {@link linalgInfo} reports. */
export interface LinalgInfo {
  /** The engine in use. */
  engine: LinalgEngine;
  /** The library that was loaded (openblas engine only). */
  library?: string;
  /** Threads the kernels use (OpenBLAS's thread count; 1 for the JavaScript kernels). */
  threads: number;
  /** OpenBLAS's kernel family (e.g. "Haswell"), honouring OPENBLAS_CORETYPE. */
  corename?: string;
  /**
   * OPENBLAS_CORETYPE when it is set: the kernel family was forced rather than detected (an older
   * family than the CPU supports runs slower: tests/bench/NOTES.md).
   */
  coretype?: string;
  /** OpenBLAS's build configuration string. */
  config?: string;
  /** Why the JavaScript kernels run (forced, or the load error). */
  reason?: string;
}

interface State {
  lib?: BlasLibrary;
  info: LinalgInfo;
}

let state: State | undefined;
let override: LinalgEngine | undefined;

function cString(p: Deno.PointerValue): string | undefined {
  return p === null ? undefined : new Deno.UnsafePointerView(p).getCString();
}

function tryLoad(): { lib: BlasLibrary; library: string } | { error: string } {
  const env = Deno.env.get("SSL_OPENBLAS_LIB");
  const candidates = env ? [env] : OPENBLAS_LIBRARIES;
  const errors: string[] = [];
  for (const name of candidates) {
    try {
      return { lib: Deno.dlopen(name, SYMBOLS), library: name };
    } catch (error) {
      errors.push(
        (error as Error).message.split("\n")[0].replace(/^(Could not open library: )+/, ""),
      );
    }
  }
  return { error: `tried ${candidates.join(", ")}` + (env ? ` (${errors[0]})` : "") };
}

function load(): State {
  if (state) return state;
  const wanted = (Deno.env.get("SSL_LINALG_ENGINE") ?? "auto").toLowerCase();
  const required = wanted === "openblas" || Deno.env.get("SSL_REQUIRE_OPENBLAS") === "1";
  if (!["auto", "openblas", "js"].includes(wanted)) {
    throw new DataError(
      `SSL_LINALG_ENGINE must be auto, openblas or js, got '${Deno.env.get("SSL_LINALG_ENGINE")}'`,
    );
  }
  if (wanted === "js" && !required) {
    state = { info: { engine: "js", threads: 1, reason: "SSL_LINALG_ENGINE=js" } };
    return state;
  }
  const got = tryLoad();
  if ("error" in got) {
    if (required) {
      throw new DataError(
        `OpenBLAS is required but cannot be loaded (${got.error}); ${INSTALL_HINT}`,
      );
    }
    console.error(
      `linalg: OpenBLAS not found, using the slower JavaScript float64 kernels; ${INSTALL_HINT}`,
    );
    state = { info: { engine: "js", threads: 1, reason: `OpenBLAS not found (${got.error})` } };
    return state;
  }
  const s = got.lib.symbols;
  state = {
    lib: got.lib,
    info: {
      engine: "openblas",
      library: got.library,
      threads: s.openblas_get_num_threads(),
      corename: cString(s.openblas_get_corename()),
      coretype: Deno.env.get("OPENBLAS_CORETYPE") || undefined,
      config: cString(s.openblas_get_config())?.trim(),
    },
  };
  return state;
}

/** The engine in use and its details (loads OpenBLAS on first call). */
export function linalgInfo(): LinalgInfo {
  const info = { ...load().info };
  if (override === "js" && info.engine === "openblas") {
    return { engine: "js", threads: 1, reason: "setLinalgEngine('js')" };
  }
  return info;
}

/** The engine the next call runs on. */
export function linalgEngine(): LinalgEngine {
  return blas() ? "openblas" : "js";
}

/** True when OpenBLAS loaded (whatever engine is selected now). */
export function openblasAvailable(): boolean {
  return load().lib !== undefined;
}

/**
 * Selects the engine for the following calls (tests run both): "js" always works; "openblas"
 * throws a DataError when the library is not loaded; "auto" returns to the default.
 */
export function setLinalgEngine(engine: LinalgEngine | "auto"): void {
  if (engine === "openblas" && !openblasAvailable()) {
    throw new DataError(`OpenBLAS is not loaded (${load().info.reason}); ${INSTALL_HINT}`);
  }
  override = engine === "auto" ? undefined : engine;
}

/** Runs `fn` with `engine` selected, restoring the previous choice afterwards. */
export function withLinalgEngine<T>(engine: LinalgEngine, fn: () => T): T {
  const prev = override;
  setLinalgEngine(engine);
  try {
    return fn();
  } finally {
    override = prev;
  }
}

/** Sets OpenBLAS's thread count (no effect with the JavaScript kernels). */
export function setLinalgThreads(threads: number): void {
  const lib = load().lib;
  if (!lib) return;
  lib.symbols.openblas_set_num_threads(threads);
  state!.info.threads = lib.symbols.openblas_get_num_threads();
}

/** Nonblocking calls running now: OpenBLAS's thread count must not change under them. */
let inFlight = 0;

async function tracked<T>(call: Promise<T>): Promise<T> {
  inFlight++;
  try {
    return await call;
  } finally {
    inFlight--;
  }
}

/**
 * Runs `fn` with OpenBLAS on one thread, then restores the thread count: for work bound by memory
 * traffic, where one thread streaming a cached block beats two threads splitting every small call
 * (the logistic evaluation's row blocks). `linalgInfo().threads` reads 1 inside. The count is left
 * as it is with the JavaScript kernels and while a nonblocking call runs.
 */
export function withOneBlasThread<T>(fn: () => T): T {
  const threads = state?.info.threads ?? 1;
  if (!blas() || inFlight > 0 || threads === 1) return fn();
  setLinalgThreads(1);
  try {
    return fn();
  } finally {
    setLinalgThreads(threads);
  }
}

function blas(): BlasLibrary | undefined {
  if (override === "js") return undefined;
  return load().lib;
}

function view(a: Float64Array, off: number): Float64Array<ArrayBuffer> {
  return (off === 0 ? a : a.subarray(off)) as Float64Array<ArrayBuffer>;
}

const i32 = (v: number) => new Int32Array([v]);
const ch = (c: string) => new Uint8Array([c.charCodeAt(0)]);

/** Arguments of {@link gemm}: C[m, n] = α·op(A)·op(B) + β·C, row-major with leading dimensions. */
export interface GemmArgs {
  /** op(A) = Aᵀ (A stored [k, m]) instead of A (stored [m, k]). */
  transA?: boolean;
  /** op(B) = Bᵀ (B stored [n, k]) instead of B (stored [k, n]). */
  transB?: boolean;
  m: number;
  n: number;
  k: number;
  alpha?: number;
  a: Float64Array;
  /** Row stride of A as stored (default: its stored width). */
  lda?: number;
  aOff?: number;
  b: Float64Array;
  ldb?: number;
  bOff?: number;
  /** β (default 0: C is overwritten). */
  beta?: number;
  c: Float64Array;
  ldc?: number;
  cOff?: number;
}

function gemmParams(g: GemmArgs) {
  const transA = g.transA ?? false, transB = g.transB ?? false;
  const lda = g.lda ?? (transA ? g.m : g.k);
  const ldb = g.ldb ?? (transB ? g.k : g.n);
  const ldc = g.ldc ?? g.n;
  return { transA, transB, lda, ldb, ldc, alpha: g.alpha ?? 1, beta: g.beta ?? 0 };
}

function gemmJs(g: GemmArgs): void {
  const { transA, transB, lda, ldb, ldc, alpha, beta } = gemmParams(g);
  const { m, n, k } = g;
  const cOff = g.cOff ?? 0;
  if (beta !== 1) {
    for (let i = 0; i < m; i++) {
      const o = cOff + i * ldc;
      if (beta === 0) g.c.fill(0, o, o + n);
      else for (let j = 0; j < n; j++) g.c[o + j] *= beta;
    }
  }
  if (k === 0 || m === 0 || n === 0 || alpha === 0) return;
  // The core wants A as [m, k] rows and B as [n, k] rows; other layouts are packed once.
  let a = g.a, aOff = g.aOff ?? 0, la = lda;
  if (transA) {
    a = packTransposed(g.a, aOff, lda, k, m);
    aOff = 0;
    la = k;
  }
  let b = g.b, bOff = g.bOff ?? 0, lb = ldb;
  if (!transB) {
    b = packTransposed(g.b, bOff, ldb, k, n);
    bOff = 0;
    lb = k;
  }
  gemmNT(m, n, k, alpha, a, aOff, la, b, bOff, lb, g.c, cOff, ldc);
}

/** The transpose [cols, rows] of the rows×cols block at `off` with row stride `ld`. */
export function packTransposed(
  a: Float32Array | Float64Array,
  off: number,
  ld: number,
  rows: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(i0 + T, rows);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = Math.min(j0 + T, cols);
      for (let i = i0; i < i1; i++) {
        const r = off + i * ld;
        for (let j = j0; j < j1; j++) out[j * rows + i] = a[r + j];
      }
    }
  }
  return out;
}

function gemmFfiArgs(g: GemmArgs) {
  const { transA, transB, lda, ldb, ldc, alpha, beta } = gemmParams(g);
  return [
    ROW_MAJOR,
    transA ? TRANS : NO_TRANS,
    transB ? TRANS : NO_TRANS,
    g.m,
    g.n,
    g.k,
    alpha,
    view(g.a, g.aOff ?? 0),
    lda,
    view(g.b, g.bOff ?? 0),
    ldb,
    beta,
    view(g.c, g.cOff ?? 0),
    ldc,
  ] as const;
}

/**
 * General matrix product C = α·op(A)·op(B) + β·C (row-major; β defaults to 0).
 *
 * @example
 * ```ts
 * const c = new Float64Array(1);
 * gemm({ m: 1, n: 1, k: 2, a: new Float64Array([1, 2]), b: new Float64Array([3, 4]), c });
 * // c = [11]
 * ```
 */
export function gemm(g: GemmArgs): void {
  const lib = blas();
  if (!lib || g.m === 0 || g.n === 0) return gemmJs(g);
  lib.symbols.cblas_dgemm(...gemmFfiArgs(g));
}

/** {@link gemm} as a nonblocking FFI call (the event loop keeps running). */
export async function gemmAsync(g: GemmArgs): Promise<void> {
  const lib = blas();
  if (!lib || g.m === 0 || g.n === 0) return gemmJs(g);
  await tracked(lib.symbols.gemmAsync(...gemmFfiArgs(g)));
}

/** Arguments of {@link syrk}. */
export interface SyrkArgs {
  /** false: C = α·A·Aᵀ + β·C with A [n, k]; true: C = α·Aᵀ·A + β·C with A [k, n]. */
  trans?: boolean;
  n: number;
  k: number;
  alpha?: number;
  a: Float64Array;
  lda?: number;
  aOff?: number;
  /** β (default 0). */
  beta?: number;
  c: Float64Array;
  ldc?: number;
  cOff?: number;
}

function syrkJs(s: SyrkArgs): void {
  const trans = s.trans ?? false;
  const { n, k } = s;
  const lda = s.lda ?? (trans ? n : k), ldc = s.ldc ?? n, cOff = s.cOff ?? 0;
  const alpha = s.alpha ?? 1, beta = s.beta ?? 0;
  if (beta !== 1) {
    for (let i = 0; i < n; i++) {
      const o = cOff + i * ldc;
      if (beta === 0) s.c.fill(0, o, o + i + 1);
      else for (let j = 0; j <= i; j++) s.c[o + j] *= beta;
    }
  }
  if (k === 0 || n === 0 || alpha === 0) return;
  let a = s.a, aOff = s.aOff ?? 0, la = lda;
  if (trans) {
    a = packTransposed(s.a, aOff, lda, k, n);
    aOff = 0;
    la = k;
  }
  gemmNT(n, n, k, alpha, a, aOff, la, a, aOff, la, s.c, cOff, ldc, true);
}

function syrkFfiArgs(s: SyrkArgs) {
  const trans = s.trans ?? false;
  return [
    ROW_MAJOR,
    LOWER,
    trans ? TRANS : NO_TRANS,
    s.n,
    s.k,
    s.alpha ?? 1,
    view(s.a, s.aOff ?? 0),
    s.lda ?? (trans ? s.n : s.k),
    s.beta ?? 0,
    view(s.c, s.cOff ?? 0),
    s.ldc ?? s.n,
  ] as const;
}

/**
 * Symmetric rank-k update of the LOWER triangle of C (row-major; the strict upper triangle is not
 * touched): C = α·A·Aᵀ + β·C, or α·Aᵀ·A + β·C with `trans`. Half the flops of {@link gemm}.
 */
export function syrk(s: SyrkArgs): void {
  const lib = blas();
  if (!lib || s.n === 0) return syrkJs(s);
  lib.symbols.cblas_dsyrk(...syrkFfiArgs(s));
}

/** {@link syrk} as a nonblocking FFI call. */
export async function syrkAsync(s: SyrkArgs): Promise<void> {
  const lib = blas();
  if (!lib || s.n === 0) return syrkJs(s);
  await tracked(lib.symbols.syrkAsync(...syrkFfiArgs(s)));
}

/** Throws NotPositiveDefiniteError for a failed (info > 0) or non-finite factorisation. */
function checkFactor(a: Float64Array, n: number, info: number): void {
  if (info < 0) throw new Error(`dpotrf: argument ${-info} is invalid`);
  if (info > 0) throw new NotPositiveDefiniteError(info - 1, a[(info - 1) * (n + 1)]);
  // OpenBLAS's unblocked step tests `pivot <= 0` only, so a NaN pivot passes: check the diagonal.
  for (let i = 0; i < n; i++) {
    const d = a[i * (n + 1)];
    if (!(d > 0) || !Number.isFinite(d)) throw new NotPositiveDefiniteError(i, d);
  }
}

/** Options of {@link potrf}. */
export interface PotrfOptions {
  /** Added to the diagonal first (A + jitter·I). */
  jitter?: number;
  /** Zero the strict upper triangle afterwards (default true; false leaves it as it was). */
  zeroUpper?: boolean;
}

function potrfPrepare(a: Float64Array, n: number, options: PotrfOptions): void {
  checkShape(a.length, n, n, "potrf");
  const jitter = options.jitter ?? 0;
  if (jitter !== 0) { for (let i = 0; i < n; i++) a[i * n + i] += jitter; }
}

function potrfFinish(a: Float64Array, n: number, options: PotrfOptions): Float64Array {
  if (options.zeroUpper ?? true) {
    for (let r = 0; r < n; r++) {
      a.fill(0, r * n + r + 1, (r + 1) * n);
    }
  }
  return a;
}

/**
 * In-place Cholesky factorisation A = L·Lᵀ of a symmetric positive-definite row-major n×n matrix:
 * only the lower triangle is read; on return it holds L. Returns `a`.
 *
 * @throws NotPositiveDefiniteError when a pivot is ≤ 0 or not finite (`a` is then partly overwritten)
 */
export function potrf(a: Float64Array, n: number, options: PotrfOptions = {}): Float64Array {
  potrfPrepare(a, n, options);
  const lib = blas();
  if (!lib || n === 0) {
    choleskyLowerJs(a, n);
  } else {
    const info = new Int32Array(1);
    lib.symbols.dpotrf_(ch("U"), i32(n), a as Float64Array<ArrayBuffer>, i32(n), info, 1n);
    checkFactor(a, n, info[0]);
  }
  return potrfFinish(a, n, options);
}

/** {@link potrf} as a nonblocking FFI call (minutes at n = 20 480; progress keeps printing). */
export async function potrfAsync(
  a: Float64Array,
  n: number,
  options: PotrfOptions = {},
): Promise<Float64Array> {
  potrfPrepare(a, n, options);
  const lib = blas();
  if (!lib || n === 0) {
    choleskyLowerJs(a, n);
  } else {
    const info = new Int32Array(1);
    await tracked(
      lib.symbols.potrfAsync(ch("U"), i32(n), a as Float64Array<ArrayBuffer>, i32(n), info, 1n),
    );
    checkFactor(a, n, info[0]);
  }
  return potrfFinish(a, n, options);
}

function checkSolve(l: Float64Array, n: number, b: Float64Array, m: number, what: string): void {
  checkShape(l.length, n, n, `${what} L`);
  checkShape(b.length, m, n, `${what} B`);
}

/**
 * Solves L·Lᵀ·X = B in place of b, for the m right-hand sides stored as the ROWS of b [m, n]
 * (L from {@link potrf}; only its lower triangle is read).
 */
export function potrs(l: Float64Array, n: number, b: Float64Array, m: number): void {
  checkSolve(l, n, b, m, "potrs");
  const lib = blas();
  if (!lib || n === 0 || m === 0) {
    solveLowerRowsJs(l, n, b, m);
    solveLowerTransposedRowsJs(l, n, b, m);
    return;
  }
  // Rows of b are the columns of the column-major n×m matrix LAPACK sees.
  const info = new Int32Array(1);
  lib.symbols.dpotrs_(
    ch("U"),
    i32(n),
    i32(m),
    l as Float64Array<ArrayBuffer>,
    i32(n),
    b as Float64Array<ArrayBuffer>,
    i32(n),
    info,
    1n,
  );
  if (info[0] !== 0) throw new Error(`dpotrs: argument ${-info[0]} is invalid`);
}

/** {@link potrs} as a nonblocking FFI call. */
export async function potrsAsync(
  l: Float64Array,
  n: number,
  b: Float64Array,
  m: number,
): Promise<void> {
  checkSolve(l, n, b, m, "potrs");
  const lib = blas();
  if (!lib || n === 0 || m === 0) return potrs(l, n, b, m);
  const info = new Int32Array(1);
  await tracked(lib.symbols.potrsAsync(
    ch("U"),
    i32(n),
    i32(m),
    l as Float64Array<ArrayBuffer>,
    i32(n),
    b as Float64Array<ArrayBuffer>,
    i32(n),
    info,
    1n,
  ));
  if (info[0] !== 0) throw new Error(`dpotrs: argument ${-info[0]} is invalid`);
}

/**
 * Solves L·x = b (or Lᵀ·x = b with `transposed`) in place for each ROW b of b [m, n], with L lower
 * triangular (only its lower triangle is read).
 */
export function trsmRows(
  l: Float64Array,
  n: number,
  b: Float64Array,
  m: number,
  transposed = false,
): void {
  checkSolve(l, n, b, m, "trsmRows");
  const lib = blas();
  if (!lib || n === 0 || m === 0) {
    if (transposed) solveLowerTransposedRowsJs(l, n, b, m);
    else solveLowerRowsJs(l, n, b, m);
    return;
  }
  // Rows x with L·x = b form X·Lᵀ = B (and X·L = B for Lᵀ·x = b): a right-side solve.
  lib.symbols.cblas_dtrsm(
    ROW_MAJOR,
    RIGHT,
    LOWER,
    transposed ? NO_TRANS : TRANS,
    NON_UNIT,
    m,
    n,
    1,
    l as Float64Array<ArrayBuffer>,
    n,
    b as Float64Array<ArrayBuffer>,
    n,
  );
}

/**
 * L⁻¹ of a lower-triangular row-major L (only the lower triangle is read), as a new array whose
 * strict upper triangle is zero.
 */
export function lowerInverse(l: Float64Array, n: number): Float64Array {
  checkShape(l.length, n, n, "lowerInverse");
  const lib = blas();
  if (!lib || n === 0) return lowerInverseJs(l, n);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv.set(l.subarray(i * n, i * n + i + 1), i * n);
  const info = new Int32Array(1);
  lib.symbols.dtrtri_(ch("U"), ch("N"), i32(n), inv, i32(n), info, 1n, 1n);
  if (info[0] > 0) throw new NotPositiveDefiniteError(info[0] - 1, 0);
  if (info[0] < 0) throw new Error(`dtrtri: argument ${-info[0]} is invalid`);
  return inv;
}
