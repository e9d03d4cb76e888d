import { mpiAvailable, mpirunArgs } from "./mpi_launch.ts";
import { assert } from "../util/assert.ts";
import { runCommand } from "../util/command.ts";

const WORKER = new URL("./mpi_worker.ts", import.meta.url).pathname;
const HAVE_MPI = mpiAvailable();

function mpirun(np: number, env: Record<string, string> = {}) {
  return runCommand("mpirun", mpirunArgs(np, WORKER), { env });
}

Deno.test({
  name: "Mpi collectives over Open MPI: allreduce, allgather, broadcast and mean on 3 ranks",
  ignore: !HAVE_MPI,
  fn: async () => {
    const run = await mpirun(3);
    assert(run.code === 0, `mpirun failed (${run.code}): ${run.stderr}`);
    const rows = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert(rows.length === 3, `expected 3 ranks, got ${rows.length}`);
    for (const r of rows) {
      assert(r.size === 3, "world size");
      // Σ_rank (rank+1)·i·0.5 = 3·i for three ranks.
      assert(r.sum[0] === 0 && r.sum[1] === 3 && r.sum[2] === 2997, `sum ${r.sum}`);
      assert(JSON.stringify(r.gathered) === "[0,1,10,11,20,21]", `gathered ${r.gathered}`);
      assert(r.shared === 42.5, `broadcast ${r.shared}`);
      assert(r.mean === 1, `mean ${r.mean}`);
    }
    assert(new Set(rows.map((r) => r.rank)).size === 3, "distinct ranks");
  },
});

Deno.test({
  name: "a rank that dies mid-run makes mpirun fail with a message instead of hanging",
  ignore: !HAVE_MPI,
  fn: async () => {
    const t0 = performance.now();
    const run = await mpirun(2, { MPI_TEST_DIE_RANK: "1" });
    assert(run.code !== 0, "the job must fail");
    assert(/exited with non-zero status|aborted/.test(run.stderr), `message: ${run.stderr}`);
    assert(performance.now() - t0 < 60_000, "the job ended promptly");
  },
});
