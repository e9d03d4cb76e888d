/**
 * The option checks that the pretraining and the supervised trainer's configs share: one rule and
 * one message each, the option named by the caller's namer (a config field in the library, a flag
 * in the scripts).
 *
 * @module
 */
import { UsageError } from "../util/errors.ts";

/**
 * Throws a UsageError naming the first option, in the order given, whose value is not an integer
 * ≥ 1; options whose value is undefined are optional and left unset.
 */
export function checkPositiveIntegers<O extends string>(
  values: readonly (readonly [O, number | undefined])[],
  name: (option: O) => string,
): void {
  for (const [option, v] of values) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      throw new UsageError(`${name(option)} must be a positive integer, got ${v}`);
    }
  }
}

/** Throws a UsageError naming `option` when a decoded-image cache size is set and not a finite number ≥ 0. */
export function checkCacheMb<O extends string>(
  cacheMb: number | undefined,
  option: O,
  name: (option: O) => string,
): void {
  if (cacheMb !== undefined && !(cacheMb >= 0 && Number.isFinite(cacheMb))) {
    throw new UsageError(`${name(option)} must be a non-negative number, got ${cacheMb}`);
  }
}
