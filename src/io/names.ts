/**
 * User-given names that become parts of file names (model names, dataset names, transform
 * names) must never lead a write out of the folder it belongs to: `--model ../models/x` or
 * `--dataset ../../escaped` would put results elsewhere. A name must be one plain path component.
 *
 * @module
 */
import { isAbsolute, relative, resolve } from "node:path";
import { UsageError } from "../util/errors.ts";

/**
 * Why `name` cannot be used inside a file name, or `undefined` when it can: empty, `.`/`..`, a
 * path separator, a NUL or other control character.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name === "." || name === "..") return `'${name}' names a folder`;
  if (/[\/\\]/.test(name)) return "it contains a path separator";
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "it contains a control character";
  return undefined;
}

/**
 * Checks that `name` (given with `flag`) is a plain name that cannot escape the folder its files
 * go into; throws a `UsageError` naming the flag otherwise. `A+B` model names are checked piece
 * by piece when `pieces` is true.
 */
export function checkPlainName(name: string, flag: string, pieces = false): void {
  for (const part of pieces ? name.split("+") : [name]) {
    const why = unsafeNameReason(part);
    if (why !== undefined) {
      throw new UsageError(
        `${flag}: '${name}' cannot be used: ${why}; names become file names inside the ` +
          `results folder, so they must be plain names (no '/', '\\\\', '..')`,
      );
    }
  }
}

/**
 * `dir/file`, checked to stay inside `dir` (resolved); a `UsageError` naming `flag` otherwise.
 * For paths built from user-given names where a plain-name check is not enough.
 */
export function joinInside(dir: string, file: string, flag: string): string {
  const base = resolve(dir);
  const full = resolve(base, file);
  const rel = relative(base, full);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    throw new UsageError(`${flag}: '${file}' would be written outside ${dir}`);
  }
  return `${dir.replace(/\/+$/, "") || "."}/${file}`;
}
