import {
  compareWithWgsl,
  describedParamStructs,
  layoutOf,
  paramStruct,
  parseWgslStruct,
  uniformStructNames,
} from "../../src/gpu/uniforms.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

/** Asserts that `fn` throws an error whose message matches `pattern`. */
function assertThrows(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (error) {
    const message = (error as Error).message;
    assert(pattern.test(message), `error '${message}' does not match ${pattern}`);
    return;
  }
  assert(false, `expected an error matching ${pattern}`);
}

const KERNELS = new URL("../../kernels/", import.meta.url);
const SRC = new URL("../../src/", import.meta.url);

/** Imports every module under `src/` that describes a parameter struct, registering them. */
async function importDescribingModules(dir = SRC): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const url = new URL(e.isDirectory ? `${e.name}/` : e.name, dir);
    if (e.isDirectory) await importDescribingModules(url);
    else if (e.name.endsWith(".ts") && e.name !== "uniforms.ts") {
      if ((await Deno.readTextFile(url)).includes("paramStruct(")) await import(url.href);
    }
  }
}

Deno.test("layoutOf() follows WGSL's alignment rules (4 / 8 / 16) and rounds the size", () => {
  const l = layoutOf([
    { name: "a", type: "u32" },
    { name: "b", type: "vec2f" },
    { name: "c", type: "f32" },
    { name: "d", type: "vec4i" },
    { name: "e", type: "i32" },
  ]);
  assertArrayEqual(l.fields.map((f) => f.offset), [0, 8, 16, 32, 48], "offsets");
  assert(l.size === 64, `size ${l.size}`);
  assert(layoutOf([{ name: "x", type: "u32" }, { name: "y", type: "vec2u" }]).size === 16, "v2");
  assert(layoutOf([{ name: "m", type: "mat4x4f" }, { name: "k", type: "u32" }]).size === 80, "m");
});

Deno.test("parseWgslStruct() reads members across comments, attributes and vector spellings", () => {
  const src = `// struct Decoy { no: u32 }
struct P {
  n: u32, // count
  /* block */ @align(16) v: vec4<f32>,
  w: vec2i
}`;
  const m = parseWgslStruct(src, "P")!;
  assert(m.map((x) => x.name).join() === "n,v,w", "names");
  assert(m[1].type === "vec4<f32>", m[1].type);
  assert(parseWgslStruct(src, "Decoy") === undefined, "commented-out struct");
  assert(
    compareWithWgsl(
      [{ name: "n", type: "u32" }, { name: "v", type: "vec4f" }, {
        name: "w",
        type: "vec2i",
      }],
      src,
      "P",
    ).length === 0,
    "vec4<f32> is vec4f",
  );
});

Deno.test("ParamStruct.pack() writes by name the bytes the positional packer wrote, i32 included", async () => {
  await import("../../src/ops/conv2d_forward.ts");
  const conv = describedParamStructs().find((s) => s.structName === "Conv")!;
  const rng = testRng("uniforms pack");
  const names = conv.fields.map((f) => f.name);
  for (let trial = 0; trial < 5; trial++) {
    const values: Record<string, number> = {};
    const positional = new Uint32Array(names.length);
    names.forEach((name, i) => {
      if (name.startsWith("_")) return;
      const v = name.startsWith("pad_") ? rng.int(7) - 3 : rng.int(1 << 20);
      values[name] = v;
      positional[i] = v >>> 0;
    });
    const bytes = conv.pack(values as never);
    assertArrayEqual(bytes, new Uint8Array(positional.buffer), `trial ${trial}`);
  }
});

Deno.test("ParamStruct.pack() names a missing or unknown field", () => {
  const s = paramStruct("test.wgsl", "struct T { a: u32, b: f32, _pad: u32, c: i32 }", "T", {
    a: "u32",
    b: "f32",
    _pad: "u32",
    c: "i32",
  });
  const bytes = s.pack({ a: 7, b: 0.5, c: -2 });
  const view = new DataView(bytes.buffer);
  assert(view.getUint32(0, true) === 7 && view.getFloat32(4, true) === 0.5, "a, b");
  assert(view.getUint32(8, true) === 0 && view.getInt32(12, true) === -2, "pad, c");
  assertThrows(() => s.pack({ a: 1, b: 2 } as never), /no value for field c/);
  assertThrows(() => s.pack({ a: 1, b: 2, c: 3, d: 4 } as never), /unknown field\(s\) d/);
});

Deno.test("a description that differs from the WGSL struct fails on first use, naming the field", () => {
  const src = "struct S {\n  n: u32,\n  pad_h: i32,\n  k: u32,\n  _p: u32,\n}";
  const wrongType = paramStruct("s.wgsl", src, "S", {
    n: "u32",
    pad_h: "u32",
    k: "u32",
    _p: "u32",
  });
  assertThrows(() => wrongType.pack({ n: 1, pad_h: 0, k: 2 }), /field pad_h: u32 .* i32/);
  const swapped = paramStruct("s.wgsl", src, "S", { n: "u32", k: "u32", pad_h: "i32", _p: "u32" });
  assertThrows(() => swapped.pack({ n: 1, pad_h: 0, k: 2 }), /kernels\/s\.wgsl struct S.*k.*pad_h/);
  const short = paramStruct("s.wgsl", src, "S", { n: "u32", pad_h: "i32", k: "u32" });
  assertThrows(() => short.pack({ n: 1, pad_h: 0, k: 2 }), /field _p .* is missing/);
  const absent = paramStruct("s.wgsl", src, "Missing", { n: "u32" });
  assertThrows(() => absent.pack({ n: 1 }), /declares no struct Missing/);
});

Deno.test("every kernel's uniform struct has a TS description that matches it field by field", async () => {
  await importDescribingModules();
  const ours = describedParamStructs().filter((s) =>
    !["test.wgsl", "s.wgsl", "checked_kernel.wgsl"].includes(s.file)
  );
  const byKey = new Map(ours.map((s) => [`${s.file}#${s.structName}`, s]));
  const missing: string[] = [];
  const files = [...Deno.readDirSync(KERNELS)].filter((e) => e.name.endsWith(".wgsl"));
  for (const { name } of files) {
    const source = Deno.readTextFileSync(new URL(name, KERNELS));
    for (const struct of uniformStructNames(source)) {
      const described = byKey.get(`${name}#${struct}`);
      if (!described) {
        missing.push(`${name}#${struct}`);
        continue;
      }
      assert(described.source === source, `${name}#${struct}: description reads another source`);
    }
  }
  assert(missing.length === 0, `uniform structs without a TS description: ${missing.join(", ")}`);
  for (const s of ours) {
    const problems = compareWithWgsl(s.fields, s.source, s.structName);
    assert(problems.length === 0, `${s.file}#${s.structName}: ${problems.join("; ")}`);
  }
});

const CHECKED_SOURCE = `struct P {
  n: u32,
  scale: f32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() {
  out[0] = f32(p.n) * p.scale;
}`;

Deno.test({
  name: "KernelCache.get() checks the spec's params when it creates the pipeline, naming the field",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const file = "checked_kernel.wgsl";
    const wrong = paramStruct(file, CHECKED_SOURCE, "P", { n: "u32", scale: "u32" });
    const before = gpu.kernels.size;
    assertThrows(
      () => gpu.kernels.get({ file, source: CHECKED_SOURCE, entryPoint: "main", params: wrong }),
      /checked_kernel\.wgsl struct P .*field scale: u32 .* f32/,
    );
    assert(gpu.kernels.size === before, "no pipeline is created for a mismatching description");
    const elsewhere = paramStruct(file, `${CHECKED_SOURCE}\n`, "P", { n: "u32", scale: "f32" });
    assertThrows(
      () =>
        gpu.kernels.get({ file, source: CHECKED_SOURCE, entryPoint: "main", params: [elsewhere] }),
      /main: parameter struct P describes kernels\/checked_kernel\.wgsl, not this kernel's source/,
    );
    const right = paramStruct(file, CHECKED_SOURCE, "P", { n: "u32", scale: "f32" });
    await gpu.kernels.compile({ file, source: CHECKED_SOURCE, entryPoint: "main", params: right });
    assert(gpu.kernels.size === before + 1, "the matching description compiles");
  },
});
