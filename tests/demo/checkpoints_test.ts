import {
  missingCheckpoints,
  RETRAIN_RECIPE_FILE,
  retrainDemoCheckpoints,
} from "../../src/demo/checkpoints.ts";
import { PRETRAIN, type PretrainSettings } from "../../src/demo/config.ts";
import { loadTorchCheckpoint } from "../../src/io/torch/read.ts";
import { findStateDict } from "../../src/io/torch/state_dict.ts";
import { loadModel } from "../../src/models/registry.ts";
import { TorchTensor } from "../../src/io/torch/tensor.ts";
import { readTrainingLog } from "../../src/train/training_log.ts";
import { assert, assertArrayEqual, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";

/** The recorded recipe, shrunk: same code path, seconds instead of minutes. */
const TINY: PretrainSettings = {
  ...PRETRAIN,
  world: { ...PRETRAIN.world, resolution: 32, perClass: 4, testPerClass: 1 },
  baseWidth: 4,
  imageSize: 32,
  batchSize: 16,
  mocoK: 32,
  epochs: 1,
};

Deno.test({
  ...GPU_TEST,
  name:
    "retrainDemoCheckpoints() pretrains with deno task pretrain and writes loadable release checkpoints",
  fn: async () => {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir({ prefix: "ssl-retrain-" });
    try {
      const models = `${dir}/models`;
      assert((await missingCheckpoints(models)).length === 3, "nothing there yet");
      await retrainDemoCheckpoints(gpu, `${dir}/work`, models, ["ventral"], () => {}, TINY);
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

Deno.test({
  ...GPU_TEST,
  name:
    "retrainDemoCheckpoints() resumes an interrupted policy bit for bit, skips a finished one and refuses another recipe's folder",
  fn: async () => {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir({ prefix: "ssl-retrain-resume-" });
    try {
      // A step schedule with its drop at the resumed epoch: the resumed run must apply it too.
      const tiny: PretrainSettings = { ...TINY, cos: false, milestones: [1], epochs: 2 };
      const work = `${dir}/work`;
      const models = `${dir}/models`;
      const release = `${models}/world_dorsal.pth.tar`;
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);
      const weights = async () => {
        const { value } = await loadTorchCheckpoint(release);
        return findStateDict(value, release);
      };

      await retrainDemoCheckpoints(gpu, work, models, ["dorsal"], log, tiny);
      assert(
        lines.some((l) =>
          l.includes("--epochs 2") && l.includes("--schedule 1") && !l.includes("--cos")
        ),
        `step schedule: ${lines.join(" | ")}`,
      );
      assert(!lines.some((l) => l.includes("--resume")), `fresh start: ${lines.join(" | ")}`);
      const uninterrupted = await weights();
      // Every logged lr of epoch 0 is `lr`, every one of epoch 1 a tenth of it.
      const assertStepSchedule = async (what: string) => {
        const seen = new Set<number>();
        for (const row of await readTrainingLog(`${work}/pretrain-dorsal/log.csv`)) {
          const want = row.epoch === 0 ? tiny.lr : tiny.lr * 0.1;
          assertRelClose([row.lr], [want], 1e-6, `${what}: lr of epoch ${row.epoch}`);
          seen.add(row.epoch);
        }
        assert(seen.has(0) && seen.has(1), `${what}: epochs logged ${[...seen]}`);
      };
      await assertStepSchedule("lr drops tenfold at the milestone");

      // An interruption after the first epoch: the second epoch's checkpoint and the release are gone.
      await Deno.remove(`${work}/pretrain-dorsal/dorsal_0001.pth.tar`);
      await Deno.remove(release);
      lines.length = 0;
      await retrainDemoCheckpoints(gpu, work, models, ["dorsal"], log, tiny);
      assert(
        lines.some((l) => l.includes("--resume") && l.endsWith("dorsal_0000.pth.tar")),
        `resumed from epoch 1: ${lines.join(" | ")}`,
      );
      const resumed = await weights();
      await assertStepSchedule("the resumed epoch keeps the schedule");
      assert(resumed.size === uninterrupted.size, `${resumed.size} tensors`);
      for (const [key, t] of uninterrupted) {
        const r = resumed.get(key);
        assert(r instanceof TorchTensor && t instanceof TorchTensor, key);
        const bytes = (x: TorchTensor) =>
          new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
        assertArrayEqual(bytes(r), bytes(t), key);
      }

      lines.length = 0;
      await retrainDemoCheckpoints(gpu, work, models, ["dorsal"], log, tiny);
      assert(
        lines.some((l) => l.includes("already trained for 2 epochs")) &&
          !lines.some((l) => l.includes("deno task pretrain")),
        `finished policy skipped: ${lines.join(" | ")}`,
      );

      await assertRejects(
        () => retrainDemoCheckpoints(gpu, work, models, ["dorsal"], log, { ...tiny, cos: true }),
        /pretrain-dorsal was trained with other settings .*demo-recipe\.json.*remove the folder/,
        "another recipe",
      );
      await Deno.remove(`${work}/pretrain-dorsal/${RETRAIN_RECIPE_FILE}`);
      await assertRejects(
        () => retrainDemoCheckpoints(gpu, work, models, ["dorsal"], log, tiny),
        /holds dorsal checkpoints but no demo-recipe\.json/,
        "unrecorded checkpoints",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
