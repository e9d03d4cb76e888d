/**
 * Shared helpers for the checkpoint I/O tests: the fixture record and DataError assertions.
 *
 * @module
 */
import { AssertionError } from "node:assert";
import { join } from "node:path";
import { DataError } from "../../src/util/errors.ts";
import type { Description } from "./describe.ts";

/** Directory of the committed checkpoint fixtures. */
export const FIXTURES: string = new URL("../fixtures/checkpoints/", import.meta.url).pathname;

/** The record written by tests/fixtures/make_checkpoint_fixtures.py. */
export interface FixtureRecord {
  torch_version: string;
  files: Record<string, { format: string; protocol: number; object: string; weights_only: string }>;
  pickles: Record<string, string>;
  written_by_us: Record<
    string,
    {
      sha256: string;
      size: number;
      weights_only: string;
      object?: string;
      source?: string;
      equals_source?: boolean;
    }
  >;
  objects: Record<string, Description>;
}

/** The parsed `expected.json`. */
export const RECORD: FixtureRecord = JSON.parse(
  Deno.readTextFileSync(join(FIXTURES, "expected.json")),
);

/** Path of a fixture file. */
export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** Hex string → bytes. */
export function fromHexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Asserts `fn` throws (or rejects with) a `DataError` whose message names `file` and matches
 * `pattern`, and that the message is one line.
 */
export async function assertDataError(
  fn: () => unknown,
  pattern: RegExp,
  file: string,
): Promise<DataError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof DataError)) {
    throw new AssertionError({
      message: `expected a DataError matching ${pattern}, got ${
        caught === undefined ? "no error" : String((caught as Error).stack ?? caught)
      }`,
    });
  }
  const m = caught.message;
  if (!m.includes(file)) throw new AssertionError({ message: `'${m}' does not name ${file}` });
  if (!pattern.test(m)) throw new AssertionError({ message: `'${m}' does not match ${pattern}` });
  if (m.includes("\n")) throw new AssertionError({ message: `'${m}' is not one line` });
  return caught;
}
