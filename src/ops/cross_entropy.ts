/**
 * Softmax cross-entropy of class logits against integer labels (PyTorch's
 * `F.cross_entropy(logits, labels)`, mean over rows) fused with its gradient with respect to the
 * logits and the classifier's top-1 / top-5 counts. See `kernels/cross_entropy.wgsl`.
 *
 * MoCo's InfoNCE (src/ops/contrastive.ts) is the same loss with label 0 over logits it never
 * materialises; supervised training has its [N, C] logits in hand, so this op reads them
 * directly.
 *
 * @module
 */
import source from "../../kernels/cross_entropy.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { paramStruct } from "../gpu/uniforms.ts";

const FILE = "cross_entropy.wgsl";

/** `struct RowParams` of `kernels/cross_entropy.wgsl`. */
const ROW = paramStruct(FILE, source, "RowParams", {
  n: "u32",
  c: "u32",
  grad_scale: "f32",
  write_grad: "u32",
});

/** `struct ReduceParams` of `kernels/cross_entropy.wgsl`. */
const REDUCE = paramStruct(FILE, source, "ReduceParams", {
  n: "u32",
  loss_scale: "f32",
  accumulate: "u32",
});
const WG = 64;

/** Options of {@link softmaxCrossEntropy}. */
export interface SoftmaxCrossEntropyOptions {
  /**
   * Also compute dL/dlogits (default true). Evaluation passes false and gets no `dlogits`.
   */
  gradient?: boolean;
  /**
   * Factor of the gradient, default 1/N: the gradient of the mean loss. Pass 1 for the gradient
   * of the summed loss.
   */
  gradScale?: number;
  /**
   * An f32 [4] tensor of running totals (zero it to start): the op adds (N, Σ row losses,
   * top-1 count, top-5 count) to it, so an epoch's mean loss and accuracy need one readback.
   * Counts are exact up to 2^24 rows.
   */
  totals?: Tensor;
}

/** Result of {@link softmaxCrossEntropy}; the caller releases the tensors. */
export interface SoftmaxCrossEntropyResult {
  /** [1] f32: mean over rows of logsumexp(z_i) − z_i[y_i]. */
  loss: Tensor;
  /** [N, C] f32: gradScale · (softmax(z_i) − onehot(y_i)); absent with `gradient: false`. */
  dlogits?: Tensor;
  /**
   * [2] u32: rows whose label ranks first / within the first five of its row. Ties count against
   * the label (a row of equal logits is wrong). Divide by N for acc@1 / acc@5.
   */
  correct: Tensor;
}

/**
 * Records softmax cross-entropy of `logits` [N, C] against `labels` [N] (i32 or u32 class
 * indices), with its gradient. A label outside [0, C) makes the loss NaN (and its row's gradient
 * NaN), so a bad label shows up in the first logged loss instead of training silently.
 *
 * @throws RangeError on mismatched shapes or dtypes, an empty input or a non-finite gradScale.
 * @example
 * ```ts
 * const logits = net.forwardTrain(x); // [N, C]
 * const { loss, dlogits, correct } = softmaxCrossEntropy(gpu, logits, labels);
 * net.backward(dlogits!);
 * const [l, c] = await gpu.recorder.read([loss, correct]);
 * ```
 */
export function softmaxCrossEntropy(
  gpu: Gpu,
  logits: Tensor,
  labels: Tensor,
  options: SoftmaxCrossEntropyOptions = {},
): SoftmaxCrossEntropyResult {
  const op = "softmaxCrossEntropy";
  if (logits.shape.length !== 2 || logits.dtype !== "f32") {
    throw new RangeError(`${op}: logits must be f32 [N, C], got ${logits.dtype} [${logits.shape}]`);
  }
  const [n, c] = logits.shape;
  if (n < 1 || c < 1) throw new RangeError(`${op}: empty logits [${logits.shape}]`);
  if (labels.shape.length !== 1 || labels.shape[0] !== n || labels.dtype === "f32") {
    throw new RangeError(
      `${op}: labels must be i32 or u32 [${n}], got ${labels.dtype} [${labels.shape}]`,
    );
  }
  const gradient = options.gradient ?? true;
  const gradScale = options.gradScale ?? 1 / n;
  if (!Number.isFinite(gradScale)) {
    throw new RangeError(`${op}: gradScale must be finite, got ${gradScale}`);
  }
  const totals = options.totals;
  if (totals && (totals.dtype !== "f32" || totals.shape.join() !== "4")) {
    throw new RangeError(`${op}: totals must be f32 [4], got ${totals.dtype} [${totals.shape}]`);
  }
  const rows = Tensor.empty(gpu, [n, 2], "f32", "ce rows");
  const dlogits = gradient ? Tensor.empty(gpu, [n, c], "f32", "ce dlogits") : undefined;
  // Without a gradient the kernel still needs something bound there; it never writes to it.
  const gradBinding = dlogits ?? Tensor.empty(gpu, [1], "f32", "ce no grad");
  const loss = Tensor.empty(gpu, [1], "f32", "ce loss");
  const correct = Tensor.empty(gpu, [2], "u32", "ce correct");

  const kernel = (entryPoint: string) =>
    gpu.kernels.get({ file: FILE, source, entryPoint, constants: { WG } });
  const rowParams = ROW.pack({ n, c, grad_scale: gradScale, write_grad: gradient ? 1 : 0 });
  gpu.recorder.dispatch(kernel("ce_rows"), [logits, labels, rows, gradBinding], n, rowParams);
  const reduceParams = REDUCE.pack({ n, loss_scale: 1 / n, accumulate: totals ? 1 : 0 });
  const totalsBinding = totals ?? Tensor.empty(gpu, [4], "f32", "ce no totals");
  gpu.recorder.dispatch(
    kernel("ce_reduce"),
    [rows, loss, correct, totalsBinding],
    1,
    reduceParams,
  );
  rows.release();
  if (!dlogits) gradBinding.release();
  if (!totals) totalsBinding.release();
  return { loss, dlogits, correct };
}
