import {
  gemm,
  gemmAsync,
  linalgEngine,
  linalgInfo,
  lowerInverse,
  potrf,
  potrfAsync,
  potrs,
  setLinalgThreads,
  syrk,
  syrkAsync,
  trsmRows,
  withOneBlasThread,
} from "../../src/linalg/blas.ts";
import { NotPositiveDefiniteError } from "../../src/linalg/cholesky.ts";
import { covarianceF64, covarianceF64Async } from "../../src/eval/statistics.ts";
import { Whitener } from "../../src/eval/whitening.ts";
import type { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { engines, engineTest, onEngine } from "./engines.ts";

const randn = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());

/** Naive triple loop: element (i, j) of op(A)·op(B), the independent reference. */
function naiveProduct(
  a: Float64Array,
  aOff: number,
  lda: number,
  transA: boolean,
  b: Float64Array,
  bOff: number,
  ldb: number,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const x = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
        const y = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
        s += x * y;
      }
      out[i * n + j] = s;
    }
  }
  return out;
}

/** A random symmetric positive-definite n×n matrix G·Gᵀ/n + I (well conditioned). */
function randomSpd(rng: Rng, n: number): Float64Array {
  const g = randn(rng, n * n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? 1 : 0;
      for (let p = 0; p < n; p++) s += (g[i * n + p] * g[j * n + p]) / n;
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}

engineTest(
  "gemm() matches a naive product for every transpose, offsets, leading dimensions and β",
  async () => {
    const rng = testRng("gemm-shapes");
    for (const [m, n, k] of [[1, 1, 1], [7, 5, 3], [37, 29, 300], [64, 3, 257], [4, 97, 9]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const beta of [0, 1, -0.5]) {
            const aRows = transA ? k : m, aCols = transA ? m : k;
            const bRows = transB ? n : k, bCols = transB ? k : n;
            const lda = aCols + 3, ldb = bCols + 1, ldc = n + 2;
            const aOff = 5, bOff = 2, cOff = 3;
            const a = randn(rng, aOff + aRows * lda), b = randn(rng, bOff + bRows * ldb);
            const c0 = randn(rng, cOff + m * ldc);
            // β = 0 must overwrite C, whatever it held (here NaN in the m×n block).
            if (beta === 0) {
              for (let i = 0; i < m; i++) {
                c0.fill(NaN, cOff + i * ldc, cOff + i * ldc + n);
              }
            }
            const ref = naiveProduct(a, aOff, lda, transA, b, bOff, ldb, transB, m, n, k);
            const expected = Float64Array.from(c0);
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n; j++) {
                const o = cOff + i * ldc + j;
                expected[o] = 0.75 * ref[i * n + j] + (beta === 0 ? 0 : beta * c0[o]);
              }
            }
            const args = { transA, transB, m, n, k, alpha: 0.75, a, aOff, lda, b, bOff, ldb, beta };
            const c = Float64Array.from(c0);
            gemm({ ...args, c, cOff, ldc });
            const what = `${m}×${n}×${k} tA=${transA} tB=${transB} β=${beta}`;
            assertRelClose(c, expected, 1e-13, what);
            // Padding between rows and the offset are untouched.
            for (let i = 0; i < cOff; i++) {
              assert(
                Object.is(c[i], c0[i]),
                `${what}: offset written`,
              );
            }
            const ca = Float64Array.from(c0);
            await gemmAsync({ ...args, c: ca, cOff, ldc });
            assertArrayEqual(ca, c, `${what} async`);
          }
        }
      }
    }
  },
);

engineTest("syrk() updates only the lower triangle with A·Aᵀ or Aᵀ·A (+ β·C)", async () => {
  const rng = testRng("syrk");
  for (const [n, k] of [[1, 4], [5, 1], [31, 17], [100, 257]]) {
    for (const trans of [false, true]) {
      for (const beta of [0, 1]) {
        const rows = trans ? k : n, cols = trans ? n : k;
        const a = randn(rng, rows * cols);
        const c0 = randn(rng, n * n);
        const ref = naiveProduct(a, 0, cols, trans, a, 0, cols, !trans, n, n, k);
        const c = Float64Array.from(c0);
        syrk({ trans, n, k, alpha: -2, a, beta, c });
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const o = i * n + j;
            if (j > i) {
              assert(Object.is(c[o], c0[o]), `upper (${i}, ${j}) written (n=${n} k=${k})`);
            } else {
              const want = -2 * ref[o] + beta * c0[o];
              assert(
                Math.abs(c[o] - want) <= 1e-12 * (Math.abs(want) + k),
                `syrk n=${n} k=${k} trans=${trans} (${i}, ${j}): ${c[o]} vs ${want}`,
              );
            }
          }
        }
        const ca = Float64Array.from(c0);
        await syrkAsync({ trans, n, k, alpha: -2, a, beta, c: ca });
        assertArrayEqual(ca, c, "syrk async");
      }
    }
  }
});

engineTest(
  "potrf() reconstructs A = L·Lᵀ across block sizes, with and without zeroing the upper triangle",
  async () => {
    const rng = testRng("potrf");
    for (const n of [1, 2, 3, 95, 96, 97, 200]) {
      const a = randomSpd(rng, n);
      const upper = Float64Array.from(a);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) upper[i * n + j] = -7;
      const l = potrf(Float64Array.from(upper), n);
      const keep = await potrfAsync(Float64Array.from(upper), n, { zeroUpper: false });
      const back = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (j > i) {
            assert(l[i * n + j] === 0, `upper zeroed (${i}, ${j})`);
            assert(keep[i * n + j] === -7, `upper kept (${i}, ${j})`);
          } else {
            assert(keep[i * n + j] === l[i * n + j], "async = sync");
          }
          let s = 0;
          for (let p = 0; p <= Math.min(i, j); p++) s += l[i * n + p] * l[j * n + p];
          back[i * n + j] = s;
        }
      }
      assertRelClose(back, a, 1e-13, `n=${n}`);
    }
  },
);

engineTest("potrf() reports the failing column and its pivot, and rejects NaN", () => {
  const rng = testRng("potrf-fail");
  const n = 150, bad = 120;
  // Rank-deficient at `bad`: row/column `bad` repeats row/column 3 (pivot ≈ 0 or negative).
  const a = randomSpd(rng, n);
  for (let j = 0; j < n; j++) {
    a[bad * n + j] = a[3 * n + j];
    a[j * n + bad] = a[j * n + 3];
  }
  a[bad * n + bad] = a[3 * n + 3] - 1e-3;
  try {
    potrf(Float64Array.from(a), n);
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof NotPositiveDefiniteError, `got ${e}`);
    assert(e.column === bad, `column ${e.column}, expected ${bad}`);
    assert(Math.abs(e.pivot + 1e-3) < 1e-9, `pivot ${e.pivot}, expected −1e-3`);
  }
  const nan = randomSpd(rng, 10);
  nan[5 * 10 + 2] = NaN;
  let threw = false;
  try {
    potrf(nan, 10);
  } catch (e) {
    threw = e instanceof NotPositiveDefiniteError;
  }
  assert(threw, "NaN input must raise NotPositiveDefiniteError");
});

engineTest(
  "potrs(), trsmRows() and lowerInverse() solve with the factor (fresh SPD systems)",
  () => {
    const rng = testRng("solves");
    for (const [n, m] of [[1, 1], [13, 3], [130, 5]]) {
      const a = randomSpd(rng, n);
      const l = potrf(Float64Array.from(a), n);
      const x = randn(rng, m * n);
      // B = rows of (A·x_r).
      const b = new Float64Array(m * n);
      const lx = new Float64Array(m * n), ltx = new Float64Array(m * n);
      for (let r = 0; r < m; r++) {
        for (let i = 0; i < n; i++) {
          let s = 0, t = 0, u = 0;
          for (let p = 0; p < n; p++) {
            s += a[i * n + p] * x[r * n + p];
            t += l[i * n + p] * x[r * n + p];
            u += l[p * n + i] * x[r * n + p];
          }
          b[r * n + i] = s;
          lx[r * n + i] = t;
          ltx[r * n + i] = u;
        }
      }
      const s1 = Float64Array.from(b);
      potrs(l, n, s1, m);
      assertRelClose(s1, x, 1e-10, `potrs n=${n}`);
      const s2 = Float64Array.from(lx);
      trsmRows(l, n, s2, m);
      assertRelClose(s2, x, 1e-11, `L·x = b n=${n}`);
      const s3 = Float64Array.from(ltx);
      trsmRows(l, n, s3, m, true);
      assertRelClose(s3, x, 1e-11, `Lᵀ·x = b n=${n}`);
      const inv = lowerInverse(l, n);
      const eye = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (j > i) assert(inv[i * n + j] === 0, "L⁻¹ lower triangular");
          let s = 0;
          for (let p = 0; p < n; p++) s += inv[i * n + p] * l[p * n + j];
          eye[i * n + j] = s;
        }
      }
      assertRelClose(
        eye,
        Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) ? 0 : 1)),
        1e-12,
        "L⁻¹L",
      );
    }
  },
);

Deno.test("OpenBLAS and the JavaScript kernels agree on fresh products, factors, covariances and whitening", async () => {
  const list = engines();
  if (list.length < 2) return; // only the JavaScript kernels here (CI requires both)
  const rng = testRng("engine-parity");
  const n = 211, k = 389;
  const a = randn(rng, n * k), b = randn(rng, k * n);
  const spd = randomSpd(rng, n);
  const x = Float32Array.from(
    { length: 700 * 61 },
    () => Math.max(0, rng.normal()) + 0.1 * rng.normal(),
  );
  const run = () => {
    const c = new Float64Array(n * n);
    gemm({ m: n, n, k, a, b, c });
    const l = potrf(Float64Array.from(spd), n);
    const cov = covarianceF64(x, 700, 61);
    const w = Whitener.fromCovariance(cov.mean, cov.cov);
    return { c, l, cov: cov.cov, z: w.whiten(x.subarray(0, 61 * 9), 9) };
  };
  const o = await onEngine("openblas", run);
  const j = await onEngine("js", run);
  assertRelClose(o.c, j.c, 1e-14, "gemm");
  assertRelClose(o.l, j.l, 1e-14, "potrf");
  assertRelClose(o.cov, j.cov, 1e-14, "covariance");
  assertRelClose(o.z, j.z, 1e-11, "whitened rows");
  const async = await onEngine("openblas", () => covarianceF64Async(x, 700, 61));
  assertArrayEqual(async.cov, o.cov, "covariance async");
});

Deno.test("linalgInfo() names the engine, library and thread count", () => {
  const info = linalgInfo();
  assert(info.engine === linalgEngine(), `${info.engine} vs ${linalgEngine()}`);
  if (info.engine === "openblas") {
    assert(typeof info.library === "string" && info.library.length > 0, "library");
    assert(Number.isInteger(info.threads) && info.threads >= 1, `threads ${info.threads}`);
    assert(typeof info.corename === "string" && info.corename.length > 0, "corename");
  } else {
    assert(info.threads === 1 && typeof info.reason === "string", "js reason");
  }
});

Deno.test("linalgInfo() says when OPENBLAS_CORETYPE forced the kernel family", async () => {
  if (!engines().includes("openblas")) return;
  const code = `import { linalgInfo } from ${
    JSON.stringify(new URL("../../src/linalg/blas.ts", import.meta.url).href)
  };
const i = linalgInfo();
console.log(JSON.stringify({ corename: i.corename, coretype: i.coretype ?? null }));`;
  const run = async (coretype: string | undefined) => {
    const env = { ...Deno.env.toObject() };
    delete env.OPENBLAS_CORETYPE;
    if (coretype) env.OPENBLAS_CORETYPE = coretype;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  // Haswell's kernels run on every x86-64 CPU with AVX2; elsewhere OpenBLAS ignores the name.
  const forced = await run("Haswell");
  assert(forced.coretype === "Haswell", JSON.stringify(forced));
  const detected = await run(undefined);
  assert(detected.coretype === null, JSON.stringify(detected));
  assert(typeof detected.corename === "string" && detected.corename.length > 0, "corename");
});

Deno.test("without OpenBLAS the JavaScript kernels run, with one line on stderr saying how to install it", async () => {
  const code = `import { gemm, linalgInfo } from ${
    JSON.stringify(new URL("../../src/linalg/blas.ts", import.meta.url).href)
  };
const c = new Float64Array(1);
gemm({ m: 1, n: 1, k: 2, a: new Float64Array([1, 2]), b: new Float64Array([3, 4]), c });
gemm({ m: 1, n: 1, k: 2, a: new Float64Array([1, 2]), b: new Float64Array([3, 4]), c });
console.log(JSON.stringify({ c: c[0], engine: linalgInfo().engine }));`;
  const env = { SSL_OPENBLAS_LIB: "/nonexistent/libopenblas.so.0", SSL_REQUIRE_OPENBLAS: "0" };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").filter((l) => l);
  assert(out.success, `child failed: ${stderr.join("\n")}`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert(r.c === 11 && r.engine === "js", JSON.stringify(r));
  assert(stderr.length === 1, `expected one stderr line, got ${JSON.stringify(stderr)}`);
  assert(/libopenblas0-pthread/.test(stderr[0]), stderr[0]);
  // Required but missing: a one-line DataError.
  const req = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { ...env, SSL_LINALG_ENGINE: "openblas" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(!req.success, "SSL_LINALG_ENGINE=openblas without the library must fail");
  assert(/apt-get install libopenblas0-pthread/.test(new TextDecoder().decode(req.stderr)), "hint");
});

Deno.test("withOneBlasThread() runs on one OpenBLAS thread, restores the count (after a throw too), and leaves it alone under a nonblocking call", async () => {
  if (!engines().includes("openblas")) return;
  await onEngine("openblas", async () => {
    const before = linalgInfo().threads;
    setLinalgThreads(2);
    try {
      assert(linalgInfo().threads === 2, `threads ${linalgInfo().threads} before`);
      assert(withOneBlasThread(() => linalgInfo().threads) === 1, "one thread inside");
      assert(linalgInfo().threads === 2, "count restored");
      let threw = false;
      try {
        withOneBlasThread(() => {
          throw new Error("inside");
        });
      } catch {
        threw = true;
      }
      assert(threw && linalgInfo().threads === 2, "count restored after a throw");
      // A product long enough to still run while the synchronous call below happens.
      const n = 1200;
      const a = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i));
      const c = new Float64Array(n * n);
      const running = gemmAsync({ m: n, n, k: n, a, b: a, c });
      const inside = withOneBlasThread(() => linalgInfo().threads);
      await running;
      assert(inside === 2, `thread count changed under a nonblocking call: ${inside}`);
      assert(withOneBlasThread(() => linalgInfo().threads) === 1, "one thread once it finished");
    } finally {
      setLinalgThreads(before);
    }
  });
});
