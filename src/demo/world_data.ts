/**
 * The world data the demo evaluates on, written to disk in the real datasets' layouts (so the
 * real loaders read it) and cached: a second run finds every image already rendered.
 *
 * @module
 */
import { exportWorld, type WorldLayout } from "../world/world_export.ts";
import type { Gpu } from "../gpu/device.ts";
import { type DemoSizes, PRETRAIN } from "./config.ts";

/** Images per class of the Causal3DIdent-style layout (kernel ridge CV is cubic in it). */
const CAUSAL_PER_CLASS = 60;

/**
 * Renders (or finds) the demo world under `dir`: the ImageFolder stream (`train`, `val`), the
 * COIL100 and ALOI-style group layouts and the Causal3DIdent-style layout.
 */
export async function prepareDemoWorld(
  gpu: Gpu,
  dir: string,
  sizes: DemoSizes,
  log: (line: string) => void,
): Promise<void> {
  const base = { seed: PRETRAIN.world.seed, resolution: PRETRAIN.world.resolution, log };
  const layouts: [WorldLayout, Record<string, number>][] = [
    ["imagefolder", { perClass: sizes.perClass, testPerClass: sizes.testPerClass }],
    ["coil100", { objects: sizes.objects }],
    ["aloi-illumination", { objects: sizes.objects }],
    ["aloi-temperature", { objects: sizes.objects }],
    ["causal3dident", {
      perClass: Math.min(CAUSAL_PER_CLASS, sizes.perClass),
      testPerClass: sizes.testPerClass,
    }],
  ];
  for (const [layout, options] of layouts) {
    const s = await exportWorld(gpu, layout, dir, { ...base, ...options });
    log(`world ${layout}: ${s.images} images (${s.written} rendered, ${s.skipped} cached)`);
  }
}
