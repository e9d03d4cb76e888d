import {
  bootstrapMean,
  bootstrapMeanOfMeans,
  pairedBootstrapDifference,
  quantileSorted,
} from "../../src/eval/bootstrap.ts";
import { assert } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert(Math.abs(actual - expected) <= tol, `${what}: ${actual} != ${expected} (±${tol})`);
}

Deno.test("quantileSorted() interpolates linearly at q·(n − 1), as numpy", () => {
  const xs = [1, 2, 4, 8];
  // Hand-computed: q = 0.25 → position 0.75 → 1 + 0.75·(2 − 1); q = 0.5 → 1.5 → 2 + 0.5·2.
  assert(quantileSorted(xs, 0.25) === 1.75, "q 0.25");
  assert(quantileSorted(xs, 0.5) === 3, "q 0.5");
  assert(quantileSorted(xs, 0) === 1 && quantileSorted(xs, 1) === 8, "ends");
  assert(Number.isNaN(quantileSorted([], 0.5)), "empty");
});

Deno.test("bootstrapMean() of three values matches the hand-enumerated resampling distribution", () => {
  // Values a + c·{0, 1, 2} (shuffled): a resample's mean is a + c·s/3 with s = i + j + k the sum
  // of three independent uniform draws from {0, 1, 2}. Of the 27 equally likely draws, s takes
  // 0…6 with counts 1, 3, 6, 7, 6, 3, 1, so P(s ≤ 0) = 1/27 = 3.7 % and P(s ≤ 1) = 4/27 = 15 %.
  // Hence the 5 % point is s = 1 and (symmetrically) the 95 % point s = 5: the 90 % interval is
  // [a + c/3, a + 5c/3]; the 2.5 % / 97.5 % points are s = 0 and 6: [a, a + 2c].
  const rng = testRng("bootstrap three values");
  const a = rng.range(-2, 2), c = rng.range(0.5, 3);
  const values = [a, a + c, a + 2 * c];
  for (let i = 2; i > 0; i--) {
    const j = rng.int(i + 1);
    [values[i], values[j]] = [values[j], values[i]];
  }
  const seed = rng.int(1e9);
  const ci90 = bootstrapMean(values, { resamples: 20000, level: 0.9, seed });
  assertClose(ci90.estimate, a + c, 1e-12, "estimate = plain mean");
  assertClose(ci90.lo, a + c / 3, 1e-12, "90 % low");
  assertClose(ci90.hi, a + 5 * c / 3, 1e-12, "90 % high");
  const ci95 = bootstrapMean(values, { resamples: 20000, seed });
  assertClose(ci95.lo, a, 1e-12, "95 % low");
  assertClose(ci95.hi, a + 2 * c, 1e-12, "95 % high");
  // Seeded: the same call gives the same interval.
  const again = bootstrapMean(values, { resamples: 20000, level: 0.9, seed });
  assert(again.lo === ci90.lo && again.hi === ci90.hi, "same seed, same interval");
});

Deno.test("bootstrapMean() of many normal values approaches mean ± 1.96 σ/√n", () => {
  const rng = testRng("bootstrap normal");
  const n = 400;
  const xs = Array.from({ length: n }, () => 5 + 2 * rng.normal());
  xs.push(NaN); // skipped like nanmean
  const m = xs.slice(0, n).reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(xs.slice(0, n).reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1));
  const ci = bootstrapMean(xs, { resamples: 4000, seed: rng.int(1e9) });
  assertClose(ci.estimate, m, 1e-12, "estimate");
  const half = 1.96 * sd / Math.sqrt(n);
  assert(
    Math.abs(ci.hi - ci.lo - 2 * half) < 0.15 * 2 * half,
    `width ${ci.hi - ci.lo} vs ${2 * half}`,
  );
  assert(Math.abs((ci.lo + ci.hi) / 2 - m) < 0.15 * half, "centred on the mean");
});

Deno.test("pairedBootstrapDifference() resamples the same units for both models", () => {
  const rng = testRng("bootstrap paired");
  // Large per-image spread shared by both models, plus a constant offset: the paired interval
  // of the difference is exactly that offset, while each model's own interval is wide.
  const delta = rng.range(0.01, 0.05);
  const items = 3, n = 30;
  const b = Array.from({ length: items }, () => Array.from({ length: n }, () => rng.normal()));
  const a = b.map((row) => row.map((v) => v + delta));
  const d = pairedBootstrapDifference(a, b, { seed: rng.int(1e9) });
  assertClose(d.estimate, delta, 1e-12, "estimate");
  assertClose(d.lo, delta, 1e-12, "lo");
  assertClose(d.hi, delta, 1e-12, "hi");
  const own = bootstrapMeanOfMeans(a, { seed: 1 });
  assert(own.lo < own.estimate - 0.05 && own.hi > own.estimate + 0.05, "unpaired is wide");

  // Hand case for the difference: per-unit differences {0, 3c, 6c} in one item → 90 % interval
  // [c, 5c] (see the three-value test); the second model's values cancel exactly.
  const c = rng.range(0.1, 1);
  const base = [rng.normal(), rng.normal(), rng.normal()];
  const x = [base.map((v, j) => v + 3 * c * j)];
  const hand = pairedBootstrapDifference(x, [base], { resamples: 20000, level: 0.9, seed: 7 });
  assertClose(hand.lo, c, 1e-9, "hand lo");
  assertClose(hand.hi, 5 * c, 1e-9, "hand hi");

  // Unequal unit counts: items resampled separately. Item 1 is {0, 3, 6}·c, item 2 constant k:
  // the mean of means is (m₁ + k)/2, so the 90 % interval is [(c + k)/2, (5c + k)/2].
  const k = rng.range(-1, 1);
  const uneven = pairedBootstrapDifference([[0, 3 * c, 6 * c], [k, k]], undefined, {
    resamples: 20000,
    level: 0.9,
    seed: 11,
  });
  assertClose(uneven.estimate, (3 * c + k) / 2, 1e-12, "uneven estimate");
  assertClose(uneven.lo, (c + k) / 2, 1e-9, "uneven lo");
  assertClose(uneven.hi, (5 * c + k) / 2, 1e-9, "uneven hi");

  let threw = false;
  try {
    pairedBootstrapDifference([[1, 2]], [[1]]);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw, "shape mismatch is rejected");
});
