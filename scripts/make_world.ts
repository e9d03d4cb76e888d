/**
 * Renders the built-in synthetic world to disk in the layouts the real dataset loaders read
 * (see `src/world/world_export.ts` for every file name), so the loaders and evaluation scripts run
 * on it unchanged.
 *
 * ```sh
 * deno run -A scripts/make_world.ts --layout coil100 --out results/world --objects 20
 * deno run -A scripts/make_world.ts --layout all --per-class 200 --test-per-class 50
 * ```
 *
 * Images whose files already hold the same scene (per `<out>/.world_manifest.json`) are skipped.
 * Exits 2 for a bad flag and 1 when the output folder cannot be written.
 *
 * @module
 */
import { openGpu } from "../src/gpu/device.ts";
import { exportWorld, WORLD_LAYOUTS, type WorldLayout } from "../src/world/world_export.ts";
import { parseCli } from "../src/util/cli.ts";
import { UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";

const SPEC = {
  name: "make_world",
  summary: "Render the synthetic world (7 shapes, 10 Causal3DIdent latents) to disk as an " +
    "ImageFolder, COIL100, ALOI-illumination, ALOI-temperature, Causal3DIdent or keypoint tree.",
  flags: {
    layout: {
      type: "string",
      help: "what to write ('all' writes every layout)",
      choices: [...WORLD_LAYOUTS, "all"],
      default: "imagefolder",
    },
    out: {
      type: "string",
      help: "output folder (the loaders' data root; results/ is git-ignored)",
      default: "results/world",
    },
    seed: { type: "int", help: "world seed", default: 0 },
    resolution: { type: "int", help: "image side in pixels", default: 64 },
    "per-class": {
      type: "int",
      help: "images per class of the training split (imagefolder, causal3dident, keypoints)",
      default: 100,
    },
    "test-per-class": {
      type: "int",
      help: "images per class of the other splits",
      default: 20,
    },
    objects: {
      type: "int",
      help: "objects of the coil100 / aloi-* layouts",
      default: 100,
    },
    splits: {
      type: "string",
      help: "imagefolder split folders, comma-separated (the first gets --per-class)",
      default: "train,val",
    },
    batch: { type: "int", help: "scenes rendered per GPU dispatch", default: 256 },
  },
} as const;

async function main(): Promise<void> {
  const { flags } = parseCli(Deno.args, SPEC);
  for (
    const name of ["resolution", "per-class", "test-per-class", "objects", "batch"] as const
  ) {
    if (flags[name] < 1) throw new UsageError(`--${name}: must be at least 1, got ${flags[name]}`);
  }
  if (flags.resolution > 4096) {
    throw new UsageError(`--resolution: at most 4096, got ${flags.resolution}`);
  }
  const splits = flags.splits.split(",").map((s) => s.trim());
  if (splits.some((s) => !/^[A-Za-z0-9_.-]+$/.test(s) || s === "." || s === "..")) {
    throw new UsageError(`--splits: '${flags.splits}' must be comma-separated folder names`);
  }
  if (new Set(splits).size !== splits.length) {
    throw new UsageError(`--splits: '${flags.splits}' names a split twice`);
  }
  const layouts: WorldLayout[] = flags.layout === "all"
    ? [...WORLD_LAYOUTS]
    : [flags.layout as WorldLayout];
  const gpu = await openGpu();
  try {
    for (const layout of layouts) {
      const s = await exportWorld(gpu, layout, flags.out, {
        seed: flags.seed,
        resolution: flags.resolution,
        perClass: flags["per-class"],
        testPerClass: flags["test-per-class"],
        objects: flags.objects,
        splits,
        batch: flags.batch,
      });
      // Rendered, PNG-encoded and written, per second of the whole export.
      const rate = s.written > 0 ? `${(s.written / s.totalSeconds).toFixed(0)} img/s` : "-";
      console.log(
        `${layout}: ${s.images} images in ${flags.out} (${s.written} written at ${rate}, ` +
          `${s.skipped} up to date, ${s.removed} stale removed) in ${s.totalSeconds.toFixed(1)} s`,
      );
    }
  } finally {
    gpu.destroy();
  }
}

if (import.meta.main) await runMain("make_world", main);
