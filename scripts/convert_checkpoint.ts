/**
 * Inspects a PyTorch checkpoint (zip or legacy format) and optionally converts its state dict to
 * safetensors.
 *
 * ```sh
 * deno run -A scripts/convert_checkpoint.ts inspect models/default.pth.tar
 * deno run -A scripts/convert_checkpoint.ts inspect models/default.pth.tar --summary \
 *   --encoder encoder_q --drop-head --to-safetensors default_backbone.safetensors
 * ```
 *
 * Exits 1 with one line on stderr for a missing, corrupt or unsupported file.
 *
 * @module
 */
import { parseCli } from "../src/util/cli.ts";
import { DataError, UsageError } from "../src/util/errors.ts";
import { runMain } from "../src/util/main.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { OrderedDict, PyFloat, pyNumber, PyTuple, type PyValue } from "../src/io/pickle.ts";
import { loadTorchCheckpoint } from "../src/io/torch/read.ts";
import { dropHead, findStateDict, selectEncoder } from "../src/io/torch/state_dict.ts";
import { type StateDict, tensorBytes, TorchTensor } from "../src/io/torch/tensor.ts";

const SPEC = {
  name: "convert_checkpoint",
  summary: "Show what a PyTorch checkpoint holds (format, arch, epoch, state-dict keys, shapes, " +
    "dtypes, optimizer); optionally write its state dict as safetensors.",
  flags: {
    summary: { type: "boolean", help: "omit the per-key listing", default: false },
    encoder: {
      type: "string",
      help:
        "keep only this MoCo encoder's backbone keys (e.g. encoder_q), module./encoder prefixes removed",
    },
    "drop-head": { type: "boolean", help: "drop fc.* (classifier / MLP head)", default: false },
    "to-safetensors": {
      type: "string",
      help: "write the (selected) state dict to this .safetensors file",
    },
  },
  positionals: [
    { name: "command", help: "inspect", required: true },
    { name: "file", help: "checkpoint file (.pth, .pth.tar)", required: true },
  ],
} as const;

const SAFETENSORS_DTYPES: Record<string, string> = {
  float32: "F32",
  float64: "F64",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

/** Encodes a state dict in the safetensors format (JSON header + raw little-endian data). */
export function encodeSafetensors(
  stateDict: StateDict,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of stateDict) {
    const bytes = tensorBytes(t);
    header[name] = {
      dtype: SAFETENSORS_DTYPES[t.dtype],
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes.length],
    };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

function scalarText(v: PyValue | undefined): string {
  if (v === undefined) return "-";
  if (v === null) return "None";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "boolean") return v ? "True" : "False";
  if (v instanceof PyFloat) return Number.isFinite(v.value) ? v.value.toFixed(1) : String(v.value);
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof TorchTensor) return `tensor ${v.dtype} [${v.shape.join(", ")}]`;
  if (v instanceof Map) return `dict (${v.size} items)`;
  if (Array.isArray(v)) return `list (${v.length} items)`;
  if (v instanceof PyTuple) return `tuple (${v.length} items)`;
  return typeof v === "object" ? v.constructor.name : String(v);
}

function typeName(v: PyValue): string {
  return v instanceof OrderedDict ? "OrderedDict" : v instanceof Map ? "dict" : scalarText(v);
}

/** Every tensor under `v`, with a dotted path (for checkpoints that hold no state dict). */
function walkTensors(
  v: PyValue,
  path: string,
  out: [string, TorchTensor][],
  seen: Set<unknown>,
): void {
  if (v instanceof TorchTensor) {
    out.push([path, v]);
    return;
  }
  if (v === null || typeof v !== "object" || seen.has(v)) return;
  seen.add(v);
  const join = (k: unknown) => (path ? `${path}.${String(k)}` : String(k));
  if (v instanceof Map) { for (const [k, x] of v) walkTensors(x, join(k), out, seen); }
  else if (Array.isArray(v)) v.forEach((x, i) => walkTensors(x, join(i), out, seen));
  else if (v instanceof PyTuple) v.items.forEach((x, i) => walkTensors(x, join(i), out, seen));
}

function listTensors(entries: Iterable<[string, TorchTensor]>, summary: boolean): string[] {
  const list = [...entries];
  const counts = new Map<string, number>();
  let elements = 0;
  for (const [, t] of list) {
    counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1);
    elements += t.numel;
  }
  const dtypes = [...counts].map(([d, n]) => `${d} x${n}`).join(", ");
  const lines = [
    `${list.length} tensors, ${elements.toLocaleString("en-US")} elements (${dtypes})`,
  ];
  if (!summary) {
    const width = Math.min(64, Math.max(0, ...list.map(([k]) => k.length)));
    for (const [k, t] of list) {
      lines.push(`  ${k.padEnd(width)}  ${t.dtype.padEnd(8)}  [${t.shape.join(", ")}]`);
    }
  }
  return lines;
}

function optimizerLines(opt: PyValue | undefined): string[] {
  if (!(opt instanceof Map)) return [];
  const state = opt.get("state");
  const groups = opt.get("param_groups");
  const buffers = state instanceof Map ? state.size : 0;
  const lines = [`optimizer: ${buffers} per-parameter states`];
  if (Array.isArray(groups)) {
    groups.forEach((g, i) => {
      if (!(g instanceof Map)) return;
      const fields = [...g].filter(([k]) => k !== "params").map(([k, v]) => {
        const n = pyNumber(v);
        return `${String(k)}=${typeof v === "boolean" || n === undefined ? scalarText(v) : n}`;
      });
      const params = g.get("params");
      fields.push(`params=${Array.isArray(params) ? params.length : "?"}`);
      lines.push(`  param_groups[${i}]: ${fields.join(" ")}`);
    });
  }
  return lines;
}

async function main(): Promise<void> {
  const { flags, positionals } = parseCli(Deno.args, SPEC);
  const [command, file] = positionals;
  if (command !== "inspect") {
    throw new UsageError(`unknown command '${command}' (expected: inspect)`);
  }
  const { value, format } = await loadTorchCheckpoint(file);
  const out: string[] = [
    `file: ${file}`,
    `format: ${format === "zip" ? "zip (torch >= 1.6)" : "legacy (torch < 1.6 serialization)"}`,
  ];
  if (value instanceof Map) {
    out.push(`contents: ${typeName(value)} with keys ${[...value.keys()].map(String).join(", ")}`);
    for (const key of ["arch", "epoch", "best_acc1"]) {
      if (value.has(key)) out.push(`${key}: ${scalarText(value.get(key))}`);
    }
  } else out.push(`contents: ${typeName(value)}`);

  let stateDict: StateDict | undefined;
  try {
    stateDict = findStateDict(value, file);
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
  }
  if (stateDict !== undefined) {
    if (flags.encoder !== undefined) {
      stateDict = selectEncoder(stateDict, flags.encoder, { dropHead: flags["drop-head"], file });
    } else if (flags["drop-head"]) stateDict = dropHead(stateDict);
    out.push(`state dict: ${listTensors(stateDict, flags.summary).join("\n")}`);
  } else {
    const tensors: [string, TorchTensor][] = [];
    walkTensors(value, "", tensors, new Set());
    out.push(`tensors (no state dict): ${listTensors(tensors, flags.summary).join("\n")}`);
  }
  if (value instanceof Map) out.push(...optimizerLines(value.get("optimizer")));
  console.log(out.join("\n"));

  const target = flags["to-safetensors"];
  if (target !== undefined) {
    if (stateDict === undefined) throw new DataError(`${file}: no state dict to convert`);
    const metadata: Record<string, string> = { format: "pt", source: file };
    if (value instanceof Map) {
      for (const key of ["arch", "epoch"]) {
        const v = value.get(key);
        if (typeof v === "string" || typeof v === "number") metadata[key] = String(v);
      }
    }
    await writeFileAtomic(target, encodeSafetensors(stateDict, metadata));
    console.log(`wrote ${stateDict.size} tensors to ${target}`);
  }
}

if (import.meta.main) await runMain("convert_checkpoint", main);
