/**
 * Fault suite: the command line as a careless or hostile user types it. Names that would lead a
 * write out of `--results-dir` (`--model ../x`, `--dataset ../../escaped`, absolute names, `A+../B`)
 * and flags torch or argparse would refuse (`-b -8`, `--wd=-1`, `--image-size 0`, BN groups of one
 * image) end with exit 2 and one line naming the flag, before any GPU work, and nothing outside
 * the results folder changes (nothing inside either).
 *
 * @module
 */
import { join } from "node:path";
import { changes, mapLimit, runScript, script, snapshot, Tally, uncleanReason } from "./harness.ts";

const FIXTURE = new URL("../fixtures/checkpoints/moco_r18_w2.pth.tar", import.meta.url).pathname;

Deno.test("faults: names escaping --results-dir and bad flags are usage errors; nothing is written", async () => {
  const root = await Deno.makeTempDir({ prefix: "faults-cli-" });
  try {
    const work = join(root, "a", "b", "work");
    const results = join(work, "results");
    const models = join(work, "models");
    await Deno.mkdir(join(work, "data", "val", "c0"), { recursive: true });
    await Deno.mkdir(join(work, "data", "train", "c0"), { recursive: true });
    await Deno.mkdir(results, { recursive: true });
    await Deno.mkdir(models, { recursive: true });
    await Deno.copyFile(FIXTURE, join(models, "default.pth.tar"));
    const common = ["--results-dir", results, "--ckpt-dir", models];
    const cases: [string, string, string[], RegExp][] = [
      ["synthetic --model ../escaped", "eval_synthetic_invariance.ts", [
        "--model",
        "../escaped",
        "data",
      ], /--model: '\.\.\/escaped' cannot be used/],
      ["synthetic --model ../models/default", "eval_synthetic_invariance.ts", [
        "--model",
        "../models/default",
        "data",
      ], /--model/],
      ["synthetic --model default+../x", "eval_synthetic_invariance.ts", [
        "--model",
        "default+../x",
        "data",
      ], /--model/],
      ["synthetic --model /tmp/abs", "eval_synthetic_invariance.ts", [
        "--model",
        "/tmp/abs",
        "data",
      ], /--model/],
      [
        "synthetic --model ..",
        "eval_synthetic_invariance.ts",
        ["--model", "..", "data"],
        /--model/,
      ],
      ["synthetic --dataset ../../../escaped", "eval_synthetic_invariance.ts", [
        "--dataset",
        "../../../escaped",
        "data",
      ], /--dataset/],
      ["synthetic --dataset a\\b", "eval_synthetic_invariance.ts", [
        "--dataset",
        "a\\b",
        "data",
      ], /--dataset/],
      ["synthetic --transform ../rotation", "eval_synthetic_invariance.ts", [
        "--transform",
        "../rotation",
        "data",
      ], /--transform/],
      ["realworld --model ../models/world_default", "eval_realworld_invariance.ts", [
        "--model",
        "../models/world_default",
      ], /--model/],
      ["downstream --model ../x", "eval_downstream.ts", ["--model", "../x"], /--model/],
      ["causal3dident --model ../../x", "eval_causal3dident.ts", ["--model", "../../x"], /--model/],
      [
        "synthetic --resize 0",
        "eval_synthetic_invariance.ts",
        ["--resize", "0", "data"],
        /--resize/,
      ],
      ["synthetic --k 0", "eval_synthetic_invariance.ts", [
        "--k",
        "0",
        "data",
      ], /--k: must be a positive integer, got 0/],
      ["synthetic --transform deform --k 300", "eval_synthetic_invariance.ts", [
        "--transform",
        "deform",
        "--k",
        "300",
        "data",
      ], /--k: 300 is too large for --transform deform, whose grid has only 256 entries/],
      ["synthetic --batch-size -8", "eval_synthetic_invariance.ts", [
        "--batch-size",
        "-8",
        "data",
      ], /--batch-size/],
      ["pretrain --model ../x", "main_moco.ts", ["--model", "../x", "data"], /--model/],
      [
        "pretrain -b -8",
        "main_moco.ts",
        ["-b", "-8", "data"],
        /--batch-size must be a positive integer, got -8/,
      ],
      ["pretrain --wd=-1", "main_moco.ts", ["--wd=-1", "data"], /--wd: invalid weight decay -1/],
      [
        "pretrain --weight-decay -1",
        "main_moco.ts",
        ["--weight-decay", "-1", "data"],
        /invalid weight decay/,
      ],
      ["pretrain --momentum -0.9", "main_moco.ts", ["--momentum", "-0.9", "data"], /--momentum/],
      ["pretrain --image-size 0", "main_moco.ts", ["--image-size", "0", "data"], /--image-size/],
      ["pretrain --epochs 0", "main_moco.ts", ["--epochs", "0", "data"], /--epochs/],
      ["pretrain --moco-k 0", "main_moco.ts", ["--moco-k", "0", "data"], /--moco-k/],
      ["pretrain --lr 0", "main_moco.ts", ["--lr", "0", "data"], /--lr/],
      ["pretrain --moco-t 0", "main_moco.ts", ["--moco-t", "0", "data"], /--moco-t/],
      [
        "pretrain -b 8 (default --bn-groups 8)",
        "main_moco.ts",
        ["-b", "8", "data"],
        /use --bn-groups 4/,
      ],
      ["pretrain -b 2 --bn-groups 2", "main_moco.ts", [
        "-b",
        "2",
        "--bn-groups",
        "2",
        "--moco-k",
        "8",
        "data",
      ], /use --bn-groups 1/],
      ["pretrain --bn-groups 3 -b 16", "main_moco.ts", [
        "--bn-groups",
        "3",
        "-b",
        "16",
        "data",
      ], /must divide --batch-size/],
      [
        "pretrain -b abc",
        "main_moco.ts",
        ["-b", "abc", "data"],
        /--batch-size: 'abc' is not a number/,
      ],
      ["pretrain --nope", "main_moco.ts", ["--nope", "data"], /Unknown option '--nope'/],
    ];
    const before = await snapshot(root);
    const tally = new Tally("command line (names, flags)");
    const outcomes = await mapLimit(cases, 4, ([, file, args]) => {
      const extra = file === "main_moco.ts"
        ? ["--out-dir", join(work, "out"), "--results-dir", results]
        : common;
      return runScript(script(file), [...extra, ...args], { cwd: work });
    });
    for (const [i, [name, , , message]] of cases.entries()) {
      tally.add(name, uncleanReason(outcomes[i], 2, message));
    }
    const diff = changes(before, await snapshot(root));
    tally.add("nothing changed anywhere", diff.length === 0 ? undefined : diff.join(", "));
    await tally.finish();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
