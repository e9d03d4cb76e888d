/**
 * Opening a WebGPU adapter and device with the adapter's maximum limits, and turning device loss
 * and uncaptured errors into thrown errors.
 *
 * @module
 */
import { GpuError, GpuUnavailableError } from "../util/errors.ts";
import { quietSoftwareAdapter } from "../util/main.ts";
import { Tuner } from "./autotune.ts";
import { BufferPool } from "./buffer_pool.ts";
import { KernelCache } from "./kernel.ts";
import { CommandRecorder } from "./recorder.ts";

/** Backends Deno's wgpu can be forced to through `DENO_WEBGPU_BACKEND`. */
export type GpuBackend = "vulkan" | "gl" | "metal" | "dx12";

/** Options for {@link openGpu}. */
export interface OpenGpuOptions {
  /** Adapter preference; default from `SSL_GPU_POWER` (`high-performance` | `low-power`). */
  powerPreference?: GPUPowerPreference;
  /**
   * Force a backend. Only effective before the first adapter request of the process, because
   * Deno reads `DENO_WEBGPU_BACKEND` when it creates its WebGPU instance.
   */
  backend?: GpuBackend;
  /** Ask for the software (fallback) adapter. */
  forceFallbackAdapter?: boolean;
  /** Features that must be present; missing ones make `openGpu` fail with a readable message. */
  requiredFeatures?: string[];
}

/** Features requested whenever the adapter offers them. */
const OPTIONAL_FEATURES = ["shader-f16", "timestamp-query"] as const;

/** Limits raised to the adapter's maximum. */
const MAX_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupsPerDimension",
  "maxBindingsPerBindGroup",
] as const;

/** A readable summary of the adapter and the device obtained. */
export interface AdapterSummary {
  /** Human-readable adapter name (falls back to the device string, or `unknown adapter`). */
  description: string;
  /** Adapter vendor as the driver reports it (may be empty). */
  vendor: string;
  /** Adapter architecture as the driver reports it (may be empty). */
  architecture: string;
  /** Device string as the driver reports it, e.g. `llvmpipe (LLVM 15.0.7, 256 bits)`. */
  device: string;
  /** The `DENO_WEBGPU_BACKEND` in force (`vulkan`, `gl`, `metal`, `dx12`), or `default`. */
  backend: string;
  /** Whether the adapter is a software fallback (true for some CPU rasterisers). */
  isFallbackAdapter: boolean;
  /** WebGPU features the device was created with, sorted. */
  features: string[];
  /** The device's limits (the raised ones included), by WebGPU limit name. */
  limits: Record<string, number>;
}

/** The message shown when no adapter exists at all. */
export const NO_ADAPTER_MESSAGE =
  "no WebGPU adapter found. On Linux without a GPU, install Mesa's software Vulkan driver " +
  "(`apt-get install mesa-vulkan-drivers`) and run again; on other systems update the GPU " +
  "driver. Set DENO_WEBGPU_BACKEND=vulkan|gl|metal|dx12 to force a backend.";

/**
 * An open GPU: adapter, device, buffer pool, kernel cache and the command recorder that every op
 * records into. Failures reported asynchronously by the device (loss, uncaptured validation
 * errors) are stored and thrown by the next {@link Gpu.check} or readback.
 */
export class Gpu {
  /** Reuses GPU buffers by size bucket; every tensor allocates from it. */
  readonly pool: BufferPool;
  /** Compiled compute pipelines, keyed by shader, entry point and constants. */
  readonly kernels: KernelCache;
  /** Batches dispatches and copies into command buffers; every op records into it. */
  readonly recorder: CommandRecorder;
  /** Per-adapter kernel variant choices (see `autotune.ts`). */
  readonly tuner: Tuner;
  #failure: Error | undefined;
  #lost = false;
  #destroyed = false;

  /**
   * Wraps an adapter and a device already requested; use {@link openGpu} rather than calling this.
   */
  constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly summary: AdapterSummary,
  ) {
    this.pool = new BufferPool(device);
    this.kernels = new KernelCache(this);
    this.recorder = new CommandRecorder(this);
    this.tuner = new Tuner(this);
    device.lost.then((info) => {
      if (!this.#destroyed) {
        this.#lost = true;
        this.#failure = undefined;
        this.fail(new GpuError(`device lost (${info.reason}): ${info.message || "no message"}`));
      }
    });
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.fail(new GpuError(`uncaptured ${error.constructor.name}: ${error.message.trim()}`));
    });
  }

  /** Whether the device was created with `shader-f16`. */
  get hasF16(): boolean {
    return this.device.features.has("shader-f16");
  }

  /** Whether the device was created with `timestamp-query`. */
  get hasTimestamps(): boolean {
    return this.device.features.has("timestamp-query");
  }

  /** Records a failure; the first one wins and is thrown by the next check. */
  fail(error: Error): void {
    this.#failure ??= error;
  }

  /**
   * Throws the stored failure, if any. Cheap: no GPU round trip. A validation error is thrown
   * once and then cleared (the device stays usable); a lost device keeps throwing.
   */
  throwIfFailed(): void {
    const failure = this.#failure;
    if (!failure) return;
    if (!this.#lost) this.#failure = undefined;
    throw failure;
  }

  /**
   * Submits everything recorded so far and waits until the GPU has finished it, then throws any
   * error that any recorded dispatch raised. Costs one GPU→CPU sync (≥ 11 ms in Deno 2.9).
   */
  async sync(): Promise<void> {
    this.recorder.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.recorder.settleErrors();
    this.throwIfFailed();
  }

  /** Releases all pooled memory and destroys the device. */
  destroy(): void {
    this.#destroyed = true;
    this.pool.trim(); // live buffers go with the device
    this.recorder.destroy();
    this.device.destroy();
  }
}

/**
 * Requests an adapter and a device with the adapter's maximum limits (storage binding size,
 * buffer size, workgroup storage, invocations per workgroup, …) and `shader-f16` /
 * `timestamp-query` when offered.
 *
 * @throws GpuUnavailableError when there is no adapter or a required feature is missing.
 * @example
 * ```ts
 * const gpu = await openGpu();
 * console.log(gpu.summary.description);
 * gpu.destroy();
 * ```
 */
export async function openGpu(options: OpenGpuOptions = {}): Promise<Gpu> {
  quietSoftwareAdapter();
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError("this Deno build has no navigator.gpu (WebGPU is missing)");
  }
  if (options.backend) Deno.env.set("DENO_WEBGPU_BACKEND", options.backend);
  const envPower = Deno.env.get("SSL_GPU_POWER");
  const powerPreference = options.powerPreference ??
    (envPower === "high-performance" || envPower === "low-power" ? envPower : undefined);
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigator.gpu.requestAdapter({
      powerPreference,
      forceFallbackAdapter: options.forceFallbackAdapter ?? false,
    });
  } catch (error) {
    throw new GpuUnavailableError(`${NO_ADAPTER_MESSAGE} (${(error as Error).message})`);
  }
  if (!adapter) throw new GpuUnavailableError(NO_ADAPTER_MESSAGE);

  const offered = new Set<string>(adapter.features);
  const missing = (options.requiredFeatures ?? []).filter((f) => !offered.has(f));
  if (missing.length > 0) {
    throw new GpuUnavailableError(
      `the adapter '${adapter.info.description}' lacks required feature(s) ${missing.join(", ")}` +
        ` (it offers: ${[...offered].sort().join(", ") || "none"})`,
    );
  }
  const requiredFeatures = [
    ...new Set([
      ...(options.requiredFeatures ?? []),
      ...OPTIONAL_FEATURES.filter((f) => offered.has(f)),
    ]),
  ] as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of MAX_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (error) {
    throw new GpuUnavailableError(
      `the adapter '${adapter.info.description}' refused a device: ${(error as Error).message}`,
    );
  }
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    limits[key] = (device.limits as unknown as Record<string, number>)[key];
  }
  const info = adapter.info;
  const summary: AdapterSummary = {
    description: info.description || info.device || "unknown adapter",
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
    isFallbackAdapter: (info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      false,
    features: [...device.features].sort(),
    limits,
  };
  return new Gpu(adapter, device, summary);
}
