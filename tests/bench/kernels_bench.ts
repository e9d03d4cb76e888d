/**
 * `deno task bench kernels`: GEMM and convolution kernels side by side with TensorFlow.js WebGPU
 * on the same adapter, in one process. Writes `results/bench/kernels.json`.
 *
 * @module
 */
import { openGpu } from "../../src/gpu/device.ts";
import { runMain } from "../../src/util/main.ts";
import { convRows } from "./conv_rows.ts";
import { report } from "./harness.ts";
import { matmulRows } from "./matmul_rows.ts";

await runMain("bench kernels", async () => {
  const gpu = await openGpu();
  const rows = [...await matmulRows(gpu), ...await convRows(gpu)];
  await report("kernels", gpu.summary.description, rows);
  gpu.destroy();
});
