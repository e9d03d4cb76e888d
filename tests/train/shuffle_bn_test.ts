import { Tensor } from "../../src/gpu/tensor.ts";
import { gatherRows } from "../../src/ops/gather.ts";
import {
  checkBnGroups,
  identityPermutation,
  permutationFrom,
  randomPermutation,
  shuffleRows,
} from "../../src/train/shuffle_bn.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

Deno.test("randomPermutation() gives a permutation whose inverse undoes it", () => {
  const rng = testRng("perm");
  for (const n of [1, 2, 8, 37, 256]) {
    const { perm, inverse } = randomPermutation(rng, n);
    const seen = new Set(perm);
    assert(seen.size === n && [...seen].every((v) => v < n), `n=${n}: not a permutation`);
    for (let i = 0; i < n; i++) {
      assert(perm[inverse[i]] === i, `n=${n}: perm[inverse[${i}]] != ${i}`);
      assert(inverse[perm[i]] === i, `n=${n}: inverse[perm[${i}]] != ${i}`);
    }
  }
  const id = identityPermutation(5);
  assertArrayEqual(id.perm, [0, 1, 2, 3, 4], "identity");
  assertArrayEqual(id.inverse, [0, 1, 2, 3, 4], "identity inverse");
});

Deno.test("permutationFrom() and checkBnGroups() refuse bad input with the reason", () => {
  const expectThrow = (fn: () => unknown, re: RegExp) => {
    try {
      fn();
    } catch (e) {
      assert(re.test((e as Error).message), `message '${(e as Error).message}' !~ ${re}`);
      return;
    }
    throw new Error(`no error, expected ${re}`);
  };
  expectThrow(() => permutationFrom([0, 2, 2]), /2 appears twice/);
  expectThrow(() => permutationFrom([0, 3, 1]), /entry 1 is 3, outside \[0, 3\)/);
  expectThrow(() => checkBnGroups(12, 8), /groups 8 must divide the batch size 12/);
  expectThrow(() => checkBnGroups(12, 0), /positive integer/);
  checkBnGroups(256, 8);
});

Deno.test({
  name: "gatherRows() and shuffleRows() permute batch rows exactly (vec4 and scalar rows)",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("gather");
    // Rows of 3·5·5 (odd: scalar kernel) and 4·4·3 (vec4 kernel) elements.
    for (const shape of [[9, 5, 5, 3], [8, 4, 4, 3], [6, 7]]) {
      const n = shape[0];
      const row = shape.slice(1).reduce((a, b) => a * b, 1);
      const data = rng.normalArray(n * row);
      const x = Tensor.from(gpu, data, shape);
      const { perm, inverse } = randomPermutation(rng, n);
      poisonPool(gpu, [n * row]);
      const shuffled = shuffleRows(gpu, x, perm);
      const back = shuffleRows(gpu, shuffled, inverse);
      // A repeated, partial index also works (gather is not only for permutations).
      const picks = Uint32Array.from([n - 1, 0, n - 1]);
      const idx = Tensor.from(gpu, picks);
      const picked = gatherRows(gpu, x, idx);
      const [s, b, p] = await gpu.recorder.read([shuffled, back, picked]);
      const expected = new Float32Array(n * row);
      for (let i = 0; i < n; i++) {
        expected.set(data.subarray(perm[i] * row, (perm[i] + 1) * row), i * row);
      }
      assertArrayEqual(s, expected, `shuffled [${shape}]`);
      assertArrayEqual(b, data, `un-shuffled [${shape}]`);
      const want = new Float32Array(3 * row);
      picks.forEach((src, i) => want.set(data.subarray(src * row, (src + 1) * row), i * row));
      assertArrayEqual(p, want, `picked [${shape}]`);
      assert(picked.shape.join() === [3, ...shape.slice(1)].join(), "picked shape");
      for (const t of [x, shuffled, back, idx, picked]) t.release();
    }
  },
});
