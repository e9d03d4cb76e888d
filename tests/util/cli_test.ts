import { parseCli, usage } from "../../src/util/cli.ts";
import { UsageError } from "../../src/util/errors.ts";
import { assert } from "./assert.ts";

const SPEC = {
  name: "t",
  summary: "test",
  positionals: [{ name: "data", help: "data dir", required: true }],
  flags: {
    k: { type: "int", default: 256, help: "views" },
    "moco-t": { type: "number", default: 0.07, help: "temperature" },
    arch: { type: "string", short: "a", default: "resnet50", help: "arch" },
    model: { type: "string", choices: ["default", "ventral", "dorsal"], help: "policy" },
    cos: { type: "boolean", help: "cosine" },
  },
} as const;

function throwsUsage(args: string[], pattern: RegExp): void {
  try {
    parseCli(args, SPEC);
  } catch (error) {
    assert(error instanceof UsageError, `UsageError for ${args}`);
    assert(pattern.test((error as Error).message), `message '${(error as Error).message}'`);
    return;
  }
  throw new Error(`no error for ${args}`);
}

Deno.test("parseCli() applies typed defaults, kebab-case flags, aliases and positionals", () => {
  const { flags, positionals } = parseCli(
    ["-a", "resnet18", "--moco-t", "0.2", "--cos", "d"],
    SPEC,
  );
  assert(flags.k === 256 && flags["moco-t"] === 0.2 && flags.arch === "resnet18", "values");
  assert(flags.cos === true && flags.model === undefined, "boolean and unset flags");
  assert(positionals.length === 1 && positionals[0] === "d", "positional");
});

Deno.test("parseCli() names the flag in every usage error", () => {
  throwsUsage(["--k", "2.5", "d"], /--k: '2\.5' is not an integer/);
  throwsUsage(["--moco-t", "abc", "d"], /--moco-t: 'abc' is not a number/);
  throwsUsage(["--model", "sideways", "d"], /--model: 'sideways' is not one of default, ventral/);
  throwsUsage(["--nope", "d"], /nope/);
  throwsUsage([], /missing argument: data/);
  throwsUsage(["a", "b"], /unexpected argument 'b'/);
});

Deno.test("parseCli() takes argparse nargs lists: --schedule 120 160, 120,160 and =120,160", () => {
  const spec = {
    name: "t",
    summary: "test",
    positionals: [{ name: "data", help: "data dir", required: true }],
    flags: {
      schedule: { type: "int", nargs: "+", default: "120,160", help: "milestones" },
      cos: { type: "boolean", help: "cosine" },
    },
  } as const;
  const forms: [string[], number[]][] = [
    [["../data/imagenet"], [120, 160]],
    [["--schedule", "120", "160", "../data/imagenet"], [120, 160]],
    [["../data/imagenet", "--schedule", "30", "60", "90", "--cos"], [30, 60, 90]],
    [["--schedule", "120,160", "d"], [120, 160]],
    [["--schedule=5,6", "d"], [5, 6]],
  ];
  for (const [args, want] of forms) {
    const { flags, positionals } = parseCli(args, spec);
    assert(flags.schedule.join() === want.join(), `${args.join(" ")}: ${flags.schedule}`);
    assert(positionals.length === 1, `${args.join(" ")}: one positional`);
  }
  for (
    const [args, pattern] of [[["--schedule", "d"], /--schedule: expected at least one/]] as const
  ) {
    try {
      parseCli([...args], spec);
      throw new Error("no error");
    } catch (error) {
      assert(error instanceof UsageError && pattern.test((error as Error).message), `${error}`);
    }
  }
});

Deno.test("usage() lists choices, listed values and list flags", () => {
  const text = usage({
    name: "t",
    summary: "s",
    flags: {
      transform: { type: "string", listed: ["rotation", "h_flip"], help: "family" },
      schedule: { type: "int", nargs: "+", help: "milestones" },
    },
    positionals: [{ name: "area", help: "areas", variadic: true }],
  });
  assert(text.includes("--transform <rotation|h_flip>"), text);
  assert(text.includes("--schedule <int> [int …]"), text);
  assert(text.includes("[area…]"), text);
});
