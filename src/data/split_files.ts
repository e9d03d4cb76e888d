/**
 * Split index files the way the original's 300W and Leeds Sports Pose loaders keep them: `.npy`
 * arrays (int64, byte-identical to `np.save`) written all together when the requested one is
 * missing, then read back and checked against the number of images.
 *
 * @module
 */
import { readNpy, writeNpy } from "../io/npy.ts";
import { DataError } from "../util/errors.ts";
import { pathExists } from "./files.ts";

/**
 * The indices of `split`, read from `files[split]`. When that file is missing, `create()` draws
 * every split and each is written (atomically) to its file first. An index that is not an
 * integer in 0…count−1 is a DataError naming the file, ending with `recreate` (how to start
 * over, e.g. "delete the split files to recreate them").
 */
export async function npySplitIndices<S extends string>(
  files: Record<S, string>,
  split: S,
  create: () => Record<S, readonly number[]>,
  count: number,
  recreate: string,
): Promise<Float64Array> {
  const splitFile = files[split];
  if (!(await pathExists(splitFile))) {
    const splits = create();
    for (const s of Object.keys(files) as S[]) {
      await writeNpy(files[s], splits[s], [splits[s].length], "<i8");
    }
  }
  const indices = (await readNpy(splitFile)).data;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw new DataError(
        `${splitFile}: index ${i} outside 0…${count - 1} (${count} images); ${recreate}`,
      );
    }
  }
  return indices;
}
