/**
 * Slurm job arrays for a sweep: one array per phase over the cells still pending, and a submit
 * script that chains them with `--dependency=afterok`, so every model's feature statistics exist
 * before its invariance cells start. Transfer cells need no statistics and start at once.
 *
 * @module
 */
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.ts";
import type { CellPhase, SweepCell, SweepPlan } from "./plan.ts";
import { sweepDir } from "./cells.ts";

/** What {@link writeSlurmJobs} produced. */
export interface SlurmJobs {
  /** The script that submits everything (`bash submit.sh`). */
  submitScript: string;
  /** Pending cells per phase (the array sizes). */
  counts: Record<CellPhase, number>;
}

const PHASES: readonly CellPhase[] = ["statistics", "invariance", "transfer"];

function quote(s: string): string {
  return /^[A-Za-z0-9_./:=+@%-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/** The `#SBATCH` header and body of one phase's array script. */
export function arrayScript(
  plan: SweepPlan,
  phase: CellPhase,
  count: number,
  cellsFile: string,
  logDir: string,
): string {
  const s = plan.slurm;
  const sweepScript = new URL("../../scripts/sweep.ts", import.meta.url).pathname;
  const lines = [
    "#!/bin/bash",
    `#SBATCH --job-name=${plan.name}-${phase}`,
    `#SBATCH --array=0-${count - 1}${s.maxConcurrent ? `%${s.maxConcurrent}` : ""}`,
    `#SBATCH --output=${logDir}/%x_%A_%a.out`,
    `#SBATCH --chdir=${Deno.cwd()}`,
    `#SBATCH --time=${s.time}`,
    `#SBATCH --cpus-per-task=${s.cpusPerTask}`,
    `#SBATCH --mem=${s.mem}`,
    "#SBATCH --ntasks=1",
  ];
  if (s.gpus > 0) lines.push(`#SBATCH --gres=gpu:${s.gpus}`);
  if (s.partition) lines.push(`#SBATCH --partition=${s.partition}`);
  if (s.account) lines.push(`#SBATCH --account=${s.account}`);
  for (const e of s.extra) lines.push(`#SBATCH ${e}`);
  lines.push(
    "set -euo pipefail",
    `exec ${quote(Deno.execPath())} run -A ${quote(sweepScript)} --run-cell ${quote(cellsFile)} ` +
      '--index "$SLURM_ARRAY_TASK_ID"',
    "",
  );
  return lines.join("\n");
}

/**
 * Writes `<results>/sweep/<name>/slurm/`: `<phase>.cells.json` (the pending cells, in array
 * order), `<phase>.sbatch` and `submit.sh`. Phases with nothing pending get no array, so a
 * resubmitted sweep whose cells are all done submits nothing.
 */
export async function writeSlurmJobs(
  plan: SweepPlan,
  pending: readonly SweepCell[],
  planFile: string,
): Promise<SlurmJobs> {
  const dir = `${absolute(sweepDir(plan))}/slurm`;
  const logDir = `${absolute(sweepDir(plan))}/logs`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.mkdir(logDir, { recursive: true });
  // Arrays from an earlier expansion must not be submitted by mistake.
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".sbatch") || e.name.endsWith(".cells.json")) {
      await Deno.remove(`${dir}/${e.name}`);
    }
  }
  const counts = { statistics: 0, invariance: 0, transfer: 0 } as Record<CellPhase, number>;
  const submit = [
    "#!/bin/bash",
    `# Submits the pending cells of sweep "${plan.name}" (plan: ${absolute(planFile)}).`,
    "set -euo pipefail",
    'SBATCH="${SBATCH:-sbatch}"',
    "stats=''",
  ];
  for (const phase of PHASES) {
    const cells = pending.filter((c) => c.phase === phase);
    counts[phase] = cells.length;
    if (cells.length === 0) continue;
    const cellsFile = `${dir}/${phase}.cells.json`;
    await writeJsonAtomic(cellsFile, { plan: absolute(planFile), cells });
    await writeFileAtomic(
      `${dir}/${phase}.sbatch`,
      arrayScript(plan, phase, cells.length, cellsFile, logDir),
    );
    if (phase === "statistics") {
      submit.push(`stats=$("$SBATCH" --parsable ${quote(`${dir}/${phase}.sbatch`)})`);
      submit.push(`echo "statistics: job $stats (${cells.length} tasks)"`);
    } else if (phase === "invariance") {
      submit.push(
        `dep=""; if [ -n "$stats" ]; then dep="--dependency=afterok:\${stats%%;*}"; fi`,
        `inv=$("$SBATCH" --parsable $dep ${quote(`${dir}/${phase}.sbatch`)})`,
        `echo "invariance: job $inv (${cells.length} tasks)"`,
      );
    } else {
      submit.push(
        `tr=$("$SBATCH" --parsable ${quote(`${dir}/${phase}.sbatch`)})`,
        `echo "transfer: job $tr (${cells.length} tasks)"`,
      );
    }
  }
  if (pending.length === 0) {
    submit.push(`echo "sweep ${plan.name}: every cell is done; nothing to submit"`);
  }
  submit.push("");
  const submitScript = `${dir}/submit.sh`;
  await writeFileAtomic(submitScript, submit.join("\n"));
  await Deno.chmod(submitScript, 0o755);
  return { submitScript, counts };
}
