/**
 * MoCo's learning-rate schedule (docs/pretraining.md#optimisation): set once at the start of each epoch and constant
 * within it; half-cosine over the run with `--cos`, else step decay by 0.1 at each milestone.
 *
 * @module
 */

/** What the learning rate depends on. */
export interface LrSchedule {
  /** Base learning rate (`--lr`, 0.03). */
  baseLr: number;
  /** Total epochs of the run (`--epochs`, 200): the cosine's period. */
  epochs: number;
  /** Half-cosine schedule (`--cos`). */
  cos: boolean;
  /** Step milestones (`--schedule`, [120, 160]), used only without `cos`. */
  milestones: readonly number[];
}

/**
 * The learning rate of epoch `epoch` (0-based), as `adjust_learning_rate` in `main_moco.py`:
 * cos: lr·½·(1 + cos(π·epoch/epochs)); otherwise lr·0.1^(number of milestones ≤ epoch).
 *
 * @example
 * ```ts
 * learningRate(0, { baseLr: 0.03, epochs: 200, cos: true, milestones: [] }); // 0.03
 * ```
 */
export function learningRate(epoch: number, s: LrSchedule): number {
  if (s.cos) return s.baseLr * 0.5 * (1 + Math.cos(Math.PI * epoch / s.epochs));
  let lr = s.baseLr;
  for (const milestone of s.milestones) if (epoch >= milestone) lr *= 0.1;
  return lr;
}

/**
 * Parses `--schedule` ("120,160" or "120 160") into sorted milestones.
 *
 * @throws RangeError naming the bad entry.
 */
export function parseMilestones(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter((p) => p !== "");
  return parts.map((p) => {
    const v = Number(p);
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`'${p}' is not a non-negative integer epoch`);
    }
    return v;
  });
}
