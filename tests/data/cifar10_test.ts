/**
 * CIFAR-10 loader on the Python 2 pickle batches (as the real `cifar-10-batches-py` files are
 * written) and on the binary version.
 *
 * @module
 */
import { join } from "node:path";
import { loadCifar10 } from "../../src/data/cifar10.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { copyFixture, MAT_EXPECTED, withTempDir } from "./downstream_fixtures.ts";

/** The pixel formula of make_mat_fixtures.py's CIFAR batches. */
function cifarPixel(i: number, c: number, y: number, x: number): number {
  return (31 * i + 97 * c + 13 * y + 7 * x) % 256;
}

function assertImageIs(data: Uint8Array, i: number, what: string): void {
  const want = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      for (let c = 0; c < 3; c++) want[(y * 32 + x) * 3 + c] = cifarPixel(i, c, y, x);
    }
  }
  assertArrayEqual(data, want, what);
}

Deno.test("loadCifar10() reads Python 2 pickled batches: planar rows to HWC, labels in batch order", async () => {
  await withTempDir(async (dir) => {
    const py = join(dir, "CIFAR10", "cifar-10-batches-py");
    for (let b = 1; b <= 5; b++) {
      await copyFixture("cifar-10-batches-py/data_batch_1", join(py, `data_batch_${b}`));
    }
    await copyFixture("cifar-10-batches-py/test_batch", join(py, "test_batch"));
    const train = await loadCifar10(join(dir, "CIFAR10"), true);
    const labels: number[] = MAT_EXPECTED.cifar_data_batch_1.labels;
    assert(train.length === 20 && train.numClasses === 10, `train length ${train.length}`);
    assertArrayEqual(train.targets, [1, 2, 3, 4, 5].flatMap(() => labels), "train labels");
    assertImageIs((await train.image(6)).data, 2, "train image 6 = batch 2 row 2");
    assert(train.describe(6).endsWith("data_batch_2#2"), train.describe(6));
    const test = await loadCifar10(join(dir, "CIFAR10"), false);
    assertArrayEqual(test.targets, MAT_EXPECTED.cifar_test_batch.labels, "test labels");
    assertImageIs((await test.image(2)).data, 102, "test image 2");
    assert(test.contentKey !== train.contentKey, "splits have different content keys");
    await Deno.remove(join(py, "data_batch_3"));
    await assertRejects(() => loadCifar10(join(dir, "CIFAR10"), true), /data_batch_3/);
    await Deno.writeFile(join(py, "test_batch"), new Uint8Array([0x80, 0x02, 0x4b, 0x01, 0x2e]));
    await assertRejects(
      () => loadCifar10(join(dir, "CIFAR10"), false),
      /test_batch: not a CIFAR-10 Python batch/,
    );
  });
});

Deno.test("loadCifar10() reads the binary version (label byte + 3072 planar bytes per record)", async () => {
  const rng = testRng("cifar binary");
  await withTempDir(async (dir) => {
    const bin = join(dir, "CIFAR10", "cifar-10-batches-bin");
    await Deno.mkdir(bin, { recursive: true });
    const n = 3;
    const records = new Uint8Array(n * 3073);
    for (let i = 0; i < records.length; i++) records[i] = rng.int(256);
    for (let r = 0; r < n; r++) records[r * 3073] = rng.int(10);
    await Deno.writeFile(join(bin, "test_batch.bin"), records);
    const test = await loadCifar10(join(dir, "CIFAR10"), false);
    assertArrayEqual(test.targets, [0, 1, 2].map((r) => records[r * 3073]), "labels");
    const img = await test.image(1);
    const at = 3073 + 1;
    // Pixel (x=5, y=3): offset 3·32 + 5 in each plane.
    const p = 3 * 32 + 5;
    assertArrayEqual(img.data.subarray(p * 3, p * 3 + 3), [
      records[at + p],
      records[at + 1024 + p],
      records[at + 2048 + p],
    ], "pixel (5,3)");
    await Deno.writeFile(join(bin, "test_batch.bin"), records.subarray(1));
    await assertRejects(
      () => loadCifar10(join(dir, "CIFAR10"), false),
      /test_batch\.bin: 9218 bytes is not a whole number/,
    );
    await assertRejects(
      () => loadCifar10(join(dir, "nothing"), false),
      /cifar-10-batches-py.*cifar-10-batches-bin/,
    );
  });
});

Deno.test("loadCifar10() reads Python 3 re-pickles: protocol 2 with str keys, protocol 4 with bytes keys", async () => {
  await withTempDir(async (dir) => {
    const py = join(dir, "CIFAR10", "cifar-10-batches-py");
    await copyFixture("cifar_py3_str_keys", join(py, "test_batch"));
    const test = await loadCifar10(join(dir, "CIFAR10"), false);
    assertArrayEqual(test.targets, [7, 9], "labels");
    assertImageIs((await test.image(1)).data, 201, "image 1");
    await copyFixture("cifar_py3_bytes_keys", join(py, "test_batch"));
    const bytesKeyed = await loadCifar10(join(dir, "CIFAR10"), false);
    assertArrayEqual(bytesKeyed.targets, [7, 9], "labels under b'labels'");
    assertImageIs((await bytesKeyed.image(1)).data, 201, "image 1 under b'data'");
  });
});
