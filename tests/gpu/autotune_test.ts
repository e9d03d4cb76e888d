import { Tuner } from "../../src/gpu/autotune.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { fill } from "../../src/ops/elementwise.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";

Deno.test({
  name: "Tuner.tune() picks the faster variant, stores it on disk, and choose() returns it",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/autotune.json`;
      const tuner = new Tuner(gpu, path);
      const t = Tensor.empty(gpu, [1 << 20]);
      // "slow" fills the buffer 40 times, "fast" once: the trial must see the difference.
      const record = (variant: string) => {
        for (let i = 0; i < (variant === "slow" ? 40 : 1); i++) fill(gpu, t, i);
      };
      const picked = await tuner.tune("fill-test", "n=1M", ["slow", "fast"], record);
      assert(picked === "fast", `picked ${picked}`);
      const fresh = new Tuner(gpu, path);
      assert(fresh.choose("fill-test", "n=1M", ["slow", "fast"], "slow") === "fast", "read back");
      assert(fresh.choose("fill-test", "n=2M", ["slow", "fast"], "slow") === "slow", "fallback");
      assert(fresh.choose("fill-test", "n=1M", ["other"], "other") === "other", "stale variant");
      await Deno.writeTextFile(path, "{not json");
      assert(new Tuner(gpu, path).choose("fill-test", "n=1M", ["fast"], "x") === "x", "corrupt");
      t.release();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
