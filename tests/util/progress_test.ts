import { formatDuration, Progress } from "../../src/util/progress.ts";
import { assert } from "./assert.ts";

Deno.test("Progress prints done/total, rate and ETA from an injected clock", () => {
  const lines: string[] = [];
  let t = 0;
  const p = new Progress("features", 100, {
    unit: "img",
    intervalMs: 1000,
    write: (l) => lines.push(l),
    now: () => t,
  });
  t = 2000;
  p.advance(20);
  t = 2500;
  p.advance(5); // throttled: within the interval
  t = 4000;
  p.advance(15);
  p.done();
  assert(lines.length === 3, `expected 3 lines, got ${lines.length}: ${lines.join(" | ")}`);
  assert(lines[0] === "features: 20/100 (20.0%) 10.0 img/s ETA 8s", lines[0]);
  assert(lines[1] === "features: 40/100 (40.0%) 10.0 img/s ETA 6s", lines[1]);
  assert(lines[2] === "features: 40/100 done in 4s (10.0 img/s)", lines[2]);
});

Deno.test("formatDuration() uses h/m/s and rejects nonsense", () => {
  assert(formatDuration(5) === "5s", `formatDuration(5) = ${formatDuration(5)}`);
  assert(formatDuration(185) === "3m05s", `formatDuration(185) = ${formatDuration(185)}`);
  assert(formatDuration(3725) === "1h02m", `formatDuration(3725) = ${formatDuration(3725)}`);
  assert(
    formatDuration(Infinity) === "?",
    `formatDuration(Infinity) = ${formatDuration(Infinity)}`,
  );
});
