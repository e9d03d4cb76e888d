/**
 * Library errors name arguments, the command line's name flags: `withFlag` maps one to the other
 * (the empty real-world data root, a `folder:`/`groups:` dataset without a folder).
 *
 * @module
 */
import { parseCustomDataset } from "../../src/data/custom.ts";
import { loadRealWorld } from "../../src/data/realworld.ts";
import { parseEvalCli, sizeFlags, withFlag } from "../../src/eval/cli_common.ts";
import { DataError, UsageError } from "../../src/util/errors.ts";
import { assert } from "../util/assert.ts";

async function errorOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

Deno.test("withFlag() renames the argument to the flag in UsageErrors about it, and only those", async () => {
  assert(withFlag("--x", "x", () => 7) === 7, "a value passes");
  assert(await withFlag("--x", "x", () => Promise.resolve(8)) === 8, "a resolved value passes");
  const usage = (message: string) => () => {
    throw new UsageError(message);
  };
  const sync = await errorOf(() => withFlag("--data-root", "dataRoot", usage("dataRoot: empty")));
  assert(sync instanceof UsageError && sync.message === "--data-root: empty", String(sync));
  const rejected = await errorOf(() =>
    withFlag("--data-root", "dataRoot", () => Promise.reject(new UsageError("dataRoot: empty")))
  );
  assert(
    rejected instanceof UsageError && rejected.message === "--data-root: empty",
    String(rejected),
  );
  const other = await errorOf(() => withFlag("--x", "x", usage("xy: about another argument")));
  assert(other instanceof UsageError && other.message === "xy: about another argument", "kept");
  const data = new DataError("x: a file");
  assert(await errorOf(() => withFlag("--x", "x", () => Promise.reject(data))) === data, "kept");
});

Deno.test("an empty data root and a prefix without a folder: the argument in the library, the flag on the command line", async () => {
  const library = await errorOf(() => loadRealWorld("COIL100", ""));
  assert(library instanceof UsageError && library.message === "dataRoot: empty path", `${library}`);
  const cli = await errorOf(() =>
    withFlag("--data-root", "dataRoot", () => loadRealWorld("COIL100", ""))
  );
  assert(cli instanceof UsageError && cli.message === "--data-root: empty path", `${cli}`);

  const custom = await errorOf(() => parseCustomDataset("groups:/"));
  assert(
    custom instanceof UsageError && /^dataset: give a folder after 'groups:'/.test(custom.message),
    `${custom}`,
  );
  const spec = {
    name: "test",
    summary: "a script",
    flags: {
      "batch-size": { type: "int", default: 8, help: "forward batch" },
      dataset: { type: "string", default: "COIL100", help: "dataset" },
      ...sizeFlags(256),
    },
  } as const;
  const parsed = await errorOf(() => parseEvalCli(["--dataset", "folder:"], spec));
  assert(
    parsed instanceof UsageError &&
      /^--dataset: give a folder after 'folder:' \(got 'folder:'\)$/.test(parsed.message),
    `${parsed}`,
  );
  assert(
    parseEvalCli(["--dataset", "folder:results/x"], spec).flags.dataset === "folder:results/x",
    "a folder passes",
  );
});
