import {
  defaultK,
  isSyntheticFamily,
  linspaceF32,
  SYNTHETIC_FAMILIES,
  type SyntheticFamily,
  syntheticGrid,
  type SyntheticParams,
} from "../../src/transforms/synthetic_grid.ts";
import { UsageError } from "../../src/util/errors.ts";
import { nameFlag } from "../../src/util/main.ts";
import { assert } from "../util/assert.ts";
import { readGzip } from "./geometry_fixtures.ts";

interface GridCase {
  family: SyntheticFamily;
  k: number;
  resize: number;
  cropSize: number;
  length: number;
  keys: string[];
  columns: Record<string, (number | boolean | number[])[]>;
}

async function gridCases(): Promise<GridCase[]> {
  const text = new TextDecoder().decode(await readGzip("grids.json.gz"));
  return (JSON.parse(text) as { cases: GridCase[] }).cases;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
  }
  return Object.is(a, b);
}

Deno.test("syntheticGrid() equals the original's Python lists for all 18 families and other k", async () => {
  const cases = await gridCases();
  const seen = new Set<string>();
  for (const c of cases) {
    const what = `${c.family} k=${c.k} r=${c.resize} c=${c.cropSize}`;
    const grid: SyntheticParams[] = syntheticGrid(c.family, c.k, {
      resize: c.resize,
      cropSize: c.cropSize,
    });
    assert(grid.length === c.length, `${what}: ${grid.length} views, Python has ${c.length}`);
    for (let i = 0; i < grid.length; i++) {
      const keys = Object.keys(grid[i]);
      assert(
        keys.length === c.keys.length && c.keys.every((k) => k in grid[i]),
        `${what} [${i}]: keys ${keys} != ${c.keys}`,
      );
      for (const key of c.keys) {
        assert(
          sameValue(grid[i][key], c.columns[key][i]),
          `${what} [${i}].${key}: ${grid[i][key]} != Python ${c.columns[key][i]}`,
        );
      }
    }
    if (c.k === defaultK(c.family) && c.resize === 256) seen.add(c.family);
  }
  assert(seen.size === 18, `fixtures cover ${seen.size} families at their default k`);
});

Deno.test("syntheticGrid() spot values match docs/synthetic.md#transform-grids", () => {
  const rot = syntheticGrid("rotation", 256);
  assert(rot[1].angle === 1.40625 && rot[128].angle === 180, "rotation step 1.40625°");
  const tr = syntheticGrid("translation", 256);
  assert(sameValue(tr[136].translate, [0, 0]) && tr[136].shear === 1, "translation identity 136");
  assert(sameValue(tr[0].translate, [-16, -16]) && sameValue(tr[255].translate, [14, 14]), "±16");
  const rc = syntheticGrid("resized_crop", 256);
  assert(rc[0].height === 192 && rc[255].top === 64 && rc[255].width === 64, "resized_crop box");
  const deform = syntheticGrid("deform", 256);
  assert(deform.slice(0, 8).map((p) => p.sigma).join() === "10,15,21,27,32,38,44,50", "sigmas");
  assert(deform[31].points === 2 && deform[32].points === 3 && deform[255].points === 9, "points");
  assert(syntheticGrid("blur", 256)[0].kernel_size === 23, "blur kernel 23");
  const hue = syntheticGrid("hue", 256);
  assert(Math.abs((hue[127].hue_factor as number) + 0.00196) < 1e-5, "hue 127 ≈ −0.00196");
});

Deno.test("syntheticGrid() rejects k beyond fixed-length lists and bad sizes, naming the option", () => {
  const bad: [SyntheticFamily, number, RegExp][] = [
    ["h_flip", 3, /^k: 3.*family: "h_flip".*2 entries/],
    ["posterize", 8, /^k: 8.*posterize.*7 entries/],
    ["deform", 257, /^k: 257.*deform.*256/],
    ["rotation", 0, /^k: must be a positive integer/],
    ["scale", 2.5, /^k: must be a positive integer/],
  ];
  for (const [family, k, re] of bad) {
    let error: unknown;
    try {
      syntheticGrid(family, k);
    } catch (e) {
      error = e;
    }
    assert(error instanceof UsageError, `${family} k=${k} must throw UsageError`);
    assert(re.test((error as Error).message), `${family} k=${k}: '${(error as Error).message}'`);
  }
  let error: unknown;
  try {
    syntheticGrid("translation", 256, { resize: 0 });
  } catch (e) {
    error = e;
  }
  assert(error instanceof UsageError && /^resize: /.test(error.message), "resize 0");
  // eval:synthetic restates the options as its flags.
  try {
    syntheticGrid("deform", 257);
  } catch (e) {
    error = nameFlag(nameFlag(e, "--transform", "family"), "--k", "k");
  }
  assert(
    (error as Error).message ===
      "--k: 257 is too large for --transform deform, whose grid has only 256 entries",
    (error as Error).message,
  );
});

Deno.test("SYNTHETIC_FAMILIES lists the 18 names in table order; defaultK follows docs/synthetic.md#sampling", () => {
  assert(SYNTHETIC_FAMILIES.length === 18, "18 families");
  assert(SYNTHETIC_FAMILIES[0] === "rotation" && SYNTHETIC_FAMILIES[17] === "posterize", "order");
  assert(isSyntheticFamily("hue") && !isSyntheticFamily("affine"), "isSyntheticFamily");
  const ks = SYNTHETIC_FAMILIES.map(defaultK).join();
  assert(ks === "256,256,256,256,256,2,2,256,2,256,256,256,256,256,256,2,2,7", `defaultK ${ks}`);
});

Deno.test("linspaceF32() handles 0 and 1 steps like torch", () => {
  assert(linspaceF32(3, 5, 0).length === 0, "0 steps");
  assert(sameValue(linspaceF32(0.1, 5, 1), [Math.fround(0.1)]), "1 step is [start] in float32");
});
