/**
 * Message passing over the system's Open MPI, called through Deno's FFI.
 *
 * Data-parallel pretraining averages gradients with `MPI_Allreduce` over host buffers; launching,
 * process placement and failure handling stay with `mpirun`/`srun`, as on any cluster.
 *
 * Open MPI's predefined handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`) are the *addresses* of
 * exported globals (`ompi_mpi_comm_world` …). Deno's `dlopen` exposes functions and static values
 * but not symbol addresses, so the library is also opened through libc's `dlopen` with
 * `RTLD_GLOBAL` (which Open MPI's plugins need to resolve symbols of `libmpi`) and the handles are
 * looked up with `dlsym`. Only Open MPI's ABI is supported; MPICH defines handles as integers.
 *
 * @module
 */
import { DataError } from "../util/errors.ts";

/** Library names tried in order; `SSL_MPI_LIB` overrides. */
const MPI_LIBRARIES = ["libmpi.so.40", "libmpi.so", "libmpi.so.12"];
const RTLD_NOW = 2;
const RTLD_GLOBAL = 0x100;
const MPI_SUCCESS = 0;
/** `MPI_IN_PLACE` is `(void *) 1` in Open MPI. */
const IN_PLACE = Deno.UnsafePointer.create(1n);
/** Largest count one call takes (`int` in the C API). */
const MAX_COUNT = 0x7fff_ffff;

const LIBC_SYMBOLS = {
  dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
  dlerror: { parameters: [], result: "pointer" },
} as const;

const MPI_SYMBOLS = {
  MPI_Initialized: { parameters: ["buffer"], result: "i32" },
  MPI_Init: { parameters: ["pointer", "pointer"], result: "i32" },
  MPI_Finalize: { parameters: [], result: "i32" },
  MPI_Comm_rank: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Comm_size: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Allreduce: {
    parameters: ["pointer", "pointer", "i32", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  MPI_Allgather: {
    parameters: ["pointer", "i32", "pointer", "pointer", "i32", "pointer", "pointer"],
    result: "i32",
  },
  MPI_Bcast: { parameters: ["pointer", "i32", "pointer", "i32", "pointer"], result: "i32" },
  MPI_Barrier: { parameters: ["pointer"], result: "i32" },
  MPI_Abort: { parameters: ["pointer", "i32"], result: "i32" },
  MPI_Wtime: { parameters: [], result: "f64" },
} as const;

type MpiLibrary = Deno.DynamicLibrary<typeof MPI_SYMBOLS>;

/** The element types the communicator moves. */
export type MpiElement = Float32Array | Float64Array | Int32Array | Uint8Array;

/** True when this process was started by `mpirun`/`srun` (Open MPI or PMI environment present). */
export function launchedByMpi(): boolean {
  const env = Deno.env.toObject();
  return "OMPI_COMM_WORLD_SIZE" in env || "PMI_SIZE" in env || "PMIX_RANK" in env;
}

function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * One process's view of `MPI_COMM_WORLD`.
 *
 * @example
 * ```ts
 * const comm = Mpi.init();          // under `mpirun -np 2 deno run -A train.ts`
 * const grads = new Float32Array(1024);
 * comm.allreduceSum(grads);         // every rank now holds the sum
 * comm.finalize();
 * ```
 */
export class Mpi {
  readonly #lib: MpiLibrary;
  readonly #comm: Deno.PointerValue;
  readonly #types: Record<"float" | "double" | "int" | "byte", Deno.PointerValue>;
  readonly #sum: Deno.PointerValue;
  #finalized = false;
  /** This process's rank in `MPI_COMM_WORLD`. */
  readonly rank: number;
  /** Number of processes in `MPI_COMM_WORLD`. */
  readonly size: number;
  /** Bytes moved by collectives so far (payload per rank, for the communication-volume report). */
  bytesCommunicated = 0;
  /** Seconds spent inside collectives so far. */
  secondsCommunicating = 0;

  private constructor(lib: MpiLibrary, lookup: (name: string) => Deno.PointerValue) {
    this.#lib = lib;
    this.#comm = lookup("ompi_mpi_comm_world");
    this.#types = {
      float: lookup("ompi_mpi_float"),
      double: lookup("ompi_mpi_double"),
      int: lookup("ompi_mpi_int"),
      byte: lookup("ompi_mpi_byte"),
    };
    this.#sum = lookup("ompi_mpi_op_sum");
    const out = new Int32Array(1);
    this.#check(lib.symbols.MPI_Comm_rank(this.#comm, out), "MPI_Comm_rank");
    this.rank = out[0];
    this.#check(lib.symbols.MPI_Comm_size(this.#comm, out), "MPI_Comm_size");
    this.size = out[0];
  }

  /**
   * Loads Open MPI and calls `MPI_Init`. Throws a DataError naming what to install when the
   * library cannot be found (Debian: `apt-get install libopenmpi-dev openmpi-bin`).
   */
  static init(): Mpi {
    const libc = Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
    const candidates = Deno.env.get("SSL_MPI_LIB") ? [Deno.env.get("SSL_MPI_LIB")!] : MPI_LIBRARIES;
    let handle: Deno.PointerValue = null;
    let chosen = "";
    for (const name of candidates) {
      handle = libc.symbols.dlopen(cString(name), RTLD_NOW | RTLD_GLOBAL);
      if (handle !== null) {
        chosen = name;
        break;
      }
    }
    if (handle === null) {
      libc.close();
      throw new DataError(
        `--dist mpi: cannot load Open MPI (tried ${candidates.join(", ")}); install it with ` +
          "`apt-get install libopenmpi-dev openmpi-bin` or set SSL_MPI_LIB to libmpi.so's path",
      );
    }
    const lookup = (symbol: string): Deno.PointerValue => {
      const p = libc.symbols.dlsym(handle, cString(symbol));
      if (p === null) {
        throw new DataError(
          `--dist mpi: ${chosen} has no symbol ${symbol}; only Open MPI's ABI is supported`,
        );
      }
      return p;
    };
    const lib = Deno.dlopen(chosen, MPI_SYMBOLS);
    const flag = new Int32Array(1);
    lib.symbols.MPI_Initialized(flag);
    if (flag[0] === 0) {
      const rc = lib.symbols.MPI_Init(null, null);
      if (rc !== MPI_SUCCESS) throw new DataError(`MPI_Init failed with code ${rc}`);
    }
    return new Mpi(lib, lookup);
  }

  #check(rc: number, what: string): void {
    if (rc !== MPI_SUCCESS) throw new Error(`${what} failed with MPI error code ${rc}`);
  }

  #typeOf(data: MpiElement): Deno.PointerValue {
    if (data instanceof Float32Array) return this.#types.float;
    if (data instanceof Float64Array) return this.#types.double;
    if (data instanceof Int32Array) return this.#types.int;
    return this.#types.byte;
  }

  #timed<T>(bytes: number, fn: () => T): T {
    const t0 = performance.now();
    const out = fn();
    this.secondsCommunicating += (performance.now() - t0) / 1000;
    this.bytesCommunicated += bytes;
    return out;
  }

  /** Sums `data` element-wise over all ranks, in place (`MPI_Allreduce` with `MPI_IN_PLACE`). */
  allreduceSum(data: MpiElement): void {
    this.#timed(data.byteLength, () => {
      const type = this.#typeOf(data);
      const step = MAX_COUNT;
      for (let start = 0; start < data.length; start += step) {
        const view = data.subarray(start, Math.min(data.length, start + step));
        const ptr = Deno.UnsafePointer.of(view as Uint8Array<ArrayBuffer>);
        this.#check(
          this.#lib.symbols.MPI_Allreduce(IN_PLACE, ptr, view.length, type, this.#sum, this.#comm),
          "MPI_Allreduce",
        );
      }
    });
  }

  /** Averages `data` over all ranks, in place. */
  allreduceMean(data: Float32Array | Float64Array): void {
    this.allreduceSum(data);
    const inv = 1 / this.size;
    for (let i = 0; i < data.length; i++) data[i] *= inv;
  }

  /**
   * Concatenates every rank's `data` (all the same length) in rank order (`MPI_Allgather`).
   */
  allgather<T extends MpiElement>(data: T): T {
    const Ctor = data.constructor as { new (n: number): T };
    const out = new Ctor(data.length * this.size);
    if (data.length > MAX_COUNT) throw new Error("allgather: more than 2^31 elements per rank");
    this.#timed(out.byteLength, () => {
      const type = this.#typeOf(data);
      this.#check(
        this.#lib.symbols.MPI_Allgather(
          Deno.UnsafePointer.of(data as Uint8Array<ArrayBuffer>),
          data.length,
          type,
          Deno.UnsafePointer.of(out as Uint8Array<ArrayBuffer>),
          data.length,
          type,
          this.#comm,
        ),
        "MPI_Allgather",
      );
    });
    return out;
  }

  /** Copies `root`'s `data` into every rank's `data` (`MPI_Bcast`), in place. */
  broadcast(data: MpiElement, root = 0): void {
    if (data.length > MAX_COUNT) throw new Error("broadcast: more than 2^31 elements");
    this.#timed(data.byteLength, () => {
      this.#check(
        this.#lib.symbols.MPI_Bcast(
          Deno.UnsafePointer.of(data as Uint8Array<ArrayBuffer>),
          data.length,
          this.#typeOf(data),
          root,
          this.#comm,
        ),
        "MPI_Bcast",
      );
    });
  }

  /** Waits until every rank arrives. */
  barrier(): void {
    this.#check(this.#lib.symbols.MPI_Barrier(this.#comm), "MPI_Barrier");
  }

  /** Seconds since an arbitrary point in the past (`MPI_Wtime`). */
  wtime(): number {
    return this.#lib.symbols.MPI_Wtime();
  }

  /** Ends the whole job with `code` (every rank), e.g. after an unrecoverable error on one rank. */
  abort(code: number): never {
    this.#lib.symbols.MPI_Abort(this.#comm, code);
    Deno.exit(code);
  }

  /** Calls `MPI_Finalize` once; collectives after it are errors. */
  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    this.#check(this.#lib.symbols.MPI_Finalize(), "MPI_Finalize");
    this.#lib.close();
  }
}
