import { join } from "node:path";
import { readTorchCheckpoint } from "../../src/io/torch/read.ts";
import { findStateDict, selectEncoder } from "../../src/io/torch/state_dict.ts";
import { tensorBytes } from "../../src/io/torch/tensor.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { fixture } from "./checkpoint_helpers.ts";

const SCRIPT = new URL("../../scripts/convert_checkpoint.ts", import.meta.url).pathname;

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("convert_checkpoint inspect shows format, arch, epoch, keys, shapes, dtypes and optimizer", async () => {
  const file = fixture("moco_r18_w2_legacy.pth.tar");
  const r = await run("inspect", file);
  assert(r.code === 0, `exit ${r.code}: ${r.stderr}`);
  for (
    const line of [
      "format: legacy",
      'arch: "resnet18"',
      "epoch: 3",
      "state dict: 250 tensors",
      "module.encoder_q.conv1.weight",
      "module.queue_ptr",
      "lr=0.03 momentum=0.9",
    ]
  ) {
    assert(r.stdout.includes(line), `output lacks '${line}':\n${r.stdout}`);
  }
  assert(/module\.queue\s+float32\s+\[8, 32\]/.test(r.stdout), "queue shape and dtype listed");
});

Deno.test("convert_checkpoint --to-safetensors writes the selected backbone exactly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "convert-test-" });
  try {
    const file = fixture("moco_r18_w2.pth.tar");
    const target = join(dir, "q.safetensors");
    const r = await run(
      "inspect",
      file,
      "--summary",
      "--encoder",
      "encoder_q",
      "--drop-head",
      "--to-safetensors",
      target,
    );
    assert(r.code === 0, `exit ${r.code}: ${r.stderr}`);
    const bytes = Deno.readFileSync(target);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert(
      header.__metadata__.arch === "resnet18" && header.__metadata__.epoch === "3",
      "metadata",
    );
    const want = selectEncoder(findStateDict(await readTorchCheckpoint(file), file), "encoder_q", {
      dropHead: true,
    });
    assert(Object.keys(header).length === want.size + 1, "one header entry per tensor");
    for (const [name, t] of want) {
      const h = header[name];
      assert(h.shape.join() === t.shape.join(), `${name} shape`);
      assertArrayEqual(
        bytes.subarray(8 + n + h.data_offsets[0], 8 + n + h.data_offsets[1]),
        tensorBytes(t),
        name,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convert_checkpoint exits 1 with one line for a bad file and 2 for a bad command line", async () => {
  const bad = await run("inspect", fixture("expected.json"));
  assert(bad.code === 1, `exit ${bad.code}`);
  const lines = bad.stderr.trim().split("\n");
  assert(
    lines.length === 1 &&
      /^convert_checkpoint: .*expected\.json: not a PyTorch checkpoint/.test(lines[0]),
    bad.stderr,
  );
  const missing = await run("inspect", "/nonexistent.pth");
  assert(missing.code === 1 && missing.stderr.trim().split("\n").length === 1, missing.stderr);
  const usage = await run("explode", fixture("resnet18_w2.pth"));
  assert(usage.code === 2 && /unknown command 'explode'/.test(usage.stderr), usage.stderr);
});
