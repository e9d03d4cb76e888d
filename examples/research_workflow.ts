// The research workflow of mod.ts's module documentation, verbatim (bar the import path:
// tests/mod_example_test.ts keeps the two identical, type-checks this file and runs it).
// Run from the repository root: deno run -A examples/research_workflow.ts
import {
  covarianceF64,
  extractFeatures,
  loadModel,
  LogisticRegression,
  openGpu,
  sampleImageIndices,
  syntheticGrid,
  syntheticInvariance,
  syntheticViews,
  Whitener,
  worldClassification,
} from "../mod.ts";

// 1. The GPU (a software adapter will do, only slowly).
const gpu = await openGpu();

// 2. A checkpoint: the demo's MoCo v2 ResNet-18 (base width 16: 128-d features), trained on the
//    built-in world with the `default` augmentation policy.
const model = await loadModel(gpu, "world_default", { arch: "resnet18", baseWidth: 16 });

// 3. Features of a few images: the world's 7 object classes, rendered on the GPU at 64×64, and
//    the demo's preprocessing (Resize(73) → CenterCrop(64) → ImageNet normalisation).
const train = worldClassification(gpu, { split: "train", perClass: 6 });
const test = worldClassification(gpu, { split: "test", perClass: 3 });
const preprocessing = { resize: 73, cropSize: 64 };
const options = { batchSize: 32, preprocessing, progress: false } as const;
const ftrain = await extractFeatures(gpu, model, train, options);
const ftest = await extractFeatures(gpu, model, test, options);
console.log(`features: train [${ftrain.rows}, ${ftrain.dim}], test [${ftest.rows}]`);

// 4. One invariance measurement: whitened cosine similarity and distance between 4 images
//    and their views rotated by 0°, 90°, 180°, 270°. The whitening statistics come from the
//    training features; with fewer images than dimensions, a jitter on Σ's diagonal keeps
//    it invertible (the scripts use ImageNet-val, or `--jitter`).
const stats = covarianceF64(ftrain.features, ftrain.rows, ftrain.dim);
const whitener = Whitener.fromCovariance(stats.mean, stats.cov, { jitter: 1e-2 });
const grid = syntheticGrid("rotation", 4, preprocessing);
const rotation = await syntheticInvariance(gpu, model, train, {
  indices: sampleImageIndices(train.length, 4),
  views: (img) => syntheticViews(gpu, img, "rotation", grid, preprocessing),
  preprocessing,
  whitener,
  progress: false,
});
const { distance, similarity } = rotation.summary;
console.log(`rotation: distance ${distance.toFixed(3)}, similarity ${similarity.toFixed(3)}`);

// 5. One probe: logistic regression from the features to the object class.
const x = (f: typeof ftrain) => ({ rows: f.rows, cols: f.dim, data: f.features });
const probe = new LogisticRegression({ C: 1 }).fit(x(ftrain), train.targets);
const accuracy = probe.score(x(ftest), test.targets);
console.log(`logistic probe: test accuracy ${accuracy.toFixed(3)} (chance 1/7)`);

model.release();
gpu.destroy();
