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
 *   the GPU, including their readback, vs the CPU `centerCrop(resizeShortSide())` per view;
 * - `invariance demo …` / `invariance paper …` (tests/bench/invariance_rows.ts): synthetic
 *   invariance in views/s against plain feature extraction in img/s on the same model and
 *   batches (target ≥ 0.9×), at the demo's size (ResNet-18 base width 16 at 64 px, the demo's
 *   transform grid, whitened on the GPU and on the CPU) and at the paper's (ResNet-18 at 224,
 *   k = 16, rotation).
 *
 * `SSL_BENCH_ONLY=transforms,demo,paper` picks parts (default: all).
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
import { SYNTHETIC_FAMILIES } from "../../src/transforms/synthetic_grid.ts";
import { type BenchRow, medianMs, report, row } from "./harness.ts";
import { type InvarianceCase, invarianceRows } from "./invariance_rows.ts";

const K = 64;
const W = 500;
const H = 375;
const ONLY = new Set(
  (Deno.env.get("SSL_BENCH_ONLY") ?? "transforms,demo,paper").split(",").map((s) => s.trim()),
);

/** The demo's grid (src/demo/evaluate.ts, DEMO_SIZES.full): k = 16, fewer for fixed families. */
const FIXED = new Set(["h_flip", "v_flip", "grayscale", "invert", "equalize", "posterize"]);
const DEMO_FAMILIES = SYNTHETIC_FAMILIES.map((family) => ({
  family,
  k: FIXED.has(family) ? (family === "posterize" ? 7 : 2) : 16,
}));
const DEMO: InvarianceCase = {
  label: "demo",
  baseWidth: 16,
  width: 64,
  height: 64,
  resize: 73,
  cropSize: 64,
  families: DEMO_FAMILIES,
  images: 2,
  runs: 7,
};
const PAPER: InvarianceCase = {
  label: "paper",
  baseWidth: 64,
  width: W,
  height: H,
  resize: 256,
  cropSize: 224,
  families: [{ family: "rotation", k: 16 }],
  images: 2,
  runs: 3,
};

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
    const rows: BenchRow[] = [];
    if (ONLY.has("transforms")) {
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

      rows.push(
        row(`rotation k${K} ${W}x${H} gpu resize`, "views/s", gpuRate, "cpu resize path", cpuRate),
        row(`rotation k${K} ${W}x${H} cpu resize`, "views/s", cpuRate, "-", null),
        row(
          `resize+crop only ${W}x${H} -> 224 gpu`,
          "views/s",
          K / (resizeOnlyMs / 1000),
          "cpu resize+crop",
          8 / (cpuResizeMs / 1000),
        ),
      );
      console.log(
        `views: GPU-resize path ${gpuRate.toFixed(1)} views/s vs CPU-resize ${
          cpuRate.toFixed(1)
        } views/s: ${(gpuRate / cpuRate).toFixed(2)}x`,
      );
    }
    for (const c of [DEMO, { ...DEMO, whiten: "cpu" as const }, PAPER]) {
      if (!ONLY.has(c.label)) continue;
      const r = await invarianceRows(gpu, c);
      rows.push(...r.rows);
      console.log(r.line);
    }
    await report("views", gpu.summary.description, rows);
  } finally {
    gpu.destroy();
  }
});
