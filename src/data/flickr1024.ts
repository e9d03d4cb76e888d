/**
 * Flickr1024 stereo pairs for the real-world viewpoint invariance of docs/realworld.md#datasets:
 * `Flickr1024/<split>/<nnnn>_L.png` with its right view `<nnnn>_R.png` beside it (splits such as
 * `Train`, `Validation`, `Test`).
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import type { GroupedDataset, ImageGroup } from "./dataset.ts";
import { makeGroupedDataset, requireDatasetDirectory, requireSomeFiles } from "./grouped.ts";
import { baseName, globOneLevelDown, isFile, parentName } from "./python_glob.ts";

/** The key and folder name. */
export const FLICKR1024_KEY = "Flickr1024";

/** Options for {@link loadFlickr1024}. */
export interface Flickr1024Options {
  /**
   * Keep the original's unsorted glob order (OS directory order, docs/quirks.md#q24), which decides
   * the group order and so the saved per-group arrays. Default false: sorted by full path.
   */
  faithful?: boolean;
}

/** The layout expected under `root` (the `Flickr1024` folder), for error messages. */
export function flickr1024Layout(root: string): string {
  return `${root}/<split>/<name>_L.png with ${root}/<split>/<name>_R.png beside each`;
}

/**
 * Loads Flickr1024 from `root` as the original's `Flickr1024` class does: one group per left
 * image `glob(root/<split>/*_L.png)` (exactly one folder level, case-sensitive), holding
 * `[left, right]` where the right path is the left one with its final `L.png` replaced by
 * `R.png`. A missing right image is a DataError naming both files (the Python fails when it
 * loads the pair).
 */
export async function loadFlickr1024(
  root: string,
  options: Flickr1024Options = {},
): Promise<GroupedDataset> {
  const faithful = options.faithful ?? false;
  const key = FLICKR1024_KEY;
  const layout = flickr1024Layout(root);
  await requireDatasetDirectory(key, root, layout);
  const lefts = await globOneLevelDown(root, "_L.png", faithful ? "os" : "sorted");
  requireSomeFiles(key, lefts, root, layout);
  const groups: ImageGroup[] = [];
  for (const left of lefts) {
    const right = left.slice(0, -5) + "R.png";
    if (!(await isFile(right))) {
      throw new DataError(`${key}: ${left} has no right image ${right}; expected ${layout}`);
    }
    groups.push({
      name: `${parentName(left)}/${baseName(left).slice(0, -6)}`,
      paths: [left, right],
    });
  }
  return await makeGroupedDataset(key, root, groups, { faithful });
}
