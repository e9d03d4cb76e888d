import { decodeAndPreprocess, DecodePool } from "../../src/image/decode_pool.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";

const DIR = new URL("../fixtures/images/", import.meta.url).pathname;

Deno.test("DecodePool decodes on workers exactly as the main thread does (uint8 and normalised)", async () => {
  const pool = new DecodePool(2);
  try {
    const files = ["photo.jpg", "photo.png", "photo.bmp", "astronaut_256x270.jpg", "photo.ppm"];
    const opts = { resize: 40, crop: 32, normalize: true };
    const got = await Promise.all(files.map((f) => pool.decode(DIR + f, opts)));
    for (let i = 0; i < files.length; i++) {
      const want = await decodeAndPreprocess(DIR + files[i], opts);
      assert(got[i].image.width === 32 && got[i].image.height === 32, files[i]);
      assertArrayEqual(got[i].image.data, want.image.data, `${files[i]} bytes`);
      assertArrayEqual(got[i].tensor!, want.tensor!, `${files[i]} tensor`);
    }
    const plain = await pool.decode(DIR + "photo.jpg");
    assert(plain.tensor === undefined && plain.image.width === 48, "no preprocessing asked");
  } finally {
    pool.close();
  }
});

Deno.test("DecodePool rejects a corrupt file with a DataError naming it, and keeps working", async () => {
  const pool = new DecodePool(1);
  try {
    const err = await assertRejects(
      () => pool.decode(DIR + "bad_truncated.jpg"),
      /bad_truncated\.jpg/,
    );
    assert(err instanceof DataError, `expected DataError, got ${err.name}`);
    const ok = await pool.decode(DIR + "photo.jpg");
    assert(ok.image.width === 48, "still decodes after a failure");
  } finally {
    pool.close();
  }
  await assertRejects(() => pool.decode(DIR + "photo.jpg"), /closed/);
});
