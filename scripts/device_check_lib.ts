/**
 * The pure parts of `deno task device-check` (scripts/device_check.ts): the workload sizes per
 * adapter kind (full on hardware, scaled down on a software adapter so the command finishes
 * here), the distinct convolution shapes of a network, row names, the PyTorch peer's workload
 * list, and the one table the command ends with. No GPU, file or process access here, so
 * tests/scripts/device_check_test.ts runs it quickly.
 *
 * @module
 */
import { type BenchRow, row } from "../tests/bench/harness.ts";

/** Sizes of every workload of one device-check run. */
export interface DevicePlan {
  /** Whether these are the scaled-down sizes of a software adapter. */
  scaled: boolean;
  /** Square GEMM sizes (n for n×n·n×n). */
  gemm: number[];
  /** ResNet-50 convolution shapes: those of a forward pass at this batch and input size. */
  conv: { batch: number; size: number };
  /** ResNet-50 eval forward (BN folded). */
  resnet: { batch: number; size: number };
  /** One MoCo v2 ResNet-50 training step (MLP head, dim 128). */
  moco: { batch: number; size: number; groups: number; K: number };
  /** Synthetic-invariance views: k rotation views of one image, Resize + CenterCrop, features. */
  views: { k: number; width: number; height: number; resize: number; crop: number };
  /** Timed samples per tuner variant. */
  tuneReps: number;
}

/** The full sizes (issue 19) for a hardware GPU. */
export const FULL_PLAN: DevicePlan = {
  scaled: false,
  gemm: [1024, 2048, 4096],
  conv: { batch: 32, size: 224 },
  resnet: { batch: 64, size: 224 },
  moco: { batch: 32, size: 224, groups: 1, K: 65536 },
  views: { k: 64, width: 500, height: 375, resize: 256, crop: 224 },
  tuneReps: 3,
};

/**
 * Sizes for a software adapter (Mesa llvmpipe on 2 shared cores: about 1/1000 of a data-centre
 * GPU): GEMMs 4× smaller per side, every other workload at batch 1–4 and 1/4–1/7 of the
 * resolution, so the whole command (with the golden tests) stays under 10 minutes.
 */
export const SOFTWARE_PLAN: DevicePlan = {
  scaled: true,
  gemm: [256, 512, 1024],
  conv: { batch: 1, size: 32 },
  resnet: { batch: 4, size: 64 },
  moco: { batch: 4, size: 32, groups: 1, K: 4096 },
  views: { k: 8, width: 125, height: 94, resize: 64, crop: 56 },
  tuneReps: 1,
};

/** Whether an adapter is a software rasteriser (Mesa llvmpipe / lavapipe, SwiftShader, WARP). */
export function isSoftwareAdapter(
  summary: { isFallbackAdapter: boolean; description: string },
): boolean {
  return summary.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|software|microsoft basic render/i.test(summary.description);
}

/** The plan for an adapter; `force` overrides the choice ("full" or "scaled"). */
export function planFor(software: boolean, force?: "full" | "scaled"): DevicePlan {
  const scaled = force === undefined ? software : force === "scaled";
  return structuredClone(scaled ? SOFTWARE_PLAN : FULL_PLAN);
}

/** One convolution as a network runs it (as `ResNet.convGeometries` gives them). */
export interface ConvShape {
  /** Input [N, H, W, Cin]. */
  xShape: number[];
  /** Weights [kH, kW, Cin, Cout]. */
  wShape: number[];
  stride: number;
  pad: number;
}

/** The convolution ops of a benchmark row. */
export type ConvKind = "fwd" | "bwd-data" | "bwd-filter";

/** The distinct shapes, in first-seen order. */
export function distinctConvs(shapes: readonly ConvShape[]): ConvShape[] {
  const seen = new Set<string>();
  const out: ConvShape[] = [];
  for (const s of shapes) {
    const key = `${s.xShape}|${s.wShape}|${s.stride}|${s.pad}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ xShape: [...s.xShape], wShape: [...s.wShape], stride: s.stride, pad: s.pad });
  }
  return out;
}

/**
 * The ops timed for a shape: forward, backward data and backward filter, except backward data
 * of a convolution on the RGB input (training never needs the image's gradient).
 */
export function convKinds(s: ConvShape): ConvKind[] {
  return s.xShape[3] === 3 ? ["fwd", "bwd-filter"] : ["fwd", "bwd-data", "bwd-filter"];
}

/** Output height and width of a convolution. */
export function convOutput(s: ConvShape): [number, number] {
  const [, h, w] = s.xShape;
  const [kh, kw] = s.wShape;
  return [
    Math.floor((h + 2 * s.pad - kh) / s.stride) + 1,
    Math.floor((w + 2 * s.pad - kw) / s.stride) + 1,
  ];
}

/** Multiply-adds × 2 of one op on a shape (the same for all three ops). */
export function convFlops(s: ConvShape): number {
  const [oh, ow] = convOutput(s);
  const [kh, kw, cin, cout] = s.wShape;
  return 2 * s.xShape[0] * oh * ow * cout * kh * kw * cin;
}

/** Stable row name, as tests/bench/conv_rows.ts: `conv fwd 3x3/2 128->128 b32 56x56`. */
export function convRowName(kind: ConvKind, s: ConvShape): string {
  const [kh, kw, cin, cout] = s.wShape;
  const k = `${kh}x${kw}${s.stride > 1 ? `/${s.stride}` : ""}`;
  return `conv ${kind} ${k} ${cin}->${cout} b${s.xShape[0]} ${s.xShape[1]}x${s.xShape[2]}`;
}

/** Row names of the non-convolution workloads. */
export function rowNames(plan: DevicePlan): {
  gemm: (n: number) => string;
  resnet: string;
  moco: string;
  views: string;
} {
  const { resnet: r, moco: m, views: v } = plan;
  return {
    gemm: (n) => `gemm ${n}`,
    resnet: `resnet50 fwd b${r.batch} ${r.size}`,
    moco: `moco step resnet50 b${m.batch} ${m.size}`,
    views: `synthetic views rotation k${v.k} ${v.width}x${v.height} -> ${v.crop} + resnet50`,
  };
}

/** One workload of the PyTorch peer (tests/bench/device_torch.py). */
export type TorchWorkload =
  | { name: string; kind: "gemm"; n: number }
  | {
    name: string;
    kind: "conv";
    op: ConvKind;
    x: number[];
    w: number[];
    stride: number;
    pad: number;
  }
  | { name: string; kind: "resnet50"; batch: number; size: number }
  | { name: string; kind: "moco"; batch: number; size: number; groups: number; K: number }
  | {
    name: string;
    kind: "views";
    k: number;
    width: number;
    height: number;
    resize: number;
    crop: number;
  };

/** Every workload of a plan for the PyTorch peer, named as our rows. */
export function torchWorkloads(plan: DevicePlan, convs: readonly ConvShape[]): TorchWorkload[] {
  const names = rowNames(plan);
  const out: TorchWorkload[] = plan.gemm.map((n) => ({ name: names.gemm(n), kind: "gemm", n }));
  for (const s of convs) {
    for (const op of convKinds(s)) {
      out.push({
        name: convRowName(op, s),
        kind: "conv",
        op,
        x: s.xShape,
        w: s.wShape,
        stride: s.stride,
        pad: s.pad,
      });
    }
  }
  out.push({ name: names.resnet, kind: "resnet50", ...plan.resnet });
  out.push({ name: names.moco, kind: "moco", ...plan.moco });
  out.push({ name: names.views, kind: "views", ...plan.views });
  return out;
}

/** Our measurement of one row, with the tuner's choice where one applies. */
export interface Measured {
  name: string;
  unit: string;
  ours: number;
  /** The kernel variant(s) used, e.g. `wg128` or `fwd r16x32 · data wg64 · filter r32x32`. */
  variant?: string;
  /** The tuner's trials for this row: `variant ms` pairs, fastest marked with `*`. */
  trials?: string;
}

/** The PyTorch peer's answer (device_torch.py's JSON line), or why there is none. */
export interface TorchResult {
  torch?: string;
  device?: string;
  gpu?: string | null;
  results?: Record<string, number>;
  errors?: Record<string, string>;
  error?: string;
}

/** The peer label of the rows: what PyTorch ran on. */
export function peerLabel(t: TorchResult): string {
  if (!t.results) return `PyTorch unavailable (${t.error ?? "no result"})`;
  return t.device === "cuda"
    ? `PyTorch ${t.torch} CUDA fp32, TF32 off (${t.gpu})`
    : `PyTorch ${t.torch} ${t.device?.toUpperCase()} fp32`;
}

/** Benchmark rows (docs/design.md#benchmarks schema) from our measurements and the peer's. */
export function benchRows(measured: readonly Measured[], t: TorchResult): BenchRow[] {
  const peer = peerLabel(t);
  return measured.map((m) => row(m.name, m.unit, m.ours, peer, t.results?.[m.name] ?? null));
}

/** Formats a trial list: `reg 1.20 · reg32 0.95* · wg 3.10` (ms per run). */
export function formatTrials(
  trials: readonly { variant: string; ms: number; chosen: boolean }[],
): string {
  return trials.map((t) => `${t.variant} ${fmt(t.ms)}${t.chosen ? "*" : ""}`).join(" · ");
}

/** A number in at most 4 significant digits ("-" for null or NaN). */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a === 0) return "0";
  return v.toPrecision(3);
}

/** Everything the final table shows. */
export interface TableInput {
  /** `deno task info --json` (adapter, backend, features, limits, …). */
  info: Record<string, unknown>;
  plan: DevicePlan;
  rows: readonly BenchRow[];
  measured: readonly Measured[];
  /** Golden fixture tests run on this adapter: file → passed. */
  parity: readonly { file: string; ok: boolean; seconds: number }[];
  seconds: number;
}

/** Limits shown in the table (all of them are in results/bench/device.json). */
export const SHOWN_LIMITS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupsPerDimension",
  "minSubgroupSize",
  "maxSubgroupSize",
];

/**
 * The one table of the run: the adapter block (from `deno task info`), then one line per row
 * (ours, PyTorch, ratio, the tuner's choice, its trials), then the parity tests.
 */
export function formatTable(t: TableInput): string {
  const info = t.info;
  const limits = (info.limits ?? {}) as Record<string, number>;
  const lines: string[] = [];
  const peer = t.rows[0]?.peer ?? "-";
  lines.push(
    `device-check: ${info.adapter ?? "?"} · backend ${info.backend ?? "?"} · vendor ${
      info.vendor || "-"
    } ${info.architecture || ""}`.trimEnd(),
  );
  lines.push(
    `  deno ${info.deno ?? "?"} · fallback adapter ${info.fallbackAdapter ? "yes" : "no"} · ` +
      `sizes ${t.plan.scaled ? "SCALED DOWN (software adapter)" : "full"} · peer ${peer}`,
  );
  const features = Array.isArray(info.features) ? info.features.join(", ") : "-";
  lines.push(`  features: ${features || "none"}`);
  const shown = SHOWN_LIMITS.filter((k) => k in limits).map((k) => `${k} ${limits[k]}`);
  lines.push(`  limits: ${shown.join(" · ")}`);
  const byName = new Map(t.measured.map((m) => [m.name, m]));
  const nameW = Math.max(24, ...t.rows.map((r) => r.name.length));
  const header = [
    "name".padEnd(nameW),
    "unit".padEnd(8),
    "ours".padStart(9),
    "pytorch".padStart(9),
    "ratio".padStart(7),
    "  variant / tuner trials (ms per run, * = chosen)",
  ].join(" ");
  lines.push(header);
  lines.push("-".repeat(Math.min(160, header.length + 20)));
  for (const r of t.rows) {
    const m = byName.get(r.name);
    const tail = [m?.variant, m?.trials ? `[${m.trials}]` : undefined].filter(Boolean).join(" ");
    lines.push(
      [
        r.name.padEnd(nameW),
        r.unit.padEnd(8),
        fmt(r.ours).padStart(9),
        fmt(r.peer_value).padStart(9),
        (r.ratio === null ? "-" : `${r.ratio.toFixed(2)}×`).padStart(7),
        ` ${tail}`,
      ].join(" ").trimEnd(),
    );
  }
  lines.push("-".repeat(Math.min(160, header.length + 20)));
  for (const p of t.parity) {
    lines.push(`parity ${p.file}: ${p.ok ? "PASS" : "FAIL"} (${p.seconds.toFixed(0)} s)`);
  }
  lines.push(`total ${t.seconds.toFixed(0)} s`);
  return lines.join("\n");
}
