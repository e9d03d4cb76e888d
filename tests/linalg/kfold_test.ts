import { KFold, takeRows } from "../../src/linalg/kfold.ts";
import { NumpyLegacyRandom } from "../../src/util/mt19937.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { loadFixture } from "./sklearn_fixtures.ts";

interface KFoldFixture {
  cases: {
    n: number;
    k: number;
    shuffle: boolean;
    random_state: number | null;
    folds: { train: number[]; test: number[] }[];
  }[];
}

Deno.test("KFold reproduces sklearn's indices, with shuffle=True and an integer random_state too", () => {
  const fx = loadFixture<KFoldFixture>("kfold.json");
  for (const c of fx.cases) {
    const kf = new KFold(c.k, {
      shuffle: c.shuffle,
      random: c.random_state === null ? undefined : c.random_state,
    });
    const what = `n=${c.n} k=${c.k} shuffle=${c.shuffle} rs=${c.random_state}`;
    // An integer seed reseeds on every split() call, like sklearn: the same folds twice.
    for (const folds of [kf.split(c.n), kf.split(c.n)]) {
      assert(folds.length === c.folds.length, `${what}: fold count`);
      folds.forEach((f, i) => {
        assertArrayEqual(f.train, c.folds[i].train, `${what} fold ${i} train`);
        assertArrayEqual(f.test, c.folds[i].test, `${what} fold ${i} test`);
      });
    }
  }
});

Deno.test("KFold partitions the samples with sklearn's fold sizes under a seeded Rng; generators advance", () => {
  const rng = testRng("kfold-props");
  for (const [n, k] of [[10, 3], [101, 5], [16384, 5], [7, 7]]) {
    const folds = new KFold(k, { shuffle: true, random: rng }).split(n);
    const seen = new Uint8Array(n);
    folds.forEach((f, i) => {
      assert(f.test.length === Math.floor(n / k) + (i < n % k ? 1 : 0), `fold ${i} size`);
      assert(f.train.length + f.test.length === n, "train + test = all");
      for (const v of f.test) seen[v]++;
      for (let j = 1; j < f.test.length; j++) assert(f.test[j] > f.test[j - 1], "test ascending");
      for (let j = 1; j < f.train.length; j++) {
        assert(f.train[j] > f.train[j - 1], "train ascending");
      }
    });
    assert(seen.every((s) => s === 1), "every sample is tested exactly once");
  }
  const legacy = new NumpyLegacyRandom(0);
  const kf = new KFold(5, { shuffle: true, random: legacy });
  const a = kf.split(50), b = kf.split(50);
  assert(a.some((f, i) => f.test.join() !== b[i].test.join()), "a generator instance advances");
  const plain = new KFold(4).split(10);
  assertArrayEqual(plain[0].test, [0, 1, 2], "unshuffled first fold");
  assertArrayEqual(plain[3].test, [8, 9], "unshuffled last fold");
});

Deno.test("takeRows() gathers rows and rejects out-of-range indices", () => {
  const data = new Float32Array([0, 1, 10, 11, 20, 21]);
  assertArrayEqual(takeRows(data, 2, [2, 0]), [20, 21, 0, 1], "rows 2, 0");
  let threw = false;
  try {
    takeRows(data, 2, [3]);
  } catch {
    threw = true;
  }
  assert(threw, "index 3 of 3 rows throws");
});
