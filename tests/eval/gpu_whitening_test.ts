import { GpuWhitener } from "../../src/eval/gpu_whitening.ts";
import { groupMetrics, viewMetrics, Whitener } from "../../src/eval/whitening.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

const stats = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/eval/statistics.json", import.meta.url)),
);
const metrics = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/eval/metrics.json", import.meta.url)),
);

Deno.test({
  name: "GpuWhitener (row-blocked f32 GEMM) gives the float64 metrics within 1e-5",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const d: number = stats.d;
    const cpu = Whitener.fromCovariance(stats.mean32, Float64Array.from(stats.cov));
    const rng = testRng("gpu whitening");
    const blockRows = 1 + rng.int(d - 1); // several blocks, ragged last one
    const g = new GpuWhitener(gpu, cpu, blockRows * d * 4);
    try {
      for (const img of metrics.images) {
        const rows = [...img.clean, ...img.views];
        poisonPool(gpu, [(img.k + 1) * blockRows]);
        const a = viewMetrics(cpu.whiten(rows, img.k + 1), img.k, d);
        const b = viewMetrics(await g.whiten(rows, img.k + 1), img.k, d);
        for (let j = 0; j < img.k; j++) {
          assert(
            Math.abs(a.similarity[j] - b.similarity[j]) <= 1e-5,
            `S ${b.similarity[j]} vs ${a.similarity[j]}`,
          );
          assert(
            Math.abs(a.distance[j] - b.distance[j]) <= 1e-5 * (1 + a.distance[j]),
            `L ${b.distance[j]} vs ${a.distance[j]}`,
          );
          assert(Math.abs(b.similarity[j] - img.similarity64[j]) <= 1e-5, "vs golden");
        }
      }
      for (const grp of metrics.groups.filter((x: { n: number }) => x.n > 1)) {
        const a = groupMetrics(cpu.whiten(grp.features, grp.n), grp.n, d);
        const b = groupMetrics(await g.whiten(grp.features, grp.n), grp.n, d);
        assert(
          Math.abs(a.similarity - b.similarity) <= 1e-5 &&
            Math.abs(a.distance - b.distance) <= 1e-5 * a.distance,
          "group",
        );
      }
    } finally {
      g.release();
    }
  },
});
