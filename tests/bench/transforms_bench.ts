/**
 * `deno task bench transforms`: the input pipeline's throughput, side by side with the ResNet-50
 * forward rate it has to feed (read from `results/bench/models.json` when the models bench has
 * run). Writes `results/bench/transforms.json`.
 *
 * Rows (img/s, higher is better):
 * - `eval preprocess 500x375 jpeg main thread`: decode (sharp) + Resize(224) + CenterCrop(224) +
 *   ToTensor/Normalize on the main thread;
 * - `eval preprocess 500x375 jpeg pool <n>`: the same on a DecodePool of n workers;
 * - `moco <policy> policy 2 views 224 b<B>`: images per second through `augmentBatch` (two views
 *   each) from decoded 500x375 images, until the GPU has finished (default, ventral, dorsal —
 *   dorsal runs its colour ops on the full-resolution image);
 * - `moco default policy 2 views 224 b<B> + decode pool`: decoding on the pool overlapped with
 *   the GPU augmentation of the previous batch.
 * Each row's peer is the ResNet-50 forward rate (ratio ≥ 1 means the pipeline keeps it fed).
 *
 * @module
 */
import sharp from "sharp";
import { openGpu } from "../../src/gpu/device.ts";
import { decodeAndPreprocess, DecodePool } from "../../src/image/decode_pool.ts";
import type { RgbImage } from "../../src/image/image.ts";
import { augmentBatch, type AugmentPolicy } from "../../src/transforms/augment.ts";
import { runMain } from "../../src/util/main.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, medianMs, report, row } from "./harness.ts";

const FILES = 48;
const BATCH = 16;
const EVAL = { resize: 224, crop: 224, normalize: true } as const;

/** Writes `n` 500x375 JPEGs (smooth gradients plus noise, quality 90) into `dir`. */
async function makeJpegs(dir: string, n: number, rng: Rng): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = 500, h = 375;
    const px = new Uint8Array(w * h * 3);
    const phase = rng.range(0, 6);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = 3 * (y * w + x);
        px[o] = 128 + 100 * Math.sin(x / 37 + phase);
        px[o + 1] = 128 + 100 * Math.cos(y / 23 - phase);
        px[o + 2] = (x + y + rng.int(32)) & 255;
      }
    }
    const path = `${dir}/img_${i}.jpg`;
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 })
      .toFile(path);
    paths.push(path);
  }
  return paths;
}

/** The ResNet-50 forward rate of the models bench, if it has written its results. */
async function resnetRate(): Promise<{ name: string; value: number } | null> {
  const path = new URL("../../results/bench/models.json", import.meta.url);
  try {
    const json = JSON.parse(await Deno.readTextFile(path)) as { rows: BenchRow[] };
    const r = json.rows.find((x) => x.name.startsWith("resnet50 fwd") && x.unit === "img/s");
    return r ? { name: r.name, value: r.ours } : null;
  } catch {
    return null;
  }
}

/** Median seconds of 3 runs after a warm-up (worker start, sharp load, kernel compiles). */
async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  return await medianMs(fn, { warmup: 1, runs: 3 }) / 1000;
}

await runMain("bench transforms", async () => {
  const dir = await Deno.makeTempDir({ prefix: "transforms-bench-" });
  try {
    const rng = new Rng(5);
    const paths = await makeJpegs(dir, FILES, rng);
    const gpu = await openGpu();
    const pool = new DecodePool();
    const resnet = await resnetRate();
    const peer = resnet ? `${resnet.name} (models.json)` : "resnet50 fwd (not measured)";
    const peerValue = resnet?.value ?? null;
    const rows: BenchRow[] = [];

    const mainSecs = await timeIt(async () => {
      for (const p of paths) await decodeAndPreprocess(p, EVAL);
    });
    rows.push(
      row("eval preprocess 500x375 jpeg main thread", "img/s", FILES / mainSecs, peer, peerValue),
    );

    const poolSecs = await timeIt(() => Promise.all(paths.map((p) => pool.decode(p, EVAL))));
    rows.push(
      row(
        `eval preprocess 500x375 jpeg pool ${pool.size}`,
        "img/s",
        FILES / poolSecs,
        peer,
        peerValue,
      ),
    );

    const decoded: RgbImage[] = (await Promise.all(paths.map((p) => pool.decode(p)))).map((d) =>
      d.image
    );
    const augment = async (images: RgbImage[], policy: AugmentPolicy = "default") => {
      const { q, k } = await augmentBatch(gpu, images, policy, rng);
      gpu.recorder.flush();
      await gpu.device.queue.onSubmittedWorkDone();
      q.release();
      k.release();
    };
    const augSecs = await timeIt(async () => {
      for (let i = 0; i < FILES; i += BATCH) await augment(decoded.slice(i, i + BATCH));
    });
    rows.push(
      row(`moco default policy 2 views 224 b${BATCH}`, "img/s", FILES / augSecs, peer, peerValue),
    );
    for (const policy of ["ventral", "dorsal"] as const) {
      const secs = await timeIt(async () => {
        for (let i = 0; i < FILES; i += BATCH) await augment(decoded.slice(i, i + BATCH), policy);
      });
      rows.push(
        row(`moco ${policy} policy 2 views 224 b${BATCH}`, "img/s", FILES / secs, peer, peerValue),
      );
    }

    const pipeSecs = await timeIt(async () => {
      let next = Promise.all(paths.slice(0, BATCH).map((p) => pool.decode(p)));
      for (let i = 0; i < FILES; i += BATCH) {
        const batch = (await next).map((d) => d.image);
        if (i + BATCH < FILES) {
          next = Promise.all(paths.slice(i + BATCH, i + 2 * BATCH).map((p) => pool.decode(p)));
        }
        await augment(batch);
      }
    });
    rows.push(
      row(
        `moco default policy 2 views 224 b${BATCH} + decode pool`,
        "img/s",
        FILES / pipeSecs,
        peer,
        peerValue,
      ),
    );
    pool.close();
    await report("transforms", gpu.summary.description, rows);
    gpu.destroy();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
