/**
 * Fault suite: hostile checkpoints. Truncations of zip and legacy files, stride-0 and overlapping
 * views, zip bombs, lying directories, duplicate entries, foreign globals (with a marker file
 * that proves nothing ran), a seeded byte-flip fuzz under a memory ceiling, and the same files
 * through the `convert_checkpoint inspect` command line (exit 1, one line, nothing written).
 *
 * @module
 */
import { join } from "node:path";
import { pickle, PyGlobal, PyPersistent, PyTuple } from "../../src/io/pickle.ts";
import { decodeTorchCheckpoint, loadTorchCheckpoint } from "../../src/io/torch/read.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert } from "../util/assert.ts";
import { changes, mapLimit, runScript, script, snapshot, Tally, uncleanReason } from "./harness.ts";
import {
  FIXTURES,
  foreignCall,
  legacyCheckpoint,
  rawZip,
  tensorReduce,
  zipCheckpoint,
} from "./hostile.ts";

/** A hostile checkpoint and the message its refusal must carry. */
interface Hostile {
  name: string;
  bytes: Uint8Array;
  message: RegExp;
}

function withEnv<T>(name: string, value: string, fn: () => T): T {
  const old = Deno.env.get(name);
  Deno.env.set(name, value);
  try {
    return fn();
  } finally {
    if (old === undefined) Deno.env.delete(name);
    else Deno.env.set(name, old);
  }
}

/** Why decoding `h` did not end in a one-line DataError naming it and matching its message. */
function refusal(
  h: Hostile,
  decode = () => decodeTorchCheckpoint(h.bytes, h.name),
): string | undefined {
  try {
    decode();
    return "loaded without an error";
  } catch (error) {
    const m = (error as Error).message;
    if (!(error instanceof DataError)) return `${(error as Error).name}: ${m}`;
    if (!m.startsWith(`${h.name}: `)) return `message does not name the file: ${m}`;
    if (m.includes("\n")) return "message of several lines";
    if (!h.message.test(m)) return `message ${JSON.stringify(m)}`;
    return undefined;
  }
}

function crafted(marker: string): Hostile[] {
  const enc = new TextEncoder();
  const out: Hostile[] = [];
  // Stride-0 views: one float stored, billions materialised.
  for (const [shape, label] of [[[20000, 20000], "1.6 GB"], [[100000, 100000], "40 GB"]] as const) {
    out.push({
      name: `stride0-${label.replace(" ", "")}`,
      bytes: zipCheckpoint(
        new Map([["w", tensorReduce("0", 1, [...shape], [0, 0])]]),
        { "0": 1 },
      ),
      message: /stride-0 or overlapping view/,
    });
  }
  // An overlapping view (stride 1 along both axes) of 1 M elements over 2 k stored.
  out.push({
    name: "overlap",
    bytes: zipCheckpoint(
      new Map([["w", tensorReduce("0", 2048, [100000, 1000], [1, 1])]]),
      { "0": 2048 },
    ),
    message: /stride-0 or overlapping view/,
  });
  // Shape overflow: the element count is not even a safe integer.
  out.push({
    name: "huge-shape",
    bytes: zipCheckpoint(
      new Map([["w", tensorReduce("0", 1, [2 ** 40, 2 ** 40, 2 ** 40], [0, 0, 0])]]),
      { "0": 1 },
    ),
    message: /stride-0 or overlapping view|storage holds|malformed|bad shape/,
  });
  // A view that reads past its storage.
  out.push({
    name: "past-storage",
    bytes: zipCheckpoint(new Map([["w", tensorReduce("0", 4, [10], [1])]]), { "0": 4 }),
    message: /storage holds/,
  });
  // A storage whose entry is shorter than the pickle says.
  out.push({
    name: "short-storage",
    bytes: zipCheckpoint(new Map([["w", tensorReduce("0", 1000, [1000], [1])]]), { "0": 10 }),
    message: /bytes, its header says/,
  });
  // Duplicate entries (torch refuses them).
  out.push({
    name: "duplicate-entry",
    bytes: zipCheckpoint(new Map([["w", tensorReduce("0", 4, [4], [1])]]), { "0": 4 }, [
      { name: "archive/data/0", data: new Uint8Array(16).fill(0x40) },
    ]),
    message: /duplicate zip entry 'archive\/data\/0'/,
  });
  const goodPickle = pickle(new Map([["w", tensorReduce("0", 4, [4], [1])]]));
  // Zip bombs: a deflated storage that inflates far past what the directory declares …
  out.push({
    name: "bomb-undeclared",
    bytes: rawZip([
      { name: "archive/data.pkl", data: goodPickle },
      { name: "archive/data/0", data: new Uint8Array(64 << 20), deflate: true, declaredSize: 16 },
    ]),
    message: /inflates to more than the 16 bytes/,
  });
  // … one that declares more than deflate can produce …
  out.push({
    name: "bomb-declared",
    bytes: rawZip([
      { name: "archive/data.pkl", data: goodPickle },
      {
        name: "archive/data/0",
        data: new Uint8Array(4096),
        deflate: true,
        declaredSize: 0xfffffff0,
      },
    ]),
    message: /more than deflate can produce/,
  });
  // … a pickle that inflates past its declared size, and a stored entry whose sizes differ.
  out.push({
    name: "bomb-pickle",
    bytes: rawZip([{
      name: "archive/data.pkl",
      data: new Uint8Array(32 << 20),
      deflate: true,
      declaredSize: 100,
    }]),
    message: /inflates to more than/,
  });
  out.push({
    name: "stored-size-lie",
    bytes: rawZip([{ name: "archive/data.pkl", data: goodPickle, declaredSize: 1 << 30 }]),
    message: /declares .* stored and .* real bytes/,
  });
  // Foreign globals, in both containers: refused, and the marker proves nothing ran.
  const calls: [string, string, string][] = [
    ["posix", "system", `touch ${marker}`],
    ["os", "system", `touch ${marker}`],
    ["subprocess", "check_call", `touch ${marker}`],
    ["builtins", "eval", `open('${marker}', 'w')`],
    ["builtins", "exec", `open('${marker}', 'w')`],
    ["__builtin__", "eval", `open('${marker}', 'w')`],
    ["torch.serialization", "load", marker],
    ["numpy", "load", marker],
  ];
  for (const [module, fn, arg] of calls) {
    out.push({
      name: `global-${module}.${fn}-zip`,
      bytes: rawZip([{ name: "archive/data.pkl", data: foreignCall(module, fn, arg) }]),
      message: new RegExp(`refusing to load global '${module.replace(".", "\\.")}\\.${fn}'`),
    });
    out.push({
      name: `global-${module}.${fn}-legacy`,
      bytes: legacyCheckpoint(foreignCall(module, fn, arg)),
      message: new RegExp(`refusing to load global '${module.replace(".", "\\.")}\\.${fn}'`),
    });
  }
  // A whole pickled module (torch.save(model)) and an unknown persistent id.
  out.push({
    name: "pickled-module",
    bytes: rawZip([{
      name: "archive/data.pkl",
      data: pickle(new PyPersistent(new PyTuple(["module", new PyGlobal("x", "Net"), "n", ""]))),
    }]),
    message: /pickled nn\.Module|refusing to load global 'x\.Net'/,
  });
  // Not checkpoints at all.
  out.push({ name: "empty", bytes: new Uint8Array(0), message: /not a PyTorch checkpoint/ });
  out.push({ name: "text", bytes: enc.encode("hello, world\n"), message: /not a PyTorch/ });
  out.push({
    name: "zip-without-pickle",
    bytes: rawZip([{ name: "readme.txt", data: enc.encode("hi") }]),
    message: /without data\.pkl/,
  });
  // A deep nesting of lists (the pickle machine is iterative).
  const deep = new Uint8Array(2 + 200_000 * 2 + 1);
  deep.set([0x80, 0x02]);
  for (let i = 0; i < 200_000; i++) deep.set([0x5d, 0x28], 2 + 2 * i); // EMPTY_LIST MARK
  deep[deep.length - 1] = 0x2e; // STOP with marks open
  out.push({
    name: "deep-nesting",
    bytes: rawZip([{ name: "archive/data.pkl", data: deep }]),
    message: /./,
  });
  return out;
}

Deno.test("faults: crafted hostile checkpoints are refused with one line, memory bounded, nothing run", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "faults-ckpt-" });
  try {
    const marker = join(tmp, "MARKER");
    const tally = new Tally("checkpoints (crafted)");
    for (const h of crafted(marker)) tally.add(h.name, refusal(h));
    // Many views of one storage: bounded by twice the storages plus the view limit.
    const views = new Map(
      Array.from({ length: 600 }, (_, i) => [`w${i}`, tensorReduce("0", 16384, [16384], [1])]),
    );
    const many: Hostile = {
      name: "many-views",
      bytes: zipCheckpoint(views, { "0": 16384 }),
      message: /many views of the same storage/,
    };
    tally.add(
      many.name,
      withEnv("SSL_CHECKPOINT_VIEW_LIMIT", String(4 << 20), () => refusal(many)),
    );
    // Through the file reader as well (a file source, not bytes in memory).
    for (const h of crafted(marker).slice(0, 6)) {
      const path = join(tmp, `${h.name}.pth`);
      await Deno.writeFile(path, h.bytes);
      let problem: string | undefined;
      try {
        await loadTorchCheckpoint(path);
        problem = "loaded";
      } catch (error) {
        const m = (error as Error).message;
        problem = error instanceof DataError && m.startsWith(`${path}: `) && h.message.test(m)
          ? undefined
          : `${(error as Error).name}: ${m}`;
      }
      tally.add(`${h.name} (file)`, problem);
      await Deno.remove(path);
    }
    assert(!(await Deno.stat(marker).then(() => true, () => false)), "a foreign global ran");
    await tally.finish();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("faults: truncated checkpoints (zip and legacy, every few bytes) are DataErrors", async () => {
  const tally = new Tally("checkpoints (truncations)");
  for (const path of [FIXTURES.zip, FIXTURES.legacy, FIXTURES.small, FIXTURES.smallLegacy]) {
    const bytes = await Deno.readFile(path);
    const cuts = new Set<number>([0, 1, 3, 4, 21, 22, 64, 100, bytes.length - 1]);
    for (let k = 1; k < 24; k++) cuts.add(Math.floor((bytes.length * k) / 24));
    for (const cut of cuts) {
      const name = `${path.split("/").pop()}[:${cut}]`;
      tally.add(
        name,
        refusal({ name, bytes: bytes.slice(0, cut), message: /./ }),
      );
    }
  }
  await tally.finish();
});

Deno.test("faults: a seeded byte-flip fuzz of 400 mutations ends cleanly under a 512 MiB ceiling", async () => {
  const fuzz = new URL("./fuzz_checkpoints.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fuzz, "20260101", "80"],
    // The fuzz asks for at most 64 MiB of expanded views, so its ceiling is meaningful.
    env: { SSL_CHECKPOINT_VIEW_LIMIT: String(64 << 20) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(out.success, `fuzz process failed: ${new TextDecoder().decode(out.stderr)}`);
  const r = JSON.parse(text.split("\n").at(-1)!);
  const tally = new Tally("checkpoints (fuzz)");
  tally.cases = r.cases;
  tally.clean = r.clean;
  tally.failures.push(...r.failures);
  console.log(
    `fuzz: ${r.cases} mutations, ${r.loaded} still loadable, peak RSS ${
      r.peakRssMiB.toFixed(0)
    } MiB, ${r.seconds.toFixed(1)} s`,
  );
  assert(r.peakRssMiB > 0 && r.peakRssMiB < 512, `peak RSS ${r.peakRssMiB} MiB`);
  await tally.finish();
});

Deno.test("faults: hostile checkpoints through `convert_checkpoint inspect`: exit 1, one line, nothing written", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "faults-ckpt-cli-" });
  try {
    const marker = join(tmp, "MARKER");
    const names = [
      "stride0-1.6GB",
      "stride0-40GB",
      "duplicate-entry",
      "bomb-undeclared",
      "bomb-declared",
      "global-posix.system-zip",
      "global-builtins.eval-legacy",
    ];
    const files = crafted(marker).filter((h) => names.includes(h.name));
    const zip = await Deno.readFile(FIXTURES.zip);
    files.push({ name: "truncated", bytes: zip.slice(0, zip.length >> 1), message: /truncated/ });
    for (const h of files) await Deno.writeFile(join(tmp, `${h.name}.pth`), h.bytes);
    await Deno.mkdir(join(tmp, "a-directory.pth"));
    const before = await snapshot(tmp);
    const tally = new Tally("checkpoints (command line)");
    const outcomes = await mapLimit(
      files,
      4,
      (h) =>
        runScript(script("convert_checkpoint.ts"), ["inspect", join(tmp, `${h.name}.pth`)], {
          cwd: tmp,
        }),
    );
    for (const [i, h] of files.entries()) {
      tally.add(h.name, uncleanReason(outcomes[i], 1, h.message));
    }
    const dir = await runScript(script("convert_checkpoint.ts"), [
      "inspect",
      join(tmp, "a-directory.pth"),
    ], { cwd: tmp });
    tally.add("a directory", uncleanReason(dir, 1, /not a file/));
    const diff = changes(before, await snapshot(tmp));
    assert(diff.length === 0, `files changed: ${diff.join(", ")}`);
    await tally.finish();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
