/**
 * ALOI (Amsterdam Library of Object Images), the three variants of docs/realworld.md#datasets: viewpoint (ALOI-VIEW,
 * 72 turntable angles), illumination (ALOI-ILL, 8 lighting directions × 3 cameras) and temperature
 * (ALOI-COL, 12 illumination colour temperatures). The original archives' folders must be renamed
 * to `viewpoint`, `illumination` and `temperature`.
 *
 * @module
 */
import type { GroupedDataset, ImageGroup } from "./dataset.ts";
import {
  bucket,
  layoutError,
  makeGroupedDataset,
  numberedFolderFiles,
  requireDatasetDirectory,
  requireMode,
  requireNonEmptyGroups,
} from "./grouped.ts";
import { baseName, parsePythonInt } from "./python_glob.ts";

/** Which factor varies within a group. */
export type AloiMode = "viewpoint" | "illumination" | "temperature";

/** The three modes, in the order the original lists them. */
export const ALOI_MODES: readonly AloiMode[] = ["viewpoint", "illumination", "temperature"];

/** Cameras of ALOI-ILL; illumination groups are camera-major. */
const ALOI_CAMERAS = 3;

/** The layout expected under `root` (the `ALOI` folder) for `mode`, for error messages. */
export function aloiLayout(root: string, mode: AloiMode): string {
  switch (mode) {
    case "viewpoint":
      return `${root}/viewpoint/<obj>/<obj>_r<angle>.png (obj = 1…1000, angle = 0, 5, …, 355)`;
    case "illumination":
      return `${root}/illumination/<obj>/<obj>_l<1…8>c<1…3>.png (obj = 1…1000)`;
    case "temperature":
      return `${root}/temperature/<obj>/<obj>_i<110…250>.png (obj = 1…1000)`;
  }
}

/**
 * Loads one ALOI variant from `root` (the `ALOI` folder) as the original's `ALOI` class does.
 * Files are `sorted(glob(root/<mode>/<obj>/*.png))`: one folder level, sorted by full path, so
 * within a group files are in code-point order of their names (`1_r0.png, 1_r10.png, 1_r100.png,
 * …`).
 * - viewpoint, temperature: group g = every file whose folder parses as g + 1 (N groups);
 * - illumination: 3·N groups, camera-major: group g = object g mod N + 1 seen by camera
 *   g div N + 1, i.e. files in that object's folder whose character just before `.png` is the
 *   camera digit (`<obj>_l<light>c<camera>.png`; other camera digits are in no group).
 *
 * N is the largest object folder number (1000 on the real dataset, which the original
 * hard-codes); every number 1…N must have a folder with images, and every group must be
 * non-empty (the Python crashes on an empty group). Non-integer folders or camera characters are
 * a DataError naming the file (the Python raises ValueError).
 */
export async function loadAloi(root: string, mode: AloiMode): Promise<GroupedDataset> {
  requireMode("ALOI", mode, ALOI_MODES);
  const key = `ALOI-${mode}`;
  const layout = aloiLayout(root, mode);
  await requireDatasetDirectory(key, root, layout);
  const modeDir = `${root}/${mode}`;
  const listed = await numberedFolderFiles(key, modeDir, layout, "object folder");
  const { files, idOf: objectOf, count: n } = listed;

  let groups: ImageGroup[];
  if (mode === "illumination") {
    const members = bucket(files, ALOI_CAMERAS * n, (f) => {
      const bn = baseName(f);
      const text = bn.slice(-5, -4);
      const camera = parsePythonInt(text);
      if (camera === undefined) {
        throw layoutError(
          key,
          f,
          `camera character '${text}' before '.png' is not a digit`,
          layout,
        );
      }
      if (camera < 1 || camera > ALOI_CAMERAS) return undefined;
      return (camera - 1) * n + objectOf.get(f)! - 1;
    });
    groups = members.map((paths, g) => ({
      name: `${(g % n) + 1}_c${Math.floor(g / n) + 1}`,
      paths,
    }));
    requireNonEmptyGroups(
      key,
      groups,
      (g) => `${modeDir}/${(g % n) + 1}/${(g % n) + 1}_l<light>c${Math.floor(g / n) + 1}.png`,
    );
  } else {
    const members = bucket(files, n, (f) => objectOf.get(f)! - 1);
    groups = members.map((paths, g) => ({ name: `${g + 1}`, paths }));
  }
  return await makeGroupedDataset(key, root, groups, { mode });
}
