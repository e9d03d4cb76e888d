/**
 * The demo's built-in checkpoints: trained by the project's own pretraining on the world, then
 * reduced to their release form (the query encoder only, in the MoCo key layout) so they stay
 * small enough to ship in `models/`.
 *
 * @module
 */
import { exportWorld } from "../world/world_export.ts";
import type { Gpu } from "../gpu/device.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { loadTorchCheckpoint } from "../io/torch/read.ts";
import { writeTorchCheckpoint } from "../io/torch/write.ts";
import { mocoCheckpointToPy, parseMocoCheckpoint } from "../train/checkpoint.ts";
import { DataError } from "../util/errors.ts";
import { stableStringify } from "../util/hash.ts";
import {
  DEMO_POLICIES,
  demoCheckpointName,
  type DemoPolicy,
  PRETRAIN,
  pretrainArgs,
  type PretrainSettings,
} from "./config.ts";

/** Paths of the three built-in checkpoints in `modelsDir`. */
export function demoCheckpointPaths(modelsDir: string): Record<DemoPolicy, string> {
  const dir = modelsDir.replace(/\/+$/, "");
  return Object.fromEntries(
    DEMO_POLICIES.map((p) => [p, `${dir}/${demoCheckpointName(p)}.pth.tar`]),
  ) as Record<DemoPolicy, string>;
}

/** Which built-in checkpoints are missing. */
export async function missingCheckpoints(modelsDir: string): Promise<DemoPolicy[]> {
  const missing: DemoPolicy[] = [];
  for (const [policy, path] of Object.entries(demoCheckpointPaths(modelsDir))) {
    try {
      await Deno.stat(path);
    } catch {
      missing.push(policy as DemoPolicy);
    }
  }
  return missing;
}

/**
 * Writes the release form of a MoCo training checkpoint: `epoch`, `arch` and the
 * `module.encoder_q.*` entries of its state dict (encoder_k, the queue and the optimizer are
 * dropped: evaluation loads only the query encoder). The result loads with `loadModel` and with
 * `torch.load`.
 */
export async function writeReleaseCheckpoint(source: string, target: string): Promise<number> {
  const { value } = await loadTorchCheckpoint(source);
  const ckpt = parseMocoCheckpoint(value, source);
  const kept = new Map([...ckpt.stateDict].filter(([k]) => k.startsWith("module.encoder_q.")));
  if (kept.size === 0) throw new DataError(`${source}: no module.encoder_q.* entries to keep`);
  await writeTorchCheckpoint(
    target,
    mocoCheckpointToPy({ epoch: ckpt.epoch, arch: ckpt.arch, stateDict: kept }),
  );
  return kept.size;
}

/** The file in a policy's work folder that records the settings its checkpoints were trained with. */
export const RETRAIN_RECIPE_FILE = "demo-recipe.json";

/** Where an interrupted retrain of one policy left off. */
export interface RetrainResumePoint {
  /** The newest `<policy>_NNNN.pth.tar` in the work folder. */
  path: string;
  /** Epochs it holds (NNNN + 1). */
  epochsDone: number;
}

/**
 * Prepares `outDir` for retraining `policy` with `settings` and says where to continue: the newest
 * epoch checkpoint there, or undefined for a fresh start. The folder's settings are recorded in
 * {@link RETRAIN_RECIPE_FILE} (written atomically) on a fresh start; a folder holding checkpoints of
 * other settings, or checkpoints with no record, is refused with a `DataError` naming it, because
 * continuing them would silently mix two recipes.
 */
export async function prepareRetrainFolder(
  outDir: string,
  policy: DemoPolicy,
  settings: Readonly<PretrainSettings>,
): Promise<RetrainResumePoint | undefined> {
  const recipe = stableStringify({ policy, ...settings });
  const recipePath = `${outDir}/${RETRAIN_RECIPE_FILE}`;
  const pattern = new RegExp(`^${policy}_(\\d{4,})\\.pth\\.tar$`);
  let newest: RetrainResumePoint | undefined;
  try {
    for await (const entry of Deno.readDir(outDir)) {
      const m = entry.isFile ? pattern.exec(entry.name) : null;
      if (m && (!newest || Number(m[1]) + 1 > newest.epochsDone)) {
        newest = { path: `${outDir}/${entry.name}`, epochsDone: Number(m[1]) + 1 };
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  let recorded: string | undefined;
  try {
    recorded = stableStringify(JSON.parse(await Deno.readTextFile(recipePath)));
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new DataError(`${recipePath}: not valid JSON (${e.message})`);
    }
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (newest && recorded === undefined) {
    throw new DataError(
      `${outDir} holds ${policy} checkpoints but no ${RETRAIN_RECIPE_FILE} saying how they were ` +
        `trained; remove the folder to retrain from scratch`,
    );
  }
  if (recorded !== undefined && recorded !== recipe) {
    throw new DataError(
      `${outDir} was trained with other settings (${recipePath}: ${recorded}; now ${recipe}); ` +
        `remove the folder to retrain from scratch`,
    );
  }
  if (recorded === undefined) await writeFileAtomic(recipePath, recipe + "\n");
  return newest;
}

/**
 * Re-creates the built-in checkpoints exactly as recorded in `models/README.md`: renders the
 * pretraining world into `workDir`, runs `deno task pretrain` once per policy (a child process,
 * so its progress shows as usual), and writes the release form of the last epoch to `modelsDir`.
 * An interrupted run continues: each policy resumes from the newest epoch checkpoint in its work
 * folder (see {@link prepareRetrainFolder}), and a policy whose last epoch is there is not
 * trained again.
 */
export async function retrainDemoCheckpoints(
  gpu: Gpu,
  workDir: string,
  modelsDir: string,
  policies: readonly DemoPolicy[] = DEMO_POLICIES,
  log: (line: string) => void = (l) => console.error(l),
  settings: Readonly<PretrainSettings> = PRETRAIN,
): Promise<void> {
  const w = settings.world;
  const data = `${workDir}/pretrain-world`;
  await exportWorld(gpu, "imagefolder", data, {
    seed: w.seed,
    resolution: w.resolution,
    perClass: w.perClass,
    testPerClass: w.testPerClass,
    log,
  });
  const script = new URL("../../scripts/main_moco.ts", import.meta.url).pathname;
  const targets = demoCheckpointPaths(modelsDir);
  await Deno.mkdir(modelsDir, { recursive: true });
  for (const policy of policies) {
    const out = `${workDir}/pretrain-${policy}`;
    const resume = await prepareRetrainFolder(out, policy, settings);
    if (resume && resume.epochsDone >= settings.epochs) {
      log(`demo: ${policy} already trained for ${resume.epochsDone} epochs (${resume.path})`);
    } else {
      const args = [
        ...pretrainArgs(policy, data, out, settings),
        ...(resume ? ["--resume", resume.path] : []),
      ];
      log(`demo: deno task pretrain ${args.join(" ")}`);
      const status = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, ...args],
        stdout: "inherit",
        stderr: "inherit",
      }).spawn().status;
      if (!status.success) {
        throw new DataError(`pretraining ${policy} failed (exit ${status.code})`);
      }
    }
    const last = `${out}/${policy}_${String(settings.epochs - 1).padStart(4, "0")}.pth.tar`;
    const n = await writeReleaseCheckpoint(last, targets[policy]);
    log(`demo: wrote ${targets[policy]} (${n} encoder_q tensors from ${last})`);
  }
}
