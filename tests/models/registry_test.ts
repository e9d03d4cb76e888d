/**
 * loadModel(): plain and MoCo checkpoints against PyTorch's features, A+B fusion (cat / add /
 * mean), the `random` model created once and reused, and clear errors for missing files, keys
 * and architectures.
 */
import { Tensor } from "../../src/gpu/tensor.ts";
import { loadTorchCheckpoint } from "../../src/io/torch/read.ts";
import { findStateDict } from "../../src/io/torch/state_dict.ts";
import { writeTorchCheckpoint } from "../../src/io/torch/write.ts";
import { mocoCheckpointToPy } from "../../src/train/checkpoint.ts";
import { OrderedDict } from "../../src/io/pickle.ts";
import { MoCo } from "../../src/models/moco.ts";
import { loadModel, type LoadModelOptions } from "../../src/models/registry.ts";
import { sha256File } from "../../src/util/hash.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects, assertRelClose } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";
import { loadModelCase, MODEL_FIXTURES, readAndRelease } from "./model_fixtures.ts";

const R18_FILE = `${MODEL_FIXTURES}resnet18_b4_mlp.pth`;
const PY_MOCO = new URL("../fixtures/checkpoints/moco_r18_w2.pth.tar", import.meta.url).pathname;

/** A temp model folder: `supervised` = the PyTorch ResNet-18 fixture, `moco` = ours. */
async function modelDir(): Promise<{ dir: string; moco: MoCo }> {
  const gpu = await testGpu();
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(R18_FILE, `${dir}/supervised.pth.tar`);
  const moco = MoCo.create(
    gpu,
    { arch: "resnet18", baseWidth: 4, dim: 8, K: 16, mlp: true },
    testRng("registry moco"),
  );
  const sd = await moco.stateDict();
  await writeTorchCheckpoint(
    `${dir}/moco.pth.tar`,
    mocoCheckpointToPy({
      epoch: 200,
      arch: "resnet18",
      stateDict: new Map([...sd].map(([k, t]) => [`module.${k}`, t])),
    }),
  );
  return { dir, moco };
}

const R18_OPTS: LoadModelOptions = { arch: "resnet18", baseWidth: 4 };

Deno.test({
  name: "loadModel() features of a plain state dict match PyTorch; a MoCo file gives encoder_q",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const { dir, moco } = await modelDir();
    try {
      const c = await loadModelCase("eval_resnet18");
      const x = Tensor.from(gpu, c.get("x"), c.shape("x"));
      const sup = await loadModel(gpu, "supervised", { ...R18_OPTS, ckptDir: dir });
      assert(sup.dim === 32 && sup.featureLayer === "backbone", `dim ${sup.dim}`);
      assert(sup.files[0].sha256 === (await sha256File(R18_FILE)), "file sha256");
      const l2 = await loadModel(gpu, "supervised", {
        ...R18_OPTS,
        ckptDir: dir,
        featureLayer: "layer2",
      });
      assert(l2.dim === 8 && l2.contentKey !== sup.contentKey, "layer2 has its own key");
      const mine = await loadModel(gpu, "moco", { ...R18_OPTS, ckptDir: dir });
      const [a, b, m, ref] = await readAndRelease(gpu, [
        sup.extract(x),
        l2.extract(x),
        mine.extract(x),
        moco.encoderQ.forwardEval(x),
      ]);
      assertRelClose(a, c.get("layer4"), 1e-4, "supervised backbone vs PyTorch");
      assertRelClose(b, c.get("layer2"), 1e-4, "supervised layer2 vs PyTorch");
      assertArrayEqual(m, ref, "MoCo checkpoint → encoder_q features");
      for (const e of [sup, l2, mine]) e.release();
      x.release();
    } finally {
      moco.release();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "loadModel('A+B') fuses features: cat concatenates in order, add sums, mean averages",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const { dir, moco } = await modelDir();
    try {
      const rng = testRng("registry fuse");
      const x = Tensor.from(gpu, rng.normalArray(3 * 20 * 20 * 3), [3, 20, 20, 3]);
      const opts = { ...R18_OPTS, ckptDir: dir };
      const a = await loadModel(gpu, "supervised", opts);
      const b = await loadModel(gpu, "moco", opts);
      const [fa, fb] = await readAndRelease(gpu, [a.extract(x), b.extract(x)]);
      const d = a.dim;
      const keys = new Set<string>();
      for (const mode of ["cat", "add", "mean"] as const) {
        const fused = await loadModel(gpu, "supervised+moco", { ...opts, fuseMode: mode });
        keys.add(fused.contentKey);
        assert(fused.name === "supervised+moco", fused.name);
        assert(fused.dim === (mode === "cat" ? 2 * d : d), `${mode} dim ${fused.dim}`);
        assert(fused.files.length === 2, "both files listed");
        const out = fused.extract(x);
        assert(out.shape.join() === `3,${fused.dim}`, `${mode} shape [${out.shape}]`);
        const [got] = await gpu.recorder.read([out]);
        const want = new Float32Array(out.size);
        for (let r = 0; r < 3; r++) {
          for (let j = 0; j < d; j++) {
            const [u, v] = [fa[r * d + j], fb[r * d + j]];
            if (mode === "cat") {
              want[r * 2 * d + j] = u;
              want[r * 2 * d + d + j] = v;
            } else {
              want[r * d + j] = mode === "add" ? u + v : (u + v) / 2;
            }
          }
        }
        assertRelClose(got, want, 1e-6, `fuse ${mode}`);
        out.release();
        fused.release();
      }
      assert(keys.size === 3, "each fuse mode has its own content key");
      await assertRejects(
        () => loadModel(gpu, "supervised+moco", { ...opts, fuseMode: "max" as "cat" }),
        /^fuseMode: must be one of cat, add, mean, got 'max'/,
      );
      for (const e of [a, b]) e.release();
      x.release();
    } finally {
      moco.release();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "loadModel('random') writes a seeded model once and reuses the same bytes afterwards",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    try {
      const rng = testRng("registry random");
      const seed = rng.int(1 << 30);
      const opts = { ...R18_OPTS, ckptDir: `${dir}/sub`, seed };
      const first = await loadModel(gpu, "random", opts);
      const path = `${dir}/sub/random.pth.tar`;
      const bytes = await Deno.readFile(path);
      // A torchvision-layout state dict with its 1000-class fc, as the original saved it.
      const sd = findStateDict((await loadTorchCheckpoint(path)).value, path);
      assert(sd.get("fc.weight")!.shape.join() === "1000,32", "fc kept in the file");
      const again = await loadModel(gpu, "random", { ...opts, seed: seed + 1 });
      assertArrayEqual(await Deno.readFile(path), bytes, "file untouched on reuse");
      assert(again.contentKey === first.contentKey, "same content key");
      const x = Tensor.from(gpu, rng.normalArray(2 * 16 * 16 * 3), [2, 16, 16, 3]);
      const [u, v] = await readAndRelease(gpu, [first.extract(x), again.extract(x)]);
      assertArrayEqual(u, v, "same features");
      // The same seed elsewhere gives the same file: the weights depend on the seed only.
      const other = await loadModel(gpu, "random", { ...opts, ckptDir: `${dir}/other` });
      assertArrayEqual(await Deno.readFile(`${dir}/other/random.pth.tar`), bytes, "seeded");
      for (const e of [first, again, other]) e.release();
      x.release();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function dataErrorOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (error) {
    assert(error instanceof DataError, `expected DataError, got ${error}`);
    return (error as Error).message;
  }
  throw new Error("expected a DataError");
}

Deno.test({
  name: "loadModel() names the missing file, missing keys and a wrong architecture",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    try {
      const opts = { ...R18_OPTS, ckptDir: dir };
      const m1 = await dataErrorOf(() => loadModel(gpu, "default", opts));
      assert(m1.includes(`${dir}/default.pth.tar`), m1);
      const m2 = await dataErrorOf(() => loadModel(gpu, "supervised+default", opts));
      assert(m2.includes("supervised.pth.tar"), m2);
      const sd = findStateDict((await loadTorchCheckpoint(R18_FILE)).value, R18_FILE);
      const partial = new Map(sd);
      partial.delete("layer3.0.downsample.1.running_var");
      partial.delete("layer4.1.conv1.weight");
      await writeTorchCheckpoint(`${dir}/broken.pth.tar`, new OrderedDict(partial));
      const m3 = await dataErrorOf(() => loadModel(gpu, "broken", opts));
      assert(
        m3.includes("broken.pth.tar") && m3.includes("layer3.0.downsample.1.running_var") &&
          m3.includes("layer4.1.conv1.weight"),
        m3,
      );
      await Deno.copyFile(R18_FILE, `${dir}/supervised.pth.tar`);
      const m4 = await dataErrorOf(() =>
        loadModel(gpu, "supervised", { ...opts, arch: "resnet50" })
      );
      assert(m4.includes("supervised.pth.tar") && /missing keys.*layer1\.0\.conv3/.test(m4), m4);
      // PyTorch's MoCo fixture says arch resnet18 at base width 2: width 4 does not fit.
      await Deno.copyFile(PY_MOCO, `${dir}/moco2.pth.tar`);
      const m5 = await dataErrorOf(() => loadModel(gpu, "moco2", opts));
      assert(/shape mismatches/.test(m5) && m5.includes("conv1.weight"), m5);
      const ok = await loadModel(gpu, "moco2", { ...opts, baseWidth: 2 });
      assert(ok.dim === 16, `moco2 dim ${ok.dim}`);
      // The same checkpoint saved by PyTorch in the legacy format gives the same features.
      await Deno.copyFile(PY_MOCO.replace(".pth.tar", "_legacy.pth.tar"), `${dir}/legacy.pth.tar`);
      const legacy = await loadModel(gpu, "legacy", { ...opts, baseWidth: 2 });
      const x = Tensor.from(gpu, testRng("registry legacy").normalArray(2 * 16 * 16 * 3), [
        2,
        16,
        16,
        3,
      ]);
      const [u, v] = await readAndRelease(gpu, [ok.extract(x), legacy.extract(x)]);
      assertArrayEqual(v, u, "legacy and zip checkpoints give the same features");
      x.release();
      legacy.release();
      ok.release();
      await Deno.writeTextFile(`${dir}/junk.pth.tar`, "not a checkpoint");
      const m6 = await dataErrorOf(() => loadModel(gpu, "junk", opts));
      assert(m6.includes("junk.pth.tar"), m6);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  ...GPU_TEST,
  name: "loadModel() reads a MoCo checkpoint's base width off its stem when none is given",
  fn: async () => {
    const gpu = await testGpu();
    const models = new URL("../../models/", import.meta.url).pathname;
    // The demo's built-in encoders are ResNet-18s at base width 16: 8·16 = 128 features.
    const inferred = await loadModel(gpu, "world_default", { ckptDir: models });
    const explicit = await loadModel(gpu, "world_default", { ckptDir: models, baseWidth: 16 });
    try {
      assert(inferred.dim === 128, `dim ${inferred.dim}`);
      assert(inferred.contentKey === explicit.contentKey, "same content key as the explicit width");
      const x = Tensor.from(gpu, testRng("infer width").normalArray(2 * 40 * 40 * 3)).reshape([
        2,
        40,
        40,
        3,
      ]);
      const [a, b] = await Promise.all([inferred.extract(x).read(), explicit.extract(x).read()]);
      assertArrayEqual(a, b, "same features");
      x.release();
      const err = await assertRejects(
        () => loadModel(gpu, "world_default", { ckptDir: models, baseWidth: 8 }),
        /world_default|conv1/,
      );
      assert(err instanceof DataError, "a wrong explicit width is a DataError listing keys");
    } finally {
      inferred.release();
      explicit.release();
    }
  },
});
