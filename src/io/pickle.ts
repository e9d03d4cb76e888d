/**
 * A restricted Python unpickler and a small pickler, for PyTorch checkpoints.
 *
 * The unpickler runs the pickle virtual machine (protocols 0–5) but never resolves an arbitrary
 * global: every `GLOBAL`/`STACK_GLOBAL` goes through an allow-list (the defaults below plus what
 * the caller adds, e.g. PyTorch's tensor rebuild functions), and anything else is a `DataError`
 * naming the file and the global. Calls (`REDUCE`, `NEWOBJ`) only reach the TypeScript
 * implementations registered for those allowed names.
 *
 * ## Python values in TypeScript
 *
 * | Python | TypeScript |
 * |---|---|
 * | `None` | `null` |
 * | `bool` | `boolean` |
 * | `int` | `number` when it is a safe integer, else `bigint` |
 * | `float` | `number`; a float with an integral value (`1.0`, `-0.0`) reads as {@link PyFloat} so that it writes back as a float |
 * | `str` | `string` |
 * | `bytes`, `bytearray` | `Uint8Array` |
 * | `list` | `PyValue[]` |
 * | `tuple` | {@link PyTuple} |
 * | `dict` | `Map` (insertion order kept; keys are `string`, `number`, `bigint`, `boolean`, `null`, {@link PyBytes} or `PyTuple`) |
 * | `collections.OrderedDict` | {@link OrderedDict} (a `Map`; instance attributes such as a state dict's `_metadata` in `attributes`) |
 * | `set`, `frozenset` | `Set` (members as dict keys) |
 * | `bytes` used as a dict key or set member | {@link PyBytes} (interned: look up with `PyBytes.of("data")`) |
 * | an allowed class or function used as a value | {@link PyGlobal} |
 * | an instance of an allowed plain data class (e.g. `argparse.Namespace`) | {@link PyObject} |
 * | objects made by the caller's hooks (tensors) | subclasses of {@link PyExternal} |
 *
 * For writing, plain JS objects are accepted as `dict`s with string keys, and `number`s are
 * written as `int` when integral and `float` otherwise (wrap in {@link PyFloat} to force a float).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { DataError } from "../util/errors.ts";

/** A Python tuple. */
export class PyTuple {
  /** The tuple's items. */
  readonly items: readonly PyValue[];
  /** A tuple of `items`. */
  constructor(items: readonly PyValue[]) {
    this.items = items;
  }
  /** Number of items. */
  get length(): number {
    return this.items.length;
  }
}

/** A Python float, used where a JS number alone would read back as an `int` (integral values). */
export class PyFloat {
  /** The float's value. */
  readonly value: number;
  /** A float of `value` (written as BINFLOAT even when integral). */
  constructor(value: number) {
    this.value = value;
  }
  /** The value, so that arithmetic and comparisons read the float as a number. */
  valueOf(): number {
    return this.value;
  }
}

/** A Python `collections.OrderedDict`. */
export class OrderedDict extends Map<PyKey, PyValue> {
  /** Instance attributes set by pickle's BUILD (a module state dict carries `_metadata`). */
  attributes: Map<string, PyValue> | undefined;
}

/** A reference to an allowed Python global (a class or function) appearing as a value. */
export class PyGlobal {
  /** Module path, e.g. `collections`. */
  readonly module: string;
  /** Name inside the module, e.g. `OrderedDict`. */
  readonly name: string;
  /** A reference to `module.name`. */
  constructor(module: string, name: string) {
    this.module = module;
    this.name = name;
  }
  /** `module.name`. */
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of an allowed plain data class: its class, constructor arguments and state. */
export class PyObject {
  /** The (allowed) class. */
  readonly cls: PyGlobal;
  /** Arguments the class was instantiated with. */
  readonly args: readonly PyValue[];
  /** What pickle's BUILD set (usually a dict of attributes), or `undefined`. */
  state: PyValue | undefined;
  /** An instance of `cls` built from `args`, with BUILD's `state` if any. */
  constructor(cls: PyGlobal, args: readonly PyValue[], state?: PyValue) {
    this.cls = cls;
    this.args = args;
    this.state = state;
  }
}

/**
 * Base class of values that the caller's hooks create and convert (PyTorch tensors). The pickler
 * hands them to {@link PickleOptions.replace}.
 */
export abstract class PyExternal {
  /** A Python-ish type name for messages, e.g. `torch.Tensor`. */
  abstract readonly pyType: string;
}

/**
 * A Python `bytes` value as a dict key or set member (Python 3 re-pickles of Python 2 data use
 * `b'data'` keys). Instances are interned: equal contents give the same object, so a `Map`
 * lookup works by value, e.g. `dict.get(PyBytes.of("data"))`, and a `bytes` key never collides
 * with the `str` key of the same text. Bytes elsewhere stay `Uint8Array`s.
 */
export class PyBytes {
  // Contents as a Latin-1 string (one char per byte): the interning key.
  readonly #text: string;
  static #interned = new Map<string, WeakRef<PyBytes>>();
  static #finalizer = new FinalizationRegistry<string>((text) => {
    // Only drop the entry if it still points at a collected object (not at a newer intern).
    if (PyBytes.#interned.get(text)?.deref() === undefined) PyBytes.#interned.delete(text);
  });

  private constructor(text: string) {
    this.#text = text;
  }

  /**
   * The interned key for these bytes: a `Uint8Array`, or a string whose characters are the
   * bytes (Latin-1, so ASCII text such as `"data"` reads naturally). Throws TypeError for a
   * character above U+00FF.
   */
  static of(content: Uint8Array | string): PyBytes {
    const text = typeof content === "string" ? checkedLatin1(content) : latin1Decode(content);
    const existing = PyBytes.#interned.get(text)?.deref();
    if (existing !== undefined) return existing;
    const made = new PyBytes(text);
    PyBytes.#interned.set(text, new WeakRef(made));
    PyBytes.#finalizer.register(made, text);
    return made;
  }

  /** A copy of the bytes. */
  get bytes(): Uint8Array {
    return latin1(this.#text);
  }

  /** The bytes as a Latin-1 string (one character per byte). */
  get latin1(): string {
    return this.#text;
  }

  /** Number of bytes. */
  get length(): number {
    return this.#text.length;
  }

  /** Python's repr for short ASCII keys, e.g. `b'data'`. */
  toString(): string {
    const body = [...this.#text].map((c) => {
      const code = c.charCodeAt(0);
      if (c === "\\" || c === "'") return `\\${c}`;
      return code >= 0x20 && code < 0x7f ? c : `\\x${code.toString(16).padStart(2, "0")}`;
    }).join("");
    return `b'${body}'`;
  }
}

/** Hashable Python values usable as dict keys and set members. */
export type PyKey = string | number | bigint | boolean | null | PyBytes | PyTuple;

/** Any Python value the unpickler can produce (see the module table). */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyFloat
  | PyTuple
  | PyValue[]
  | Map<PyKey, PyValue>
  | Set<PyKey>
  | PyGlobal
  | PyObject
  | PyExternal
  | PyBytes;

/** For writing: `callable(*args)`, then BUILD with `state` when given. */
export class PyReduce {
  /** The global to call (written as GLOBAL). */
  readonly callable: PyGlobal;
  /** Positional arguments. */
  readonly args: readonly PyInput[];
  /** State passed to BUILD afterwards, if any. */
  readonly state: PyInput | undefined;
  /** A REDUCE of `callable(...args)`, followed by BUILD with `state` when given. */
  constructor(callable: PyGlobal, args: readonly PyInput[], state?: PyInput) {
    this.callable = callable;
    this.args = args;
    this.state = state;
  }
}

/** For writing: an object stored outside the pickle, referenced by a persistent id. */
export class PyPersistent {
  /** The persistent id (PyTorch uses a tuple naming the storage). */
  readonly id: PyInput;
  /** An object referenced by persistent id `id` (written as BINPERSID). */
  constructor(id: PyInput) {
    this.id = id;
  }
}

/** What the pickler accepts: Python values, plain JS objects as dicts, reduce/persistent nodes. */
export type PyInput =
  | PyValue
  | PyReduce
  | PyPersistent
  | readonly PyInput[]
  | ReadonlyMap<PyKey, PyInput>
  | { readonly [key: string]: PyInput };

/**
 * A TypeScript implementation of an allowed Python callable (class or function). It is also a
 * {@link PyGlobal}, so it can travel as a value (e.g. the function argument of
 * `_rebuild_from_type_v2`) and pickles back as the same global.
 */
export class PyCallable extends PyGlobal {
  /** The implementation, called with the positional arguments. */
  readonly call: (args: PyValue[]) => PyValue;
  constructor(module: string, name: string, call: (args: PyValue[]) => PyValue) {
    super(module, name);
    this.call = call;
  }
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** The file, for error messages. */
  file: string;
  /**
   * Resolves `module.name` to an allowed callable or value, or `undefined` to fall back to the
   * defaults (and then reject). Called for every global in the stream.
   */
  findGlobal?: (module: string, name: string) => PyValue | undefined;
  /** Resolves a persistent id (`PERSID`/`BINPERSID`); without it they are rejected. */
  persistentLoad?: (id: PyValue) => PyValue;
  /** Where the pickle starts in `bytes`. Default 0. */
  start?: number;
}

/** Result of {@link unpickle}: the value and the offset just past the STOP opcode. */
export interface UnpickleResult {
  /** The unpickled value. */
  value: PyValue;
  /** Offset just past the STOP opcode. */
  end: number;
}

/** The pickle ran past the end of the bytes (the caller may retry with more). */
export class PickleTruncatedError extends DataError {
  override name = "PickleTruncatedError";
}

/** A default allowed global: given its name, the implementation. */
type CallImpl = (g: PyGlobal) => (args: PyValue[]) => PyValue;

function orderedDictCall(): (args: PyValue[]) => PyValue {
  return (args) => {
    const d = new OrderedDict();
    const src = args[0];
    if (src === undefined || src === null) return d;
    const pairs = src instanceof Map ? [...src] : Array.isArray(src) ? src : null;
    if (pairs === null) throw new TypeError("OrderedDict() argument is not a sequence of pairs");
    for (const pair of pairs) {
      const kv = Array.isArray(pair) ? pair : pair instanceof PyTuple ? pair.items : null;
      if (kv === null || kv.length !== 2) throw new TypeError("OrderedDict() item is not a pair");
      d.set(toKey(kv[0]), kv[1]);
    }
    return d;
  };
}

function setCall(): (args: PyValue[]) => PyValue {
  return (args) => {
    const s = new Set<PyKey>();
    const src = args[0];
    const items = Array.isArray(src) ? src : src instanceof PyTuple ? src.items : [];
    for (const item of items) s.add(toKey(item));
    return s;
  };
}

function bytearrayCall(): (args: PyValue[]) => PyValue {
  return (args) => {
    const a = args[0];
    if (a === undefined) return new Uint8Array(0);
    if (a instanceof Uint8Array) return a.slice();
    if (typeof a === "string") return latin1(a);
    throw new TypeError("unsupported bytearray() argument");
  };
}

/** Protocol-2 pickles of `bytes` go through `_codecs.encode(text, "latin1")`. */
function codecsEncodeCall(): (args: PyValue[]) => PyValue {
  return (args) => {
    const [text, encoding] = args;
    if (typeof text !== "string") throw new TypeError("_codecs.encode() of a non-string");
    if (encoding === "latin1" || encoding === "latin-1") return latin1(text);
    if (encoding === "utf-8" || encoding === "utf8" || encoding === undefined) {
      return new TextEncoder().encode(text);
    }
    throw new TypeError(`_codecs.encode() with encoding ${String(encoding)}`);
  };
}

/** The globals every checkpoint may use. */
const DEFAULT_CALLABLES: ReadonlyMap<string, CallImpl> = new Map<string, CallImpl>([
  ["collections.OrderedDict", orderedDictCall],
  ["builtins.set", setCall],
  ["__builtin__.set", setCall],
  ["builtins.frozenset", setCall],
  ["__builtin__.frozenset", setCall],
  ["builtins.bytearray", bytearrayCall],
  ["__builtin__.bytearray", bytearrayCall],
  ["_codecs.encode", codecsEncodeCall],
  // Training scripts often store their command line; a Namespace is only a bag of attributes.
  ["argparse.Namespace", (g) => (args) => new PyObject(g, args)],
]);

/**
 * Runs the restricted pickle machine over `bytes` and returns the unpickled value. Throws
 * `DataError` (naming `options.file`) for a truncated or malformed stream, an opcode outside the
 * supported set, or a global that is not allowed.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  return new Unpickler(bytes, options).run();
}

// MARK is kept as a stack of stacks (like CPython's metastack), so the stack holds only values.
type StackItem = PyValue;

class Unpickler {
  #b: Uint8Array;
  #v: DataView;
  #p: number;
  #o: UnpickleOptions;
  #stack: StackItem[] = [];
  #meta: StackItem[][] = [];
  #memo = new Map<number, StackItem>();
  #decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(bytes: Uint8Array, options: UnpickleOptions) {
    this.#b = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#p = options.start ?? 0;
    this.#o = options;
  }

  #fail(what: string): never {
    throw new DataError(`${this.#o.file}: ${what}`);
  }

  #need(n: number): number {
    if (n < 0 || this.#p + n > this.#b.length) {
      throw new PickleTruncatedError(
        `${this.#o.file}: truncated pickle (needs ${n} bytes at offset ${this.#p}, ` +
          `${this.#b.length - this.#p} left)`,
      );
    }
    const at = this.#p;
    this.#p += n;
    return at;
  }

  #u8(): number {
    return this.#b[this.#need(1)];
  }
  #u16(): number {
    return this.#v.getUint16(this.#need(2), true);
  }
  #i32(): number {
    return this.#v.getInt32(this.#need(4), true);
  }
  #u32(): number {
    return this.#v.getUint32(this.#need(4), true);
  }
  #u64(): number {
    const v = this.#v.getBigUint64(this.#need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.#fail(`pickle length ${v} is out of range`);
    return Number(v);
  }
  #bytes(n: number): Uint8Array {
    const at = this.#need(n);
    return this.#b.slice(at, at + n);
  }
  #line(): string {
    const end = this.#b.indexOf(0x0a, this.#p);
    if (end < 0) this.#need(this.#b.length - this.#p + 1);
    const text = latin1Decode(this.#b.subarray(this.#p, end));
    this.#p = end + 1;
    return text;
  }
  #utf8(n: number): string {
    const at = this.#need(n);
    try {
      return this.#decoder.decode(this.#b.subarray(at, at + n));
    } catch {
      return this.#fail(`invalid UTF-8 string at offset ${at}`);
    }
  }

  #push(v: StackItem): void {
    this.#stack.push(v);
  }
  #pop(): StackItem {
    if (this.#stack.length === 0) this.#fail(`pickle stack underflow at offset ${this.#p - 1}`);
    return this.#stack.pop()!;
  }
  #popValue(): PyValue {
    return this.#pop();
  }
  #top(): StackItem {
    if (this.#stack.length === 0) this.#fail(`pickle stack underflow at offset ${this.#p - 1}`);
    return this.#stack[this.#stack.length - 1];
  }
  #popMark(): PyValue[] {
    const items = this.#stack;
    const outer = this.#meta.pop();
    if (outer === undefined) this.#fail(`pickle MARK missing at offset ${this.#p - 1}`);
    this.#stack = outer;
    return items as PyValue[];
  }
  #key(v: PyValue): PyKey {
    try {
      return toKey(v);
    } catch (error) {
      return this.#fail((error as Error).message);
    }
  }

  #global(module: string, name: string): PyValue {
    const found = this.#o.findGlobal?.(module, name);
    if (found !== undefined) return found;
    const qualified = `${module}.${name}`;
    const make = DEFAULT_CALLABLES.get(qualified);
    if (make !== undefined) {
      return new PyCallable(module, name, make(new PyGlobal(module, name)));
    }
    return this.#fail(
      `refusing to load global '${qualified}': not an allowed type for a checkpoint ` +
        `(the reader never runs arbitrary code)`,
    );
  }

  #call(fn: PyValue, args: PyValue[], op: string): PyValue {
    if (!(fn instanceof PyCallable)) {
      const what = fn instanceof PyGlobal ? fn.qualifiedName : typeof fn;
      return this.#fail(`${op} of '${what}', which is not an allowed callable`);
    }
    try {
      return fn.call(args);
    } catch (error) {
      if (error instanceof DataError) throw error;
      return this.#fail(`${fn.qualifiedName}(): ${(error as Error).message}`);
    }
  }

  #setItems(target: StackItem, items: PyValue[]): void {
    if (!(target instanceof Map)) this.#fail(`SETITEMS on a non-dict at offset ${this.#p - 1}`);
    if (items.length % 2 !== 0) this.#fail(`odd number of dict items at offset ${this.#p - 1}`);
    for (let i = 0; i < items.length; i += 2) target.set(this.#key(items[i]), items[i + 1]);
  }

  #appendItems(target: StackItem, items: PyValue[]): void {
    if (!Array.isArray(target)) this.#fail(`APPENDS on a non-list at offset ${this.#p - 1}`);
    for (const item of items) (target as PyValue[]).push(item);
  }

  #build(target: StackItem, state: PyValue): void {
    if (target instanceof OrderedDict) {
      if (state === null) return;
      // Python's BUILD: a dict state, or (dict state, slot state).
      const dict = state instanceof PyTuple ? state.items[0] : state;
      if (dict === null) return;
      if (!(dict instanceof Map)) this.#fail("OrderedDict state is not a dict");
      target.attributes ??= new Map();
      for (const [k, v] of dict) target.attributes.set(String(k), v);
      return;
    }
    if (target instanceof PyObject) {
      target.state = state;
      return;
    }
    if (state === null || (state instanceof Map && state.size === 0)) return;
    if (target instanceof PyExternal && state instanceof PyTuple) return;
    this.#fail(`BUILD (setting object state) on an unsupported object at offset ${this.#p - 1}`);
  }

  run(): UnpickleResult {
    for (;;) {
      const at = this.#p;
      const op = this.#u8();
      switch (op) {
        case 0x80: { // PROTO
          const proto = this.#u8();
          if (proto > 5) this.#fail(`unsupported pickle protocol ${proto}`);
          break;
        }
        case 0x95: // FRAME
          this.#need(8);
          break;
        case 0x2e: { // STOP
          const value = this.#popValue();
          return { value, end: this.#p };
        }
        case 0x28: // MARK
          this.#meta.push(this.#stack);
          this.#stack = [];
          break;
        case 0x30: // POP
          if (this.#stack.length > 0) this.#pop();
          else this.#popMark();
          break;
        case 0x31: // POP_MARK
          this.#popMark();
          break;
        case 0x32: // DUP
          this.#push(this.#top());
          break;
        case 0x4e: // NONE
          this.#push(null);
          break;
        case 0x88: // NEWTRUE
          this.#push(true);
          break;
        case 0x89: // NEWFALSE
          this.#push(false);
          break;
        case 0x49: { // INT (text; "01"/"00" are True/False in protocol 0)
          const text = this.#line();
          if (text === "01") this.#push(true);
          else if (text === "00") this.#push(false);
          else this.#push(this.#parseInt(text));
          break;
        }
        case 0x4c: // LONG (text)
          this.#push(this.#parseInt(this.#line().replace(/L$/, "")));
          break;
        case 0x4a: // BININT
          this.#push(this.#i32());
          break;
        case 0x4b: // BININT1
          this.#push(this.#u8());
          break;
        case 0x4d: // BININT2
          this.#push(this.#u16());
          break;
        case 0x8a: // LONG1
          this.#push(decodeLong(this.#bytes(this.#u8())));
          break;
        case 0x8b: { // LONG4
          const n = this.#i32();
          if (n < 0) this.#fail(`negative LONG4 length at offset ${at}`);
          this.#push(decodeLong(this.#bytes(n)));
          break;
        }
        case 0x46: { // FLOAT (text)
          const text = this.#line().trim();
          const v = Number(text.replace(/^(-?)inf$/i, "$1Infinity"));
          if (Number.isNaN(v) && !/^-?nan$/i.test(text)) this.#fail(`bad FLOAT '${text}'`);
          this.#push(wrapFloat(v));
          break;
        }
        case 0x47: // BINFLOAT
          this.#push(wrapFloat(this.#v.getFloat64(this.#need(8), false)));
          break;
        case 0x53: // STRING (text repr of a Python 2 str)
          this.#push(this.#pyStringLiteral(this.#line()));
          break;
        case 0x54: { // BINSTRING
          const n = this.#i32();
          if (n < 0) this.#fail(`negative BINSTRING length at offset ${at}`);
          this.#push(this.#py2String(this.#bytes(n)));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          this.#push(this.#py2String(this.#bytes(this.#u8())));
          break;
        case 0x56: // UNICODE (raw-unicode-escape text)
          this.#push(rawUnicodeEscape(this.#line()));
          break;
        case 0x58: // BINUNICODE
          this.#push(this.#utf8(this.#u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.#push(this.#utf8(this.#u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.#push(this.#utf8(this.#u64()));
          break;
        case 0x42: // BINBYTES
          this.#push(this.#bytes(this.#u32()));
          break;
        case 0x43: // SHORT_BINBYTES
          this.#push(this.#bytes(this.#u8()));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.#push(this.#bytes(this.#u64()));
          break;
        case 0x5d: // EMPTY_LIST
          this.#push([]);
          break;
        case 0x61: { // APPEND
          const v = this.#popValue();
          this.#appendItems(this.#top(), [v]);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.#popMark();
          this.#appendItems(this.#top(), items);
          break;
        }
        case 0x6c: // LIST
          this.#push(this.#popMark());
          break;
        case 0x29: // EMPTY_TUPLE
          this.#push(new PyTuple([]));
          break;
        case 0x74: // TUPLE
          this.#push(new PyTuple(this.#popMark()));
          break;
        case 0x85: // TUPLE1
          this.#push(new PyTuple([this.#popValue()]));
          break;
        case 0x86: { // TUPLE2
          const b = this.#popValue();
          const a = this.#popValue();
          this.#push(new PyTuple([a, b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.#popValue();
          const b = this.#popValue();
          const a = this.#popValue();
          this.#push(new PyTuple([a, b, c]));
          break;
        }
        case 0x7d: // EMPTY_DICT
          this.#push(new Map());
          break;
        case 0x64: { // DICT
          const d = new Map<PyKey, PyValue>();
          this.#setItems(d, this.#popMark());
          this.#push(d);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.#popValue();
          const k = this.#popValue();
          this.#setItems(this.#top(), [k, v]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.#popMark();
          this.#setItems(this.#top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.#push(new Set());
          break;
        case 0x90: { // ADDITEMS
          const items = this.#popMark();
          const s = this.#top();
          if (!(s instanceof Set)) this.#fail(`ADDITEMS on a non-set at offset ${at}`);
          for (const item of items) s.add(this.#key(item));
          break;
        }
        case 0x91: { // FROZENSET
          const s = new Set<PyKey>();
          for (const item of this.#popMark()) s.add(this.#key(item));
          this.#push(s);
          break;
        }
        case 0x67: // GET
          this.#push(this.#memoGet(this.#parseMemoIndex(this.#line())));
          break;
        case 0x68: // BINGET
          this.#push(this.#memoGet(this.#u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.#push(this.#memoGet(this.#u32()));
          break;
        case 0x70: // PUT
          this.#memo.set(this.#parseMemoIndex(this.#line()), this.#top());
          break;
        case 0x71: // BINPUT
          this.#memo.set(this.#u8(), this.#top());
          break;
        case 0x72: // LONG_BINPUT
          this.#memo.set(this.#u32(), this.#top());
          break;
        case 0x94: // MEMOIZE
          this.#memo.set(this.#memo.size, this.#top());
          break;
        case 0x63: { // GLOBAL
          const module = this.#line();
          const name = this.#line();
          this.#push(this.#global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.#popValue();
          const module = this.#popValue();
          if (typeof module !== "string" || typeof name !== "string") {
            this.#fail(`STACK_GLOBAL with non-string names at offset ${at}`);
          }
          this.#push(this.#global(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.#popValue();
          const fn = this.#popValue();
          if (!(args instanceof PyTuple)) this.#fail(`REDUCE arguments are not a tuple at ${at}`);
          this.#push(this.#call(fn, [...args.items], "call"));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.#popValue();
          const cls = this.#popValue();
          if (!(args instanceof PyTuple)) this.#fail(`NEWOBJ arguments are not a tuple at ${at}`);
          this.#push(this.#call(cls, [...args.items], "instantiation"));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.#popValue();
          const args = this.#popValue();
          const cls = this.#popValue();
          if (!(args instanceof PyTuple) || !(kwargs instanceof Map) || kwargs.size > 0) {
            this.#fail(`NEWOBJ_EX with keyword arguments is not supported (offset ${at})`);
          }
          this.#push(this.#call(cls, [...args.items], "instantiation"));
          break;
        }
        case 0x62: { // BUILD
          const state = this.#popValue();
          this.#build(this.#top(), state);
          break;
        }
        case 0x50: // PERSID
          this.#push(this.#persistent(this.#line()));
          break;
        case 0x51: // BINPERSID
          this.#push(this.#persistent(this.#popValue()));
          break;
        case 0x69: // INST
        case 0x6f: // OBJ
          this.#fail(`pickle opcode ${opName(op)} (old-style class instance) is not allowed`);
          break;
        case 0x82:
        case 0x83:
        case 0x84:
          this.#fail(`pickle extension registry opcodes are not supported (offset ${at})`);
          break;
        case 0x97:
        case 0x98:
          this.#fail(`pickle out-of-band buffers are not supported (offset ${at})`);
          break;
        default:
          this.#fail(`not a pickle or corrupt: unknown opcode ${opName(op)} at offset ${at}`);
      }
    }
  }

  #persistent(id: PyValue): PyValue {
    if (this.#o.persistentLoad === undefined) {
      this.#fail("pickle references external data (persistent id) but none is expected here");
    }
    return this.#o.persistentLoad(id);
  }

  #memoGet(i: number): StackItem {
    const v = this.#memo.get(i);
    if (v === undefined) this.#fail(`pickle memo entry ${i} is missing`);
    return v;
  }

  #parseMemoIndex(text: string): number {
    const v = Number(text);
    if (!Number.isSafeInteger(v) || v < 0) this.#fail(`bad memo index '${text}'`);
    return v;
  }

  #parseInt(text: string): number | bigint {
    if (!/^[-+]?\d+$/.test(text.trim())) this.#fail(`bad integer '${text}' in pickle`);
    return normaliseInt(BigInt(text.trim()));
  }

  #py2String(bytes: Uint8Array): string {
    // torch.load decodes Python 2 strings as UTF-8; fall back to Latin-1 for binary content.
    try {
      return this.#decoder.decode(bytes);
    } catch {
      return latin1Decode(bytes);
    }
  }

  #pyStringLiteral(text: string): string {
    const t = text.trim();
    const q = t[0];
    if ((q !== "'" && q !== '"') || t[t.length - 1] !== q || t.length < 2) {
      this.#fail(`bad STRING literal in pickle`);
    }
    const body = t.slice(1, -1);
    const bytes: number[] = [];
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c !== "\\") {
        bytes.push(c.charCodeAt(0) & 0xff);
        continue;
      }
      const n = body[++i];
      const simple: Record<string, number> = {
        "\\": 92,
        "'": 39,
        '"': 34,
        n: 10,
        t: 9,
        r: 13,
        a: 7,
        b: 8,
        f: 12,
        v: 11,
      };
      if (n in simple) bytes.push(simple[n]);
      else if (n === "x") {
        bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (/[0-7]/.test(n)) {
        let j = i;
        while (j < i + 3 && /[0-7]/.test(body[j] ?? "")) j++;
        bytes.push(parseInt(body.slice(i, j), 8) & 0xff);
        i = j - 1;
      } else bytes.push(92, n.charCodeAt(0));
    }
    return this.#py2String(new Uint8Array(bytes));
  }
}

/** Options of {@link pickle}. */
export interface PickleOptions {
  /**
   * Converts a value the pickler does not know (a {@link PyExternal} such as a tensor) into
   * something it does (usually a {@link PyReduce}); return `undefined` to reject it.
   */
  replace?: (value: object) => PyInput | undefined;
}

/**
 * Pickles `value` with protocol 2 (3 when it holds `bytes`), the protocol `torch.save` uses.
 * Shared references are written once per occurrence (no memo, except for repeated globals);
 * cycles are rejected with a `TypeError`.
 */
export function pickle(value: PyInput, options: PickleOptions = {}): Uint8Array {
  const w = new Pickler(options);
  return w.dump(value);
}

class Pickler {
  #buf = new Uint8Array(1 << 16);
  #len = 0;
  #options: PickleOptions;
  #globals = new Map<string, number>();
  #memoCount = 0;
  #active = new Set<object>();
  #protocol = 2;
  #encoder = new TextEncoder();

  constructor(options: PickleOptions) {
    this.#options = options;
  }

  dump(value: PyInput): Uint8Array {
    this.#byte(0x80, 2);
    this.#save(value);
    this.#byte(0x2e);
    const out = this.#buf.slice(0, this.#len);
    out[1] = this.#protocol;
    return out;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
  #byte(...values: number[]): void {
    this.#reserve(values.length);
    for (const v of values) this.#buf[this.#len++] = v;
  }
  #raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }
  #u32(v: number): void {
    this.#reserve(4);
    new DataView(this.#buf.buffer).setUint32(this.#len, v, true);
    this.#len += 4;
  }

  #saveInt(v: number | bigint): void {
    if (typeof v === "number" && v >= 0 && v < 256) this.#byte(0x4b, v);
    else if (typeof v === "number" && v >= 0 && v < 65536) this.#byte(0x4d, v & 0xff, v >> 8);
    else if (typeof v === "number" && v >= -0x80000000 && v < 0x80000000) {
      this.#byte(0x4a);
      this.#reserve(4);
      new DataView(this.#buf.buffer).setInt32(this.#len, v, true);
      this.#len += 4;
    } else {
      const bytes = encodeLong(BigInt(v));
      if (bytes.length < 256) this.#byte(0x8a, bytes.length);
      else {
        this.#byte(0x8b);
        this.#u32(bytes.length);
      }
      this.#raw(bytes);
    }
  }

  #saveFloat(v: number): void {
    this.#byte(0x47);
    this.#reserve(8);
    new DataView(this.#buf.buffer).setFloat64(this.#len, v, false);
    this.#len += 8;
  }

  #saveString(s: string): void {
    const bytes = this.#encoder.encode(s);
    this.#byte(0x58);
    this.#u32(bytes.length);
    this.#raw(bytes);
  }

  #saveGlobal(g: PyGlobal): void {
    const key = `${g.module}\n${g.name}\n`;
    const memo = this.#globals.get(key);
    if (memo !== undefined) {
      if (memo < 256) this.#byte(0x68, memo);
      else {
        this.#byte(0x6a);
        this.#u32(memo);
      }
      return;
    }
    this.#byte(0x63);
    this.#raw(this.#encoder.encode(key));
    const index = this.#memoCount++;
    this.#globals.set(key, index);
    if (index < 256) this.#byte(0x71, index);
    else {
      this.#byte(0x72);
      this.#u32(index);
    }
  }

  #saveTuple(items: readonly PyInput[]): void {
    if (items.length === 0) return this.#byte(0x29);
    if (items.length > 3) this.#byte(0x28);
    for (const item of items) this.#save(item);
    this.#byte(items.length > 3 ? 0x74 : 0x84 + items.length);
  }

  #saveItems(entries: Iterable<readonly [PyInput, PyInput]>): void {
    let batch: (readonly [PyInput, PyInput])[] = [];
    const flush = () => {
      if (batch.length === 1) {
        this.#save(batch[0][0]);
        this.#save(batch[0][1]);
        this.#byte(0x73);
      } else if (batch.length > 1) {
        this.#byte(0x28);
        for (const [k, v] of batch) {
          this.#save(k);
          this.#save(v);
        }
        this.#byte(0x75);
      }
      batch = [];
    };
    for (const entry of entries) {
      batch.push(entry);
      if (batch.length === 1000) flush();
    }
    flush();
  }

  #save(value: PyInput): void {
    if (value === null) return this.#byte(0x4e);
    switch (typeof value) {
      case "boolean":
        return this.#byte(value ? 0x88 : 0x89);
      case "number":
        if (Number.isInteger(value) && !Object.is(value, -0)) return this.#saveInt(value);
        return this.#saveFloat(value);
      case "bigint":
        return this.#saveInt(normaliseInt(value));
      case "string":
        return this.#saveString(value);
      case "object":
        break;
      default:
        throw new TypeError(`cannot pickle a value of type ${typeof value}`);
    }
    if (value instanceof PyFloat) return this.#saveFloat(value.value);
    if (value instanceof PyGlobal) return this.#saveGlobal(value);
    if (value instanceof PyBytes) return this.#save(value.bytes);
    if (value instanceof Uint8Array) {
      this.#protocol = 3;
      if (value.length < 256) this.#byte(0x43, value.length);
      else {
        this.#byte(0x42);
        this.#u32(value.length);
      }
      return this.#raw(value);
    }
    if (this.#active.has(value)) throw new TypeError("cannot pickle a cyclic structure");
    this.#active.add(value);
    try {
      this.#saveContainer(value);
    } finally {
      this.#active.delete(value);
    }
  }

  #saveContainer(value: object): void {
    if (value instanceof PyTuple) return this.#saveTuple(value.items);
    if (Array.isArray(value)) {
      this.#byte(0x5d);
      const items = value as readonly PyInput[];
      for (let i = 0; i < items.length; i += 1000) {
        const batch = items.slice(i, i + 1000);
        if (batch.length === 1) {
          this.#save(batch[0]);
          this.#byte(0x61);
        } else {
          this.#byte(0x28);
          for (const item of batch) this.#save(item);
          this.#byte(0x65);
        }
      }
      return;
    }
    if (value instanceof OrderedDict) {
      this.#saveGlobal(new PyGlobal("collections", "OrderedDict"));
      this.#byte(0x29, 0x52);
      this.#saveItems(value as Map<PyKey, PyInput>);
      if (value.attributes !== undefined && value.attributes.size > 0) {
        this.#save(value.attributes as ReadonlyMap<PyKey, PyInput>);
        this.#byte(0x62);
      }
      return;
    }
    if (value instanceof Map) {
      this.#byte(0x7d);
      return this.#saveItems(value as Map<PyKey, PyInput>);
    }
    if (value instanceof Set) {
      this.#saveGlobal(new PyGlobal("builtins", "set"));
      this.#saveTuple([[...value] as PyInput[]]);
      return this.#byte(0x52);
    }
    if (value instanceof PyReduce) {
      this.#saveGlobal(value.callable);
      this.#saveTuple(value.args);
      this.#byte(0x52);
      if (value.state !== undefined) {
        this.#save(value.state);
        this.#byte(0x62);
      }
      return;
    }
    if (value instanceof PyPersistent) {
      this.#save(value.id);
      return this.#byte(0x51);
    }
    if (value instanceof PyObject) {
      this.#saveGlobal(value.cls);
      this.#saveTuple(value.args);
      this.#byte(0x81);
      if (value.state !== undefined) {
        this.#save(value.state as PyInput);
        this.#byte(0x62);
      }
      return;
    }
    const replaced = this.#options.replace?.(value);
    if (replaced !== undefined) return this.#save(replaced);
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      this.#byte(0x7d);
      return this.#saveItems(Object.entries(value as Record<string, PyInput>));
    }
    const name = value instanceof PyExternal ? value.pyType : value.constructor?.name ?? "object";
    throw new TypeError(`cannot pickle a ${name}`);
  }
}

/**
 * Converts a value to a dict key ({@link PyKey}): bytes become the interned {@link PyBytes},
 * integral floats plain numbers. Throws TypeError for unhashable values (lists, dicts, sets,
 * bytearrays read as `Uint8Array` are treated as bytes, as pickle cannot tell them apart here).
 */
export function toKey(v: PyValue): PyKey {
  if (
    v === null || typeof v === "string" || typeof v === "number" || typeof v === "bigint" ||
    typeof v === "boolean" || v instanceof PyTuple || v instanceof PyBytes
  ) return v;
  if (v instanceof PyFloat) return v.value;
  if (v instanceof Uint8Array) return PyBytes.of(v);
  throw new TypeError("unhashable value used as a dict key or set member");
}

/**
 * `dict[name]` where the key may be the `str` or the `bytes` spelling of an ASCII name (Python 2
 * pickles vs Python 3 re-pickles of the same data): the `str` key first, then `b'name'`.
 */
export function getStrOrBytesKey(
  dict: ReadonlyMap<PyKey, PyValue>,
  name: string,
): PyValue | undefined {
  return dict.get(name) ?? dict.get(PyBytes.of(name));
}

/** The number inside a Python int or float (`PyFloat` unwrapped); `undefined` for other values. */
export function pyNumber(v: PyValue | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  return undefined;
}

function wrapFloat(v: number): number | PyFloat {
  return Number.isInteger(v) || Object.is(v, -0) ? new PyFloat(v) : v;
}

function normaliseInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/** Two's complement little-endian (pickle LONG1/LONG4) to an int. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return normaliseInt(v);
}

/** The shortest two's complement little-endian encoding of `v`, as Python writes it. */
function encodeLong(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let x = v;
  for (;;) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
    const sign = out[out.length - 1] & 0x80;
    if ((x === 0n && !sign) || (x === -1n && sign)) break;
  }
  return new Uint8Array(out);
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) throw new TypeError("character outside Latin-1");
    out[i] = c;
  }
  return out;
}

/** The Latin-1 bytes of `text`, which must have no character above U+00FF (else TypeError). */
function checkedLatin1(text: string): string {
  if (/[\u0100-\uffff]/.test(text)) throw new TypeError("character outside Latin-1");
  return text;
}

/**
 * Bytes → string, one character per byte (Latin-1 / ISO-8859-1 proper; WHATWG's "latin1"
 * TextDecoder label is windows-1252, which remaps 0x80–0x9F). Node's Buffer decodes natively:
 * ~30 ms for 30 MB where building the string from char codes took ~2.5 s.
 */
function latin1Decode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

function rawUnicodeEscape(text: string): string {
  return text.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_, u4, u8) => String.fromCodePoint(parseInt(u4 ?? u8, 16)),
  );
}

function opName(op: number): string {
  const c = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : "";
  return `0x${op.toString(16).padStart(2, "0")}${c}`;
}
