/**
 * The multinomial logistic objective over a range of rows, in blocks, and a helper thread that
 * evaluates the second half of the rows while the caller evaluates the first.
 *
 * One evaluation of the objective needs X·Wᵀ and Rᵀ·X. On OpenBLAS both products run per block of
 * rows (the block is still in cache for the second), on one thread each: one OpenBLAS thread
 * splitting every small `dgemm` costs more than it gives (tests/bench/NOTES.md). A
 * {@link LogisticRowShard} puts the second core to work on the other half of the blocks instead: a
 * Deno Worker on the same OpenBLAS library, fed through SharedArrayBuffers and woken with
 * `Atomics`, so the caller (L-BFGS, synchronous) stays synchronous.
 *
 * The same module is the worker's entry point.
 *
 * @module
 */
import { gemm, linalgEngine } from "./blas.ts";

/** One problem's arrays, shared by the caller and its helper thread. */
export interface LogisticRows {
  /** Samples [n, d], row-major. */
  x: Float64Array;
  /** Class index of each sample [n]. */
  label: Int32Array;
  /** Samples. */
  n: number;
  /** Features. */
  d: number;
  /** Classes. */
  k: number;
  /** Whether w ends with k intercepts. */
  intercept: boolean;
  /** Decision values [n, k] (scratch). */
  z: Float64Array;
  /** Residuals softmax(z) − onehot(y), transposed [k, n]. */
  rT: Float64Array;
}

/**
 * Rows i0 … i0 + m − 1: their decision values z = X·Wᵀ + b, their loss Σ [lse(z) − z_y], and the
 * residuals R = softmax(z) − onehot(y) written into columns i0 … of Rᵀ.
 */
export function logisticResiduals(p: LogisticRows, w: Float64Array, i0: number, m: number): number {
  const { n, d, k, z, rT, label } = p;
  gemm({
    transB: true,
    m,
    n: k,
    k: d,
    a: p.x,
    aOff: i0 * d,
    b: w,
    ldb: d,
    c: z,
    cOff: i0 * k,
  });
  let loss = 0;
  for (let i = i0; i < i0 + m; i++) {
    const off = i * k;
    let mx = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = z[off + c] + (p.intercept ? w[k * d + c] : 0);
      z[off + c] = v;
      if (v > mx) mx = v;
    }
    // One exp per entry, then a division, as sklearn's HalfMultinomialLoss does.
    let s = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(z[off + c] - mx);
      rT[c * n + i] = e;
      s += e;
    }
    const lse = mx + Math.log(s);
    loss += lse - z[off + label[i]];
    for (let c = 0; c < k; c++) rT[c * n + i] /= s;
    rT[label[i] * n + i] -= 1;
  }
  return loss;
}

/**
 * Rows r0 … r1 − 1 in blocks of `rows`: returns their loss and writes Rᵀ·X of those rows into
 * `grad` [k, d] (overwritten), both products of a block while it is in cache.
 */
export function logisticRowBlocks(
  p: LogisticRows,
  w: Float64Array,
  grad: Float64Array,
  r0: number,
  r1: number,
  rows: number,
): number {
  const { n, d, k } = p;
  let loss = 0;
  for (let i0 = r0; i0 < r1; i0 += rows) {
    const m = Math.min(rows, r1 - i0);
    loss += logisticResiduals(p, w, i0, m);
    gemm({
      m: k,
      n: d,
      k: m,
      a: p.rT,
      aOff: i0,
      lda: n,
      b: p.x,
      bOff: i0 * d,
      beta: i0 === r0 ? 0 : 1,
      c: grad,
      ldc: d,
    });
  }
  if (r1 <= r0) grad.fill(0);
  return loss;
}

/** A float64 array on shared memory (what a {@link LogisticRowShard} needs for x, z and Rᵀ). */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}

/** Control word states (Int32 at index 0 of the control array). */
const STARTING = 0, IDLE = 1, RUN = 2, DONE = 3, EXIT = 4, FAILED = 5;

/** How long the caller waits for the worker to load (module + OpenBLAS) before giving up. */
const START_TIMEOUT_MS = 60_000;

interface ShardSetup {
  rows: LogisticRows;
  /** The helper's rows: r0 … r1 − 1, in blocks of `block`. */
  r0: number;
  r1: number;
  block: number;
  /** Parameters, copied in by the caller before each run. */
  w: Float64Array;
  /** The helper's Rᵀ·X [k, d]. */
  grad: Float64Array;
  /** [0]: the helper's loss. */
  loss: Float64Array;
  control: Int32Array;
  /** A failure's message, UTF-8, NUL-padded. */
  message: Uint8Array;
}

/**
 * A worker thread that evaluates rows r0 … r1 − 1 of a {@link LogisticRows} on request: the caller
 * starts it with {@link begin}, evaluates its own rows, then collects the helper's loss and
 * gradient with {@link finish}. `rows.x`, `rows.label`, `rows.z` and `rows.rT` must live on
 * SharedArrayBuffers ({@link sharedFloat64}). Call {@link close} when done (a live worker keeps
 * the process alive).
 */
export class LogisticRowShard {
  readonly #worker: Worker;
  readonly #setup: ShardSetup;

  /**
   * Starts the worker and waits (blocking, up to a minute) until it has loaded OpenBLAS.
   * @throws Error when the worker cannot start or cannot load OpenBLAS
   */
  constructor(rows: LogisticRows, r0: number, r1: number, block: number, size: number) {
    const arrays = [["x", rows.x], ["label", rows.label], ["z", rows.z], ["rT", rows.rT]] as const;
    for (const [name, a] of arrays) {
      if (!(a.buffer instanceof SharedArrayBuffer)) {
        throw new TypeError(`LogisticRowShard: rows.${name} must be on a SharedArrayBuffer`);
      }
    }
    this.#setup = {
      rows,
      r0,
      r1,
      block,
      w: sharedFloat64(size),
      grad: sharedFloat64(rows.k * rows.d),
      loss: sharedFloat64(1),
      control: new Int32Array(new SharedArrayBuffer(4)),
      message: new Uint8Array(new SharedArrayBuffer(512)),
    };
    this.#worker = new Worker(import.meta.url, { type: "module", name: "logistic-rows" });
    this.#worker.postMessage(this.#setup);
    const control = this.#setup.control;
    const waited = Atomics.wait(control, 0, STARTING, START_TIMEOUT_MS);
    if (waited === "timed-out" || Atomics.load(control, 0) !== IDLE) {
      const why = waited === "timed-out" ? "did not start within a minute" : this.#message();
      this.#worker.terminate();
      throw new Error(`logistic helper thread: ${why}`);
    }
  }

  /** Hands the helper the parameters `w` and starts its rows. */
  begin(w: Float64Array): void {
    this.#setup.w.set(w);
    Atomics.store(this.#setup.control, 0, RUN);
    Atomics.notify(this.#setup.control, 0);
  }

  /**
   * Waits for the helper's rows; returns their loss and adds their Rᵀ·X into `grad`.
   * @throws Error with the helper's message when its evaluation failed
   */
  finish(grad: Float64Array): number {
    const control = this.#setup.control;
    let state: number;
    while ((state = Atomics.load(control, 0)) === RUN) Atomics.wait(control, 0, RUN);
    if (state !== DONE) throw new Error(`logistic helper thread: ${this.#message()}`);
    Atomics.store(control, 0, IDLE);
    const g = this.#setup.grad;
    for (let j = 0; j < g.length; j++) grad[j] += g[j];
    return this.#setup.loss[0];
  }

  /** Stops the worker. */
  close(): void {
    Atomics.store(this.#setup.control, 0, EXIT);
    Atomics.notify(this.#setup.control, 0);
    this.#worker.terminate();
  }

  #message(): string {
    const bytes = this.#setup.message.slice();
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)) || "failed";
  }
}

function fail(setup: ShardSetup, error: unknown): void {
  const text = error instanceof Error ? error.message : String(error);
  setup.message.fill(0);
  new TextEncoder().encodeInto(text.slice(0, 400), setup.message);
  Atomics.store(setup.control, 0, FAILED);
  Atomics.notify(setup.control, 0);
}

// Worker side: this module is also the helper thread's entry point.
const scope = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  onmessage: ((e: MessageEvent<ShardSetup>) => void) | null;
  close: () => void;
};
if (typeof scope.WorkerGlobalScope !== "undefined") {
  scope.onmessage = (e: MessageEvent<ShardSetup>) => {
    const setup = e.data;
    const { control } = setup;
    try {
      if (linalgEngine() !== "openblas") throw new Error("OpenBLAS is not loaded in the worker");
    } catch (error) {
      fail(setup, error);
      scope.close();
      return;
    }
    Atomics.store(control, 0, IDLE);
    Atomics.notify(control, 0);
    for (;;) {
      let state: number;
      while ((state = Atomics.load(control, 0)) === IDLE || state === DONE) {
        Atomics.wait(control, 0, state);
      }
      if (state !== RUN) break;
      try {
        setup.loss[0] = logisticRowBlocks(
          setup.rows,
          setup.w,
          setup.grad,
          setup.r0,
          setup.r1,
          setup.block,
        );
        Atomics.store(control, 0, DONE);
        Atomics.notify(control, 0);
      } catch (error) {
        fail(setup, error);
        break;
      }
    }
    scope.close();
  };
}
