/**
 * RealBlur-J (real camera-shake blur with aligned sharp references) for docs/realworld.md#datasets:
 * `RealBlur/RealBlur-J_ECC_IMCORR_centroid_itensity_ref/<scene>/{gt,blur}/{gt,blur}_<n>.png`
 * (the `itensity` typo is the dataset's own).
 *
 * @module
 */
import { DataError } from "../util/errors.ts";
import type { GroupedDataset, ImageGroup } from "./dataset.ts";
import { makeGroupedDataset, requireDatasetDirectory, requireSomeFiles } from "./grouped.ts";
import {
  baseName,
  comparePythonStrings,
  globDirectories,
  globFiles,
  parentName,
} from "./python_glob.ts";

/** The key and folder name. */
export const REAL_BLUR_KEY = "RealBlur";

/** The sub-folder the original reads (the J variant, ECC-aligned, intensity-corrected). */
export const REAL_BLUR_SUBDIR = "RealBlur-J_ECC_IMCORR_centroid_itensity_ref";

/** Options for {@link loadRealBlur}. */
export interface RealBlurOptions {
  /**
   * Pair purely by position, as the original does. Default false: also check that each pair
   * comes from the same scene and has the same name once its `gt`/`blur` prefix is removed, so a
   * missing file cannot silently shift every later pair.
   */
  faithful?: boolean;
}

/** The layout expected under `root` (the `RealBlur` folder), for error messages. */
export function realBlurLayout(root: string): string {
  const ref = `${root}/${REAL_BLUR_SUBDIR}`;
  return `${ref}/<scene>/gt/gt_<n>.png with ${ref}/<scene>/blur/blur_<n>.png for each`;
}

/** `sorted(glob(ref/<star>/<kind>/*.png))`. */
async function listKind(ref: string, kind: string): Promise<string[]> {
  const out: string[] = [];
  for (const scene of await globDirectories(ref, "os")) {
    out.push(...await globFiles(`${scene}/${kind}`, ".png", "os"));
  }
  return out.sort(comparePythonStrings);
}

/** The scene folder of `<ref>/<scene>/<kind>/<file>`. */
function sceneOf(path: string): string {
  return parentName(path.slice(0, path.lastIndexOf("/")));
}

/**
 * Loads RealBlur from `root` as the original's `RealBlur` class does: sharp images are
 * `sorted(glob(ref/<scene>/gt/*.png))`, blurred ones the same with `blur`, and group g is
 * `[sharp_g, blur_g]` (paired by position). Different counts are a DataError (the Python indexes
 * past the end or pairs the wrong files); see {@link RealBlurOptions.faithful} for the name check.
 */
export async function loadRealBlur(
  root: string,
  options: RealBlurOptions = {},
): Promise<GroupedDataset> {
  const faithful = options.faithful ?? false;
  const key = REAL_BLUR_KEY;
  const layout = realBlurLayout(root);
  await requireDatasetDirectory(key, root, layout);
  const ref = `${root}/${REAL_BLUR_SUBDIR}`;
  await requireDatasetDirectory(key, ref, layout);
  const sharp = await listKind(ref, "gt");
  const blur = await listKind(ref, "blur");
  requireSomeFiles(key, sharp, ref, layout);
  if (sharp.length !== blur.length) {
    throw new DataError(
      `${key}: ${ref} has ${sharp.length} sharp (gt) but ${blur.length} blurred images; ` +
        `expected ${layout}`,
    );
  }
  const groups: ImageGroup[] = sharp.map((s, g) => {
    const b = blur[g];
    const name = `${sceneOf(s)}/${baseName(s).replace(/\.png$/, "")}`;
    if (!faithful) {
      const sameScene = sceneOf(s) === sceneOf(b);
      const sameName = baseName(s).replace(/^gt/, "") === baseName(b).replace(/^blur/, "");
      if (!sameScene || !sameName) {
        throw new DataError(
          `${key}: pair ${g} does not match: ${s} vs ${b} (a missing or extra file shifts the ` +
            `position pairing); expected ${layout}`,
        );
      }
    }
    return { name, paths: [s, b] };
  });
  return await makeGroupedDataset(key, root, groups, { faithful });
}
