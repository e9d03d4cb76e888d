/**
 * `deno task demo`: the main job on the built-in synthetic world. Until the world, models and
 * evaluation land, it checks the GPU path end to end and says what is available.
 *
 * @module
 */
import { openGpu } from "../src/gpu/device.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { axpby } from "../src/ops/elementwise.ts";
import { runMain } from "../src/util/main.ts";
import { Rng } from "../src/util/rng.ts";

await runMain("demo", async () => {
  const gpu = await openGpu();
  console.log(
    `adapter: ${gpu.summary.description}${gpu.summary.isFallbackAdapter ? " (software)" : ""}`,
  );
  const rng = new Rng(0);
  const n = 1 << 20;
  const x = rng.normalArray(n);
  const y = rng.normalArray(n);
  const t0 = performance.now();
  const out = axpby(gpu, 2, Tensor.from(gpu, x), -0.5, Tensor.from(gpu, y));
  const result = await out.read();
  let maxErr = 0;
  for (let i = 0; i < n; i++) {
    maxErr = Math.max(maxErr, Math.abs(result[i] - Math.fround(2 * x[i] - 0.5 * y[i])));
  }
  console.log(
    `GPU check: 2x − 0.5y over ${n} values, max error ${maxErr.toExponential(2)}, ${
      (performance.now() - t0).toFixed(0)
    } ms`,
  );
  console.log("available now: `deno task info`, `deno task test`, `deno task bench`.");
  console.log(
    "coming: pretraining on the synthetic world and the invariance/transfer evaluations.",
  );
  gpu.destroy();
});
