import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import {
  enqueue,
  infoNce,
  type InfoNceOptions,
  type InfoNceVariant,
} from "../../src/ops/contrastive.ts";
import { poison } from "../../src/ops/elementwise.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { refEnqueue, refInfoNce } from "./contrastive_reference.ts";

/** Fills the pool buckets the op will draw from with NaN-poisoned buffers. */
function poisonPool(gpu: Gpu, sizes: number[]): void {
  const held: Tensor[] = [];
  for (const size of sizes) {
    for (let r = 0; r < 6; r++) {
      const t = Tensor.empty(gpu, [size]);
      poison(gpu, t);
      held.push(t);
    }
  }
  for (const t of held) t.release();
}

/** Rows of `rows × dim` L2-normalised in place. */
function normaliseRows(x: Float32Array, rows: number, dim: number): Float32Array {
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[i * dim + d] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let d = 0; d < dim; d++) x[i * dim + d] *= inv;
  }
  return x;
}

interface Case {
  n: number;
  dim: number;
  kq: number;
  q: Float32Array;
  k: Float32Array;
  queue: Float32Array;
}

/** q random unit rows; k = normalise(q + noise) so that some positives win and some lose. */
function makeCase(rng: Rng, n: number, dim: number, kq: number, noise = 0.8): Case {
  const q = normaliseRows(rng.normalArray(n * dim), n, dim);
  const k = rng.normalArray(n * dim, noise);
  for (let i = 0; i < n * dim; i++) k[i] += q[i];
  normaliseRows(k, n, dim);
  // Columns of the queue are unit keys, as in MoCo (normalise the transposed matrix).
  const keys = normaliseRows(rng.normalArray(kq * dim), kq, dim);
  const queue = new Float32Array(dim * kq);
  for (let j = 0; j < kq; j++) for (let d = 0; d < dim; d++) queue[d * kq + j] = keys[j * dim + d];
  return { n, dim, kq, q, k, queue };
}

/** Rows whose positive is within `eps` of a rank boundary (f32 vs f64 may rank them apart). */
function ambiguousRows(logits: Float64Array, n: number, kq: number, eps: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * (1 + kq), (i + 1) * (1 + kq));
    for (let j = 1; j <= kq; j++) {
      if (Math.abs(row[j] - row[0]) <= eps * Math.max(1, Math.abs(row[0]))) {
        count++;
        break;
      }
    }
  }
  return count;
}

/** Runs every variant the shapes allow against the reference; variants must agree bitwise. */
async function runCase(gpu: Gpu, c: Case, options: InfoNceOptions, what: string): Promise<void> {
  const { n, dim, kq } = c;
  const ref = refInfoNce(c.q, c.k, c.queue, n, dim, kq, options.temperature);
  const slack = ambiguousRows(ref.logits, n, kq, 1e-5);
  const variants: InfoNceVariant[] = dim % 4 === 0 && kq % 4 === 0 ? ["scalar", "vec4"] : [
    "scalar",
  ];
  const results: Float32Array[][] = [];
  for (const variant of variants) {
    const label = `${what} ${variant}`;
    const q = Tensor.from(gpu, c.q, [n, dim]);
    const k = Tensor.from(gpu, c.k, [n, dim]);
    const queue = Tensor.from(gpu, c.queue, [dim, kq]);
    poisonPool(gpu, [1, 2, n, n * dim, n * 3 * Math.ceil(kq / 256), n * dim * Math.ceil(kq / 256)]);
    const { loss, dq, correct } = infoNce(gpu, q, k, queue, { ...options, variant });
    const [l, g, acc] = await gpu.recorder.read([loss, dq, correct]);
    assertRelClose(l, [ref.loss], 1e-5, `${label} loss`);
    assertRelClose(g, ref.dq, 1e-5, `${label} dq`);
    assert(
      Math.abs(acc[0] - ref.top1) <= slack && Math.abs(acc[1] - ref.top5) <= slack,
      `${label} correct [${acc}] vs reference [${ref.top1}, ${ref.top5}] (slack ${slack})`,
    );
    results.push([l as Float32Array, g as Float32Array]);
    for (const t of [q, k, queue, loss, dq, correct]) t.release();
  }
  for (let v = 1; v < results.length; v++) {
    assertArrayEqual(results[v][0], results[0][0], `${what} loss: ${variants[v]} vs scalar`);
    assertArrayEqual(results[v][1], results[0][1], `${what} dq: ${variants[v]} vs scalar`);
  }
}

Deno.test({
  name:
    "infoNce() matches the float64 reference for K = 16 and K = 67 (odd N and dim), both variants",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("infonce small");
    await runCase(gpu, makeCase(rng, 5, 7, 16), { temperature: 0.07 }, "N5 d7 K16");
    await runCase(gpu, makeCase(rng, 13, 67, 67), { temperature: 0.2 }, "N13 d67 K67");
    await runCase(gpu, makeCase(rng, 1, 3, 67), { temperature: 0.2 }, "N1 d3 K67");
    await runCase(gpu, makeCase(rng, 9, 128, 16, 0.3), { temperature: 0.07 }, "N9 d128 K16");
    // More rows than the finalize workgroup has threads, and 17 row blocks.
    await runCase(gpu, makeCase(rng, 130, 12, 68), { temperature: 0.2 }, "N130 d12 K68");
  },
});

Deno.test({
  name:
    "infoNce() merges chunks and partial tiles: K = 600 with 1, 2 and 3 tiles per chunk, both variants",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("infonce chunks");
    const c = makeCase(rng, 11, 5, 600);
    const c8 = makeCase(rng, 17, 8, 600);
    for (const tilesPerChunk of [1, 2, 3]) {
      await runCase(
        gpu,
        c8,
        { temperature: 0.1, tilesPerChunk },
        `d8 tiles/chunk ${tilesPerChunk}`,
      );
      await runCase(
        gpu,
        c,
        { temperature: 0.1, tilesPerChunk },
        `K600 tiles/chunk ${tilesPerChunk}`,
      );
    }
  },
});

Deno.test({
  name: "infoNce() matches the float64 reference with K = 65 536 negatives",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("infonce big");
    await runCase(gpu, makeCase(rng, 6, 16, 65536, 0.2), { temperature: 0.2 }, "N6 d16 K65536");
    await runCase(gpu, makeCase(rng, 3, 5, 65536), { temperature: 0.07 }, "N3 d5 K65536");
    const c = makeCase(rng, 2, 3, 65536, 0.1);
    await runCase(gpu, c, { temperature: 0.07, tilesPerChunk: 37 }, "N2 d3 K65536 37 tiles/chunk");
  },
});

Deno.test({
  name: "infoNce() dq agrees with central finite differences of the loss",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("infonce fd");
    const n = 3, dim = 4, kq = 6, temperature = 0.5;
    const c = makeCase(rng, n, dim, kq);
    // Float64: the reference's analytic dq against its own finite differences (tight).
    const ref = refInfoNce(c.q, c.k, c.queue, n, dim, kq, temperature);
    const fd64 = new Float64Array(n * dim);
    const qd = Float64Array.from(c.q);
    for (let e = 0; e < n * dim; e++) {
      const h = 1e-6;
      const v = qd[e];
      qd[e] = v + h;
      const up = refInfoNce(qd, c.k, c.queue, n, dim, kq, temperature).loss;
      qd[e] = v - h;
      const down = refInfoNce(qd, c.k, c.queue, n, dim, kq, temperature).loss;
      qd[e] = v;
      fd64[e] = (up - down) / (2 * h);
    }
    assertRelClose(ref.dq, fd64, 1e-7, "reference dq vs float64 finite differences");
    // GPU: the f32 loss at q ± h for every element, read back together. h = 1e-2 balances the
    // O(h²) truncation against f32 rounding of the loss (~1e-7 / h), hence the loose 1e-3.
    const h = 1e-2;
    const k = Tensor.from(gpu, c.k, [n, dim]);
    const queue = Tensor.from(gpu, c.queue, [dim, kq]);
    const q0 = Tensor.from(gpu, c.q, [n, dim]);
    const base = infoNce(gpu, q0, k, queue, { temperature });
    const losses: Tensor[] = [];
    const held: Tensor[] = [q0, base.loss, base.correct];
    for (let e = 0; e < n * dim; e++) {
      for (const sign of [1, -1]) {
        const qp = Float32Array.from(c.q);
        qp[e] += sign * h;
        const qt = Tensor.from(gpu, qp, [n, dim]);
        const r = infoNce(gpu, qt, k, queue, { temperature });
        losses.push(r.loss);
        held.push(qt, r.dq, r.correct);
      }
    }
    const [dq, ...values] = await gpu.recorder.read([base.dq, ...losses]);
    const fd = new Float64Array(n * dim);
    for (let e = 0; e < n * dim; e++) fd[e] = (values[2 * e][0] - values[2 * e + 1][0]) / (2 * h);
    assertRelClose(dq, fd, 1e-3, "GPU dq vs GPU finite differences");
    for (const t of [...held, ...losses, base.dq, k, queue]) t.release();
  },
});

Deno.test({
  name: "infoNce() counts top-1 / top-5 with exact ties against the positive, both variants",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("infonce ties");
    const n = 4, dim = 8, kq = 16;
    const c = makeCase(rng, n, dim, kq, 0.05);
    // q_i = e_i and k_i ≈ e_i, so a row's positive (≈ 1/T) beats the other rows' keys (≈ 0) and
    // the zero columns (exactly 0). Row 0's positive key is also in the queue (an exact tie),
    // twice for row 1 and six times for row 2; row 3 has no tie.
    c.q.fill(0);
    for (let i = 0; i < n; i++) c.q[i * dim + i] = 1;
    const noise = normaliseRows(rng.normalArray(n * dim), n, dim);
    for (let e = 0; e < n * dim; e++) c.k[e] = c.q[e] + 0.05 * noise[e];
    normaliseRows(c.k, n, dim);
    c.queue.fill(0);
    const put = (row: number, col: number) => {
      for (let d = 0; d < dim; d++) c.queue[d * kq + col] = c.k[row * dim + d];
    };
    put(0, 1);
    put(1, 2);
    put(1, 3);
    for (let col = 4; col < 10; col++) put(2, col);
    const q = Tensor.from(gpu, c.q, [n, dim]);
    const k = Tensor.from(gpu, c.k, [n, dim]);
    const queue = Tensor.from(gpu, c.queue, [dim, kq]);
    const ref = refInfoNce(c.q, c.k, c.queue, n, dim, kq, 0.2);
    // Top-1: only row 3. Top-5: rows 0, 1, 3 (row 2 has six negatives tied with its positive).
    assert(ref.top1 === 1 && ref.top5 === 3, `reference counts ${ref.top1}, ${ref.top5}`);
    for (const variant of ["scalar", "vec4"] as const) {
      poisonPool(gpu, [1, 2]);
      const r = infoNce(gpu, q, k, queue, { temperature: 0.2, variant });
      const [acc, loss] = await gpu.recorder.read([r.correct, r.loss]);
      assertArrayEqual(acc, [1, 3], `${variant}: top-1 / top-5 counts`);
      assertRelClose(loss, [ref.loss], 1e-5, `${variant}: loss`);
      for (const t of [r.loss, r.dq, r.correct]) t.release();
    }
    // All logits equal (q orthogonal to every key): the positive ranks below all K ties.
    const z = new Float32Array(dim * kq);
    const zq = Tensor.from(gpu, z, [dim, kq]);
    const kz = Tensor.from(gpu, new Float32Array(n * dim), [n, dim]);
    const rz = infoNce(gpu, q, kz, zq, { temperature: 0.2 });
    const [accZ, lossZ, dqZ] = await gpu.recorder.read([rz.correct, rz.loss, rz.dq]);
    assertArrayEqual(accZ, [0, 0], "all-equal logits");
    assertRelClose(lossZ, [Math.log(1 + kq)], 1e-6, "uniform loss log(1 + K)");
    assertArrayEqual(dqZ, new Float32Array(n * dim), "dq of all-zero keys");
    for (const t of [q, k, queue, zq, kz, rz.loss, rz.dq, rz.correct]) t.release();
  },
});

Deno.test({
  name: "infoNce() is bit-identical on two runs",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("infonce determinism");
    const c = makeCase(rng, 10, 12, 2048);
    const q = Tensor.from(gpu, c.q, [10, 12]);
    const k = Tensor.from(gpu, c.k, [10, 12]);
    const queue = Tensor.from(gpu, c.queue, [12, 2048]);
    const a = infoNce(gpu, q, k, queue, { temperature: 0.2, tilesPerChunk: 3 });
    const b = infoNce(gpu, q, k, queue, { temperature: 0.2, tilesPerChunk: 3 });
    const [la, ga, lb, gb] = await gpu.recorder.read([a.loss, a.dq, b.loss, b.dq]);
    assertArrayEqual(la, lb, "loss");
    assertArrayEqual(ga, gb, "dq");
    for (const t of [q, k, queue, a.loss, a.dq, a.correct, b.loss, b.dq, b.correct]) t.release();
  },
});

Deno.test({
  name: "enqueue() writes keys as queue columns, wraps the pointer and checks K % N",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("enqueue");
    const n = 3, dim = 5, kq = 12;
    const q0 = rng.normalArray(dim * kq);
    const queue = Tensor.from(gpu, q0, [dim, kq]);
    let expected: Float64Array = Float64Array.from(q0);
    let ptr = 6;
    for (const expectedNext of [9, 0, 3]) {
      const keys = rng.normalArray(n * dim);
      const k = Tensor.from(gpu, keys, [n, dim]);
      const next = enqueue(gpu, queue, k, ptr);
      assert(next === expectedNext, `next pointer ${next}, expected ${expectedNext}`);
      expected = refEnqueue(expected, keys, n, dim, kq, ptr);
      ptr = next;
      k.release();
    }
    assertArrayEqual(await queue.read(), expected, "queue after three enqueues");
    const k5 = Tensor.from(gpu, new Float32Array(5 * dim), [5, dim]);
    let threw = "";
    try {
      enqueue(gpu, queue, k5, 0);
    } catch (error) {
      threw = (error as Error).message;
    }
    assert(/divisible/.test(threw), `K % N check: '${threw}'`);
    k5.release();
    queue.release();
  },
});
