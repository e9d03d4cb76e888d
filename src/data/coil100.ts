/**
 * COIL-100 (Columbia Object Image Library) for the real-world viewpoint invariance of docs/realworld.md#datasets:
 * `<root>/obj<N>__<angle>.png`, 100 objects photographed on a turntable every 5° (72 views).
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
  requireNonEmptyGroups,
  requireSomeFiles,
} from "./grouped.ts";
import { baseName, globFiles } from "./python_glob.ts";

/** The key and folder name. */
export const COIL100_KEY = "COIL100";

/** The layout this loader expects under `root`, for error messages. */
export function coil100Layout(root: string): string {
  return `${root}/obj<N>__<angle>.png (N = 1…100, angle = 0, 5, …, 355)`;
}

/**
 * Loads COIL100 from `root` (the `COIL100` folder itself) as the original's `COIL100` class does:
 * the files are `sorted(glob(root/*.png))`, and group g holds every file whose base name, cut at
 * the first `__` and stripped of its first three characters (`obj`), parses as the integer g + 1,
 * in sorted order (so `obj1__0.png, obj1__10.png, obj1__100.png, obj1__105.png, …`).
 *
 * Differences from the Python, all for malformed trees: the group count is the largest object
 * number found (100 on the real dataset, which the original hard-codes) and every number 1…N must
 * occur; a name that does not parse is a DataError naming the file (the Python raises ValueError).
 */
export async function loadCoil100(root: string): Promise<GroupedDataset> {
  const layout = coil100Layout(root);
  await requireDatasetDirectory(COIL100_KEY, root, layout);
  const files = await globFiles(root, ".png", "sorted");
  requireSomeFiles(COIL100_KEY, files, root, layout);
  const idOf = new Map<string, number>();
  for (const f of files) {
    const bn = baseName(f);
    idOf.set(f, parseId(COIL100_KEY, bn.split("__")[0].slice(3), f, "object number", layout));
  }
  const count = denseIdCount(COIL100_KEY, idOf.values(), root, "object");
  const members = bucket(files, count, (f) => idOf.get(f)! - 1);
  const groups: ImageGroup[] = members.map((paths, g) => ({ name: `obj${g + 1}`, paths }));
  requireNonEmptyGroups(COIL100_KEY, groups, (g) => `${root}/obj${g + 1}__<angle>.png`);
  return await makeGroupedDataset(COIL100_KEY, root, groups);
}
