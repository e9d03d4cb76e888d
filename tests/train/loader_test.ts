import type { ImageDataset } from "../../src/data/dataset.ts";
import { BadImageLog } from "../../src/data/bad_images.ts";
import { BatchLoader, epochOrder, mapConcurrent } from "../../src/data/loader.ts";
import { createImage, type RgbImage } from "../../src/image/image.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A dataset whose image i is a 1×1 image with red = i, decoded after `delayMs`. */
function fakeDataset(length: number, delayMs = 0, failAt = -1) {
  let inFlight = 0;
  let maxInFlight = 0;
  const ds: ImageDataset & { maxInFlight: () => number } = {
    name: "fake",
    length,
    contentKey: "fake",
    async image(i: number): Promise<RgbImage> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(delayMs);
      inFlight--;
      if (i === failAt) throw new DataError(`fake/${i}.png: cannot decode`);
      const img = createImage(1, 1);
      img.data[0] = i;
      return img;
    },
    describe: (i: number) => `fake/${i}.png`,
    maxInFlight: () => maxInFlight,
  };
  return ds;
}

Deno.test("epochOrder() is a seeded permutation per (seed, epoch), identity without shuffle", () => {
  const rng = testRng("order");
  const seed = rng.nextUint32();
  const a = epochOrder(50, seed, 3);
  assertArrayEqual(a, epochOrder(50, seed, 3), "same seed and epoch");
  assert(a.join() !== epochOrder(50, seed, 4).join(), "another epoch reorders");
  assertArrayEqual([...a].sort((x, y) => x - y), [...Array(50).keys()], "a permutation");
  assertArrayEqual(epochOrder(5, seed, 0, false), [0, 1, 2, 3, 4], "no shuffle");
});

Deno.test("mapConcurrent() keeps order and never exceeds its limit", async () => {
  const ds = fakeDataset(20, 5);
  const out = await mapConcurrent([...Array(20).keys()], 3, (i) => ds.image(i));
  assertArrayEqual(out.map((img) => img.data[0]), [...Array(20).keys()], "order");
  assert(ds.maxInFlight() === 3, `max in flight ${ds.maxInFlight()}`);
});

Deno.test("BatchLoader drops the last batch, covers each image once per epoch, and prefetches", async () => {
  const ds = fakeDataset(23, 40);
  const prepared: number[] = [];
  const loader = new BatchLoader(ds, {
    batchSize: 5,
    seed: 7,
    concurrency: 5,
    prepare: (images, info) => {
      prepared.push(info.index);
      return Promise.resolve(images.map((img) => img.data[0]));
    },
  });
  assert(loader.batchesPerEpoch === 4, "23 images in batches of 5 with drop_last: 4 batches");
  const seen: number[] = [];
  const waits: number[] = [];
  for await (const batch of loader.epoch(2)) {
    assertArrayEqual(batch.value, batch.indices, `batch ${batch.index} holds its images`);
    seen.push(...batch.value);
    waits.push(batch.waitMs);
    // While the consumer "computes", the next batch is already being decoded and prepared.
    await sleep(150);
    if (batch.index + 1 < 4) {
      assert(prepared.includes(batch.index + 1), `batch ${batch.index + 1} was prefetched`);
    }
  }
  assert(new Set(seen).size === 20, "20 distinct images");
  assertArrayEqual(seen, epochOrder(23, 7, 2).slice(0, 20), "the epoch's order");
  // The first batch is waited for (~40 ms decode); later ones were ready before they were asked
  // (the consumer took 150 ms each), so their wait is only scheduling noise.
  assert(waits[0] >= 30, `first wait ${waits[0]} ms`);
  assert(waits.slice(1).every((w) => w < 20), `later waits ${waits.map((w) => w.toFixed(1))}`);
});

Deno.test("BatchLoader refuses an empty or too small dataset and reports a bad image", async () => {
  const expectThrow = (fn: () => unknown, re: RegExp) => {
    try {
      fn();
    } catch (e) {
      assert(e instanceof DataError && re.test(e.message), `got ${(e as Error).message}`);
      return;
    }
    throw new Error(`no error for ${re}`);
  };
  const prepare = (images: RgbImage[]) => Promise.resolve(images.length);
  expectThrow(
    () => new BatchLoader(fakeDataset(0), { batchSize: 4, seed: 0, prepare }),
    /no images/,
  );
  expectThrow(
    () => new BatchLoader(fakeDataset(3), { batchSize: 4, seed: 0, prepare }),
    /3 image\(s\) do not fill one batch of 4/,
  );
  const loader = new BatchLoader(fakeDataset(8, 1, 6), {
    batchSize: 2,
    seed: 0,
    shuffle: false,
    prepare,
  });
  let message = "";
  let batches = 0;
  try {
    // The consumer is slow, so the failing prefetch settles before it is awaited.
    for await (const _ of loader.epoch(0)) {
      batches++;
      await sleep(20);
    }
  } catch (e) {
    message = (e as Error).message;
  }
  assert(batches === 3 && /fake\/6.png: cannot decode/.test(message), `${batches}: ${message}`);
});

Deno.test("BatchLoader.batches() resumes mid-epoch, caps epochs, and prefetches across epochs", async () => {
  const ds = fakeDataset(12, 1);
  const prepared: string[] = [];
  const loader = new BatchLoader(ds, {
    batchSize: 4,
    seed: 3,
    prepare: (images, info) => {
      prepared.push(`${info.epoch}:${info.index}`);
      return Promise.resolve(images.map((img) => img.data[0]));
    },
  });
  const got: string[] = [];
  for await (const b of loader.batches({ epoch: 1, index: 2 }, 4, 2)) {
    got.push(`${b.epoch}:${b.index}`);
    assertArrayEqual(
      b.value,
      epochOrder(12, 3, b.epoch).slice(b.index * 4, b.index * 4 + 4),
      "order",
    );
    if (b.epoch === 2 && b.index === 1) {
      // The last batch of epoch 2 is out; epoch 3's first is already being prepared.
      await sleep(20);
      assert(prepared.includes("3:0"), `prefetch across the epoch boundary: ${prepared}`);
    }
  }
  // Starting at index 2 with 2 batches per epoch skips to epoch 2.
  assertArrayEqual(got.map((s) => s.length), [3, 3, 3, 3], "four batches");
  assert(got.join() === "2:0,2:1,3:0,3:1", `batches ${got}`);
  const midway: string[] = [];
  for await (const b of loader.batches({ epoch: 0, index: 1 }, 1)) midway.push(`${b.index}`);
  assert(midway.join() === "1,2", `resume inside epoch 0: ${midway}`);
});

Deno.test("BatchLoader with --on-bad-image skip uses the next readable image and logs the file once", async () => {
  const ds = fakeDataset(8, 1, 5);
  const log = new BadImageLog();
  const loader = new BatchLoader(ds, {
    batchSize: 4,
    seed: 0,
    shuffle: false,
    badImages: { policy: "skip", log },
    prepare: (images) => Promise.resolve(images.map((img) => img.data[0])),
  });
  for (const epoch of [0, 1]) {
    const got: number[][] = [];
    for await (const b of loader.epoch(epoch)) got.push(b.value);
    // Image 5 is unreadable: image 6 takes its place (batches keep their size).
    assert(got.map((b) => b.join()).join(" | ") === "0,1,2,3 | 4,6,6,7", `epoch ${epoch}: ${got}`);
  }
  assert(log.skipped.length === 1 && log.skipped[0].path === "fake/5.png", log.summary());
  assert(/cannot decode/.test(log.skipped[0].reason), log.skipped[0].reason);
});

Deno.test("BatchLoader shards: rank r decodes rows [r·b, (r+1)·b) of the global batch", async () => {
  const rng = testRng("shard");
  const seed = rng.nextUint32();
  const n = 30 + rng.int(20);
  const collect = async (shard?: { rank: number; size: number }) => {
    const loader = new BatchLoader(fakeDataset(n), {
      batchSize: 6,
      seed,
      shard,
      prepare: (images, info) =>
        Promise.resolve({ red: images.map((img) => img.data[0]), offset: info.offset }),
    });
    const out: { red: number[]; offset: number; indices: readonly number[] }[] = [];
    for await (const b of loader.batches({ epoch: 0, index: 0 }, 2)) {
      out.push({ ...b.value, indices: b.indices });
    }
    return out;
  };
  const whole = await collect();
  const ranks = await Promise.all([0, 1, 2].map((rank) => collect({ rank, size: 3 })));
  assert(whole.length === 2 * Math.floor(n / 6), `${whole.length} batches over 2 epochs`);
  whole.forEach((batch, i) => {
    const joined = ranks.flatMap((r) => r[i].red);
    assertArrayEqual(joined, batch.red, `batch ${i}: the ranks' rows in rank order`);
    ranks.forEach((r, rank) => {
      assert(r[i].offset === rank * 2, `batch ${i} rank ${rank}: offset ${r[i].offset}`);
      assertArrayEqual(r[i].indices, r[i].red, `batch ${i} rank ${rank}: indices`);
    });
  });
  let refused = "";
  try {
    new BatchLoader(fakeDataset(n), {
      batchSize: 6,
      seed,
      shard: { rank: 0, size: 4 },
      prepare: () => Promise.resolve(0),
    });
  } catch (e) {
    refused = (e as Error).message;
  }
  assert(/6 is not divisible by the 4 ranks/.test(refused), `refusal: ${refused}`);
});
