/**
 * The one way the project reaches sharp (libvips, prebuilt in its npm package; it needs
 * `--allow-ffi` or `-A`): decoding (decode.ts), image headers (the Leeds Sports Pose loader) and
 * PNG encoding (the world export) all load it through {@link loadSharp}. Loading is lazy and
 * happens once, so a module that never touches a JPEG / PNG / WebP / TIFF / GIF file (BMP and
 * Netpbm decoding, the GPU code, a script's `--help`) never loads the native addon.
 *
 * @module
 */

/** The sharp version this project is tested with (npm:sharp@0.35.5, libvips 8.18). */
export const SHARP_VERSION = "0.35.5";

/** sharp's constructor (the npm module's default export). */
export type Sharp = typeof import("sharp").default;

let loading: Promise<Sharp> | undefined;

/**
 * sharp's constructor, imported on the first call and shared by every later one. A failure to
 * load (no `--allow-ffi`, a missing native binary) is the import's own error, not a DataError:
 * it says nothing about the file being read.
 */
export function loadSharp(): Promise<Sharp> {
  loading ??= import("sharp").then((module) => module.default);
  return loading;
}
