/**
 * torchvision's `ImageFolder` (0.10) without transforms: the folder-per-class layout every
 * ImageNet-style set uses (docs/common.md#imagefolder-ordering).
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import type { SupervisedDataset } from "./dataset.ts";
import { filesContentKey, hasExtension, IMAGE_EXTENSIONS } from "./files.ts";
import { listedImageDataset } from "./listed_images.ts";
import { comparePythonStrings } from "./python_glob.ts";

/** A class-per-folder image dataset. */
export interface ImageFolderDataset extends SupervisedDataset {
  /** Class names (the sub-folder names) in label order. */
  readonly classes: readonly string[];
  /** Image paths in dataset order (`<root>/<class>/…`). */
  readonly paths: readonly string[];
}

/** Options for {@link imageFolder}. */
export interface ImageFolderOptions {
  /** Dataset name for messages and results; default the root folder's base name. */
  name?: string;
}

interface Listing {
  dirs: string[];
  files: string[];
}

/**
 * One directory's entries as `os.scandir` + `is_dir()` sees them: links are followed, so a link
 * to a folder is a folder and a broken link is a file (os.walk lists non-directories as files).
 */
async function scan(dir: string): Promise<Listing> {
  const dirs: string[] = [];
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      let isDir = e.isDirectory;
      if (e.isSymlink) {
        try {
          isDir = (await Deno.stat(`${dir}/${e.name}`)).isDirectory;
        } catch {
          isDir = false;
        }
      }
      (isDir ? dirs : files).push(e.name);
    }
  } catch (e) {
    throw new DataError(`cannot list ${dir}: ${(e as Error).message}`);
  }
  return { dirs, files };
}

/**
 * Files of `classDir` in the order of `sorted(os.walk(classDir, followlinks=True))` with each
 * folder's file names sorted: folders are ordered by their full path string, so `a/b` comes
 * after `a-x` ('/' > '-') although a depth-first walk would visit it first. A linked folder
 * that leads back to one of its own ancestors is not entered again (os.walk would loop forever);
 * the same folder reached through two different links is listed twice, as os.walk does.
 */
async function walkSorted(classDir: string): Promise<string[]> {
  const folders: { path: string; files: string[] }[] = [];
  const visit = async (dir: string, ancestors: ReadonlySet<string>): Promise<void> => {
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch {
      real = dir;
    }
    if (ancestors.has(real)) return;
    const { dirs, files } = await scan(dir);
    folders.push({ path: dir, files });
    const inner = new Set(ancestors).add(real);
    for (const d of dirs) await visit(`${dir}/${d}`, inner);
  };
  await visit(classDir, new Set());
  folders.sort((a, b) => comparePythonStrings(a.path, b.path));
  const out: string[] = [];
  for (const f of folders) {
    for (const name of f.files.sort(comparePythonStrings)) out.push(`${f.path}/${name}`);
  }
  return out;
}

/**
 * Reads a class-per-folder tree with torchvision's `ImageFolder` semantics:
 * - classes are the immediate sub-folders of `root` (links to folders count, hidden ones too),
 *   sorted by code point (so `B` < `a`), labelled 0…C−1 in that order;
 * - each class folder is walked recursively in `sorted(os.walk(...))` order (folders by full
 *   path, then file names sorted), keeping files whose extension, case-insensitively, is one of
 *   `IMAGE_EXTENSIONS`; files directly in `root` are ignored;
 * - the dataset index runs class by class.
 *
 * A missing root, a root without class folders, or a class without images (torchvision:
 * "Found no valid file for the classes …") is a DataError naming the folder.
 *
 * @example
 * ```ts
 * const val = await imageFolder("../data/imagenet/val");
 * const img = await val.image(0); // first image of class 0
 * ```
 */
export async function imageFolder(
  root: string,
  options: ImageFolderOptions = {},
): Promise<ImageFolderDataset> {
  const base = root.length > 1 ? root.replace(/\/+$/, "") : root;
  const layout = `${base}/<class>/…/<image>.<${IMAGE_EXTENSIONS.map((e) => e.slice(1)).join("|")}>`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(base);
  } catch {
    throw new DataError(`${base} does not exist; expected an image folder ${layout}`);
  }
  if (!info.isDirectory) {
    throw new DataError(`${base} is not a directory; expected an image folder ${layout}`);
  }
  const classes = (await scan(base)).dirs.sort(comparePythonStrings);
  if (classes.length === 0) {
    throw new DataError(`${base}: no class folders found; expected ${layout}`);
  }
  const paths: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  for (let c = 0; c < classes.length; c++) {
    const files = (await walkSorted(`${base}/${classes[c]}`))
      .filter((p) => hasExtension(p, IMAGE_EXTENSIONS));
    if (files.length === 0) empty.push(classes[c]);
    for (const p of files) {
      paths.push(p);
      labels.push(c);
    }
  }
  if (empty.length > 0) {
    const shown = empty.slice(0, 10).join(", ") + (empty.length > 10 ? ", …" : "");
    throw new DataError(
      `${base}: no images in class folder(s) ${shown}; supported extensions are ` +
        IMAGE_EXTENSIONS.join(", "),
    );
  }
  const contentKey = await filesContentKey(base, paths);
  const dataset = listedImageDataset(paths, {
    name: options.name ?? (base.slice(base.lastIndexOf("/") + 1) || base),
    contentKey,
    kind: "classification",
    targetDim: 1,
    numClasses: classes.length,
    targets: Float64Array.from(labels),
  });
  return { ...dataset, classes, paths };
}
