/**
 * Run under `mpirun -np N`: exercises the collectives and prints one JSON line per rank.
 * `MPI_TEST_DIE_RANK=r` makes rank r exit abnormally after the first collective, to check that
 * the job fails instead of hanging.
 */
import { Mpi } from "../../src/dist/mpi.ts";

const comm = Mpi.init();
const n = 1000;
const mine = new Float32Array(n);
for (let i = 0; i < n; i++) mine[i] = (comm.rank + 1) * i * 0.5;
comm.allreduceSum(mine);
const die = Deno.env.get("MPI_TEST_DIE_RANK");
if (die !== undefined && Number(die) === comm.rank) Deno.exit(3);
const gathered = comm.allgather(new Int32Array([comm.rank * 10, comm.rank * 10 + 1]));
const shared = new Float64Array([comm.rank === 0 ? 42.5 : -1]);
comm.broadcast(shared, 0);
const mean = new Float64Array([comm.rank]);
comm.allreduceMean(mean);
comm.barrier();
console.log(JSON.stringify({
  rank: comm.rank,
  size: comm.size,
  sum: [mine[0], mine[1], mine[999]],
  gathered: Array.from(gathered),
  shared: shared[0],
  mean: mean[0],
}));
comm.finalize();
