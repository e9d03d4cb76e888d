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
  /**
   * Values listed in `--help` (as `choices` are) but checked by the script, for flags that also
   * take open forms such as `folder:PATH`.
   */
  listed?: readonly string[];
  /**
   * `"+"`: a list, as argparse's `nargs='+'`: `--schedule 120 160` takes the values that follow
   * (numbers for a numeric flag), `--schedule 120,160` and `--schedule=120,160` work too. The
   * parsed value is an array.
   */
  nargs?: "+";
}

/** Declaration of a positional argument. */
export interface PositionalSpec {
  /** Name shown in `--help`. */
  name: string;
  /** Help text, one line. */
  help: string;
  /** Whether it must be given. */
  required?: boolean;
  /** The last positional only: takes any number of values. */
  variadic?: boolean;
}

/** A whole command line: program name, one-paragraph summary, flags and positionals. */
export interface CliSpec<F extends Record<string, FlagSpec>> {
  /** Program name in `usage:` (e.g. `deno task pretrain`). */
  name: string;
  /** One paragraph on what it does. */
  summary: string;
  /** The flags, keyed by their kebab-case name. */
  flags: F;
  /** Positional arguments, in order. */
  positionals?: readonly PositionalSpec[];
}

/** The parsed type of one flag. */
export type ValueOf<S extends FlagSpec> = S extends { nargs: "+" }
  ? (S["type"] extends "number" | "int" ? number[] : string[])
  : S["type"] extends "boolean" ? boolean
  : S["type"] extends "number" | "int" ? number
  : string;

/** Parsed flags: keyed by the flag name as declared (kebab-case), typed by the declaration. */
export type ParsedFlags<F extends Record<string, FlagSpec>> = {
  [K in keyof F]: F[K] extends { default: unknown } ? ValueOf<F[K]> : ValueOf<F[K]> | undefined;
};

/** The result of {@link parseCli}. */
export interface ParsedCli<F extends Record<string, FlagSpec>> {
  /** Flag values (defaults applied). */
  flags: ParsedFlags<F>;
  /** Positional arguments, in order. */
  positionals: string[];
}

/** Formats the `--help` text of a command line. */
export function usage<F extends Record<string, FlagSpec>>(spec: CliSpec<F>): string {
  const pos = (spec.positionals ?? []).map((p) => {
    const name = p.variadic ? `${p.name}…` : p.name;
    return p.required ? `<${name}>` : `[${name}]`;
  });
  const lines = [`usage: ${spec.name} [flags] ${pos.join(" ")}`.trimEnd(), "", spec.summary, ""];
  for (const p of spec.positionals ?? []) lines.push(`  ${p.name.padEnd(28)} ${p.help}`);
  for (const [name, f] of Object.entries(spec.flags)) {
    const short = f.short ? `-${f.short}, ` : "";
    const values = f.choices ?? f.listed;
    const one = values ? values.join("|") : f.type;
    const meta = f.type === "boolean" ? "" : f.nargs ? ` <${one}> [${one} …]` : ` <${one}>`;
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
  args = attachNegativeValues(args, spec.flags);
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type === "boolean" ? "boolean" : "string" };
    if (f.short) options[name].short = f.short;
  }
  const lists: Record<string, string[]> = {};
  const rest = collectLists(args, spec.flags, lists);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split("\n")[0]} (see --help)`);
  }
  if (parsed.values.help) {
    console.log(usage(spec));
    Deno.exit(0);
  }
  const flags: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    if (f.nargs) {
      const given = lists[name];
      const texts = given ?? (f.default === undefined ? undefined : splitList(String(f.default)));
      flags[name] = texts?.map((text) => convertFlag(name, f, text));
      continue;
    }
    const raw = parsed.values[name] as string | boolean | undefined;
    flags[name] = raw === undefined ? f.default : convertFlag(name, f, raw);
  }
  const required = (spec.positionals ?? []).filter((p) => p.required);
  if (parsed.positionals.length < required.length) {
    const missing = required.slice(parsed.positionals.length).map((p) => p.name);
    throw new UsageError(`missing argument: ${missing.join(", ")} (see --help)`);
  }
  const variadic = spec.positionals?.at(-1)?.variadic ?? false;
  const allowed = variadic ? Infinity : spec.positionals?.length ?? 0;
  if (parsed.positionals.length > allowed) {
    throw new UsageError(
      `unexpected argument '${parsed.positionals[allowed]}' (see --help)`,
    );
  }
  return { flags: flags as ParsedFlags<F>, positionals: parsed.positionals };
}

function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function looksNumeric(text: string): boolean {
  return text.trim() !== "" && Number.isFinite(Number(text));
}

/**
 * Takes the list flags (`nargs: "+"`) out of `args` into `lists` and returns the rest: after
 * `--name`, the following arguments that are not flags (numbers only, for a numeric list) are its
 * values; `--name=a,b` and `--name a,b` split on commas. The last occurrence wins, as argparse.
 */
function collectLists(
  args: readonly string[],
  flags: Record<string, FlagSpec>,
  lists: Record<string, string[]>,
): string[] {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const m = arg.match(/^--([^=]+)(?:=(.*))?$/);
    const f = m ? flags[m[1]] : undefined;
    if (!m || !f?.nargs) {
      rest.push(arg);
      continue;
    }
    const name = m[1];
    const numeric = f.type === "number" || f.type === "int";
    const values: string[] = [];
    if (m[2] !== undefined) values.push(...splitList(m[2]));
    else {
      while (i + 1 < args.length) {
        const next = args[i + 1];
        const isValue = numeric
          ? looksNumeric(next) || /^[\d.,\s]+$/.test(next)
          : !next.startsWith("-");
        if (!isValue) break;
        values.push(...splitList(next));
        i++;
      }
    }
    if (values.length === 0) {
      throw new UsageError(`--${name}: expected at least one value (see --help)`);
    }
    lists[name] = values;
  }
  return rest;
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

/**
 * argparse reads `-b -8` as the value -8 (an argument that looks like a negative number is a
 * value, not a flag); node's parseArgs calls it ambiguous. Joins such pairs as `--batch-size=-8`
 * so the flag's own check says what is wrong with -8.
 */
function attachNegativeValues(args: string[], flags: Record<string, FlagSpec>): string[] {
  const byShort = new Map<string, string>();
  for (const [name, f] of Object.entries(flags)) if (f.short) byShort.set(f.short, name);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const long = /^--([^=]+)$/.exec(arg)?.[1];
    const short = /^-([A-Za-z])$/.exec(arg)?.[1];
    const name = long ?? (short === undefined ? undefined : byShort.get(short));
    const f = name === undefined ? undefined : flags[name];
    const takesValue = f !== undefined && f.type !== "boolean" &&
      !(f as { nargs?: string }).nargs;
    if (takesValue && next !== undefined && /^-(\d|\.\d|inf|Infinity)/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}
