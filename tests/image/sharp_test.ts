import { loadSharp, SHARP_VERSION } from "../../src/image/sharp.ts";
import { assert } from "../util/assert.ts";
import { runCommand } from "../util/command.ts";

Deno.test("loadSharp() loads sharp once, at the version deno.json pins", async () => {
  const [a, b] = await Promise.all([loadSharp(), loadSharp()]);
  assert(a === b && a === await loadSharp(), "every call gets the same sharp");
  assert(a.versions.sharp === SHARP_VERSION, `sharp ${a.versions.sharp} ≠ ${SHARP_VERSION}`);
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert(
    config.imports.sharp === `npm:sharp@${SHARP_VERSION}`,
    `deno.json pins ${config.imports.sharp}, SHARP_VERSION is ${SHARP_VERSION}`,
  );
});

Deno.test("decoding a BMP never loads sharp: it runs without --allow-ffi", async () => {
  // sharp's native addon needs --allow-ffi, so a static or eager import of sharp would fail here.
  const decode = new URL("../../src/image/decode.ts", import.meta.url).href;
  const bmp = new URL("../fixtures/images/odd_13x7.bmp", import.meta.url).pathname;
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/decode_bmp.ts`;
    await Deno.writeTextFile(
      script,
      `import { loadImage } from ${JSON.stringify(decode)};\n` +
        `const img = await loadImage(${JSON.stringify(bmp)});\n` +
        `console.log(img.width + "x" + img.height);\n`,
    );
    const run = await runCommand(Deno.execPath(), ["run", "--no-prompt", "--allow-read", script], {
      env: { NO_COLOR: "1" },
    });
    assert(run.success && run.stdout.trim() === "13x7", `exit ${run.code}: ${run.stderr}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sharp has one owner: only src/image/sharp.ts imports it", async () => {
  const src = new URL("../../src/", import.meta.url);
  const importers: string[] = [];
  const walk = async (dir: URL, rel: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir), `${rel}${entry.name}/`);
      else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(entry.name, dir));
        if (/(?:from\s+|import\s*\(\s*)"(?:npm:)?sharp(?:@[^"]*)?"/.test(text)) {
          importers.push(`src/${rel}${entry.name}`);
        }
      }
    }
  };
  await walk(src, "");
  assert(
    importers.length === 1 && importers[0] === "src/image/sharp.ts",
    `importers of sharp: ${importers.join(", ")}`,
  );
});
