/**
 * The original's command lines run verbatim, every task answers `--help`, choices show in the
 * help, and TensorFlow.js stays out of every task but the benchmarks.
 */
import { parseMainMocoArgs } from "../../scripts/main_moco.ts";
import { assert } from "../util/assert.ts";
import { runCommand } from "../util/command.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function deno(args: string[]) {
  return await runCommand(Deno.execPath(), args, { cwd: ROOT });
}

/** The script each `deno task` runs (`deno run -A <script>`), from deno.json. */
function taskScripts(): [string, string][] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  return Object.entries(config.tasks as Record<string, string>).map(([task, line]) => {
    const m = line.match(/^deno run -A (\S+\.ts)$/);
    assert(m !== null, `task ${task} runs one script: ${line}`);
    return [task, m![1]];
  });
}

Deno.test("the paper's main_moco.py command lines parse verbatim, nargs lists included", () => {
  const paper = [
    ..."--lr 0.03 --batch-size 256 --mlp --moco-t 0.2 --cos --multiprocessing-distributed".split(
      " ",
    ),
    ..."--world-size 1 --rank 0 --dist-url tcp://localhost:10001 ../data/imagenet".split(" "),
  ];
  const a = parseMainMocoArgs(["--model", "ventral", ...paper]);
  assert(a.config.data === "../data/imagenet" && a.config.model === "ventral", "data, model");
  assert(a.config.cos && a.config.mlp && a.config.mocoT === 0.2, "flags");
  const w3 = parseMainMocoArgs(["-a", "resnet50w3", "--moco-dim", "384", ...paper]);
  assert(w3.config.arch === "resnet50w3" && w3.config.mocoDim === 384, "w3 run");
  for (
    const args of [
      ["--schedule", "120", "160", "../data/imagenet"],
      ["../data/imagenet", "--schedule", "120", "160"],
      ["--schedule=120,160", "../data/imagenet"],
    ]
  ) {
    const s = parseMainMocoArgs(args);
    assert(s.config.milestones.join() === "120,160", `${args.join(" ")}: ${s.config.milestones}`);
    assert(s.config.data === "../data/imagenet", `${args.join(" ")}: data`);
  }
  assert(
    parseMainMocoArgs(["--schedule", "30", "60", "90", "d"]).config.milestones.join() ===
      "30,60,90",
    "three milestones",
  );
});

Deno.test("the original's eval command lines parse verbatim (they stop at the missing data)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "verbatim-" });
  const common = ["--data-root", `${tmp}/data/`, "--ckpt-dir", `${tmp}/models/`];
  const lines: [string, string[]][] = [
    ["scripts/eval_synthetic_invariance.ts", [
      ..."--model default --transform grayscale".split(" "),
      "--ckpt-dir",
      `${tmp}/models/`,
      `${tmp}/data/imagenet`,
    ]],
    ["scripts/eval_realworld_invariance.ts", [
      "--model",
      "ventral",
      "--dataset",
      "COIL100",
      ...common,
    ]],
    ["scripts/eval_causal3dident.ts", ["--model", "dorsal", "--target", "0", ...common]],
    ["scripts/eval_downstream.ts", [
      "--model",
      "default+ventral+dorsal",
      "--dataset",
      "300w",
      ...common,
    ]],
  ];
  for (const [script, args] of lines) {
    const r = await deno(["run", "-A", script, ...args]);
    // Exit 2 would be a usage error: the command line itself was refused.
    assert(r.code === 1, `${script} ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert(r.stderr.trim().split("\n").length === 1, `${script}: one line\n${r.stderr}`);
  }
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("every task answers --help (exit 0, a usage line) and lists --transform/--dataset choices", async () => {
  const helps = new Map<string, string>();
  for (const [task, script] of taskScripts()) {
    const r = await deno(["run", "-A", script, "--help"]);
    assert(r.code === 0, `deno task ${task} --help: exit ${r.code}\n${r.stderr}`);
    assert(/usage: /.test(r.stdout), `deno task ${task} --help:\n${r.stdout}`);
    helps.set(task, r.stdout);
  }
  assert(
    /--transform <rotation\|translation\|.*posterize>/.test(helps.get("eval:synthetic")!),
    "transforms",
  );
  assert(
    /--dataset <COIL100\|.*RealBlur\|groups:PATH>/.test(helps.get("eval:realworld")!),
    "datasets",
  );
  assert(
    /--dataset <cifar10\|.*leeds_sports_pose\|folder:PATH>/.test(helps.get("eval:downstream")!),
    "downstream",
  );
  assert(/--schedule <int> \[int …\]/.test(helps.get("pretrain")!), "nargs in help");
});

Deno.test("TensorFlow.js is named only by the benchmarks: deno info scripts/main_moco.ts lists no tfjs", async () => {
  const info = await deno(["info", "scripts/main_moco.ts"]);
  assert(info.code === 0, info.stderr);
  assert(!/tensorflow|tfjs/i.test(info.stdout), "main_moco's module graph has no tfjs");
  assert(!/tensorflow/.test(await Deno.readTextFile(`${ROOT}deno.json`)), "deno.json");
  assert(!/tensorflow/.test(await Deno.readTextFile(`${ROOT}deno.lock`)), "deno.lock");
  const benchMap = await Deno.readTextFile(`${ROOT}tests/bench/import_map.json`);
  assert(/@tensorflow\/tfjs-core/.test(benchMap), "the benchmarks' import map names tfjs");
  const bench = await deno([
    "info",
    "--import-map=tests/bench/import_map.json",
    "--lock=tests/bench/bench.lock",
    "tests/bench/models_bench.ts",
  ]);
  assert(bench.code === 0 && /tfjs-core/.test(bench.stdout), `bench graph:\n${bench.stderr}`);
});
