/**
 * Causal3DIdent (docs/causal3dident.md#layout, docs/causal3dident.md#targets): `<data_root>/Causal3DIdent/{trainset,testset}/` read as an
 * ImageFolder over `images_0 … images_6` (the 7 object classes), with the latent matrix
 * `latents_0.npy ‖ … ‖ latents_6.npy` aligned row-by-row with the ImageFolder samples.
 *
 * @module
 */
import { readNpy } from "../io/npy.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { requireDirectory, requireFile } from "./files.ts";
import { imageFolder } from "./image_folder.ts";

/** The object classes in label order (the dataset authors' order, `images_0` … `images_6`). */
export const CAUSAL3DIDENT_CLASSES: readonly string[] = [
  "teapot",
  "hare",
  "dragon",
  "cow",
  "armadillo",
  "horse",
  "head",
];

/** What each latent column is (`--target` t picks column t). */
export const CAUSAL3DIDENT_LATENTS: readonly string[] = [
  "object position x",
  "object position y",
  "object position z",
  "object rotation alpha (about x)",
  "object rotation beta (about y)",
  "object rotation gamma (about z)",
  "spotlight position (angle)",
  "object hue",
  "spotlight hue",
  "background hue",
];

/** A Causal3DIdent split: targets are all latents per row (callers pick column t). */
export interface Causal3DIdentDataset extends SupervisedDataset {
  /** Row-major [length, latentDim] latents (the same array as `targets`). */
  readonly latents: Float64Array;
  /** Latents per image (10 in the release). */
  readonly latentDim: number;
  /** Object class (0…6) of each image. */
  readonly classes: Int32Array;
}

const NUM_CLASSES = 7;

/**
 * Loads `<dataRoot>/Causal3DIdent/<split>set/`. Row r of `latents` belongs to ImageFolder sample
 * r, which holds because the class folders sort in class order and the zero-padded file names
 * sort numerically (docs/quirks.md#q29); the loader checks what it can: the class folders must be
 * exactly `images_0` … `images_6`, and each `latents_c.npy` must be a 2-D array with one row per
 * image of `images_c` and the same column count for all classes (DataError naming both
 * otherwise).
 */
export async function loadCausal3DIdent(
  dataRoot: string,
  split: "train" | "test",
): Promise<Causal3DIdentDataset> {
  if (split !== "train" && split !== "test") {
    throw new DataError(`Causal3DIdent split must be 'train' or 'test', got '${split}'`);
  }
  const root = `${dataRoot.replace(/\/+$/, "")}/Causal3DIdent/${split}set`;
  const layout =
    `${root}/images_0 … images_6/<NNNNN>.png and ${root}/latents_0.npy … latents_6.npy`;
  await requireDirectory(root, layout);
  const folder = await imageFolder(root, { name: `causal3dident-${split}` });
  const expectedClasses = Array.from({ length: NUM_CLASSES }, (_, c) => `images_${c}`);
  if (folder.classes.join("/") !== expectedClasses.join("/")) {
    throw new DataError(
      `${root}: class folders are ${folder.classes.join(", ")}; expected exactly ` +
        `${expectedClasses.join(", ")} (other folders would shift the ImageFolder labels)`,
    );
  }
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (const t of folder.targets) counts[t]++;
  const parts: Float64Array[] = [];
  let latentDim = -1;
  const hashes: string[] = [];
  for (let c = 0; c < NUM_CLASSES; c++) {
    const file = `${root}/latents_${c}.npy`;
    await requireFile(file, layout);
    const arr = await readNpy(file);
    if (arr.shape.length !== 2) {
      throw new DataError(
        `${file}: expected a 2-D [images, latents] array, got shape ` +
          `(${arr.shape.join(", ")})`,
      );
    }
    if (latentDim >= 0 && arr.shape[1] !== latentDim) {
      throw new DataError(
        `${file} has ${arr.shape[1]} latents per row, latents_0.npy has ${latentDim}`,
      );
    }
    latentDim = arr.shape[1];
    if (arr.shape[0] !== counts[c]) {
      throw new DataError(
        `${file} has ${arr.shape[0]} rows but ${root}/images_${c} holds ${counts[c]} images; ` +
          `each latents row must belong to one image`,
      );
    }
    parts.push(arr.data);
    hashes.push(sha256Hex(new Uint8Array(arr.data.buffer)));
  }
  const latents = new Float64Array(folder.length * latentDim);
  let at = 0;
  for (const p of parts) {
    latents.set(p, at);
    at += p.length;
  }
  const classes = Int32Array.from(folder.targets);
  return {
    name: folder.name,
    length: folder.length,
    contentKey: sha256Hex(`causal3dident\n${folder.contentKey}\n${hashes.join("\n")}`),
    kind: "regression",
    targetDim: latentDim,
    targets: latents,
    latents,
    latentDim,
    classes,
    image: (i) => folder.image(i),
    describe: (i) => folder.describe(i),
  };
}
