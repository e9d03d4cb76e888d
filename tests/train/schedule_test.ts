import { learningRate, parseMilestones } from "../../src/train/schedule.ts";
import { assert } from "../util/assert.ts";

Deno.test("learningRate() follows main_moco.py's cosine and step schedules", () => {
  const cos = { baseLr: 0.03, epochs: 200, cos: true, milestones: [] };
  assert(learningRate(0, cos) === 0.03, "cos epoch 0 is the base lr");
  // Hand-computed: 0.03 · ½ · (1 + cos(π·199/200)) = 1.8502e-6 (docs/pretraining.md#optimisation).
  const last = learningRate(199, cos);
  assert(Math.abs(last - 1.8502e-6) < 1e-9, `cos epoch 199 gives ${last}`);
  assert(Math.abs(learningRate(100, cos) - 0.015) < 1e-15, "cos half-way is half the lr");
  const step = { baseLr: 0.03, epochs: 200, cos: false, milestones: [120, 160] };
  assert(learningRate(119, step) === 0.03, "before the first milestone");
  assert(Math.abs(learningRate(120, step) - 0.003) < 1e-15, "at the first milestone");
  assert(Math.abs(learningRate(199, step) - 0.0003) < 1e-15, "after both milestones");
});

Deno.test("parseMilestones() reads '120,160' and '120 160' and refuses junk", () => {
  assert(parseMilestones("120,160").join() === "120,160", "comma list");
  assert(parseMilestones(" 120  160 ").join() === "120,160", "space list");
  let message = "";
  try {
    parseMilestones("120,abc");
  } catch (e) {
    message = (e as Error).message;
  }
  assert(/'abc' is not a non-negative integer/.test(message), `message: ${message}`);
});
