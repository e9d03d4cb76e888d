/**
 * `deno task bench views`: synthetic-view throughput of `syntheticViews()` for one 500x375 image,
 * k = 64 rotation views, Resize(256) + CenterCrop(224). Writes `results/bench/views.json`.
 *
 * Rows (views/s, higher is better):
 * - `rotation k64 500x375 gpu resize`: op, resize and crop on the GPU, one readback of the
 *   224×224 views; the peer is the CPU-resize path below (ratio = speed-up);
 * - `rotation k64 500x375 cpu resize`: op on the GPU, full-resolution views read back, Pillow
 *   resize + crop on the CPU (the reference path);
 * - `resize+crop only 500x375 -> 224 gpu`: the GPU resize + crop alone on 64 views already on
 *   the GPU, including their readback, vs the CPU `centerCrop(resizeShortSide())` per view.
 *
 * @module
 */
import { openGpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { centerCrop } from "../../src/image/crop.ts";
import { createImage, type RgbImage } from "../../src/image/image.ts";
import { resizeShortSide } from "../../src/image/resize.ts";
import { syntheticViews } from "../../src/transforms/functional.ts";
import { packRgb } from "../../src/image/gpu/packed.ts";
import { recordShortSideCenterCrop } from "../../src/image/gpu/resize.ts";
import { syntheticGrid } from "../../src/transforms/synthetic_grid.ts";
import { runMain } from "../../src/util/main.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, medianMs, report, row } from "./harness.ts";

const K = 64;
const W = 500;
const H = 375;

/** A smooth gradient image with some noise (a photo-like spread of values). */
function photo(rng: Rng): RgbImage {
  const img = createImage(W, H);
  const d = img.data;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = 3 * (y * W + x);
      d[o] = 128 + 100 * Math.sin(x / 37);
      d[o + 1] = 128 + 100 * Math.cos(y / 23);
      d[o + 2] = (x + y + rng.int(32)) & 255;
    }
  }
  return img;
}

await runMain("bench views", async () => {
  const gpu = await openGpu();
  try {
    const img = photo(new Rng(7));
    const params = syntheticGrid("rotation", K);
    const opts = { resize: 256, cropSize: 224 };
    const gpuMs = await medianMs(() => syntheticViews(gpu, img, "rotation", params, opts), {
      runs: 3,
    });
    const cpuMs = await medianMs(
      () => syntheticViews(gpu, img, "rotation", params, { ...opts, cpuResize: true }),
      { runs: 3 },
    );
    const gpuRate = K / (gpuMs / 1000);
    const cpuRate = K / (cpuMs / 1000);

    // The resize + crop alone: 64 views resident on the GPU vs the CPU one view at a time.
    const packed = new Uint32Array(K * W * H);
    const one = packRgb(img);
    for (let v = 0; v < K; v++) packed.set(one, v * W * H);
    const src = Tensor.from(gpu, packed, undefined, "bench views");
    const resizeOnlyMs = await medianMs(async () => {
      const out = recordShortSideCenterCrop(gpu, src, K, W, H, 256, 224);
      // Includes the readback of the 224×224 views, which the pipeline needs anyway.
      await gpu.recorder.read([out]);
      out.release();
    }, { runs: 3 });
    src.release();
    const cpuResizeMs = await medianMs(async () => {
      for (let v = 0; v < 8; v++) centerCrop(resizeShortSide(img, 256), 224);
      await Promise.resolve();
    }, { runs: 3 });

    const rows: BenchRow[] = [
      row(`rotation k${K} ${W}x${H} gpu resize`, "views/s", gpuRate, "cpu resize path", cpuRate),
      row(`rotation k${K} ${W}x${H} cpu resize`, "views/s", cpuRate, "-", null),
      row(
        `resize+crop only ${W}x${H} -> 224 gpu`,
        "views/s",
        K / (resizeOnlyMs / 1000),
        "cpu resize+crop",
        8 / (cpuResizeMs / 1000),
      ),
    ];
    console.log(
      `views: GPU-resize path ${gpuRate.toFixed(1)} views/s vs CPU-resize ${
        cpuRate.toFixed(1)
      } views/s: ${(gpuRate / cpuRate).toFixed(2)}x`,
    );
    await report("views", gpu.summary.description, rows);
  } finally {
    gpu.destroy();
  }
});
