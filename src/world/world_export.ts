/**
 * Writing the synthetic world to disk in the layouts the real dataset loaders read, so the same
 * loaders and evaluation scripts run on it (what `scripts/make_world.ts` calls):
 *
 * | layout | files (relative to the output folder) |
 * | --- | --- |
 * | `imagefolder` | `<split>/<class>/<nnnnn>.png` for each split (classes = {@link WORLD_CLASSES}); the `world` stream: its scenes share a few colour schemes and turn by at most ±45° (`viewScenes`) |
 * | `coil100` | `COIL100/obj{N}__{angle}.png`, N = 1 … objects, angles 0, 5, …, 355 |
 * | `aloi-illumination` | `ALOI/illumination/{N}/{N}_l{1..8}c{1..3}.png` |
 * | `aloi-temperature` | `ALOI/temperature/{N}/{N}_i{110…250}.png` (ALOI's 12 temperatures) |
 * | `causal3dident` | `Causal3DIdent/{trainset,testset}/images_{c}/{index}.png` (zero-padded to ceil(log10(per class)) digits) and `latents_{c}.npy` (float64 [n, 10]) |
 * | `keypoints` | `WorldKeypoints/{train,test}/<class>/<nnnnn>.png` and `WorldKeypoints/{split}/keypoints.csv` |
 *
 * `keypoints.csv` has a header `path,x0,y0,x1,y1,x2,y2,x3,y3,x4,y4` and one row per image in
 * ImageFolder order; `path` is relative to the split folder and the coordinates are the projected
 * keypoints in a 224-pixel frame (see `projectKeypoints`).
 *
 * Every file is written atomically. `<out>/.world_manifest.json` maps each image written to the
 * content key of its scene (class, latents, resolution, renderer version): an image whose file
 * exists with the same key is not rendered again, and images this layout wrote before but no
 * longer contains (a smaller count) are removed, so the loaders never see stale files.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { RgbImage } from "../image/image.ts";
import { loadSharp } from "../image/sharp.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { encodeNpy } from "../io/npy.ts";
import { DataError } from "../util/errors.ts";
import { stableKey } from "../util/hash.ts";
import { Progress } from "../util/progress.ts";
import {
  LATENT_DIM,
  RENDERER_VERSION,
  type Scene,
  WORLD_CLASSES,
  worldGroups,
  worldImageFolder,
  worldKeypoints,
  worldLatents,
  WorldRenderer,
} from "./world.ts";

/** The on-disk layouts {@link exportWorld} writes. */
export type WorldLayout =
  | "imagefolder"
  | "coil100"
  | "aloi-illumination"
  | "aloi-temperature"
  | "causal3dident"
  | "keypoints";

/** Every layout, in a stable order. */
export const WORLD_LAYOUTS: readonly WorldLayout[] = [
  "imagefolder",
  "coil100",
  "aloi-illumination",
  "aloi-temperature",
  "causal3dident",
  "keypoints",
];

/** Options of {@link exportWorld}. */
export interface WorldExportOptions {
  /** Base seed (default 0). */
  seed?: number;
  /** Image side in pixels (default 64). */
  resolution?: number;
  /** Images per class of the first (training) split (default 100). */
  perClass?: number;
  /** Images per class of every other split (default 20). */
  testPerClass?: number;
  /** Objects of the group layouts (default 100). */
  objects?: number;
  /** Split names of `imagefolder` (default `train`, `val`; the first gets `perClass`). */
  splits?: readonly string[];
  /** Scenes per GPU render (default 256). */
  batch?: number;
  /** Progress lines (default: stderr); pass `() => {}` to silence. */
  log?: (line: string) => void;
}

/** What {@link exportWorld} did. */
export interface WorldExportSummary {
  /** The layout written. */
  layout: WorldLayout;
  /** Images in the layout. */
  images: number;
  /** Images rendered and written by this call. */
  written: number;
  /** Images skipped because the file already held the same scene. */
  skipped: number;
  /** Stale images (from a larger earlier export of this layout) removed. */
  removed: number;
  /** Non-image files written (latents .npy, keypoints.csv). */
  dataFiles: string[];
  /** Seconds inside render calls (GPU + readback, overlapping PNG encoding) and in total. */
  renderSeconds: number;
  /** Wall-clock seconds of the whole export, rendering, encoding and writing included. */
  totalSeconds: number;
}

interface ImageItem {
  path: string;
  scene: Scene;
}

interface LayoutPlan {
  /** Folder prefixes (relative, ending in `/`) that this layout owns. */
  prefixes: string[];
  images: ImageItem[];
  dataFiles: { path: string; bytes: Uint8Array }[];
}

const MANIFEST = ".world_manifest.json";
/** How often (ms) a long export saves its manifest. */
const MANIFEST_SAVE_MS = 5000;

interface Manifest {
  version: 1;
  files: Record<string, string>;
}

/** The content key of one rendered image. */
export function sceneKey(scene: Scene, resolution: number): string {
  return stableKey({
    renderer: RENDERER_VERSION,
    cls: scene.cls,
    latents: Array.from(scene.latents),
    resolution,
  });
}

/** PNG bytes of an RGB image (sharp / libvips, default compression). */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const buffer = await sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: 3 },
  }).png().toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function checkPositive(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/** Decides every file of `layout` (no rendering). */
function planLayout(gpu: Gpu, layout: WorldLayout, o: Required<WorldExportOptions>): LayoutPlan {
  const view = { seed: o.seed, resolution: o.resolution };
  const images: ImageItem[] = [];
  const dataFiles: { path: string; bytes: Uint8Array }[] = [];
  const prefixes: string[] = [];
  const addView = (
    prefix: string,
    ds: { scenes: readonly Scene[]; paths: readonly string[] },
  ): void => {
    prefixes.push(prefix);
    ds.scenes.forEach((scene, i) => images.push({ path: prefix + ds.paths[i], scene }));
  };
  switch (layout) {
    case "imagefolder":
      o.splits.forEach((split, k) => {
        const perClass = k === 0 ? o.perClass : o.testPerClass;
        addView(`${split}/`, worldImageFolder(gpu, { ...view, split, perClass }));
      });
      break;
    case "coil100":
    case "aloi-illumination":
    case "aloi-temperature": {
      const kind = layout === "coil100"
        ? "coil"
        : layout === "aloi-illumination"
        ? "illumination"
        : "temperature";
      const groups = worldGroups(gpu, kind, { ...view, objects: o.objects });
      prefixes.push(layout === "coil100" ? "COIL100/" : `ALOI/${kind}/`);
      const seen = new Set<string>();
      groups.groups.forEach((g, gi) =>
        g.paths.forEach((path, vi) => {
          if (seen.has(path)) return;
          seen.add(path);
          images.push({ path, scene: groups.scenes[gi][vi] });
        })
      );
      break;
    }
    case "causal3dident":
      for (
        const [folder, split, perClass] of [
          ["trainset", "train", o.perClass],
          ["testset", "test", o.testPerClass],
        ] as const
      ) {
        const prefix = `Causal3DIdent/${folder}/`;
        const ds = worldLatents(gpu, { ...view, split, perClass });
        addView(prefix, ds);
        for (let c = 0; c < WORLD_CLASSES.length; c++) {
          const rows = ds.latents.subarray(
            c * perClass * LATENT_DIM,
            (c + 1) * perClass * LATENT_DIM,
          );
          dataFiles.push({
            path: `${prefix}latents_${c}.npy`,
            bytes: encodeNpy(rows, [perClass, LATENT_DIM], "<f8"),
          });
        }
      }
      break;
    case "keypoints":
      for (const [split, perClass] of [["train", o.perClass], ["test", o.testPerClass]] as const) {
        const prefix = `WorldKeypoints/${split}/`;
        const ds = worldKeypoints(gpu, { ...view, split, perClass });
        addView(prefix, ds);
        const header = ["path"];
        for (let k = 0; k < ds.targetDim / 2; k++) header.push(`x${k}`, `y${k}`);
        const lines = [header.join(",")];
        ds.paths.forEach((p, i) => {
          const row = Array.from(ds.targets.subarray(i * ds.targetDim, (i + 1) * ds.targetDim));
          lines.push([p, ...row.map((v) => String(v))].join(","));
        });
        dataFiles.push({
          path: `${prefix}keypoints.csv`,
          bytes: new TextEncoder().encode(lines.join("\n") + "\n"),
        });
      }
      break;
    default:
      throw new RangeError(`unknown world layout '${layout}'`);
  }
  return { prefixes, images, dataFiles };
}

async function readManifest(path: string): Promise<Manifest> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { version: 1, files: {} };
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Manifest;
    if (parsed.version !== 1 || typeof parsed.files !== "object" || parsed.files === null) {
      throw new Error("not a world manifest (version 1 with a files map)");
    }
    return parsed;
  } catch (e) {
    throw new DataError(
      `${path} is corrupt (${(e as Error).message}); delete it to re-render everything`,
    );
  }
}

/** Atomic write whose failure (permissions, a file in the way, a full disk) names the path. */
async function writeChecked(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await writeFileAtomic(path, data);
  } catch (e) {
    throw new DataError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Writes `layout` of the world under `outDir` (see the module table), rendering only the images
 * whose files are missing or hold another scene.
 *
 * @example
 * ```ts
 * const gpu = await openGpu();
 * await exportWorld(gpu, "coil100", "data", { objects: 10 });
 * const coil = await loadRealWorld("COIL100", "data");
 * ```
 */
export async function exportWorld(
  gpu: Gpu,
  layout: WorldLayout,
  outDir: string,
  options: WorldExportOptions = {},
): Promise<WorldExportSummary> {
  const start = performance.now();
  const o: Required<WorldExportOptions> = {
    seed: options.seed ?? 0,
    resolution: options.resolution ?? 64,
    perClass: options.perClass ?? 100,
    testPerClass: options.testPerClass ?? 20,
    objects: options.objects ?? 100,
    splits: options.splits ?? ["train", "val"],
    batch: options.batch ?? 256,
    log: options.log ?? ((line: string) => console.error(line)),
  };
  checkPositive("resolution", o.resolution);
  checkPositive("perClass", o.perClass);
  checkPositive("testPerClass", o.testPerClass);
  checkPositive("objects", o.objects);
  checkPositive("batch", o.batch);
  if (
    o.splits.length === 0 ||
    o.splits.some((s) => !/^[A-Za-z0-9_.-]+$/.test(s) || s === "." || s === "..")
  ) {
    throw new RangeError(`splits must be plain folder names, got [${o.splits.join(", ")}]`);
  }
  if (new Set(o.splits).size !== o.splits.length) {
    throw new RangeError(`splits must differ, got [${o.splits.join(", ")}]`);
  }
  const root = outDir.replace(/\/+$/, "") || "/";
  const plan = planLayout(gpu, layout, o);
  const manifestPath = `${root}/${MANIFEST}`;
  const manifest = await readManifest(manifestPath);

  // Remove images this layout wrote before that the plan no longer has.
  const wanted = new Set(plan.images.map((i) => i.path));
  let removed = 0;
  for (const path of Object.keys(manifest.files)) {
    if (wanted.has(path) || !plan.prefixes.some((p) => path.startsWith(p))) continue;
    await Deno.remove(`${root}/${path}`).catch(() => {});
    delete manifest.files[path];
    removed++;
  }

  const todo: (ImageItem & { key: string })[] = [];
  for (const item of plan.images) {
    const key = sceneKey(item.scene, o.resolution);
    if (manifest.files[item.path] === key && await fileExists(`${root}/${item.path}`)) continue;
    todo.push({ ...item, key });
  }
  const skipped = plan.images.length - todo.length;
  const progress = new Progress(`make_world ${layout}`, todo.length, {
    unit: "img",
    write: o.log,
  });
  const renderer = new WorldRenderer(gpu, { width: o.resolution, height: o.resolution });
  let renderMs = 0;
  try {
    await Deno.mkdir(root, { recursive: true });
  } catch (e) {
    throw new DataError(`cannot create ${root}: ${(e as Error).message}`);
  }
  const saveManifest = () => writeChecked(manifestPath, JSON.stringify(manifest) + "\n");
  let lastSave = performance.now();
  const batches: (typeof todo)[] = [];
  for (let first = 0; first < todo.length; first += o.batch) {
    batches.push(todo.slice(first, first + o.batch));
  }
  const startRender = (k: number): Promise<RgbImage[]> | undefined => {
    if (k >= batches.length) return undefined;
    const t0 = performance.now();
    return renderer.render(batches[k].map((b) => b.scene)).then((images) => {
      renderMs += performance.now() - t0;
      return images;
    });
  };
  // The next batch renders while this one is PNG-encoded and written.
  let next = startRender(0);
  for (let k = 0; k < batches.length; k++) {
    const batch = batches[k];
    const rendered = await next!;
    next = startRender(k + 1);
    next?.catch(() => {});
    const pngs = await Promise.all(rendered.map(encodePng));
    await Promise.all(batch.map((b, i) => writeChecked(`${root}/${b.path}`, pngs[i])));
    for (const b of batch) manifest.files[b.path] = b.key;
    // Saved now and then, always after the files it lists: an interrupted run loses at most a
    // few seconds of rendering, never claims a file it did not finish.
    if (performance.now() - lastSave > MANIFEST_SAVE_MS) {
      await saveManifest();
      lastSave = performance.now();
    }
    progress.advance(batch.length);
  }
  await saveManifest();
  for (const f of plan.dataFiles) await writeChecked(`${root}/${f.path}`, f.bytes);
  progress.done(`(${skipped} up to date${removed ? `, ${removed} stale removed` : ""})`);
  return {
    layout,
    images: plan.images.length,
    written: todo.length,
    skipped,
    removed,
    dataFiles: plan.dataFiles.map((f) => f.path),
    renderSeconds: renderMs / 1000,
    totalSeconds: (performance.now() - start) / 1000,
  };
}
