import {
  badImageError,
  BadImageLog,
  decodeOrSkip,
  parseBadImagePolicy,
} from "../../src/data/bad_images.ts";
import { nameFlag } from "../../src/util/main.ts";
import { DataError, UsageError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { assertSame, colourOf, tinyPng, withTempDir, writeImages } from "./make_trees.ts";

Deno.test("decodeOrSkip() decodes good files and skips or fails on bad ones by policy", async () => {
  await withTempDir(async (dir) => {
    await writeImages(dir, ["good.png"]);
    await Deno.writeFile(`${dir}/truncated.png`, tinyPng("x").subarray(0, 30));
    await Deno.writeTextFile(`${dir}/text.jpg`, "hello");
    const log = new BadImageLog();
    const good = await decodeOrSkip(`${dir}/good.png`, "skip", log);
    assert(good !== undefined && good.width === 3 && good.height === 2, "good image decoded");
    assertArrayEqual(good!.data.subarray(0, 3), colourOf("good.png"), "pixels");
    assert(
      await decodeOrSkip(`${dir}/truncated.png`, "skip", log) === undefined,
      "truncated skipped",
    );
    assert(await decodeOrSkip(`${dir}/text.jpg`, "skip", log) === undefined, "text skipped");
    assert(await decodeOrSkip(`${dir}/missing.png`, "skip", log) === undefined, "missing skipped");
    assertSame(log.skipped.map((s) => s.path.slice(dir.length + 1)), [
      "truncated.png",
      "text.jpg",
      "missing.png",
    ], "skipped files");
    assert(log.skipped.every((s) => !s.reason.startsWith(dir)), "reason does not repeat the path");
    assert(/not a supported image/.test(log.skipped[1].reason), log.skipped[1].reason);
    const summary = log.summary();
    assert(summary.startsWith("skipped 3 unreadable images:\n  "), summary);
    assert(summary.includes(`${dir}/text.jpg: `), summary);
    assert(log.summary(1).endsWith("… and 2 more"), log.summary(1));

    const err = await assertRejects(
      () => decodeOrSkip(`${dir}/truncated.png`, "fail", new BadImageLog()),
      /truncated\.png: .*\(use onBadImage: "skip" to leave such files out\)/,
    );
    assert(err instanceof DataError, "fail policy gives a DataError");
  });
});

Deno.test("BadImageLog.summary() and parseBadImagePolicy() handle the plain cases", () => {
  assertSame(new BadImageLog().summary(), "no unreadable images", "empty log");
  const log = new BadImageLog();
  log.record("a.png", new Error("a.png: empty image file"));
  assertSame(log.summary(), "skipped 1 unreadable image:\n  a.png: empty image file", "one entry");
  assertSame(parseBadImagePolicy("skip"), "skip", "skip");
  assertSame(parseBadImagePolicy("fail"), "fail", "fail");
  let caught: unknown;
  try {
    parseBadImagePolicy("ignore");
  } catch (e) {
    caught = e;
  }
  assert(caught instanceof UsageError && /^onBadImage: 'ignore'/.test(caught.message), "usage");
});

Deno.test("the library names onBadImage; a script's runMain flags restate it as --on-bad-image", () => {
  const error = badImageError(new DataError("a.png: truncated file"), "image 2 of x");
  assertSame(
    error.message,
    'a.png: truncated file (image 2 of x; use onBadImage: "skip" to leave such files out)',
    "library wording",
  );
  const cli = nameFlag(error, "--on-bad-image", "onBadImage");
  assert(cli instanceof DataError, "still a DataError");
  assertSame(
    (cli as Error).message,
    "a.png: truncated file (image 2 of x; use --on-bad-image skip to leave such files out)",
    "command-line wording",
  );
  let usage: unknown;
  try {
    parseBadImagePolicy("ignore");
  } catch (e) {
    usage = nameFlag(e, "--on-bad-image", "onBadImage");
  }
  assert(usage instanceof UsageError && /^--on-bad-image: 'ignore'/.test(usage.message), "usage");
});
