/**
 * `deno task info`: the Deno version, the WebGPU adapter, backend, whether it is a software
 * (fallback) adapter, the features and the limits obtained, and the float64 linear-algebra engine
 * (OpenBLAS through FFI, or the JavaScript fallback) with its thread count.
 *
 * @module
 */
import { openGpu } from "../src/gpu/device.ts";
import { linalgInfo } from "../src/linalg/blas.ts";
import { parseCli } from "../src/util/cli.ts";
import { runMain } from "../src/util/main.ts";

await runMain("info", async () => {
  const { flags } = parseCli(Deno.args, {
    name: "deno task info",
    summary: "Print the WebGPU adapter, its features and the device limits this project gets.",
    flags: {
      json: { type: "boolean", help: "print JSON instead of text" },
      backend: {
        type: "string",
        choices: ["vulkan", "gl", "metal", "dx12"],
        help: "force a wgpu backend (same as DENO_WEBGPU_BACKEND)",
      },
    },
  });
  const gpu = await openGpu({
    backend: flags.backend as "vulkan" | "gl" | "metal" | "dx12" | undefined,
  });
  const s = gpu.summary;
  const report = {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    adapter: s.description,
    vendor: s.vendor,
    architecture: s.architecture,
    backend: s.backend,
    fallbackAdapter: s.isFallbackAdapter,
    features: s.features,
    limits: s.limits,
    linalg: linalgInfo(),
  };
  if (flags.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`deno          ${report.deno} (v8 ${report.v8})`);
    console.log(`adapter       ${report.adapter}`);
    console.log(
      `vendor        ${report.vendor || "-"}  architecture ${report.architecture || "-"}`,
    );
    console.log(`backend       ${report.backend}`);
    console.log(
      `fallback      ${report.fallbackAdapter ? "yes (software adapter: expect CPU speed)" : "no"}`,
    );
    console.log(`features      ${report.features.join(", ") || "none"}`);
    const la = report.linalg;
    console.log(
      la.engine === "openblas"
        ? `linalg f64    OpenBLAS (${la.library}), ${la.threads} thread${
          la.threads === 1 ? "" : "s"
        }, ` +
          `kernel ${la.corename ?? "?"}` +
          (la.coretype ? ` (forced by OPENBLAS_CORETYPE=${la.coretype}; unset it to detect)` : "")
        : `linalg f64    JavaScript kernels, 1 thread (${la.reason})`,
    );
    console.log("limits");
    for (const [k, v] of Object.entries(report.limits)) console.log(`  ${k.padEnd(44)} ${v}`);
  }
  gpu.destroy();
});
