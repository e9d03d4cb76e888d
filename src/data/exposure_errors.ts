/**
 * The exposure-correction dataset of Afifi et al. (MIT-Adobe FiveK renderings) for docs/realworld.md#datasets:
 * one expert-retouched ground truth per scene in `GT_IMAGES/<id>-<name>.jpg` and five renderings
 * at relative EVs −1.5, −1, 0, +1, +1.5 in `INPUT_IMAGES/<id>-<name>_<N1.5|N1|0|P1|P1.5>.JPG`.
 *
 * @module
 */
import type { GroupedDataset, ImageGroup } from "./dataset.ts";
import { makeGroupedDataset, requireDatasetDirectory, requireSomeFiles } from "./grouped.ts";
import { baseName, globFiles, type ListingOrder } from "./python_glob.ts";

/** The key and folder name. */
export const EXPOSURE_ERRORS_KEY = "ExposureErrors";

/** Options for {@link loadExposureErrors}. */
export interface ExposureErrorsOptions {
  /**
   * Reproduce the original (docs/quirks.md#q24): both globs stay in OS directory order (unsorted),
   * and an input belongs to a group when the id occurs anywhere in its full path (a substring
   * test, so a data root containing the id would put every input in that group). Default false:
   * both lists sorted, and an input belongs to the group whose id equals its own.
   */
  faithful?: boolean;
}

/** The layout expected under `root` (the `ExposureErrors` folder), for error messages. */
export function exposureErrorsLayout(root: string): string {
  return `${root}/GT_IMAGES/<id>-<name>.jpg and ` +
    `${root}/INPUT_IMAGES/<id>-<name>_<N1.5|N1|0|P1|P1.5>.JPG`;
}

/**
 * The original's scene id: the base name up to the first `-` (`a0001` for
 * `a0001-jmac_DSC1459.jpg`). Without a `-` the original keeps the whole name, extension included;
 * the intended matching then uses the name without its extension.
 */
export function exposureId(path: string, faithful: boolean): string {
  const bn = baseName(path);
  if (faithful || bn.includes("-")) return bn.split("-")[0];
  const dot = bn.lastIndexOf(".");
  return dot > 0 ? bn.slice(0, dot) : bn;
}

/**
 * Loads ExposureErrors from `root` as the original's `ExposureErrors` class does: ground truths
 * are `glob(root/GT_IMAGES/*.jpg)` and inputs `glob(root/INPUT_IMAGES/*.JPG)` (case-sensitive
 * extensions); there is one group per ground truth, in ground-truth order, holding the ground
 * truth followed by its inputs in input-list order (6 images on the real dataset). See
 * {@link ExposureErrorsOptions.faithful} for the ordering and matching rule. A ground truth
 * without inputs gives a group of one image, as in the original (its distance is NaN).
 */
export async function loadExposureErrors(
  root: string,
  options: ExposureErrorsOptions = {},
): Promise<GroupedDataset> {
  const faithful = options.faithful ?? false;
  const layout = exposureErrorsLayout(root);
  const key = EXPOSURE_ERRORS_KEY;
  await requireDatasetDirectory(key, root, layout);
  const gtDir = `${root}/GT_IMAGES`;
  const inputDir = `${root}/INPUT_IMAGES`;
  await requireDatasetDirectory(key, gtDir, layout);
  await requireDatasetDirectory(key, inputDir, layout);
  const order: ListingOrder = faithful ? "os" : "sorted";
  const gts = await globFiles(gtDir, ".jpg", order);
  const inputs = await globFiles(inputDir, ".JPG", order);
  requireSomeFiles(key, gts, gtDir, layout);
  requireSomeFiles(key, inputs, inputDir, layout);

  const inputsById = new Map<string, string[]>();
  if (!faithful) {
    for (const p of inputs) {
      const id = exposureId(p, false);
      const list = inputsById.get(id);
      if (list === undefined) inputsById.set(id, [p]);
      else list.push(p);
    }
  }
  const groups: ImageGroup[] = gts.map((gt) => {
    const id = exposureId(gt, faithful);
    const members = faithful ? inputs.filter((p) => p.includes(id)) : inputsById.get(id) ?? [];
    return { name: id, paths: [gt, ...members] };
  });
  return await makeGroupedDataset(key, root, groups, { faithful });
}
