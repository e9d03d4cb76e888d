import { missingCheckpoints, retrainDemoCheckpoints } from "../../src/demo/checkpoints.ts";
import { PRETRAIN, type PretrainSettings } from "../../src/demo/config.ts";
import { loadTorchCheckpoint } from "../../src/io/torch/read.ts";
import { findStateDict } from "../../src/io/torch/state_dict.ts";
import { loadModel } from "../../src/models/registry.ts";
import { assert } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";

Deno.test({
  ...GPU_TEST,
  name:
    "retrainDemoCheckpoints() pretrains with deno task pretrain and writes loadable release checkpoints",
  fn: async () => {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir({ prefix: "ssl-retrain-" });
    try {
      // The recorded recipe, shrunk: same code path, seconds instead of minutes.
      const tiny: PretrainSettings = {
        ...PRETRAIN,
        world: { ...PRETRAIN.world, resolution: 32, perClass: 4, testPerClass: 1 },
        baseWidth: 4,
        imageSize: 32,
        batchSize: 16,
        mocoK: 32,
        epochs: 1,
      };
      const models = `${dir}/models`;
      assert((await missingCheckpoints(models)).length === 3, "nothing there yet");
      await retrainDemoCheckpoints(gpu, `${dir}/work`, models, ["ventral"], () => {}, tiny);
      assert(
        JSON.stringify(await missingCheckpoints(models)) === '["default","dorsal"]',
        "ventral written",
      );
      const { value } = await loadTorchCheckpoint(`${models}/world_ventral.pth.tar`);
      const m = value as Map<string, unknown>;
      assert(m.get("arch") === "resnet18" && m.get("epoch") === 1, `arch/epoch ${m.get("epoch")}`);
      assert(!m.has("optimizer"), "release form drops the optimizer");
      const keys = [...findStateDict(value, "ventral").keys()];
      assert(
        keys.length === 124 && keys.every((k) => k.startsWith("module.encoder_q.")),
        `${keys[0]}`,
      );
      const model = await loadModel(gpu, "world_ventral", { ckptDir: models });
      assert(model.dim === 8 * 4, `dim ${model.dim}`);
      model.release();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
