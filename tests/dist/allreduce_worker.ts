/**
 * Run under `mpirun -np N` by the dist benchmark: all-reduces (mean) a Float32Array of
 * `<floats>` elements `<runs>` times after one warm-up and prints rank 0's median milliseconds
 * as one JSON line.
 */
import { Mpi } from "../../src/dist/mpi.ts";

const [floats, runs] = Deno.args.map(Number);
const comm = Mpi.init();
const data = new Float32Array(floats).fill(comm.rank + 1);
comm.allreduceMean(data);
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  comm.barrier();
  const t0 = performance.now();
  comm.allreduceMean(data);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
if (comm.rank === 0) {
  console.log(
    JSON.stringify({ ranks: comm.size, bytes: data.byteLength, medianMs: times[runs >> 1] }),
  );
}
comm.finalize();
