/**
 * ssl-invariances for Deno + WebGPU: the public API.
 *
 * @example
 * ```ts
 * import { openGpu, Tensor } from "./mod.ts";
 * const gpu = await openGpu();
 * const t = Tensor.from(gpu, new Float32Array([1, 2, 3]));
 * console.log(await t.read());
 * gpu.destroy();
 * ```
 *
 * @module
 */

// GPU runtime
export { type AdapterSummary, Gpu, openGpu, type OpenGpuOptions } from "./src/gpu/device.ts";
export { type DType, Tensor } from "./src/gpu/tensor.ts";
export { bucketSize, BufferPool } from "./src/gpu/buffer_pool.ts";
export { type Kernel, KernelCache, type KernelSpec } from "./src/gpu/kernel.ts";
export { CommandRecorder, splitWorkgroups } from "./src/gpu/recorder.ts";
export { Tuner } from "./src/gpu/autotune.ts";

// Ops (WGSL kernels)
export { columnSum, matmul, matmulTune, type MatmulVariant } from "./src/ops/matmul.ts";
export { linearBackward, linearForward } from "./src/ops/linear.ts";
export {
  conv2dBackwardData,
  conv2dBackwardFilter,
  conv2dForward,
  conv2dTune,
  conv2dVariants,
} from "./src/ops/conv2d.ts";
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
export {
  checkKeys,
  readTorchCheckpoint,
  selectEncoder,
  stripModulePrefix,
  TorchTensor,
  writeTorchCheckpoint,
} from "./src/io/torch_checkpoint.ts";
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

// Utilities
export { DataError, GpuError, GpuUnavailableError, UsageError } from "./src/util/errors.ts";
export { parseCli } from "./src/util/cli.ts";
export { Rng } from "./src/util/rng.ts";
export { NumpyLegacyRandom } from "./src/util/mt19937.ts";
