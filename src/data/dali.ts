/**
 * DaLI (a dataset of scenes under many illuminants) for the real-world illumination invariance of
 * docs/realworld.md#datasets: `DaLI/input/png/<scene>/*.png`, 12 scenes of 32 images each.
 *
 * @module
 */
import type { GroupedDataset, ImageGroup } from "./dataset.ts";
import {
  bucket,
  denseIdCount,
  makeGroupedDataset,
  parseId,
  requireDatasetDirectory,
  requireSomeFiles,
} from "./grouped.ts";
import { globOneLevelDown, parentName } from "./python_glob.ts";

/** The key and folder name. */
export const DALI_KEY = "DaLI";

/** The layout expected under `root` (the `DaLI` folder), for error messages. */
export function daliLayout(root: string): string {
  return `${root}/input/png/<scene>/<image>.png (scene = 1…12)`;
}

/**
 * Loads DaLI from `root` as the original's `DaLI` class does: files are
 * `sorted(glob(root/input/png/<scene>/*.png))` (one folder level, sorted by full path) and group
 * g holds every file whose folder parses as g + 1, in that order. The group count is the largest
 * scene number (12 on the real dataset, which the original hard-codes); scene folders must run
 * 1…N, and a non-integer folder is a DataError naming the file (the Python raises ValueError).
 */
export async function loadDali(root: string): Promise<GroupedDataset> {
  const layout = daliLayout(root);
  await requireDatasetDirectory(DALI_KEY, root, layout);
  const pngDir = `${root}/input/png`;
  await requireDatasetDirectory(DALI_KEY, pngDir, layout);
  const files = await globOneLevelDown(pngDir, ".png", "sorted");
  requireSomeFiles(DALI_KEY, files, pngDir, layout);
  const sceneOf = new Map<string, number>();
  for (const f of files) {
    sceneOf.set(f, parseId(DALI_KEY, parentName(f), f, "scene folder", layout));
  }
  const n = denseIdCount(DALI_KEY, sceneOf.values(), pngDir, "scene folder");
  const members = bucket(files, n, (f) => sceneOf.get(f)! - 1);
  const groups: ImageGroup[] = members.map((paths, g) => ({ name: `${g + 1}`, paths }));
  return await makeGroupedDataset(DALI_KEY, root, groups);
}
