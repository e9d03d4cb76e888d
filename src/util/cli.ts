/**
 * One command-line parser for every script, over `node:util` parseArgs: kebab-case flags,
 * typed defaults, choices, `--help`, and `UsageError`s that name the offending flag.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";

/** The value types a flag can hold. */
export type FlagType = "string" | "number" | "int" | "boolean";

/** Declaration of one flag. */
export interface FlagSpec {
  /** Value type; `int` rejects fractional numbers. */
  type: FlagType;
  /** Help text, one line. */
  help: string;
  /** Default value (omit for "no value"). */
  default?: string | number | boolean;
  /** One-letter alias, e.g. `a` for `--arch`. */
  short?: string;
  /** Allowed values for a string flag. */
  choices?: readonly string[];
}

/** Declaration of a positional argument. */
export interface PositionalSpec {
  name: string;
  help: string;
  required?: boolean;
}

/** A whole command line: program name, one-paragraph summary, flags and positionals. */
export interface CliSpec<F extends Record<string, FlagSpec>> {
  name: string;
  summary: string;
  flags: F;
  positionals?: readonly PositionalSpec[];
}

type ValueOf<S extends FlagSpec> = S["type"] extends "boolean" ? boolean
  : S["type"] extends "number" | "int" ? number
  : string;

/** Parsed flags: keyed by the flag name as declared (kebab-case), typed by the declaration. */
export type ParsedFlags<F extends Record<string, FlagSpec>> = {
  [K in keyof F]: F[K] extends { default: unknown } ? ValueOf<F[K]> : ValueOf<F[K]> | undefined;
};

/** The result of {@link parseCli}. */
export interface ParsedCli<F extends Record<string, FlagSpec>> {
  flags: ParsedFlags<F>;
  positionals: string[];
}

/** Formats the `--help` text of a command line. */
export function usage<F extends Record<string, FlagSpec>>(spec: CliSpec<F>): string {
  const pos = (spec.positionals ?? []).map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`));
  const lines = [`usage: ${spec.name} [flags] ${pos.join(" ")}`.trimEnd(), "", spec.summary, ""];
  for (const p of spec.positionals ?? []) lines.push(`  ${p.name.padEnd(28)} ${p.help}`);
  for (const [name, f] of Object.entries(spec.flags)) {
    const short = f.short ? `-${f.short}, ` : "";
    const meta = f.type === "boolean" ? "" : ` <${f.choices ? f.choices.join("|") : f.type}>`;
    const def = f.default === undefined ? "" : ` (default: ${JSON.stringify(f.default)})`;
    lines.push(`  ${(short + "--" + name + meta).padEnd(28)} ${f.help}${def}`);
  }
  lines.push(`  ${"-h, --help".padEnd(28)} show this help`);
  return lines.join("\n");
}

/**
 * Parses `args` against `spec`. Prints the help and exits 0 on `--help`; throws `UsageError` for an
 * unknown flag, a missing value, a malformed number, a value outside `choices` or a missing
 * required positional.
 *
 * @example
 * ```ts
 * const { flags } = parseCli(["--k", "8"], {
 *   name: "demo", summary: "example",
 *   flags: { k: { type: "int", default: 256, help: "views per image" } },
 * });
 * flags.k; // 8
 * ```
 */
export function parseCli<F extends Record<string, FlagSpec>>(
  args: string[],
  spec: CliSpec<F>,
): ParsedCli<F> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type === "boolean" ? "boolean" : "string" };
    if (f.short) options[name].short = f.short;
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split("\n")[0]} (see --help)`);
  }
  if (parsed.values.help) {
    console.log(usage(spec));
    Deno.exit(0);
  }
  const flags: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const raw = parsed.values[name] as string | boolean | undefined;
    flags[name] = raw === undefined ? f.default : convertFlag(name, f, raw);
  }
  const required = (spec.positionals ?? []).filter((p) => p.required);
  if (parsed.positionals.length < required.length) {
    const missing = required.slice(parsed.positionals.length).map((p) => p.name);
    throw new UsageError(`missing argument: ${missing.join(", ")} (see --help)`);
  }
  const allowed = spec.positionals?.length ?? 0;
  if (parsed.positionals.length > allowed) {
    throw new UsageError(
      `unexpected argument '${parsed.positionals[allowed]}' (see --help)`,
    );
  }
  return { flags: flags as ParsedFlags<F>, positionals: parsed.positionals };
}

function convertFlag(name: string, f: FlagSpec, raw: string | boolean): unknown {
  if (f.type === "boolean") return raw;
  const text = raw as string;
  if (f.type === "string") {
    if (f.choices && !f.choices.includes(text)) {
      throw new UsageError(`--${name}: '${text}' is not one of ${f.choices.join(", ")}`);
    }
    return text;
  }
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`--${name}: '${text}' is not a number`);
  }
  if (f.type === "int" && !Number.isInteger(value)) {
    throw new UsageError(`--${name}: '${text}' is not an integer`);
  }
  return value;
}
