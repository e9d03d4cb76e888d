/**
 * The pure parts of `deno task device-check` and `deno task device-pack`: size scaling, the
 * distinct convolution shapes and their rows, the PyTorch workload list, the table, the pack
 * manifest and its budget, the launcher's soname list. No GPU; runs in well under a second.
 */
import {
  benchRows,
  convFlops,
  convKinds,
  convRowName,
  type ConvShape,
  distinctConvs,
  fmt,
  formatTable,
  formatTrials,
  FULL_PLAN,
  isSoftwareAdapter,
  type Measured,
  peerLabel,
  planFor,
  rowNames,
  SOFTWARE_PLAN,
  torchWorkloads,
} from "../../scripts/device_check_lib.ts";
import {
  CARRY_LIMIT_BYTES,
  DEB_PROVIDES,
  debPackage,
  packManifest,
  providesText,
  sizeReport,
} from "../../scripts/device_pack_lib.ts";
import { innerRuns } from "../../src/gpu/autotune.ts";
import { assert } from "../util/assert.ts";

/** Deep equality through JSON (plain data only). */
function assertEquals(actual: unknown, expected: unknown): void {
  const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
  assert(a === e, `expected ${e}, got ${a}`);
}

/** `fn` throws an instance of `type` whose message includes `part`. */
function assertThrows(fn: () => unknown, type: typeof Error, part = ""): void {
  try {
    fn();
  } catch (error) {
    assert(error instanceof type, `threw ${error}, expected a ${type.name}`);
    assert((error as Error).message.includes(part), `message ${(error as Error).message}`);
    return;
  }
  throw new Error(`did not throw (expected a ${type.name})`);
}

const STEM: ConvShape = { xShape: [32, 224, 224, 3], wShape: [7, 7, 3, 64], stride: 2, pad: 3 };
const C3: ConvShape = { xShape: [32, 56, 56, 128], wShape: [3, 3, 128, 128], stride: 2, pad: 1 };

Deno.test("device-check: full sizes on hardware, scaled ones on a software adapter", () => {
  const llvmpipe = { isFallbackAdapter: false, description: "llvmpipe (LLVM 15.0.6, 256 bits)" };
  const nvidia = { isFallbackAdapter: false, description: "NVIDIA H100 80GB HBM3" };
  assert(isSoftwareAdapter(llvmpipe), "llvmpipe is software");
  assert(isSoftwareAdapter({ isFallbackAdapter: true, description: "x" }), "fallback flag");
  assert(!isSoftwareAdapter(nvidia), "NVIDIA is hardware");
  const full = planFor(false);
  assertEquals(full.gemm, [1024, 2048, 4096]);
  assertEquals(full.resnet, { batch: 64, size: 224 });
  assertEquals([full.moco.batch, full.moco.size], [32, 224]);
  assertEquals(full.scaled, false);
  const scaled = planFor(true);
  assert(scaled.scaled, "scaled");
  assert(scaled.gemm.every((n, i) => n < full.gemm[i]), "smaller GEMMs");
  assert(scaled.resnet.batch * scaled.resnet.size ** 2 < full.resnet.batch * 224 ** 2 / 50, "rn");
  assertEquals(planFor(true, "full").gemm, FULL_PLAN.gemm);
  assertEquals(planFor(false, "scaled").gemm, SOFTWARE_PLAN.gemm);
  planFor(false).gemm.push(1); // a copy: the constants stay unchanged
  assertEquals(FULL_PLAN.gemm, [1024, 2048, 4096]);
});

Deno.test("device-check: distinct convolution shapes, ops, FLOPs and stable row names", () => {
  const shapes = distinctConvs([STEM, C3, { ...C3 }, STEM]);
  assertEquals(shapes.length, 2);
  assertEquals(convKinds(STEM), ["fwd", "bwd-filter"]);
  assertEquals(convKinds(C3), ["fwd", "bwd-data", "bwd-filter"]);
  assertEquals(convRowName("fwd", C3), "conv fwd 3x3/2 128->128 b32 56x56");
  assertEquals(convRowName("bwd-filter", STEM), "conv bwd-filter 7x7/2 3->64 b32 224x224");
  assertEquals(convFlops(STEM), 2 * 32 * 112 * 112 * 64 * 49 * 3);
  const names = rowNames(FULL_PLAN);
  assertEquals(names.gemm(4096), "gemm 4096");
  assertEquals(names.resnet, "resnet50 fwd b64 224");
  assertEquals(names.moco, "moco step resnet50 b32 224");
});

Deno.test("device-check: the PyTorch peer gets every row's workload under the row's name", () => {
  const w = torchWorkloads(FULL_PLAN, [STEM, C3]);
  assertEquals(w.length, 3 + 2 + 3 + 3);
  assertEquals(new Set(w.map((x) => x.name)).size, w.length);
  const conv = w.find((x) => x.name === "conv bwd-data 3x3/2 128->128 b32 56x56");
  assertEquals(conv, {
    name: "conv bwd-data 3x3/2 128->128 b32 56x56",
    kind: "conv",
    op: "bwd-data",
    x: [32, 56, 56, 128],
    w: [3, 3, 128, 128],
    stride: 2,
    pad: 1,
  });
  assertEquals(w.find((x) => x.kind === "moco"), {
    name: "moco step resnet50 b32 224",
    kind: "moco",
    ...FULL_PLAN.moco,
  });
});

Deno.test("device-check: rows, ratios and peer labels from our and PyTorch's numbers", () => {
  const measured: Measured[] = [
    { name: "gemm 4096", unit: "GFLOP/s", ours: 10000, variant: "wg128", trials: "wg 9* · x 1" },
    { name: "resnet50 fwd b64 224", unit: "img/s", ours: 500 },
  ];
  const cuda = {
    torch: "2.4.0",
    device: "cuda",
    gpu: "NVIDIA H100",
    results: { "gemm 4096": 40000 },
  };
  const rows = benchRows(measured, cuda);
  assertEquals(rows[0].ratio, 0.25);
  assertEquals(rows[0].peer, "PyTorch 2.4.0 CUDA fp32, TF32 off (NVIDIA H100)");
  assertEquals(rows[1].peer_value, null);
  assertEquals(rows[1].ratio, null);
  assertEquals(
    peerLabel({ torch: "1.13.0", device: "cpu", results: {} }),
    "PyTorch 1.13.0 CPU fp32",
  );
  assert(peerLabel({ error: "no python3 with torch" }).includes("no python3"), "why not");
  assertEquals(
    formatTrials([
      { variant: "reg", ms: 1.234, chosen: false },
      { variant: "wg", ms: 0.5, chosen: true },
    ]),
    "reg 1.23 · wg 0.500*",
  );
  assertEquals([fmt(null), fmt(12345.6), fmt(123.45), fmt(0), fmt(NaN)], [
    "-",
    "12346",
    "123.5",
    "0",
    "-",
  ]);
});

Deno.test("device-check: the table shows the adapter, every row, variants, trials and parity", () => {
  const measured: Measured[] = [
    {
      name: "gemm 256",
      unit: "GFLOP/s",
      ours: 20.5,
      variant: "reg32",
      trials: "reg 2.00 · reg32 1.50*",
    },
    { name: "resnet50 fwd b4 64", unit: "img/s", ours: 3.2 },
  ];
  const rows = benchRows(measured, { torch: "1.13.0", device: "cpu", results: { "gemm 256": 41 } });
  const table = formatTable({
    info: {
      adapter: "llvmpipe (LLVM 15.0.6, 256 bits)",
      backend: "default",
      deno: "2.9.6",
      fallbackAdapter: false,
      features: ["shader-f16"],
      limits: { maxComputeWorkgroupStorageSize: 32768, maxBufferSize: 1 << 30, other: 1 },
    },
    plan: SOFTWARE_PLAN,
    rows,
    measured,
    parity: [{ file: "tests/models/resnet_test.ts", ok: true, seconds: 61.2 }],
    seconds: 300,
  });
  const lines = table.split("\n");
  assert(lines[0].startsWith("device-check: llvmpipe (LLVM 15.0.6, 256 bits) · backend"), lines[0]);
  assert(table.includes("SCALED DOWN"), "says the sizes are scaled");
  assert(table.includes("maxComputeWorkgroupStorageSize 32768"), "limits");
  assert(!table.includes("other 1"), "only the listed limits");
  const gemm = lines.find((l) => l.startsWith("gemm 256"))!;
  assert(/20\.5\s+41\.0\s+0\.50×\s+reg32 \[reg 2\.00 · reg32 1\.50\*\]$/.test(gemm), gemm);
  const rn = lines.find((l) => l.startsWith("resnet50 fwd b4 64"))!;
  assert(/3\.20\s+-\s+-$/.test(rn), rn);
  assert(table.includes("parity tests/models/resnet_test.ts: PASS (61 s)"), "parity");
  assert(lines[lines.length - 1] === "total 300 s", lines[lines.length - 1]);
});

Deno.test("tuner: runs per sample grow until a sample holds the wanted time", () => {
  assertEquals(innerRuns(200, 30, 256), 1);
  assertEquals(innerRuns(1, 30, 256), 30);
  assertEquals(innerRuns(0.001, 30, 256), 256);
  assertEquals(innerRuns(0, 30, 256), 256);
});

Deno.test("device-pack: manifest, size budget and the launcher's library list", () => {
  assertEquals(debPackage("debs/libx11-6_2%3a1.8.4-2+deb12u2_amd64.deb"), "libx11-6");
  assertEquals(debPackage("libvulkan1_1.3.239.0-1_amd64.deb"), "libvulkan1");
  assertThrows(() => debPackage("vulkan.tar.gz"), RangeError);
  assertEquals(
    providesText(["/p/debs/libvulkan1_1.3.239.0-1_amd64.deb", "libegl1_1.6.0-1_amd64.deb"]),
    "libEGL.so.1 libegl1_1.6.0-1_amd64.deb\nlibvulkan.so.1 libvulkan1_1.3.239.0-1_amd64.deb\n",
  );
  assertThrows(() => providesText(["libfoo1_1.0_amd64.deb"]), RangeError, "libfoo1");
  assertEquals(DEB_PROVIDES.libvulkan1, "libvulkan.so.1");
  const meta = {
    created: "2025-01-01T00:00:00.000Z",
    commit: "abc",
    deno: { version: "2.9.6", sourceBytes: 95e6, sourceSha256: "00", file: "deno.xz" },
  };
  const files = [
    { path: "deno.xz", bytes: 30 << 20, sha256: "a" },
    { path: "debs/libvulkan1_1_amd64.deb", bytes: 1 << 20, sha256: "b" },
  ];
  const m = packManifest(meta, files, 15 << 20);
  assertEquals(m.files.map((f) => f.path), ["debs/libvulkan1_1_amd64.deb", "deno.xz"]);
  assertEquals([m.packBytes, m.totalBytes, m.limitBytes], [31 << 20, 46 << 20, CARRY_LIMIT_BYTES]);
  assert(m.fits, "fits");
  assert(sizeReport(m).includes("total                      46.0 MiB of 64.0 MiB"), sizeReport(m));
  const over = packManifest(meta, files, 40 << 20);
  assert(!over.fits && sizeReport(over).includes("OVER THE LIMIT"), "over the limit");
});
