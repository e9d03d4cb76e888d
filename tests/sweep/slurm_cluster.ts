/**
 * A throw-away one-node Slurm cluster on localhost for tests: slurmctld + slurmd started from a
 * generated config in a temp dir (auth/none, so no munge daemon is needed), stopped afterwards.
 * Needs root (slurmd launches jobs) and Debian's `slurm-wlm`; `.ci/run` installs it and sets
 * `SSL_REQUIRE_SLURM=1`, which turns a missing Slurm into a failure instead of a skipped test.
 *
 * @module
 */

/** A running test cluster. */
export interface TestCluster {
  /** Environment for sbatch/squeue/sinfo (`SLURM_CONF`). */
  env: Record<string, string>;
  dir: string;
  stop(): Promise<void>;
}

function commandWorks(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** True when a local Slurm can be started here (Slurm installed and running as root). */
export function slurmAvailable(): boolean {
  const ok = Deno.uid() === 0 && commandWorks("slurmctld", ["-V"]) &&
    commandWorks("slurmd", ["-V"]);
  if (!ok && Deno.env.get("SSL_REQUIRE_SLURM") === "1") {
    throw new Error(
      "SSL_REQUIRE_SLURM=1 but slurmctld/slurmd are missing or not root: apt-get install slurm-wlm",
    );
  }
  return ok;
}

/** Starts the cluster and waits until its node is idle. */
export async function startTestCluster(cpus = 2): Promise<TestCluster> {
  const dir = await Deno.makeTempDir({ prefix: "ssl-slurm-" });
  const host = Deno.hostname();
  const port = 20000 + Math.floor(Math.random() * 20000);
  for (const d of ["state", "spool", "log"]) await Deno.mkdir(`${dir}/${d}`);
  const conf = [
    "ClusterName=ssltest",
    `SlurmctldHost=${host}`,
    `SlurmctldPort=${port}`,
    `SlurmdPort=${port + 1}`,
    "AuthType=auth/none",
    "CredType=cred/none",
    "SlurmUser=root",
    "SlurmdUser=root",
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    `SlurmdPidFile=${dir}/slurmd.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`,
    `SlurmdLogFile=${dir}/log/slurmd.log`,
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "MpiDefault=none",
    "ReturnToService=2",
    "JobCompType=jobcomp/none",
    "AccountingStorageType=accounting_storage/none",
    `NodeName=${host} CPUs=${cpus} RealMemory=8000 State=UNKNOWN`,
    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4",
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/slurm.conf`, conf);
  const env = { SLURM_CONF: `${dir}/slurm.conf` };
  for (const daemon of ["slurmctld", "slurmd"]) {
    const out = await new Deno.Command(daemon, {
      args: ["-c"],
      env,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) throw new Error(`${daemon} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const cluster: TestCluster = {
    env,
    dir,
    async stop() {
      for (const pid of ["slurmd.pid", "slurmctld.pid"]) {
        try {
          Deno.kill(Number(await Deno.readTextFile(`${dir}/${pid}`)), "SIGTERM");
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 500));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  for (let i = 0; i < 60; i++) {
    const out = await new Deno.Command("sinfo", {
      args: ["-h", "-o", "%t"],
      env,
      stdout: "piped",
      stderr: "null",
    })
      .output();
    if (new TextDecoder().decode(out.stdout).trim() === "idle") return cluster;
    await new Promise((r) => setTimeout(r, 500));
  }
  await cluster.stop();
  throw new Error(`the test Slurm node never became idle; see ${dir}/log`);
}

/** Waits until no job of this cluster is pending or running. */
export async function waitForQueue(cluster: TestCluster, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const out = await new Deno.Command("squeue", {
      args: ["-h"],
      env: cluster.env,
      stdout: "piped",
    })
      .output();
    if (new TextDecoder().decode(out.stdout).trim() === "") return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`Slurm jobs still queued after ${timeoutMs} ms`);
}
