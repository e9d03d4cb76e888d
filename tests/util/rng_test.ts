import { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual } from "./assert.ts";
import { RUN_SEED } from "./seed.ts";

Deno.test("Rng is deterministic per seed and restores its saved state exactly", () => {
  const a = new Rng(RUN_SEED);
  const b = new Rng(RUN_SEED);
  assertArrayEqual(a.normalArray(100), b.normalArray(100), "same seed, same stream");
  a.normal(); // leaves a spare normal in the state
  const saved = a.getState();
  const next = a.normalArray(50);
  const c = new Rng(0);
  c.setState(saved);
  assertArrayEqual(c.normalArray(50), next, "restored state continues the stream");
  assert(new Rng(RUN_SEED + 1).nextUint32() !== new Rng(RUN_SEED).nextUint32(), "seeds differ");
});

Deno.test("Rng draws have the right moments and int() covers its range uniformly", () => {
  const rng = new Rng(RUN_SEED);
  const n = 200_000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const v = rng.normal();
    sum += v;
    sq += v * v;
  }
  assert(Math.abs(sum / n) < 0.02, `normal mean ${sum / n}`);
  assert(Math.abs(sq / n - 1) < 0.02, `normal variance ${sq / n}`);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 70_000; i++) counts[rng.int(7)]++;
  for (const c of counts) assert(Math.abs(c - 10_000) < 600, `int(7) counts ${counts}`);
  let u = 0;
  for (let i = 0; i < n; i++) u += rng.uniform();
  assert(Math.abs(u / n - 0.5) < 0.01, `uniform mean ${u / n}`);
});
