import { ALOT_LIGHTS, loadAlot } from "../../src/data/alot.ts";
import { assert, assertRejects } from "../util/assert.ts";
import {
  alotTextureFiles,
  assertSame,
  range,
  relativeGroups,
  withTempDir,
  writeImages,
} from "./make_trees.ts";

/** The 16 viewpoint images of texture t under light l, in Python's sorted order (hand-listed). */
function viewpointGroup(t: number, l: number): string[] {
  return [1, 2, 3, 4].flatMap((c) => [
    `${t}/${t}_c${c}l${l}.png`,
    `${t}/${t}_c${c}l${l}r120.png`,
    `${t}/${t}_c${c}l${l}r180.png`,
    `${t}/${t}_c${c}l${l}r60.png`,
  ]);
}

async function withAlot(textures: number, fn: (dir: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    await writeImages(dir, range(1, textures).flatMap(alotTextureFiles));
    await fn(dir);
  });
}

Deno.test("loadAlot(viewpoint) gives light-major groups of 4 cameras × 4 rotations", async () => {
  await withAlot(3, async (dir) => {
    const ds = await loadAlot(`${dir}/ALOT`, "viewpoint");
    assert(ds.groups.length === 18, `6 lights × 3 textures = 18 groups, got ${ds.groups.length}`);
    const rel = relativeGroups(ds.groups, `${dir}/ALOT`);
    for (let g = 0; g < 18; g++) {
      const t = (g % 3) + 1;
      const light = [1, 2, 3, 4, 5, 8][Math.floor(g / 3)];
      assertSame(rel[g], viewpointGroup(t, light), `group ${g} = texture ${t}, light ${light}`);
    }
    assertSame(ds.groups[17].name, "3_l8", "last group name");
  });
});

Deno.test("loadAlot(viewpoint, faithful) repeats each texture six times with light (t-1) mod 6", async () => {
  await withAlot(3, async (dir) => {
    const ds = await loadAlot(`${dir}/ALOT`, "viewpoint", { faithful: true });
    assert(ds.groups.length === 18, "same group count as the intended grouping");
    const rel = relativeGroups(ds.groups, `${dir}/ALOT`);
    // docs/quirks.md#q22: texture 1 → light 1, texture 2 → light 2, texture 3 → light 3, always.
    for (let g = 0; g < 18; g++) {
      const t = (g % 3) + 1;
      assertSame(rel[g], viewpointGroup(t, t), `faithful group ${g}`);
    }
    const intended = await loadAlot(`${dir}/ALOT`, "viewpoint");
    assert(intended.contentKey !== ds.contentKey, "the faithful switch changes the content key");
    assertSame(ALOT_LIGHTS, [1, 2, 3, 4, 5, 8], "light table");
  });
});

Deno.test("loadAlot(illumination) groups the six lights per texture, camera and rotation", async () => {
  await withAlot(3, async (dir) => {
    const ds = await loadAlot(`${dir}/ALOT`, "illumination");
    assert(
      ds.groups.length === 48,
      `4 rotations × 4 cameras × 3 textures, got ${ds.groups.length}`,
    );
    assert(ds.groups.every((g) => g.paths.length === 6), "6 images per group");
    const rel = relativeGroups(ds.groups, `${dir}/ALOT`);
    const lights = [1, 2, 3, 4, 5, 8];
    assertSame(rel[0], lights.map((l) => `1/1_c1l${l}.png`), "texture 1, camera 1, no rotation");
    // g = rotation·12 + (camera − 1)·3 + (t − 1): g = 19 → rotation 60, camera 3, texture 2.
    assertSame(rel[19], lights.map((l) => `2/2_c3l${l}r60.png`), "group 19");
    assertSame(ds.groups[47].name, "3_c4_r180", "last group");
    assert(!rel.flat().some((p) => p.includes("i.png")), "reddish images excluded");
  });
});

Deno.test("loadAlot(temperature) pairs the reddish image with light 8 per camera", async () => {
  await withAlot(3, async (dir) => {
    const ds = await loadAlot(`${dir}/ALOT`, "temperature");
    assert(ds.groups.length === 12, `4 cameras × 3 textures, got ${ds.groups.length}`);
    const rel = relativeGroups(ds.groups, `${dir}/ALOT`);
    assertSame(rel[0], ["1/1_c1i.png", "1/1_c1l8.png"], "group 0");
    assertSame(rel[7], ["2/2_c3i.png", "2/2_c3l8.png"], "group 7 = camera 3, texture 2");
  });
});

Deno.test("loadAlot() reports unparsable names, gaps and empty groups", async () => {
  await withAlot(2, async (dir) => {
    await writeImages(dir, ["ALOT/1/1_thumb.png"]);
    await assertRejects(
      () => loadAlot(`${dir}/ALOT`, "viewpoint"),
      /^ALOT-viewpoint: .*1_thumb\.png: no light number after 'l'; expected .*<t>_c<camera>l<light>/,
    );
    await Deno.remove(`${dir}/ALOT/1/1_thumb.png`);
    await Deno.remove(`${dir}/ALOT/2/2_c1i.png`);
    await Deno.remove(`${dir}/ALOT/2/2_c1l8.png`);
    await assertRejects(
      () => loadAlot(`${dir}/ALOT`, "temperature"),
      /group 1 \(2_c1\) has no images; expected .*ALOT\/2\/2_c1i\.png and .*2_c1l8\.png/,
    );
    await writeImages(dir, alotTextureFiles(4));
    await assertRejects(() => loadAlot(`${dir}/ALOT`, "illumination"), /none for 3; ids must run/);
  });
});
