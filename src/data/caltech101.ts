/**
 * Caltech-101 with the original's split files (docs/downstream.md#datasets): `<root>/{train,test}.txt` list
 * `<class_dir>/<file> <label>` lines, images live under `<root>/caltech101/101_ObjectCategories/`,
 * and labels are ImageFolder indices over that folder (102 classes including
 * `BACKGROUND_Google`, code-point order).
 *
 * The original never creates the split files itself; its helper `create_caltech101_splits`
 * (seed 0, 30 draws per class **with replacement**, each class's draws sorted; test = every other
 * image) writes them to the hard-coded `../../data/Caltech101/`. {@link createCaltech101Splits}
 * reproduces that selection bit-exactly (numpy-legacy `choice`) but writes the files atomically
 * into `<root>/` — where {@link loadCaltech101} reads them — and the loader calls it when both
 * files are missing.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { DataError } from "../util/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { NumpyLegacyRandom } from "../util/mt19937.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { filesContentKey, pathExists, requireDirectory } from "./files.ts";
import { imageFolder } from "./image_folder.ts";
import { listedImageDataset } from "./listed_images.ts";
import { parsePythonInt } from "./python_glob.ts";

/** Training images drawn per class by the original split helper. */
export const CALTECH101_TRAIN_PER_CLASS = 30;

/** Options for {@link loadCaltech101}. */
export interface Caltech101Options {
  /** Create `train.txt` / `test.txt` when both are missing (default true). */
  createSplits?: boolean;
  /** Called with a one-line note when split files are created (default: stderr). */
  log?: (line: string) => void;
}

/**
 * The original's split selection on ImageFolder labels: numpy seeded with 0, then for each class
 * in label order `sort(choice(indices_of_class, perClass))` — with replacement, so duplicates
 * stay — concatenated; `test` is every index not drawn, ascending (the order Python's set
 * iteration gives for the real dataset, whose set table is larger than its largest index).
 */
export function selectCaltech101Split(
  labels: ArrayLike<number>,
  numClasses: number,
  perClass: number = CALTECH101_TRAIN_PER_CLASS,
): { train: number[]; test: number[] } {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const rng = new NumpyLegacyRandom(0);
  const train: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const members = byClass[c];
    if (members.length === 0) throw new RangeError(`class ${c} has no images to draw from`);
    const drawn = rng.choice(members.length, perClass).map((k) => members[k]);
    train.push(...drawn.sort((a, b) => a - b));
  }
  const inTrain = new Set(train);
  const test: number[] = [];
  for (let i = 0; i < labels.length; i++) if (!inTrain.has(i)) test.push(i);
  return { train, test };
}

/**
 * Writes `<root>/train.txt` and `<root>/test.txt` from the ImageFolder over
 * `<root>/caltech101/101_ObjectCategories` with the original's selection (see
 * {@link selectCaltech101Split}); each line is `<class_dir>/<file> <label>`. Returns the paths.
 */
export async function createCaltech101Splits(
  root: string,
  perClass: number = CALTECH101_TRAIN_PER_CLASS,
): Promise<{ train: string; test: string }> {
  const base = root.replace(/\/+$/, "");
  const folder = await imageFolder(`${base}/caltech101/101_ObjectCategories`, {
    name: "caltech101",
  });
  const ids = folder.paths.map((p) => p.split("/").slice(-2).join("/"));
  const { train, test } = selectCaltech101Split(folder.targets, folder.classes.length, perClass);
  const lines = (idx: number[]) => idx.map((i) => `${ids[i]} ${folder.targets[i]}\n`).join("");
  const out = { train: `${base}/train.txt`, test: `${base}/test.txt` };
  await writeFileAtomic(out.train, lines(train));
  await writeFileAtomic(out.test, lines(test));
  return out;
}

/**
 * Loads the `train` or `test` split of `<root>` (= `<data_root>/Caltech101`). When neither split
 * file exists they are created first (see {@link createCaltech101Splits}); one without the other
 * is a DataError. Malformed lines and listed images that do not exist are DataErrors naming the
 * split file and line.
 */
export async function loadCaltech101(
  root: string,
  split: "train" | "test",
  options: Caltech101Options = {},
): Promise<SupervisedDataset> {
  const base = root.replace(/\/+$/, "");
  const images = `${base}/caltech101/101_ObjectCategories`;
  await requireDirectory(images, `${images}/<class>/<image>.jpg (the Caltech-101 archive)`);
  const listFile = `${base}/${split}.txt`;
  const trainFile = `${base}/train.txt`;
  const testFile = `${base}/test.txt`;
  const haveTrain = await pathExists(trainFile);
  const haveTest = await pathExists(testFile);
  if (!haveTrain && !haveTest && (options.createSplits ?? true)) {
    await createCaltech101Splits(base);
    (options.log ?? ((l: string) => console.error(l)))(
      `created ${trainFile} and ${testFile} (seed 0, ${CALTECH101_TRAIN_PER_CLASS} draws per ` +
        `class with replacement, as the original's create_caltech101_splits)`,
    );
  } else if (!(await pathExists(listFile))) {
    throw new DataError(
      `${listFile} does not exist (but ${haveTrain ? trainFile : testFile} does); expected both ` +
        `split files, with lines '<class_dir>/<file> <label>' — delete the other one to have ` +
        `both recreated`,
    );
  }
  const text = await Deno.readTextFile(listFile).catch((e) => {
    throw new DataError(`cannot read ${listFile}: ${(e as Error).message}`);
  });
  const paths: string[] = [];
  const labels: number[] = [];
  // Python's str.splitlines, then line.split(' ')[0] / int(line.split(' ')[1]).
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((line, n) => {
    const fields = line.split(" ");
    const label = fields.length >= 2 ? parsePythonInt(fields[1]) : undefined;
    if (fields[0] === "" || label === undefined || label < 0) {
      throw new DataError(
        `${listFile} line ${n + 1}: expected '<class_dir>/<file> <label>', got '${line}'`,
      );
    }
    paths.push(`${images}/${fields[0]}`);
    labels.push(label);
  });
  if (paths.length === 0) throw new DataError(`${listFile} lists no images`);
  let classFolders = 0;
  for await (const e of Deno.readDir(images)) if (e.isDirectory || e.isSymlink) classFolders++;
  let contentKey: string;
  try {
    contentKey = await filesContentKey(images, paths);
  } catch (e) {
    throw new DataError(`${listFile}: a listed image is missing: ${(e as Error).message}`);
  }
  return listedImageDataset(paths, {
    name: `caltech101-${split}`,
    contentKey: sha256Hex(`caltech101\n${contentKey}\n${labels.join(",")}`),
    kind: "classification",
    targetDim: 1,
    numClasses: labels.reduce((m, l) => Math.max(m, l + 1), classFolders),
    targets: Float64Array.from(labels),
  });
}
