/**
 * Where the built-in world lives: `src/data/` is datasets only (paths and targets, no GPU code),
 * the world's renderer and exporter are in `src/world/`.
 *
 * @module
 */
import { assert } from "../util/assert.ts";

const SRC = new URL("../../src/", import.meta.url);

/** The module specifiers `file` imports (static `from "…"` and dynamic `import("…")`). */
async function importsOf(file: URL): Promise<string[]> {
  const text = await Deno.readTextFile(file);
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*)"([^"]+)"/g)].map((m) => m[1]);
}

Deno.test("src/data/ holds no GPU code: nothing there imports the GPU, the world or kernels", async () => {
  const bad: string[] = [];
  for await (const entry of Deno.readDir(new URL("data/", SRC))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    for (const spec of await importsOf(new URL(`data/${entry.name}`, SRC))) {
      if (/^\.\.\/(gpu|world|ops|transforms|nn|models)\/|kernels\//.test(spec)) {
        bad.push(`src/data/${entry.name} imports ${spec}`);
      }
    }
  }
  assert(bad.length === 0, bad.join("\n"));
});

Deno.test("src/world/ holds the renderer, the scene sampling and the export", async () => {
  const names = [];
  for await (const entry of Deno.readDir(new URL("world/", SRC))) names.push(entry.name);
  for (const file of ["world.ts", "world_render.ts", "world_export.ts"]) {
    assert(names.includes(file), `src/world/${file} is missing`);
  }
});
