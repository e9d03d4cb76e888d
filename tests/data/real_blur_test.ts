import { loadRealBlur } from "../../src/data/real_blur.ts";
import { assertRejects } from "../util/assert.ts";
import {
  assertSame,
  REAL_BLUR_REF,
  realBlurFiles,
  relativeGroups,
  withTempDir,
  writeImages,
} from "./make_trees.ts";

Deno.test("loadRealBlur() pairs sorted gt and blur images by position", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, realBlurFiles(["scene230", "scene002"], [1, 2, 10]));
    const ds = await loadRealBlur(`${dir}/RealBlur`);
    const rel = relativeGroups(ds.groups, `${dir}/${REAL_BLUR_REF}`);
    // Sorted by full path: scene002 before scene230, gt_1 < gt_10 < gt_2.
    const pair = (s: string, n: number) => [`${s}/gt/gt_${n}.png`, `${s}/blur/blur_${n}.png`];
    assertSame(rel, [
      pair("scene002", 1),
      pair("scene002", 10),
      pair("scene002", 2),
      pair("scene230", 1),
      pair("scene230", 10),
      pair("scene230", 2),
    ], "groups");
    assertSame(ds.groups[0].name, "scene002/gt_1", "name");
  });
});

Deno.test("loadRealBlur() rejects mismatched gt/blur counts and shifted pairs", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, realBlurFiles(["scene001", "scene002"], [1, 2]));
    await Deno.remove(`${dir}/${REAL_BLUR_REF}/scene001/blur/blur_2.png`);
    await assertRejects(
      () => loadRealBlur(`${dir}/RealBlur`),
      /^RealBlur: .* has 4 sharp \(gt\) but 3 blurred images; expected .*<scene>\/gt\/gt_<n>\.png/,
    );
    // Same counts, but a file missing in one scene and an extra one in the other.
    await writeImages(dir, [`${REAL_BLUR_REF}/scene002/blur/blur_3.png`]);
    await assertRejects(
      () => loadRealBlur(`${dir}/RealBlur`),
      /pair 1 does not match: .*scene001\/gt\/gt_2\.png vs .*scene002\/blur\/blur_1\.png/,
    );
    const faithful = await loadRealBlur(`${dir}/RealBlur`, { faithful: true });
    assertSame(faithful.groups.length, 4, "faithful pairs by position regardless");
    await assertRejects(
      () => loadRealBlur(`${dir}/nope`),
      /^RealBlur: .*nope does not exist; expected .*RealBlur-J_ECC_IMCORR_centroid_itensity_ref/,
    );
  });
});
