/**
 * Loads the scikit-learn golden files written by `tests/fixtures/make_sklearn_fixtures.py`.
 *
 * @module
 */
import type { Matrix } from "../../src/linalg/dense.ts";

/** A matrix as stored in the fixtures. */
export interface FixtureMatrix {
  rows: number;
  cols: number;
  data: number[];
}

/** Parses `tests/fixtures/sklearn/<name>` (JSON). */
export function loadFixture<T>(name: string): T {
  const url = new URL(`../fixtures/sklearn/${name}`, import.meta.url);
  return JSON.parse(Deno.readTextFileSync(url)) as T;
}

/** A stored matrix as a float64 {@link Matrix}. */
export function toMatrix(m: FixtureMatrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: Float64Array.from(m.data) };
}
