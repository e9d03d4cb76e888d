/**
 * Runs a test once per float64 engine: OpenBLAS (when it loads; `SSL_REQUIRE_OPENBLAS=1`, set by
 * `.ci/run`, turns its absence into a failure) and the JavaScript kernels. Test names get the
 * engine as a suffix, e.g. "Ridge matches sklearn … [openblas]".
 *
 * @module
 */
import {
  type LinalgEngine,
  linalgEngine,
  openblasAvailable,
  setLinalgEngine,
} from "../../src/linalg/blas.ts";

/** The engines this machine can run; throws when OpenBLAS is required but missing. */
export function engines(): LinalgEngine[] {
  if (openblasAvailable()) return ["openblas", "js"];
  if (Deno.env.get("SSL_REQUIRE_OPENBLAS") === "1") {
    throw new Error(
      "SSL_REQUIRE_OPENBLAS=1 but OpenBLAS cannot be loaded: apt-get install libopenblas0-pthread",
    );
  }
  return ["js"];
}

/** Runs `fn` with `engine` selected (awaiting it), then returns to the default selection. */
export async function onEngine<T>(engine: LinalgEngine, fn: () => T | Promise<T>): Promise<T> {
  setLinalgEngine(engine);
  try {
    if (linalgEngine() !== engine) throw new Error(`engine ${engine} was not selected`);
    return await fn();
  } finally {
    setLinalgEngine("auto");
  }
}

/** `Deno.test(name, fn)` once per engine in {@link engines}. */
export function engineTest(name: string, fn: () => void | Promise<void>): void {
  for (const engine of engines()) {
    Deno.test(`${name} [${engine}]`, () => onEngine(engine, fn));
  }
}
