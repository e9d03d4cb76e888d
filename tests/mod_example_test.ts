/**
 * mod.ts's module documentation shows the research workflow as an example (open the GPU, load the
 * demo's checkpoint, extract features, one invariance measurement, one probe). The block is
 * examples/research_workflow.ts verbatim but for the import path; this test keeps the two
 * identical, type-checks the file (the type-only import below puts it in this test's type check)
 * and runs it as a reader would, so the example cannot rot.
 *
 * @module
 */
import type {} from "../examples/research_workflow.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert } from "./util/assert.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EXAMPLE = "examples/research_workflow.ts";

/** The first ```ts block of a module doc (the JSDoc the file starts with), unindented. */
export function moduleExample(modSource: string): string {
  const end = modSource.indexOf("*/");
  assert(modSource.startsWith("/**") && end > 0, "the file starts with its module doc");
  const lines = modSource.slice(3, end).split("\n").map((l) => l.replace(/^ \*( |$)/, ""));
  const start = lines.findIndex((l) => l.trim() === "```ts");
  assert(start >= 0, "the module doc has a ```ts block");
  const stop = lines.findIndex((l, i) => i > start && l.trim() === "```");
  assert(stop > start, "the ```ts block is closed");
  return lines.slice(start + 1, stop).join("\n") + "\n";
}

/** The example file without its leading `//` comment lines, importing `./mod.ts` as the doc does. */
export function exampleAsDocumented(fileSource: string): string {
  const lines = fileSource.split("\n");
  const first = lines.findIndex((l) => !l.startsWith("//"));
  return lines.slice(first).join("\n").replaceAll('"../mod.ts"', '"./mod.ts"');
}

Deno.test("moduleExample() takes the ts block out of a module doc", () => {
  const src = "/**\n * Intro.\n *\n * @example\n * ```ts\n * const a = 1;\n *\n *   f(a);\n" +
    " * ```\n *\n * @module\n */\nexport {};\n";
  assert(moduleExample(src) === "const a = 1;\n\n  f(a);\n", JSON.stringify(moduleExample(src)));
});

Deno.test("mod.ts's module example is examples/research_workflow.ts verbatim", async () => {
  const doc = moduleExample(await Deno.readTextFile(join(ROOT, "mod.ts")));
  const file = exampleAsDocumented(await Deno.readTextFile(join(ROOT, EXAMPLE)));
  assert(doc.includes('from "./mod.ts"'), "the example imports ./mod.ts");
  if (doc !== file) {
    const a = doc.split("\n");
    const b = file.split("\n");
    const i = a.findIndex((l, k) => l !== b[k]);
    throw new Error(
      `mod.ts's example and ${EXAMPLE} differ at line ${i + 1} of the block:\n` +
        `  mod.ts:  ${a[i]}\n  ${EXAMPLE}: ${b[i]}`,
    );
  }
});

Deno.test({
  name: "examples/research_workflow.ts runs: features, one invariance, one probe",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const t0 = performance.now();
    // Type-checked above (the type-only import); run from the root, where models/ is.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", EXAMPLE],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const seconds = (performance.now() - t0) / 1000;
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert(out.success, `the example failed (exit ${out.code}):\n${stdout}\n${stderr}`);
    const lines = stdout.trim().split("\n");
    assert(lines.length === 3, `three result lines, got:\n${stdout}`);
    assert(/^features: train \[42, 128\], test \[21\]$/.test(lines[0]), lines[0]);
    const inv = lines[1].match(/^rotation: distance (\S+), similarity (\S+)$/);
    assert(inv !== null, lines[1]);
    const [distance, similarity] = [Number(inv[1]), Number(inv[2])];
    assert(distance > 0 && Number.isFinite(distance), `distance ${inv[1]}`);
    assert(similarity > -1 && similarity <= 1, `similarity ${inv[2]}`);
    const acc = lines[2].match(/^logistic probe: test accuracy (\S+) \(chance 1\/7\)$/);
    assert(acc !== null && Number(acc[1]) >= 0 && Number(acc[1]) <= 1, lines[2]);
    assert(seconds < 60, `the example took ${seconds.toFixed(1)} s`);
    console.log(`  example ran in ${seconds.toFixed(1)} s`);
  },
});
