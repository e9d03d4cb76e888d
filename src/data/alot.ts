/**
 * ALOT (Amsterdam Library of Textures), the three variants of docs/realworld.md#datasets. Each texture folder holds
 * `<t>_c<camera>l<light>.png` (4 cameras × lights 1–5 and 8), the same rotated by 60°, 120° and
 * 180° (`<t>_c<camera>l<light>r<angle>.png`), and one reddish-illumination image per camera
 * (`<t>_c<camera>i.png`): 100 images per texture.
 *
 * @module
 */
import type { GroupedDataset, ImageGroup } from "./dataset.ts";
import {
  bucket,
  layoutError,
  makeGroupedDataset,
  numberedFolderFiles,
  requireMode,
  requireNonEmptyGroups,
} from "./grouped.ts";
import { baseName, parsePythonInt } from "./python_glob.ts";

/** Which factor varies within a group. */
export type AlotMode = "viewpoint" | "illumination" | "temperature";

/** The three modes, in the order the original lists them. */
export const ALOT_MODES: readonly AlotMode[] = ["viewpoint", "illumination", "temperature"];

/** Light numbers used in viewpoint groups, indexed by the light index. */
export const ALOT_LIGHTS: readonly number[] = [1, 2, 3, 4, 5, 8];

const CAMERAS = 4;
const ROTATIONS: readonly number[] = [0, 60, 120, 180];

/** Options for {@link loadAlot}. */
export interface AlotOptions {
  /**
   * Reproduce the original's ALOT-viewpoint bug (docs/quirks.md#q22): the light index is taken
   * from the texture number instead of the group's block, so each texture's group repeats six
   * times with the single light `ALOT_LIGHTS[(t − 1) mod 6]`. Default false: group g has light
   * `ALOT_LIGHTS[g div N]`. Other modes are unaffected.
   */
  faithful?: boolean;
}

/** The layout expected under `root` (the `ALOT` folder), for error messages. */
export function alotLayout(root: string): string {
  return `${root}/<t>/<t>_c<camera>l<light>[r<angle>].png and ${root}/<t>/<t>_c<camera>i.png ` +
    `(t = 1…250, camera = 1…4, light = 1…5 or 8, angle = 60, 120, 180)`;
}

/**
 * Loads one ALOT variant from `root` (the `ALOT` folder) as the original's `ALOT` class does. The
 * file list is `sorted(glob(root/<t>/*.png))` for every mode; membership (t = texture folder
 * number, N = number of textures, 250 on the real dataset):
 * - viewpoint, 6·N groups: group g holds texture g mod N + 1, every file without an `i` in its
 *   name whose first character after the first `l` is the group's light (4 cameras × 4 rotations
 *   = 16 images). Light = `ALOT_LIGHTS[g div N]`; with `faithful`, `ALOT_LIGHTS[(g mod N) mod 6]`.
 * - illumination, 16·N groups: t = g mod N + 1, camera = (g mod 4N) div N + 1, rotation =
 *   (g div 4N)·60; files of texture t whose part after the first `_` has the camera digit as its
 *   second character, whose rotation (integer after the first `r` up to `.`, 0 without `r`)
 *   matches, and without `i` in the name: lights 1–5 and 8, 6 images.
 * - temperature, 4·N groups: t = g mod N + 1, camera = g div N + 1; files of texture t with that
 *   camera whose part after `_` contains `i.` or `l8.`: the reddish and the white light-8 image.
 *
 * N replaces the original's hard-coded 250 (equal on the real dataset); texture folders must run
 * 1…N and every group must be non-empty (the Python crashes on an empty group). A name the rules
 * cannot parse is a DataError naming the file (the Python raises ValueError or IndexError).
 */
export async function loadAlot(
  root: string,
  mode: AlotMode,
  options: AlotOptions = {},
): Promise<GroupedDataset> {
  requireMode("ALOT", mode, ALOT_MODES);
  const faithful = options.faithful ?? false;
  const key = `ALOT-${mode}`;
  const layout = alotLayout(root);
  const listed = await numberedFolderFiles(key, root, layout, "texture folder");
  const { files, idOf: textureOf, count: n } = listed;

  /** The camera digit: second character of the part after the first `_`. */
  const cameraOf = (f: string): number => {
    const parts = baseName(f).split("_");
    if (parts.length < 2) throw layoutError(key, f, "no '_' before the camera part", layout);
    const text = parts[1].slice(1, 2);
    const camera = parsePythonInt(text);
    if (camera === undefined) {
      throw layoutError(key, f, `camera character '${text}' is not a digit`, layout);
    }
    return camera;
  };

  let groups: ImageGroup[];
  const dir = (t: number) => `${root}/${t}/${t}`;
  if (mode === "viewpoint") {
    const lightOfGroup = (g: number) =>
      ALOT_LIGHTS[faithful ? (g % n) % ALOT_LIGHTS.length : Math.floor(g / n)];
    const members = bucket(files, ALOT_LIGHTS.length * n, (f) => {
      const bn = baseName(f);
      if (bn.includes("i")) return undefined;
      const afterL = bn.split("l")[1];
      if (afterL === undefined || afterL.length === 0) {
        throw layoutError(key, f, "no light number after 'l'", layout);
      }
      const light = parsePythonInt(afterL[0]);
      if (light === undefined) {
        throw layoutError(key, f, `light character '${afterL[0]}' is not a digit`, layout);
      }
      const t0 = textureOf.get(f)! - 1;
      if (faithful) {
        if (ALOT_LIGHTS[t0 % ALOT_LIGHTS.length] !== light) return undefined;
        return ALOT_LIGHTS.map((_, k) => k * n + t0);
      }
      const index = ALOT_LIGHTS.indexOf(light);
      return index < 0 ? undefined : index * n + t0;
    });
    groups = members.map((paths, g) => ({ name: `${(g % n) + 1}_l${lightOfGroup(g)}`, paths }));
    requireNonEmptyGroups(
      key,
      groups,
      (g) => `${dir((g % n) + 1)}_c<camera>l${lightOfGroup(g)}[r<angle>].png`,
    );
  } else if (mode === "illumination") {
    const members = bucket(files, ROTATIONS.length * CAMERAS * n, (f) => {
      const camera = cameraOf(f);
      if (camera < 1 || camera > CAMERAS) return undefined;
      const bn = baseName(f);
      let rotation = 0;
      if (bn.includes("r")) {
        const text = bn.split("r")[1].split(".")[0];
        const parsed = parsePythonInt(text);
        if (parsed === undefined) {
          throw layoutError(key, f, `rotation '${text}' after 'r' is not an integer`, layout);
        }
        rotation = parsed;
      }
      const r = ROTATIONS.indexOf(rotation);
      if (r < 0 || bn.includes("i")) return undefined;
      return r * CAMERAS * n + (camera - 1) * n + textureOf.get(f)! - 1;
    });
    const describe = (g: number) => {
      const t = (g % n) + 1;
      const camera = Math.floor((g % (CAMERAS * n)) / n) + 1;
      const rotation = ROTATIONS[Math.floor(g / (CAMERAS * n))];
      return { t, camera, rotation };
    };
    groups = members.map((paths, g) => {
      const { t, camera, rotation } = describe(g);
      return { name: `${t}_c${camera}_r${rotation}`, paths };
    });
    requireNonEmptyGroups(key, groups, (g) => {
      const { t, camera, rotation } = describe(g);
      return `${dir(t)}_c${camera}l<light>${rotation === 0 ? "" : `r${rotation}`}.png`;
    });
  } else {
    const members = bucket(files, CAMERAS * n, (f) => {
      const camera = cameraOf(f);
      if (camera < 1 || camera > CAMERAS) return undefined;
      const part = baseName(f).split("_")[1];
      if (!part.includes("i.") && !part.includes("l8.")) return undefined;
      return (camera - 1) * n + textureOf.get(f)! - 1;
    });
    groups = members.map((paths, g) => ({
      name: `${(g % n) + 1}_c${Math.floor(g / n) + 1}`,
      paths,
    }));
    requireNonEmptyGroups(key, groups, (g) => {
      const stem = `${dir((g % n) + 1)}_c${Math.floor(g / n) + 1}`;
      return `${stem}i.png and ${stem}l8.png`;
    });
  }
  return await makeGroupedDataset(key, root, groups, { mode, faithful });
}
