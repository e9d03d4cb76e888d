/**
 * Compiled WGSL kernels. A kernel is a WGSL file from `kernels/`, an entry point and a set of
 * `override` constants, optionally behind a shared prelude; its shader module and pipeline are
 * created once per distinct key. A spec may name the parameter structs its entry point reads
 * (src/gpu/uniforms.ts); they are checked against the kernel's source when the pipeline is
 * created, so a TS description that no longer matches its WGSL struct fails before any dispatch.
 *
 * @module
 */
import type { CommandRecorder } from "./recorder.ts";
import type { ParamStruct } from "./uniforms.ts";

/**
 * WGSL declarations shared by several kernel files (e.g. kernels/prelude_image.wgsl), prepended
 * to a kernel's source by {@link KernelCache}: the one place shader text is joined.
 */
export interface KernelPrelude {
  /** The prelude's file name, e.g. `prelude_image.wgsl` (part of the cache key). */
  file: string;
  /** Its WGSL text. */
  source: string;
}

/** What identifies a compiled kernel. */
export interface KernelSpec {
  /** The WGSL file's name, e.g. `matmul.wgsl` (used in every error message). */
  file: string;
  /** The WGSL source text (import it with `with { type: "text" }`). */
  source: string;
  /** Entry point name. */
  entryPoint: string;
  /** Values for the shader's `override` declarations (the specialisation key). */
  constants?: Record<string, number>;
  /** Declarations compiled in front of `source` (its helpers are not repeated in the file). */
  prelude?: KernelPrelude;
  /**
   * The parameter struct(s) the entry point's uniform block is packed with, checked against
   * `source` when the pipeline is created (not part of the cache key: they do not change the
   * compiled code).
   */
  params?: ParamStruct<string> | readonly ParamStruct<string>[];
}

/** A compiled compute pipeline plus the label used in errors. */
export interface Kernel {
  /** Name used in error messages and GPU debug labels (the shader file and entry point). */
  readonly label: string;
  /** The compiled pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Bind group layout of group 0, for building bind groups. */
  readonly layout: GPUBindGroupLayout;
}

/** The key a spec is cached under. */
export function kernelKey(spec: KernelSpec): string {
  const constants = Object.entries(spec.constants ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const file = spec.prelude ? `${spec.prelude.file}+${spec.file}` : spec.file;
  return `${file}#${spec.entryPoint}(${constants.map(([k, v]) => `${k}=${v}`).join(",")})`;
}

/**
 * Checks `spec.params` against the kernel's own source: each struct must describe `spec.source`
 * and agree with its WGSL declaration field by field.
 *
 * @throws TypeError naming the kernel, the struct and the first mismatching field
 */
export function checkKernelParams(spec: KernelSpec): void {
  if (!spec.params) return;
  const structs: readonly ParamStruct<string>[] = Array.isArray(spec.params)
    ? spec.params
    : [spec.params as ParamStruct<string>];
  for (const struct of structs) {
    if (struct.source !== spec.source) {
      throw new TypeError(
        `kernels/${spec.file}#${spec.entryPoint}: parameter struct ${struct.structName} ` +
          `describes kernels/${struct.file}, not this kernel's source`,
      );
    }
    struct.check();
  }
}

/**
 * What a {@link KernelCache} needs of the device object: the device to compile on, the recorder
 * that watches compile errors, and the failure latch. (`Gpu` satisfies it; the cache does not
 * import `Gpu`, which owns the cache.)
 */
export interface KernelHost {
  /** The device pipelines are created on. */
  readonly device: GPUDevice;
  /** Watches compilation error scopes and settles them before a throw. */
  readonly recorder: Pick<CommandRecorder, "watch" | "settleErrors">;
  /** Throws the first asynchronous GPU error seen, if any. */
  throwIfFailed(): void;
}

/**
 * Cache of compiled kernels. Compilation is synchronous for the caller; the compiler's verdict
 * arrives through an error scope and is raised (naming the file and entry point, with the
 * compiler's message) by the next sync or readback, or at once by {@link KernelCache.compile}.
 */
export class KernelCache {
  #kernels = new Map<string, Kernel>();
  /**
   * Shader modules keyed by their full text (prelude included), shared by every entry point and
   * specialisation.
   */
  #modules = new Map<string, GPUShaderModule>();

  /** An empty cache compiling on `gpu`'s device. */
  constructor(readonly gpu: KernelHost) {}

  /** Number of distinct pipelines created. */
  get size(): number {
    return this.#kernels.size;
  }

  /**
   * The kernel for `spec`, compiled on first use (when its {@link KernelSpec.params} are checked
   * too).
   *
   * @throws TypeError when a described parameter struct does not match the kernel's WGSL
   */
  get(spec: KernelSpec): Kernel {
    const key = kernelKey(spec);
    let kernel = this.#kernels.get(key);
    if (kernel) return kernel;
    checkKernelParams(spec);
    const device = this.gpu.device;
    const label = key;
    device.pushErrorScope("validation");
    const code = spec.prelude ? `${spec.prelude.source}\n${spec.source}` : spec.source;
    let module = this.#modules.get(code);
    if (!module) {
      module = device.createShaderModule({ label: spec.file, code });
      this.#modules.set(code, module);
    }
    const pipeline = device.createComputePipeline({
      label,
      layout: "auto",
      compute: { module, entryPoint: spec.entryPoint, constants: spec.constants },
    });
    const layout = pipeline.getBindGroupLayout(0);
    this.gpu.recorder.watch(device.popErrorScope(), `compiling kernels/${label}`);
    kernel = { label, pipeline, layout };
    this.#kernels.set(key, kernel);
    return kernel;
  }

  /**
   * Compiles `spec` now and throws a `GpuError` naming the kernel file if WGSL compilation or
   * pipeline creation fails. Use it to pre-warm kernels or to test shaders.
   */
  async compile(spec: KernelSpec): Promise<Kernel> {
    const kernel = this.get(spec);
    await this.gpu.recorder.settleErrors();
    this.gpu.throwIfFailed();
    return kernel;
  }
}
