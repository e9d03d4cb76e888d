import { extractFeatures, preprocessImage } from "../../src/eval/features.ts";
import {
  decodeEntry,
  encodeEntry,
  FeatureCache,
  featureCacheKey,
} from "../../src/eval/feature_cache.ts";
import { assert, assertArrayEqual, assertRejects, assertRelClose } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { GPU_TEST, poisonPool, testGpu } from "../util/gpu.ts";
import { fakeExtractor } from "./fake_extractor.ts";
import { memoryDataset, randomImage } from "./helpers.ts";

Deno.test({
  name: "extractFeatures() matches the float64 reference of preprocess + network across batches",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const rng = testRng("extract");
    const size = 8, dim = 5;
    const model = fakeExtractor(gpu, size, dim, rng.int(1000));
    const images = Array.from(
      { length: 11 },
      () => randomImage(rng, 9 + rng.int(8), 9 + rng.int(8)),
    );
    const ds = memoryDataset(images);
    const p = { resize: 10, cropSize: size };
    poisonPool(gpu, [3 * dim, 2 * dim]);
    const indices = [3, 0, 10, 7, 7, 1, 2];
    const r = await extractFeatures(gpu, model, ds, {
      batchSize: 3,
      preprocessing: p,
      indices,
      progress: false,
    });
    assert(r.rows === indices.length && r.dim === dim, "shape");
    assertArrayEqual(r.indices, indices, "indices");
    assert(model.calls === 3, `3 batches, got ${model.calls}`);
    // Network calls capped at 2 images: the 3-image batches split, results unchanged.
    const split = await extractFeatures(gpu, model, ds, {
      batchSize: 3,
      preprocessing: p,
      indices,
      progress: false,
      maxForwardBatch: 2,
    });
    assert(model.calls === 3 + 5, `2+2+1… sub-batches, got ${model.calls - 3}`);
    assertRelClose(split.features, r.features, 1e-6, "sub-batched features");
    for (let i = 0; i < indices.length; i++) {
      const ref = model.reference(preprocessImage(images[indices[i]], p));
      for (let j = 0; j < dim; j++) {
        const got = r.features[i * dim + j];
        assert(
          Math.abs(got - ref[j]) <= 1e-4 * (1 + Math.abs(ref[j])),
          `row ${i} col ${j}: ${got} vs ${ref[j]}`,
        );
      }
    }
    model.release();
  },
});

Deno.test({
  name: "extractFeatures() skips or rejects undecodable images by policy",
  ...GPU_TEST,
  fn: async () => {
    const gpu = await testGpu();
    const rng = testRng("bad images");
    const model = fakeExtractor(gpu, 4, 3, 7);
    const images = Array.from({ length: 5 }, () => randomImage(rng, 6, 5));
    const ds = memoryDataset(images, new Set([1, 4]));
    const p = { resize: 4, cropSize: 4 };
    const warnings: string[] = [];
    const r = await extractFeatures(gpu, model, ds, {
      batchSize: 2,
      preprocessing: p,
      onBadImage: "skip",
      progress: false,
      warn: (l) => warnings.push(l),
    });
    assertArrayEqual(r.indices, [0, 2, 3], "kept");
    assert(r.skipped.length === 2 && r.skipped[0].source === "img1.png", "skipped listed");
    assert(warnings.length === 2 && /img4\.png/.test(warnings[1]), "warned");
    await assertRejects(
      () => extractFeatures(gpu, model, ds, { batchSize: 2, preprocessing: p, progress: false }),
      /img1\.png.*onBadImage: "skip"/,
    );
    model.release();
  },
});

Deno.test("FeatureCache round-trips entries and reports damaged files as corrupt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "featcache-" });
  const rng = testRng("feature cache");
  try {
    const cache = new FeatureCache(dir);
    const key = featureCacheKey({
      model: "sha",
      featureLayer: "backbone",
      dataset: "ds",
      preprocessing: { resize: 224, cropSize: 224 },
      subset: { split: "train" },
    });
    const other = featureCacheKey({
      model: "sha2",
      featureLayer: "backbone",
      dataset: "ds",
      preprocessing: { resize: 224, cropSize: 224 },
      subset: { split: "train" },
    });
    assert(key !== other && /^[0-9a-f]{32}$/.test(key), "keys differ by model");
    const rows = 7, dim = 3;
    const entry = {
      features: rng.normalArray(rows * dim),
      rows,
      dim,
      indices: Int32Array.from({ length: rows }, (_, i) => i * 2),
      targets: Float64Array.from({ length: rows * 2 }, () => rng.normal()),
      targetDim: 2,
      meta: { model: "m" },
    };
    assert((await cache.load(key)) === undefined && cache.stats.misses === 1, "miss first");
    await cache.save(key, entry);
    const hit = await cache.load(key);
    assert(hit !== undefined, "hit");
    assertArrayEqual(hit!.features, entry.features, "features");
    assertArrayEqual(hit!.indices, entry.indices, "indices");
    assertArrayEqual(hit!.targets!, entry.targets, "targets");
    assert(hit!.meta?.model === "m", "meta");

    const bytes = await Deno.readFile(cache.path(key));
    bytes[bytes.length - 3] ^= 1;
    await Deno.writeFile(cache.path(key), bytes);
    const warnings: string[] = [];
    assert((await cache.load(key, (l) => warnings.push(l))) === undefined, "corrupt → miss");
    assert(cache.stats.corrupt === 1 && /damaged.*checksum/.test(warnings[0]), warnings.join());
    await Deno.writeFile(cache.path(key), bytes.subarray(0, 30));
    const lookup = await cache.lookup(key);
    assert(lookup.status === "corrupt", "truncated → corrupt");

    // Without targets; an odd number of 4-byte values.
    const small = {
      features: Float32Array.of(1, 2, 3),
      rows: 1,
      dim: 3,
      indices: Int32Array.of(5),
    };
    const chunks = encodeEntry(other, small);
    const flat = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      flat.set(c, o);
      o += c.length;
    }
    const back = decodeEntry(flat, other);
    assertArrayEqual(back.features, small.features, "small");
    let threw = false;
    try {
      decodeEntry(flat, key);
    } catch {
      threw = true;
    }
    assert(threw, "a file under the wrong key is rejected");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
