/**
 * The named TS↔WGSL seam of kernel parameter blocks. Each kernel's `var<uniform>` struct is
 * described once, in TS, as an ordered list of typed fields ({@link paramStruct}); ops pack their
 * parameters by field name ({@link ParamStruct.pack}) instead of by position, and the description
 * is checked against the `struct` parsed from the kernel's WGSL source (names, order, types,
 * offsets, size, padding) when a pipeline naming it in `KernelSpec.params` is created
 * (src/gpu/kernel.ts), and in any case the first time it packs, so a kernel edited on one side
 * only fails with an error naming the field rather than reading the wrong number.
 *
 * Layout follows WGSL's rules for the uniform address space: `u32`/`i32`/`f32` are 4-byte
 * aligned, `vec2` 8, `vec3`/`vec4` and `mat4x4` 16; a struct's size is its last member's end
 * rounded up to its largest alignment. Fields whose name starts with `_` are padding: the packer
 * writes 0 there and callers do not name them.
 *
 * @module
 */

/** A WGSL type a parameter field may have (the spellings the kernels use). */
export type ParamType =
  | "u32"
  | "i32"
  | "f32"
  | "vec2u"
  | "vec2i"
  | "vec2f"
  | "vec4u"
  | "vec4i"
  | "vec4f"
  | "mat4x4f";

/** One field of a parameter struct, in declaration order. */
export interface ParamField {
  /** The WGSL member name (`_`-prefixed names are padding, always 0). */
  readonly name: string;
  /** Its WGSL type. */
  readonly type: ParamType;
}

/** A field with its byte offset. */
export interface PlacedField extends ParamField {
  /** Byte offset inside the struct. */
  readonly offset: number;
}

/** Byte layout of a struct: its fields with offsets, and its size. */
export interface StructLayout {
  /** Members in declaration order. */
  readonly fields: readonly PlacedField[];
  /** Size in bytes (last member's end rounded up to the struct's alignment). */
  readonly size: number;
}

const SCALAR = { u32: "u32", i32: "i32", f32: "f32" } as const;
type Scalar = keyof typeof SCALAR;

interface TypeInfo {
  scalar: Scalar;
  /** Components (1 for a scalar, 16 for a 4×4 matrix). */
  count: number;
  align: number;
  size: number;
}

const TYPES: Record<ParamType, TypeInfo> = {
  u32: { scalar: "u32", count: 1, align: 4, size: 4 },
  i32: { scalar: "i32", count: 1, align: 4, size: 4 },
  f32: { scalar: "f32", count: 1, align: 4, size: 4 },
  vec2u: { scalar: "u32", count: 2, align: 8, size: 8 },
  vec2i: { scalar: "i32", count: 2, align: 8, size: 8 },
  vec2f: { scalar: "f32", count: 2, align: 8, size: 8 },
  vec4u: { scalar: "u32", count: 4, align: 16, size: 16 },
  vec4i: { scalar: "i32", count: 4, align: 16, size: 16 },
  vec4f: { scalar: "f32", count: 4, align: 16, size: 16 },
  mat4x4f: { scalar: "f32", count: 16, align: 16, size: 64 },
};

/** WGSL spellings → the canonical {@link ParamType} (`vec4<f32>` is `vec4f`). */
function canonicalType(wgsl: string): ParamType | "vec3" | undefined {
  const t = wgsl.replace(/\s+/g, "");
  if (t in TYPES) return t as ParamType;
  const m = /^(vec[234]|mat4x4)<(u32|i32|f32)>$/.exec(t);
  if (m) {
    if (m[1] === "vec3") return "vec3";
    const short = `${m[1]}${m[2][0]}`;
    return short in TYPES ? short as ParamType : undefined;
  }
  return /^vec3[uif]$/.test(t) ? "vec3" : undefined;
}

function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/** Offsets and size of `fields` under WGSL's layout rules. */
export function layoutOf(fields: readonly ParamField[]): StructLayout {
  let offset = 0;
  let align = 4;
  const placed: PlacedField[] = [];
  for (const f of fields) {
    const info = TYPES[f.type];
    if (!info) throw new TypeError(`unsupported parameter type '${f.type}' of field ${f.name}`);
    offset = roundUp(offset, info.align);
    placed.push({ ...f, offset });
    offset += info.size;
    align = Math.max(align, info.align);
  }
  return { fields: placed, size: roundUp(offset, align) };
}

/**
 * The members of `struct <name> { … }` in WGSL `source` (comments ignored), or undefined when
 * the source declares no such struct. Types are kept as written.
 */
export function parseWgslStruct(
  source: string,
  name: string,
): { name: string; type: string }[] | undefined {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
  const m = new RegExp(`\\bstruct\\s+${name}\\s*\\{([^}]*)\\}`).exec(text);
  if (!m) return undefined;
  return m[1].split(/[,;]/).map((s) => s.trim()).filter((s) => s !== "").map((member) => {
    const at = /^(?:@[\w]+(?:\([^)]*\))?\s*)*([A-Za-z_]\w*)\s*:\s*(.+)$/.exec(member);
    if (!at) throw new SyntaxError(`struct ${name}: cannot read member '${member}'`);
    return { name: at[1], type: at[2].trim() };
  });
}

/** The struct types bound as `var<uniform>` in WGSL `source`, in order of appearance. */
export function uniformStructNames(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
  const names = [...text.matchAll(/var<uniform>\s+\w+\s*:\s*(\w+)/g)].map((m) => m[1]);
  return [...new Set(names)];
}

/**
 * Differences between a TS description and the WGSL struct it describes, one sentence per
 * mismatch naming the field (empty when they agree on names, order, types, offsets and size).
 */
export function compareWithWgsl(
  fields: readonly ParamField[],
  source: string,
  structName: string,
): string[] {
  const members = parseWgslStruct(source, structName);
  if (!members) return [`the WGSL source declares no struct ${structName}`];
  const problems: string[] = [];
  const wgslFields: ParamField[] = [];
  for (const m of members) {
    const type = canonicalType(m.type);
    if (type === undefined || type === "vec3") {
      problems.push(`field ${m.name}: WGSL type ${m.type} is not supported in parameter blocks`);
      return problems;
    }
    wgslFields.push({ name: m.name, type });
  }
  const ours = layoutOf(fields);
  const theirs = layoutOf(wgslFields);
  const n = Math.max(ours.fields.length, theirs.fields.length);
  for (let i = 0; i < n; i++) {
    const a = ours.fields[i];
    const b = theirs.fields[i];
    if (!a) {
      problems.push(`field ${b.name} (WGSL member ${i}, ${b.type} at byte ${b.offset}) is missing`);
    } else if (!b) {
      problems.push(`field ${a.name} (member ${i}) is not in the WGSL struct`);
    } else if (a.name !== b.name) {
      problems.push(`member ${i} is field ${a.name} here but ${b.name} in WGSL`);
    } else if (a.type !== b.type || a.offset !== b.offset) {
      problems.push(
        `field ${a.name}: ${a.type} at byte ${a.offset} here, ${b.type} at byte ${b.offset} in WGSL`,
      );
    }
    if (problems.length > 0) break; // later offsets follow from the first mismatch
  }
  if (problems.length === 0 && ours.size !== theirs.size) {
    problems.push(`size ${ours.size} bytes here, ${theirs.size} in WGSL`);
  }
  return problems;
}

/** Field names a caller must give: every non-padding field. */
export type ValueName<N extends string> = N extends `_${string}` ? never : N;

/** Values of a struct's fields by name: a number for a scalar, numbers for a vector/matrix. */
export type ParamValues<N extends string> = {
  readonly [K in ValueName<N>]: number | ArrayLike<number>;
};

/** Every described struct, for the test that checks them all against the kernels. */
const described: ParamStruct<string>[] = [];

/**
 * A kernel's parameter struct, described once: where it lives (WGSL file name and source,
 * struct name) and its fields in order. {@link pack} writes values by field name.
 */
export class ParamStruct<N extends string> {
  /** Fields with their byte offsets, and the struct's size. */
  readonly layout: StructLayout;
  #checked = false;

  /**
   * A description of `struct <structName>` in `source` (use {@link paramStruct}, which also
   * registers it for the test that checks every kernel).
   *
   * @param file the kernel file's name (`conv2d.wgsl`), for error messages
   * @param source the kernel's WGSL text, which must declare `struct <structName>`
   * @param structName the WGSL struct's name
   * @param fields the members in declaration order
   */
  constructor(
    readonly file: string,
    readonly source: string,
    readonly structName: string,
    readonly fields: readonly { readonly name: N; readonly type: ParamType }[],
  ) {
    this.layout = layoutOf(fields);
  }

  /**
   * Checks the description against the WGSL struct once (later calls return at once).
   *
   * @throws TypeError naming the file, struct and first mismatching field
   */
  check(): void {
    if (this.#checked) return;
    const problems = compareWithWgsl(this.fields, this.source, this.structName);
    if (problems.length > 0) {
      throw new TypeError(
        `kernels/${this.file} struct ${this.structName} does not match its TS description: ` +
          problems.join("; "),
      );
    }
    this.#checked = true;
  }

  /**
   * The struct's bytes for `values` (little-endian, padding 0), checked against the WGSL struct
   * on first use. Integers are stored modulo 2³² as WebGPU reads them (an `i32` may be negative).
   *
   * @throws TypeError when a field is missing, unknown or of the wrong length
   */
  pack(values: ParamValues<N>): Uint8Array<ArrayBuffer> {
    this.check();
    const bytes = new Uint8Array(this.layout.size);
    const view = new DataView(bytes.buffer);
    const given = values as Record<string, number | ArrayLike<number>>;
    let named = 0;
    for (const f of this.layout.fields) {
      if (f.name.startsWith("_")) continue;
      const v = given[f.name];
      if (v === undefined) {
        throw new TypeError(`${this.structName}: no value for field ${f.name}`);
      }
      named++;
      const info = TYPES[f.type];
      const items = typeof v === "number" ? [v] : v;
      if (items.length !== info.count) {
        throw new TypeError(
          `${this.structName}: field ${f.name} (${f.type}) takes ${info.count} value(s), ` +
            `got ${items.length}`,
        );
      }
      for (let i = 0; i < info.count; i++) {
        const at = f.offset + 4 * i;
        if (info.scalar === "f32") view.setFloat32(at, items[i], true);
        else if (info.scalar === "i32") view.setInt32(at, items[i], true);
        else view.setUint32(at, items[i], true);
      }
    }
    if (named !== Object.keys(given).length) {
      const known = new Set(this.fields.map((f) => f.name as string));
      const extra = Object.keys(given).filter((k) => !known.has(k) || k.startsWith("_"));
      throw new TypeError(`${this.structName}: unknown field(s) ${extra.join(", ")}`);
    }
    return bytes;
  }
}

/**
 * Describes the parameter struct `structName` of the kernel `file` (WGSL text `source`):
 * `fields` maps each member, in declaration order, to its type.
 *
 * @example
 * ```ts
 * const REDUCE = paramStruct("conv2d_backward.wgsl", source, "Reduce", {
 *   len: "u32", splits: "u32", _pad0: "u32", _pad1: "u32",
 * });
 * recorder.dispatch(kernel, bindings, groups, REDUCE.pack({ len, splits }));
 * ```
 */
export function paramStruct<N extends string>(
  file: string,
  source: string,
  structName: string,
  fields: Readonly<Record<N, ParamType>>,
): ParamStruct<N> {
  const list = (Object.entries(fields) as [N, ParamType][]).map(([name, type]) => ({
    name,
    type,
  }));
  const struct = new ParamStruct(file, source, structName, list);
  described.push(struct as ParamStruct<string>);
  return struct;
}

/** Every struct described so far in this process (those of the modules imported). */
export function describedParamStructs(): readonly ParamStruct<string>[] {
  return described;
}
