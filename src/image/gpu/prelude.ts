/**
 * The WGSL prelude of the packed 8-bit image kernels: `pack`, `unpack`, `clip8` and
 * `PRECISION_BITS`, declared once in kernels/prelude_image.wgsl. Kernel specs name it in their
 * `prelude` field and the kernel cache (src/gpu/kernel.ts) prepends it; no other code joins
 * shader text.
 *
 * @module
 */
import source from "../../../kernels/prelude_image.wgsl" with { type: "text" };
import type { KernelPrelude } from "../../gpu/kernel.ts";

/** The image kernels' shared WGSL helpers. */
export const IMAGE_PRELUDE: KernelPrelude = { file: "prelude_image.wgsl", source };
