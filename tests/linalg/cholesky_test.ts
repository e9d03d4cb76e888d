import { engineTest } from "./engines.ts";
import { cholesky, NotPositiveDefiniteError } from "../../src/linalg/cholesky.ts";
import { choleskySolve, solveLower } from "../../src/linalg/triangular.ts";
import { assert, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

/** A random SPD matrix G·Gᵀ + n·I and G itself. */
function randomSpd(n: number, name: string): Float64Array {
  const rng = testRng(name);
  const g = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let p = 0; p < n; p++) s += g[i * n + p] * g[j * n + p];
      a[i * n + j] = s;
    }
  }
  return a;
}

engineTest(
  "cholesky() reconstructs A = L·Lᵀ with a lower-triangular L across block boundaries",
  () => {
    for (const n of [1, 2, 5, 63, 64, 65, 150]) {
      const a = randomSpd(n, `chol${n}`);
      const l = cholesky(a, n);
      const back = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (j > i) assert(l[i * n + j] === 0, `upper triangle zero at ${i},${j}`);
          let s = 0;
          for (let p = 0; p <= Math.min(i, j); p++) s += l[i * n + p] * l[j * n + p];
          back[i * n + j] = s;
        }
      }
      assertRelClose(back, a, 1e-13, `n=${n}`);
    }
    assertRelClose(
      cholesky(new Float64Array([4, 2, 2, 3]), 2),
      [2, 0, 1, Math.SQRT2],
      1e-15,
      "2×2",
    );
  },
);

engineTest("choleskySolve() solves A·x = b and solveLower() inverts L", () => {
  const n = 37;
  const a = randomSpd(n, "solve");
  const rng = testRng("solve-rhs");
  const x = Float64Array.from({ length: 3 * n }, () => rng.normal());
  const b = new Float64Array(3 * n);
  for (let r = 0; r < 3; r++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * x[r * n + j];
      b[r * n + i] = s;
    }
  }
  const l = cholesky(a, n);
  assertRelClose(choleskySolve(l, n, b, 3), x, 1e-11, "A⁻¹b");
  const z = solveLower(l, n, b.subarray(0, n));
  const lz = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let p = 0; p <= i; p++) lz[i] += l[i * n + p] * z[p];
  assertRelClose(lz, b.subarray(0, n), 1e-13, "L·(L⁻¹b)");
});

engineTest("cholesky() rejects an indefinite matrix and a jitter rescues a singular one", () => {
  let caught: unknown;
  try {
    cholesky(new Float64Array([1, 2, 2, 1]), 2);
  } catch (error) {
    caught = error;
  }
  assert(caught instanceof NotPositiveDefiniteError, "indefinite matrix rejected");
  assert(/jitter: 1e-10/.test((caught as Error).message), "the message suggests a jitter");
  const singular = new Float64Array([1, 1, 1, 1]);
  const l = cholesky(singular, 2, 1e-10);
  assert(Number.isFinite(l[3]) && l[3] > 0, "jittered singular matrix factorises");
});
