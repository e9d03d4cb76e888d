/** concatColumns() against a CPU concatenation, with poisoned outputs and odd widths. */
import { Tensor } from "../../src/gpu/tensor.ts";
import { concatColumns } from "../../src/ops/concat.ts";
import { assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

Deno.test({
  name: "concatColumns() places each part's columns side by side in order",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("concat");
    const rows = 1 + rng.int(9);
    const widths = [1 + rng.int(7), 13, 1 + rng.int(70)];
    const parts = widths.map((d) => rng.normalArray(rows * d));
    const total = widths.reduce((a, b) => a + b, 0);
    const tensors = parts.map((p, i) => Tensor.from(gpu, p, [rows, widths[i]]));
    poisonPool(gpu, [rows * total]);
    const out = concatColumns(gpu, tensors);
    const [got] = await gpu.recorder.read([out]);
    const want = new Float32Array(rows * total);
    for (let r = 0; r < rows; r++) {
      let off = 0;
      parts.forEach((p, i) => {
        for (let c = 0; c < widths[i]; c++) want[r * total + off + c] = p[r * widths[i] + c];
        off += widths[i];
      });
    }
    assertArrayEqual(got, want, "concatenation");
    const wrongRows = Tensor.zeros(gpu, [rows + 1, 2]);
    await assertRejects(
      () => Promise.resolve().then(() => concatColumns(gpu, [tensors[0], wrongRows])),
      /concatColumns: every part must be f32/,
    );
    wrongRows.release();
    for (const t of [...tensors, out]) t.release();
  },
});
