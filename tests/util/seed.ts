/**
 * Fresh seeds for every test run, printed on failure so a failing case can be replayed with
 * `SSL_TEST_SEED=<seed> deno task test`.
 *
 * @module
 */
import { Rng } from "../../src/util/rng.ts";

/** The run's base seed: `SSL_TEST_SEED` if set, else fresh from the clock and crypto. */
export const RUN_SEED: number = (() => {
  const fromEnv = Deno.env.get("SSL_TEST_SEED");
  if (fromEnv !== undefined && fromEnv !== "") return Number(fromEnv) >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0];
})();

/** A generator for one test, derived from the run seed and the test's name. */
export function testRng(name: string): Rng {
  let h = RUN_SEED ^ 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return new Rng(h);
}

/** Suffix for assertion messages: how to replay this run. */
export function seedNote(): string {
  return ` [replay with SSL_TEST_SEED=${RUN_SEED}]`;
}
