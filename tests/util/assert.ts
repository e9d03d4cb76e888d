/**
 * Small assertion helpers for numeric tests (JSR's @std/assert is unreachable here).
 *
 * @module
 */
import { AssertionError } from "node:assert";
import { seedNote } from "./seed.ts";

type Numeric = ArrayLike<number>;

/** Relative L2 error ‖a − b‖ / max(‖b‖, tiny). NaN anywhere gives NaN (a failure). */
export function relativeL2(actual: Numeric, expected: Numeric): number {
  if (actual.length !== expected.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** Asserts relative L2 error ≤ `tol` and that no element is NaN. */
export function assertRelClose(actual: Numeric, expected: Numeric, tol: number, what = ""): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length ${actual.length} != expected ${expected.length}${seedNote()}`,
    });
  }
  for (let i = 0; i < actual.length; i++) {
    if (Number.isNaN(actual[i]) !== Number.isNaN(expected[i])) {
      throw new AssertionError({
        message: `${what}: element ${i} is ${actual[i]}, expected ${expected[i]}${seedNote()}`,
      });
    }
  }
  const err = relativeL2(actual, expected);
  if (!(err <= tol)) {
    throw new AssertionError({
      message: `${what}: relative L2 error ${err.toExponential(3)} > ${tol}${seedNote()}`,
    });
  }
}

/** Asserts every element matches `expected` exactly (bit-for-bit for finite values). */
export function assertArrayEqual(actual: Numeric, expected: Numeric, what = ""): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length ${actual.length} != expected ${expected.length}${seedNote()}`,
    });
  }
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      throw new AssertionError({
        message: `${what}: element ${i} is ${actual[i]}, expected ${expected[i]}${seedNote()}`,
      });
    }
  }
}

/** Asserts `fn` rejects and its message matches `pattern`; returns the error. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  pattern: RegExp,
  what = "",
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (!pattern.test(message)) {
      throw new AssertionError({
        message: `${what}: error '${message}' does not match ${pattern}`,
      });
    }
    return error as Error;
  }
  throw new AssertionError({ message: `${what}: expected a rejection matching ${pattern}` });
}

/** Asserts a condition with a message. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError({ message: message + seedNote() });
}
