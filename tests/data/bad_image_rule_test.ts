import {
  badImageError,
  BadImageLog,
  readOrSkip,
  skippedWarning,
} from "../../src/data/bad_images.ts";
import { DataError } from "../../src/util/errors.ts";
import { assert, assertRejects } from "../util/assert.ts";

const unreadable = () => Promise.reject(new DataError("a/b.png: truncated file"));

Deno.test("readOrSkip() applies the bad-image rule: fail names the way out, skip records", async () => {
  await assertRejects(
    () => readOrSkip(unreadable, "fail", () => assert(false, "skipped under fail")),
    /^a\/b\.png: truncated file \(use onBadImage: "skip" to leave such files out\)$/,
    "fail",
  );
  await assertRejects(
    () => readOrSkip(unreadable, "fail", () => {}, "image 3 of coil100"),
    /truncated file \(image 3 of coil100; use onBadImage: "skip"/,
    "fail with where",
  );
  const log = new BadImageLog();
  const got = await readOrSkip(unreadable, "skip", (e) => log.record("a/b.png", e));
  assert(got === undefined && log.skipped[0]?.reason === "truncated file", "skip");
  assert(await readOrSkip(() => Promise.resolve(7), "fail", () => {}) === 7, "readable");
  // Errors that are not about the file always propagate.
  await assertRejects(
    () => readOrSkip(() => Promise.reject(new TypeError("sharp missing")), "skip", () => {}),
    /^sharp missing$/,
    "other errors",
  );
  assert(badImageError(new DataError("x")) instanceof DataError, "DataError");
  assert(skippedWarning("a/b.png", "truncated") === "warning: skipped a/b.png: truncated", "warn");
});
