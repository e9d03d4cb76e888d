import { ckptDirFlag, parseEvalCli, sizeFlags } from "../../src/eval/cli_common.ts";
import { shuffledPrefix } from "../../src/eval/split_features.ts";
import { UsageError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

const spec = {
  name: "test",
  summary: "a script",
  flags: {
    "batch-size": { type: "int", default: 8, help: "forward batch" },
    ...sizeFlags(256),
    "ckpt-dir": ckptDirFlag("models/"),
  },
} as const;

Deno.test("parseEvalCli() adds the shared flags, starts the clock and rejects impossible sizes", () => {
  const { flags, startedAt, timings } = parseEvalCli(["--resize", "240", "--seed", "3"], spec);
  assert(flags.resize === 240 && flags["crop-size"] === 224 && flags["batch-size"] === 8, "sizes");
  assert(flags.seed === 3 && flags["on-bad-image"] === "fail", "EXTRA_FLAGS parsed");
  assert(flags["ckpt-dir"] === "models/" && flags.arch === "resnet50", "defaults");
  assert(startedAt instanceof Date && timings.total() >= 0, "clock started");
  const cases: [string[], RegExp][] = [
    [["--resize", "100", "--crop-size", "101"], /--crop-size 101 is larger than --resize 100/],
    [["--batch-size", "0"], /--batch-size: must be a positive integer/],
    [["--crop-size", "0"], /--crop-size: must be a positive integer/],
  ];
  for (const [args, re] of cases) {
    let error: unknown;
    try {
      parseEvalCli(args, spec);
    } catch (e) {
      error = e;
    }
    assert(error instanceof UsageError && re.test(error.message), `${args}: ${error}`);
  }
});

Deno.test("shuffledPrefix() equals the seeded Rng shuffle's prefix (the cached subsets' order)", () => {
  const rng = testRng("prefix");
  const n = 5 + rng.int(50), count = rng.int(n + 1), seed = rng.int(1000);
  const a = shuffledPrefix(n, count, seed);
  assert(a.length === count && new Set(a).size === count, "distinct, count long");
  const full = new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  assertArrayEqual(a, full.slice(0, count), "prefix of Rng(seed).shuffle(0…n−1)");
});
