import { NumpyLegacyRandom } from "../../src/util/mt19937.ts";
import { assertArrayEqual } from "./assert.ts";

Deno.test("NumpyLegacyRandom(0) reproduces MT19937's first outputs and the indices of docs/synthetic.md#sampling", () => {
  const raw = new NumpyLegacyRandom(0);
  assertArrayEqual([raw.nextUint32(), raw.nextUint32()], [2357136044, 2546248239], "raw");
  // np.random.seed(0); np.random.choice(50000, 10)
  const indices = new NumpyLegacyRandom(0).choice(50_000, 10);
  assertArrayEqual(
    indices,
    [2732, 43567, 42613, 45891, 21243, 30403, 32103, 41993, 20757, 46884],
    "choice",
  );
});

Deno.test("NumpyLegacyRandom matches numpy's legacy random_sample, randint and shuffle", () => {
  // Values printed by numpy 2.4.6 (legacy RandomState): np.random.seed(0); np.random.random_sample(3)
  const r = new NumpyLegacyRandom(0);
  const samples = [r.randomSample(), r.randomSample(), r.randomSample()];
  assertArrayEqual(
    samples,
    [0.5488135039273248, 0.7151893663724195, 0.6027633760716439],
    "random_sample",
  );
  // np.random.seed(0); np.random.randint(0, 10, 8)
  assertArrayEqual(new NumpyLegacyRandom(0).randint(0, 10, 8), [5, 0, 3, 3, 7, 9, 3, 5], "randint");
  // np.random.seed(0); a = np.arange(10); np.random.shuffle(a)
  const a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  new NumpyLegacyRandom(0).shuffle(a);
  assertArrayEqual(a, [2, 8, 4, 9, 1, 6, 7, 3, 0, 5], "shuffle");
});
