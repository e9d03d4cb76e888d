/**
 * What data-parallel training needs of a message-passing layer. `Mpi` (src/dist/mpi.ts) has
 * this shape; keeping it an interface lets the training code type-check and run single-process
 * without loading Open MPI.
 *
 * @module
 */

/** Element arrays the collectives move. */
export type CommArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** A group of ranks that run the same program in lock step (MPI_COMM_WORLD). */
export interface Communicator {
  /** This process's rank, 0…size−1. */
  readonly rank: number;
  /** Number of ranks. */
  readonly size: number;
  /** Payload bytes moved by collectives so far. */
  readonly bytesCommunicated: number;
  /** Seconds spent inside collectives so far. */
  readonly secondsCommunicating: number;
  /** Element-wise sum over ranks, in place. */
  allreduceSum(data: CommArray): void;
  /** Element-wise mean over ranks, in place. */
  allreduceMean(data: Float32Array | Float64Array): void;
  /** Every rank's `data` (same length everywhere) concatenated in rank order. */
  allgather<T extends CommArray>(data: T): T;
  /** Overwrites `data` with `root`'s, in place. */
  broadcast(data: CommArray, root?: number): void;
  /** Ends every rank of the job with `code`. */
  abort(code: number): never;
}
