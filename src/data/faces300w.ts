/**
 * 300 Faces In-the-Wild (docs/downstream.md#datasets, mode `indoor+outdoor`): `<root>/01_Indoor/*.png` and
 * `<root>/02_Outdoor/*.png` with same-name `.pts` landmark files (68 points), split by
 * `<root>/indoor+outdoor_{train,valid,test}.npy`, which are created when missing exactly as the
 * original does (numpy seed 0, legacy shuffle of 0…n−1, 30 % / 30 % / 40 %; same bytes as
 * `np.save`).
 *
 * Each item is the landmark bounding square anchored at its top-left corner (x1 = min x,
 * y1 = min y, side = max(ceil(w), ceil(h))), cropped with PIL's rounded box and zero fill, so
 * `image(i)` yields that crop. Targets are the landmarks shifted by the unrounded (x1, y1) and
 * mapped to the `size`×`size` network input as the original maps them,
 * `((x − (w − m)/2) / m) · size` with w×h the crop PIL actually produced and m = min(w, h), all in
 * float32 like the torch code (bit-identical targets).
 *
 * @module
 */
import { cropBox } from "../image/crop.ts";
import { roundHalfEven } from "../image/image.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { NumpyLegacyRandom } from "../util/mt19937.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { filesContentKey, requireDirectory } from "./files.ts";
import { listedImageDataset } from "./listed_images.ts";
import { npySplitIndices } from "./split_files.ts";
import { comparePythonStrings, globFiles } from "./python_glob.ts";

/** The 300W splits (the original's `valid` is accepted directly). */
export type Faces300WSplit = "train" | "valid" | "test";

/** Options for {@link loadFaces300W}. */
export interface Faces300WOptions {
  /** Side of the network input the targets are mapped to (`--crop-size`, default 224). */
  size?: number;
}

/** Landmarks per face. */
export const FACES300W_POINTS = 68;

const MODE = "indoor+outdoor";
const f32 = Math.fround;

/**
 * The original's split of n images: numpy seed 0, legacy shuffle of 0…n−1, then
 * `[:int(0.3n)]`, `[int(0.3n):int(0.6n)]`, the rest.
 */
export function faces300WSplits(n: number): Record<Faces300WSplit, number[]> {
  const idx = Array.from({ length: n }, (_, i) => i);
  new NumpyLegacyRandom(0).shuffle(idx);
  const s1 = Math.floor(n * 0.3);
  const s2 = Math.floor(n * (0.3 + 0.3));
  return { train: idx.slice(0, s1), valid: idx.slice(s1, s2), test: idx.slice(s2) };
}

/**
 * Landmarks of a `.pts` file as float32 values [x0, y0, x1, y1, …]: the lines between the
 * header (`version`, `n_points`, `{`) and the closing `}`, each "x y".
 */
export function parsePts(text: string, file: string): Float64Array {
  const lines = text.split(/\r\n|\r|\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  if (lines.length < 4 || lines[2].trim() !== "{" || lines[lines.length - 1].trim() !== "}") {
    throw new DataError(
      `${file}: not a .pts landmark file (expected version, n_points, '{', ` +
        `"x y" lines, '}')`,
    );
  }
  const body = lines.slice(3, -1);
  const out = new Float64Array(body.length * 2);
  body.forEach((line, i) => {
    const parts = line.trim().split(/\s+/);
    const x = Number(parts[0]);
    const y = Number(parts[1]);
    if (parts.length !== 2 || !Number.isFinite(x) || !Number.isFinite(y)) {
      throw new DataError(`${file} line ${i + 4}: expected "x y", got '${line}'`);
    }
    out[2 * i] = f32(x);
    out[2 * i + 1] = f32(y);
  });
  return out;
}

/** The face crop for some landmarks: PIL box (x1, y1, x1 + side, y1 + side). */
export interface FaceCrop {
  /** Unrounded left / top of the box (the landmark minimum). */
  x1: number;
  y1: number;
  /** Side of the requested square. */
  side: number;
  /** Size of the crop PIL produces after rounding each box edge (may differ from `side`). */
  width: number;
  height: number;
}

/** The crop the original takes for landmarks `pts` ([x0, y0, …]). */
export function faceCrop(pts: Float64Array): FaceCrop {
  let x1 = Infinity, x2 = -Infinity, y1 = Infinity, y2 = -Infinity;
  for (let i = 0; i < pts.length; i += 2) {
    x1 = Math.min(x1, pts[i]);
    x2 = Math.max(x2, pts[i]);
    y1 = Math.min(y1, pts[i + 1]);
    y2 = Math.max(y2, pts[i + 1]);
  }
  const side = Math.max(Math.ceil(x2 - x1), Math.ceil(y2 - y1));
  return {
    x1,
    y1,
    side,
    width: roundHalfEven(x1 + side) - roundHalfEven(x1),
    height: roundHalfEven(y1 + side) - roundHalfEven(y1),
  };
}

/** The targets for landmarks `pts` and their crop, mapped to a `size`-pixel input (float32). */
export function faceTargets(pts: Float64Array, crop: FaceCrop, size: number): Float64Array {
  const m = Math.min(crop.width, crop.height);
  const ox = f32((crop.width - m) / 2);
  const oy = f32((crop.height - m) / 2);
  const out = new Float64Array(pts.length);
  for (let i = 0; i < pts.length; i += 2) {
    const x = f32(pts[i] - crop.x1);
    const y = f32(pts[i + 1] - crop.y1);
    out[i] = f32(f32(f32(x - ox) / m) * size);
    out[i + 1] = f32(f32(f32(y - oy) / m) * size);
  }
  return out;
}

/**
 * Loads split `train`, `valid` or `test` of `<root>` (= `<data_root>/300W`). Creates the three
 * split files when the requested one is missing (as the original). Images and `.pts` files are
 * paired by sorted position like the original, but a name mismatch is a DataError instead of a
 * silent mispairing; unreadable landmark files and out-of-range split indices are DataErrors too.
 */
export async function loadFaces300W(
  root: string,
  split: Faces300WSplit,
  options: Faces300WOptions = {},
): Promise<SupervisedDataset> {
  const base = root.replace(/\/+$/, "");
  const size = options.size ?? 224;
  if (!["train", "valid", "test"].includes(split)) {
    throw new DataError(`300W split must be train, valid or test, got '${split}'`);
  }
  const layout = `${base}/01_Indoor/*.png and ${base}/02_Outdoor/*.png with same-name .pts files`;
  await requireDirectory(base, layout);
  const images: string[] = [];
  const points: string[] = [];
  for (const sub of ["01_Indoor", "02_Outdoor"]) {
    images.push(...await globFiles(`${base}/${sub}`, ".png", "sorted"));
    points.push(...await globFiles(`${base}/${sub}`, ".pts", "sorted"));
  }
  images.sort(comparePythonStrings);
  points.sort(comparePythonStrings);
  if (images.length === 0) throw new DataError(`${base}: no images found; expected ${layout}`);
  if (images.length !== points.length) {
    throw new DataError(
      `${base}: ${images.length} .png images but ${points.length} .pts files; ` +
        `expected one landmark file per image`,
    );
  }
  for (let i = 0; i < images.length; i++) {
    if (images[i].slice(0, -4) !== points[i].slice(0, -4)) {
      throw new DataError(
        `${base}: image ${images[i]} would be paired with ${points[i]} ` +
          `(sorted position ${i}); every image needs its own .pts file`,
      );
    }
  }
  const splitPath = (s: Faces300WSplit) => `${base}/${MODE}_${s}.npy`;
  const indices = await npySplitIndices(
    { train: splitPath("train"), valid: splitPath("valid"), test: splitPath("test") },
    split,
    () => faces300WSplits(images.length),
    images.length,
    "delete the split files to recreate them",
  );
  const paths: string[] = [];
  const crops: FaceCrop[] = [];
  const targets = new Float64Array(indices.length * FACES300W_POINTS * 2);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    const text = await Deno.readTextFile(points[i]).catch((e) => {
      throw new DataError(`cannot read ${points[i]}: ${(e as Error).message}`);
    });
    const pts = parsePts(text, points[i]);
    if (pts.length !== FACES300W_POINTS * 2) {
      throw new DataError(
        `${points[i]}: ${pts.length / 2} landmarks, expected ${FACES300W_POINTS}`,
      );
    }
    const crop = faceCrop(pts);
    targets.set(faceTargets(pts, crop, size), k * FACES300W_POINTS * 2);
    paths.push(images[i]);
    crops.push(crop);
  }
  const contentKey = await filesContentKey(base, [
    ...paths,
    ...Array.from(indices, (i) => points[i]),
  ]);
  return listedImageDataset(paths, {
    name: `300w-${split}`,
    contentKey: sha256Hex(`300w\n${size}\n${contentKey}`),
    kind: "regression",
    targetDim: FACES300W_POINTS * 2,
    targets,
    adjust: (img, index) => {
      const c = crops[index];
      return cropBox(img, c.x1, c.y1, c.x1 + c.side, c.y1 + c.side);
    },
  });
}
