/**
 * ssl-invariances for Deno + WebGPU: the public API.
 *
 * The research workflow in a few lines: open the GPU, load a checkpoint, extract features,
 * measure one invariance and fit one probe. It is `examples/research_workflow.ts` (run it from the
 * repository root; seconds on a software adapter), which `tests/mod_example_test.ts` keeps
 * identical to this block, type-checks and runs. The scripts (`deno task eval:synthetic`,
 * `eval:downstream`, …) do the same at full size, with the original's grids, statistics over
 * ImageNet-val and cross-validated regularisation (docs/README.md).
 *
 * @example The research workflow
 * ```ts
 * import {
 *   covarianceF64,
 *   extractFeatures,
 *   loadModel,
 *   LogisticRegression,
 *   openGpu,
 *   sampleImageIndices,
 *   syntheticGrid,
 *   syntheticInvariance,
 *   syntheticViews,
 *   Whitener,
 *   worldClassification,
 * } from "./mod.ts";
 *
 * // 1. The GPU (a software adapter will do, only slowly).
 * const gpu = await openGpu();
 *
 * // 2. A checkpoint: the demo's MoCo v2 ResNet-18 (base width 16: 128-d features), trained on the
 * //    built-in world with the `default` augmentation policy.
 * const model = await loadModel(gpu, "world_default", { arch: "resnet18", baseWidth: 16 });
 *
 * // 3. Features of a few images: the world's 7 object classes, rendered on the GPU at 64×64, and
 * //    the demo's preprocessing (Resize(73) → CenterCrop(64) → ImageNet normalisation).
 * const train = worldClassification(gpu, { split: "train", perClass: 6 });
 * const test = worldClassification(gpu, { split: "test", perClass: 3 });
 * const preprocessing = { resize: 73, cropSize: 64 };
 * const options = { batchSize: 32, preprocessing, progress: false } as const;
 * const ftrain = await extractFeatures(gpu, model, train, options);
 * const ftest = await extractFeatures(gpu, model, test, options);
 * console.log(`features: train [${ftrain.rows}, ${ftrain.dim}], test [${ftest.rows}]`);
 *
 * // 4. One invariance measurement: whitened cosine similarity and distance between 4 images
 * //    and their views rotated by 0°, 90°, 180°, 270°. The whitening statistics come from the
 * //    training features; with fewer images than dimensions, a jitter on Σ's diagonal keeps
 * //    it invertible (the scripts use ImageNet-val, or `--jitter`).
 * const stats = covarianceF64(ftrain.features, ftrain.rows, ftrain.dim);
 * const whitener = Whitener.fromCovariance(stats.mean, stats.cov, { jitter: 1e-2 });
 * const grid = syntheticGrid("rotation", 4, preprocessing);
 * const rotation = await syntheticInvariance(gpu, model, train, {
 *   indices: sampleImageIndices(train.length, 4),
 *   views: (img) => syntheticViews(gpu, img, "rotation", grid, preprocessing),
 *   preprocessing,
 *   whitener,
 *   progress: false,
 * });
 * const { distance, similarity } = rotation.summary;
 * console.log(`rotation: distance ${distance.toFixed(3)}, similarity ${similarity.toFixed(3)}`);
 *
 * // 5. One probe: logistic regression from the features to the object class.
 * const x = (f: typeof ftrain) => ({ rows: f.rows, cols: f.dim, data: f.features });
 * const probe = new LogisticRegression({ C: 1 }).fit(x(ftrain), train.targets);
 * const accuracy = probe.score(x(ftest), test.targets);
 * console.log(`logistic probe: test accuracy ${accuracy.toFixed(3)} (chance 1/7)`);
 *
 * model.release();
 * gpu.destroy();
 * ```
 *
 * @module
 */

// GPU runtime
export { type AdapterSummary, Gpu, openGpu, type OpenGpuOptions } from "./src/gpu/device.ts";
export { type DType, Tensor } from "./src/gpu/tensor.ts";
export { bucketSize, BufferPool } from "./src/gpu/buffer_pool.ts";
export {
  type Kernel,
  KernelCache,
  type KernelHost,
  type KernelPrelude,
  type KernelSpec,
} from "./src/gpu/kernel.ts";
export {
  type ParamField,
  ParamStruct,
  paramStruct,
  type ParamType,
  type ParamValues,
  type PlacedField,
  type StructLayout,
  type ValueName,
} from "./src/gpu/uniforms.ts";
export { CommandRecorder, splitWorkgroups } from "./src/gpu/recorder.ts";
export { Tuner } from "./src/gpu/autotune.ts";

// Ops (WGSL kernels)
export { columnSum, matmul, matmulTune, type MatmulVariant } from "./src/ops/matmul.ts";
export { linearBackward, linearForward } from "./src/ops/linear.ts";
export { conv2dForward } from "./src/ops/conv2d_forward.ts";
export { conv2dBackwardData, conv2dBackwardFilter } from "./src/ops/conv2d_backward.ts";
export { conv2dVariants } from "./src/ops/conv2d_family.ts";
export { conv2dTune } from "./src/ops/conv2d_tune.ts";
export { foldBatchNorm, hwioToOihw, oihwToHwio } from "./src/ops/fold_batchnorm.ts";
export { add, addRelu, axpby, fill, poison, relu, reluBackward } from "./src/ops/elementwise.ts";
export {
  batchNorm2dBackward,
  batchNorm2dEval,
  batchNorm2dTrain,
  type BatchNormParams,
} from "./src/ops/batchnorm.ts";
export {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
} from "./src/ops/pool.ts";
export { l2NormalizeBackward, l2NormalizeForward } from "./src/ops/normalize.ts";
export { enqueue, infoNce } from "./src/ops/contrastive.ts";
export { covariance, CovarianceAccumulator } from "./src/ops/covariance.ts";
export { emaUpdate, sgdStep } from "./src/ops/sgd.ts";

// Checkpoints and files
export { readTorchCheckpoint } from "./src/io/torch/read.ts";
export { checkKeys, selectEncoder, stripModulePrefix } from "./src/io/torch/state_dict.ts";
export { TorchTensor } from "./src/io/torch/tensor.ts";
export { writeTorchCheckpoint } from "./src/io/torch/write.ts";
export { writeFileAtomic, writeJsonAtomic } from "./src/io/atomic.ts";

// Images
export { decodeImage, loadImage } from "./src/image/decode.ts";
export { type RgbImage } from "./src/image/image.ts";
export { resize, resizeShortSide } from "./src/image/resize.ts";
export { centerCrop, cropBox, hflip, vflip } from "./src/image/crop.ts";
export { IMAGENET_MEAN, IMAGENET_STD, toNormalizedTensor } from "./src/image/to_tensor.ts";

// Float64 solvers and metrics
export { cholesky, NotPositiveDefiniteError } from "./src/linalg/cholesky.ts";
export { choleskySolve, solveLower, solveLowerTransposed } from "./src/linalg/triangular.ts";
export { StandardScaler } from "./src/linalg/standard_scaler.ts";
export { KFold } from "./src/linalg/kfold.ts";
export { accuracy, meanPerClassAccuracy, r2Score } from "./src/linalg/metrics.ts";
export { Ridge } from "./src/linalg/ridge.ts";
export { KernelRidge } from "./src/linalg/kernel_ridge.ts";
export { LogisticRegression } from "./src/linalg/logistic.ts";
export { linalgInfo } from "./src/linalg/blas.ts";

// Models
export {
  archName,
  FEATURE_LAYERS,
  type FeatureLayer,
  type HeadKind,
  isFeatureLayer,
  parseArch,
  parseFeatureLayer,
  ResNet,
  type ResNetArch,
  type ResNetConfig,
  resnetStateDictShapes,
} from "./src/models/resnet.ts";
export { fromTorchLayout, type Parameter, toTorchLayout } from "./src/nn/parameter.ts";
export { MoCo, type MoCoConfig } from "./src/models/moco.ts";
export {
  type FeatureExtractor,
  type ModelFile,
  ResNetFeatureExtractor,
} from "./src/models/feature_extractor.ts";
export {
  CombinedExtractor,
  FUSE_MODES,
  type FuseMode,
  parseFuseMode,
} from "./src/models/combine.ts";
export { loadModel, type LoadModelOptions, modelPath } from "./src/models/registry.ts";

// Transforms (synthetic families, appearance ops, MoCo augmentation policies)
export {
  defaultK,
  isSyntheticFamily,
  SYNTHETIC_FAMILIES,
  type SyntheticFamily,
  syntheticGrid,
  type SyntheticParams,
} from "./src/transforms/synthetic_grid.ts";
export {
  syntheticViews,
  syntheticViewsOnGpu,
  type ViewOptions,
} from "./src/transforms/functional.ts";
export { affineBatch, resizedCrop, rotateBatch } from "./src/transforms/geometry.ts";
export { deformBatch } from "./src/transforms/deform.ts";
export {
  adjustHueBatch,
  enhanceBatch,
  type EnhanceKind,
  equalize,
  gaussianBlurBatch,
  invert,
  pillowGaussianBlur,
  posterize,
  toGrayscale,
} from "./src/transforms/color.ts";
export {
  applyAugmentParams,
  AUGMENT_POLICIES,
  augmentBatch,
  type AugmentOptions,
  type AugmentPolicy,
  drawAugmentParams,
  isAugmentPolicy,
} from "./src/transforms/augment.ts";
export { resizeImagesGpu } from "./src/image/gpu/resize.ts";

// Datasets
export type {
  GroupedDataset,
  ImageDataset,
  ImageGroup,
  SupervisedDataset,
} from "./src/data/dataset.ts";
export { imageFolder, type ImageFolderDataset } from "./src/data/image_folder.ts";
export {
  isRealWorldKey,
  loadRealWorld,
  REALWORLD_KEYS,
  type RealWorldKey,
} from "./src/data/realworld.ts";
export { BadImageLog, type BadImagePolicy, decodeOrSkip } from "./src/data/bad_images.ts";
export {
  DOWNSTREAM_KEYS,
  type DownstreamKey,
  type DownstreamTask,
  isDownstreamKey,
  loadDownstream,
} from "./src/data/downstream.ts";
export { loadCausal3DIdent } from "./src/data/causal3dident.ts";
export { createCaltech101Splits } from "./src/data/caltech101.ts";
export { BatchLoader } from "./src/data/loader.ts";
export {
  worldClassification,
  type WorldDataset,
  worldGroups,
  worldImageFolder,
  worldKeypoints,
  worldLatents,
} from "./src/world/world.ts";
export { LATENT_NAMES, WORLD_CLASSES, WorldRenderer } from "./src/world/world_render.ts";
export { exportWorld, WORLD_LAYOUTS, type WorldLayout } from "./src/world/world_export.ts";
export { readMat } from "./src/io/matlab.ts";
export { readNpy, writeNpy } from "./src/io/npy.ts";

// Evaluation
export { extractFeatures } from "./src/eval/features.ts";
export { FeatureCache } from "./src/eval/feature_cache.ts";
export {
  describeSavedFeatures,
  readSavedFeatures,
  type SavedFeatures,
  saveFeatures,
} from "./src/eval/save_features.ts";
export {
  type CustomDatasetRef,
  type CustomDownstreamTask,
  loadCustomDownstream,
  loadCustomGroups,
  parseCustomDataset,
} from "./src/data/custom.ts";
export {
  readTrainingLog,
  type StepMeasurement,
  TrainingLog,
  type TrainingLogRow,
} from "./src/train/training_log.ts";
export { type PretrainLogRow, trainingCurvesSvg } from "./src/report/training_curves.ts";
export { cachedStatistics, covarianceF64 } from "./src/eval/statistics.ts";
export { Whitener } from "./src/eval/whitening.ts";
export { GpuWhitener } from "./src/eval/gpu_whitening.ts";
export { sampleImageIndices, syntheticInvariance } from "./src/eval/synthetic_invariance.ts";
export { realworldInvariance } from "./src/eval/realworld_invariance.ts";
export { extrinsicEvaluation, kernelRidgeGridSearch } from "./src/eval/extrinsic.ts";
export { downstreamEvaluation, regularisationGrid } from "./src/eval/downstream.ts";
export { gpuGram } from "./src/eval/gpu_gram.ts";
export { writeRunRecord, writeTorchOutput } from "./src/io/results.ts";

// Pretraining
export { pretrain, type PretrainSummary } from "./src/train/pretrain.ts";
export { type PretrainConfig, validatePretrainConfig } from "./src/train/pretrain_config.ts";
export { recordMocoStep } from "./src/train/moco_step.ts";
export { MomentumSgd } from "./src/train/optimizer.ts";
export { learningRate } from "./src/train/schedule.ts";
export {
  checkpointFileName,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
} from "./src/train/checkpoint.ts";

// Beyond one machine, and reports
export { Mpi } from "./src/dist/mpi.ts";
export { type Communicator } from "./src/dist/communicator.ts";
export { averageGradients, distributedMocoStep } from "./src/train/moco_step_distributed.ts";
export { augmentPerImage } from "./src/train/two_views.ts";
export { expandPlan, parsePlan, type SweepCell, type SweepPlan } from "./src/sweep/plan.ts";
export { runCell, runLocal } from "./src/sweep/cells.ts";
export { writeSlurmJobs } from "./src/sweep/slurm.ts";
export {
  type AppendixTable,
  renderReportHtml,
  type Report,
  type ReportChart,
} from "./src/report/html.ts";
export { checkReportInBrowser } from "./src/report/browser_check.ts";

// Utilities
export { DataError, GpuError, GpuUnavailableError, UsageError } from "./src/util/errors.ts";
export { parseCli } from "./src/util/cli.ts";
export { Rng } from "./src/util/rng.ts";
export { Progress } from "./src/util/progress.ts";
export { sha256File, stableKey } from "./src/util/hash.ts";
export { NumpyLegacyRandom } from "./src/util/mt19937.ts";

// Types the public functions and classes above take or return, exported so that callers can
// name them (and `deno doc --lint mod.ts` finds no private type in the public API).
export type { SkippedImage, SkippedRow } from "./src/data/bad_images.ts";
export type { Causal3DIdentDataset } from "./src/data/causal3dident.ts";
export type { TargetKind } from "./src/data/dataset.ts";
export type {
  DownstreamMetric,
  DownstreamOptions,
  DownstreamProbe,
} from "./src/data/downstream.ts";
export type { ImageFolderOptions } from "./src/data/image_folder.ts";
export type { BatchInfo, LoadedBatch } from "./src/data/loader.ts";
export type { RealWorldDataset, RealWorldOptions } from "./src/data/realworld.ts";
export type {
  WorldGroupedDataset,
  WorldGroupKind,
  WorldGroupOptions,
  WorldViewOptions,
} from "./src/world/world.ts";
export type { WorldExportOptions, WorldExportSummary } from "./src/world/world_export.ts";
export type { Scene } from "./src/world/world_render.ts";
export type { CommArray } from "./src/dist/communicator.ts";
export type { StepCommTimes } from "./src/train/moco_step_distributed.ts";
export type { MpiElement } from "./src/dist/mpi.ts";
export type { DownstreamEvalOptions, DownstreamResult, ProbeData } from "./src/eval/downstream.ts";
export type {
  ExtrinsicResult,
  KernelRidgeSearchOptions,
  KernelRidgeSearchResult,
  RegressionData,
} from "./src/eval/extrinsic.ts";
export type { CachedFeatures, CacheLookup } from "./src/eval/feature_cache.ts";
export type { ExtractedFeatures, ExtractOptions, Preprocessing } from "./src/eval/features.ts";
export type { GpuGramOptions } from "./src/eval/gpu_gram.ts";
export type { RowWhitener } from "./src/eval/gpu_whitening.ts";
export type { GroupMetricsOptions, ViewMetrics } from "./src/eval/whitening.ts";
export type {
  RealworldInvarianceOptions,
  RealworldInvarianceResult,
} from "./src/eval/realworld_invariance.ts";
export type {
  CachedStatisticsOptions,
  CovarianceEngine,
  FeatureStatistics,
  StatisticsKeyParts,
  StatisticsPaths,
} from "./src/eval/statistics.ts";
export type {
  SyntheticInvarianceOptions,
  SyntheticInvarianceResult,
  ViewFn,
} from "./src/eval/synthetic_invariance.ts";
export type { TuneOptions, TunerHost, TuneTrial } from "./src/gpu/autotune.ts";
export type { GpuBackend } from "./src/gpu/device.ts";
export type { Binding, RecorderHost, Workgroups } from "./src/gpu/recorder.ts";
export type { TensorData, TypedArrayFor } from "./src/gpu/tensor.ts";
export type { CropWindow } from "./src/image/crop.ts";
export type { PackedImages } from "./src/image/gpu/packed.ts";
export type { NormalizeOptions, TensorLayout } from "./src/image/to_tensor.ts";
export type {
  MatCell,
  MatChar,
  MatNumeric,
  MatNumericClass,
  MatStruct,
  MatValue,
} from "./src/io/matlab.ts";
export type { NpyArray, NpyType, NpyWriteType } from "./src/io/npy.ts";
export type {
  PyBytes,
  PyExternal,
  PyFloat,
  PyGlobal,
  PyInput,
  PyKey,
  PyObject,
  PyPersistent,
  PyReduce,
  PyTuple,
  PyValue,
} from "./src/io/pickle.ts";
export type { ModelFileRecord, RunRecord, WrittenRecord } from "./src/io/results.ts";
export type { TensorDataOf, TorchDType, TorchTensorData } from "./src/io/torch/dtypes.ts";
export type { CheckKeysOptions, SelectEncoderOptions } from "./src/io/torch/state_dict.ts";
export type { StateDict } from "./src/io/torch/tensor.ts";
export type { TorchWriteOptions } from "./src/io/torch/write.ts";
export type { MocoCheckpoint, SgdParamGroup, SgdStateDict } from "./src/train/checkpoint.ts";
export type { Matrix, MatrixInput } from "./src/linalg/dense.ts";
export type { LinalgEngine, LinalgInfo } from "./src/linalg/blas.ts";
export type { GramFn } from "./src/linalg/kernel_ridge.ts";
export type { Fold, Shuffler } from "./src/linalg/kfold.ts";
export type { LbfgsStop } from "./src/linalg/lbfgs.ts";
export type { LogisticFitInfo, LogisticRegressionOptions } from "./src/linalg/logistic.ts";
export type { MeanPerClassOptions, R2Options } from "./src/linalg/metrics.ts";
export type { ConvGeometry, ForwardTrainOptions } from "./src/models/resnet.ts";
export type { Buffer, LayoutOf, ParameterLayout } from "./src/nn/parameter.ts";
export type {
  BatchNormBackwardOptions,
  BatchNormEvalOptions,
  BatchNormGrads,
  BatchNormSaved,
  BatchNormTrainOptions,
  BatchNormTrainResult,
} from "./src/ops/batchnorm.ts";
export type { InfoNceOptions, InfoNceResult, InfoNceVariant } from "./src/ops/contrastive.ts";
export type {
  Conv2dBackwardDataOptions,
  Conv2dBackwardFilterOptions,
} from "./src/ops/conv2d_backward.ts";
export type { Conv2dOp } from "./src/ops/conv2d_family.ts";
export type { Conv2dOptions } from "./src/ops/conv2d_forward.ts";
export type { Size2 } from "./src/ops/conv2d_geometry.ts";
export type { Conv2dTuning } from "./src/ops/conv2d_tune.ts";
export type {
  CovarianceOptions,
  CovarianceResult,
  CovarianceVariant,
} from "./src/ops/covariance.ts";
export type { FoldedConv, Shape4 } from "./src/ops/fold_batchnorm.ts";
export type { LinearGrads, LinearOptions } from "./src/ops/linear.ts";
export type { MatmulOptions, MatmulTuneOptions } from "./src/ops/matmul.ts";
export type { L2NormalizeOptions } from "./src/ops/normalize.ts";
export type { MaxPoolOptions, MaxPoolResult } from "./src/ops/pool.ts";
export type { EmaOptions, SgdOptions, SgdParameter } from "./src/ops/sgd.ts";
export type { BrowserCheck } from "./src/report/browser_check.ts";
export type { LineChart, LinePanel } from "./src/report/svg.ts";
export type { CellExecutor, CellOutcome } from "./src/sweep/cells.ts";
export type { CellKind, CellPhase, SlurmOptions } from "./src/sweep/plan.ts";
export type { SlurmJobs } from "./src/sweep/slurm.ts";
export type {
  SaveCheckpointInput,
  TrainingCheckpoint,
  TrainState,
} from "./src/train/checkpoint.ts";
export type {
  MocoStepOptions,
  MocoStepResult,
  MocoTrainable,
  TrainableEncoder,
} from "./src/train/moco_step.ts";
export type { TrainParameter } from "./src/train/optimizer.ts";
export type { AugmentFn, MocoModel, MocoSpec, PretrainDeps } from "./src/train/pretrain.ts";
export type { CheckpointedMoco } from "./src/train/pretrain_checkpoints.ts";
export type { OptionNamer, PretrainOption } from "./src/train/pretrain_config.ts";
export type { StepLog } from "./src/train/pretrain_log.ts";
export type { CommunicationSummary, TwoViews } from "./src/train/pretrain_step.ts";
export type { LrSchedule } from "./src/train/schedule.ts";
export type { ShufflePermutation } from "./src/train/shuffle_bn.ts";
export type { CropBox, JitterParams, ViewParams } from "./src/transforms/augment.ts";
export type { BatchOptions } from "./src/transforms/color.ts";
export type { DeformOptions, DeformParams } from "./src/transforms/deform.ts";
export type { AffineParams } from "./src/transforms/geometry.ts";
export type { GridOptions } from "./src/transforms/synthetic_grid.ts";
export type {
  CliSpec,
  FlagSpec,
  FlagType,
  ParsedCli,
  ParsedFlags,
  PositionalSpec,
  ValueOf,
} from "./src/util/cli.ts";
