import { buildZip, bytesSource, concatChunks, crc32, ZipReader } from "../../src/io/zip.ts";
import { assert, assertArrayEqual } from "../util/assert.ts";
import { testRng } from "../util/seed.ts";
import { assertDataError, fixture } from "./checkpoint_helpers.ts";

function dataOffset(archive: Uint8Array, localHeaderOffset: number): number {
  const v = new DataView(archive.buffer, archive.byteOffset + localHeaderOffset, 30);
  return localHeaderOffset + 30 + v.getUint16(26, true) + v.getUint16(28, true);
}

Deno.test("crc32() matches the zip polynomial and continues across chunks", () => {
  const hello = new TextEncoder().encode("hello");
  assert(crc32(hello) === 0x3610a686, `crc32("hello") = ${crc32(hello).toString(16)}`);
  assert(crc32(hello.subarray(2), crc32(hello.subarray(0, 2))) === 0x3610a686, "chunked");
});

Deno.test("buildZip() → ZipReader round trip: stored entries, 64-byte aligned data, chunked input", () => {
  const rng = testRng("zip round trip");
  for (const forceZip64 of [false, true]) {
    const inputs = Array.from({ length: 1 + rng.int(20) }, (_, i) => {
      const chunks = Array.from(
        { length: rng.int(4) },
        () => new Uint8Array(rng.int(300)).map(() => rng.int(256)),
      );
      return { name: `archive/data/${i}${i % 3 ? "" : "/ünïcode"}`, data: chunks };
    });
    const archive = concatChunks(buildZip(inputs, { forceZip64 }));
    const zip = ZipReader.open(bytesSource(archive), "t.zip");
    assert(
      zip.entries.length === inputs.length,
      `entries ${zip.entries.length} != ${inputs.length}`,
    );
    inputs.forEach((input, i) => {
      const e = zip.entries[i];
      assert(e.name === input.name && e.method === 0, `entry ${i}: name and stored method`);
      assert(
        dataOffset(archive, e.localHeaderOffset) % 64 === 0,
        `entry ${i}: data aligned to 64 bytes`,
      );
      assertArrayEqual(zip.read(e), concatChunks(input.data), `zip64=${forceZip64} entry ${i}`);
    });
  }
});

Deno.test("ZipReader inflates deflated entries (a torch archive re-zipped by Python's zipfile)", () => {
  const stored = ZipReader.open(bytesSource(Deno.readFileSync(fixture("tensors.pth"))), "stored");
  const deflated = ZipReader.open(
    bytesSource(Deno.readFileSync(fixture("tensors_deflated.pth"))),
    "deflated",
  );
  assert(deflated.entries.some((e) => e.method === 8), "the fixture really is deflated");
  for (const e of stored.entries) assertArrayEqual(deflated.read(e.name), stored.read(e), e.name);
});

Deno.test("ZipReader rejects truncated archives, CRC mismatches and unsupported methods naming the file", async () => {
  const archive = concatChunks(buildZip([
    { name: "a/x", data: new Uint8Array(100).fill(1) },
    { name: "a/y", data: new Uint8Array(10).fill(2) },
  ]));
  await assertDataError(
    () => ZipReader.open(bytesSource(archive.subarray(0, 100)), "cut.zip"),
    /truncated/,
    "cut.zip",
  );
  await assertDataError(
    () => ZipReader.open(bytesSource(new Uint8Array(10)), "tiny.zip"),
    /not a zip/,
    "tiny.zip",
  );
  const zip = ZipReader.open(bytesSource(archive), "ok.zip");
  const bad = archive.slice();
  bad[dataOffset(archive, zip.entries[0].localHeaderOffset) + 3] ^= 1;
  await assertDataError(
    () => ZipReader.open(bytesSource(bad), "crc.zip").read("a/x"),
    /CRC-32/,
    "crc.zip",
  );
  await assertDataError(() => zip.read("a/nope"), /missing zip entry 'a\/nope'/, "ok.zip");
  // Mark the first entry as bzip2 (method 12) in the central directory.
  const cdOffset = new DataView(archive.buffer).getUint32(archive.length - 22 + 16, true);
  const method12 = archive.slice();
  new DataView(method12.buffer).setUint16(cdOffset + 10, 12, true);
  await assertDataError(
    () => ZipReader.open(bytesSource(method12), "bz.zip").read("a/x"),
    /unsupported compression method 12/,
    "bz.zip",
  );
  // A central directory pointing past the end of the data.
  const shifted = archive.slice();
  new DataView(shifted.buffer).setUint32(archive.length - 22 + 16, archive.length, true);
  await assertDataError(
    () => ZipReader.open(bytesSource(shifted), "cd.zip"),
    /central directory/,
    "cd.zip",
  );
});
