/**
 * Shared pieces of the fault suite (tests/faults/): running a script as a user would, checking
 * that it ended cleanly (the expected exit code, exactly one line on stderr, no stack trace), that
 * nothing outside the folder it may write changed, and counting the hostile cases.
 *
 * Counts: every test adds its cases to a {@link Tally}; the totals are printed per test as
 * `fault-suite: <group>: <n> cases, <m> clean`, and appended as JSON lines to the file named by
 * `SSL_FAULT_TALLY` when it is set (scripts/… or a person sums them).
 *
 * @module
 */
import { join, relative } from "node:path";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A script of the repository by file name (`main_moco.ts`, …). */
export function script(name: string): string {
  return join(ROOT, "scripts", name);
}

/** A finished child process. */
export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall seconds. */
  seconds: number;
}

/** Runs `deno run -A <script> args…` in `cwd` and captures its output. */
export async function runScript(
  scriptPath: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Outcome> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", scriptPath, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** stderr without the lines every run may print (notes, warnings, progress, Mesa chatter). */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) =>
    l.trim() !== "" && !/^(note|warning|statistics|wrote|=>)\b/.test(l) &&
    !/\r/.test(l) && !/^(MESA|WARNING: lavapipe|ATTENTION)/.test(l)
  );
}

/**
 * Why `o` is not a clean end with `code` and a one-line message matching `message`, or undefined
 * when it is.
 */
export function uncleanReason(o: Outcome, code: number, message?: RegExp): string | undefined {
  if (o.code !== code) return `exit ${o.code}, expected ${code}`;
  if (/^\s+at |Stack backtrace|error: Uncaught/m.test(o.stderr)) return "a stack trace";
  if (code === 0) return undefined;
  const lines = errorLines(o.stderr);
  if (lines.length !== 1) return `${lines.length} error lines, expected 1`;
  if (message && !message.test(lines[0])) return `message ${JSON.stringify(lines[0])}`;
  return undefined;
}

/** A file's size and content hash under a folder, by relative path. */
export type TreeSnapshot = Map<string, string>;

/** Every file under `root` (recursively) with its size and SHA-256, except under `skip` folders. */
export async function snapshot(root: string, skip: readonly string[] = []): Promise<TreeSnapshot> {
  const out: TreeSnapshot = new Map();
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (skip.some((s) => path === s || path.startsWith(s + "/"))) continue;
      if (e.isDirectory) await walk(path);
      else {
        const bytes = await Deno.readFile(path).catch(() => new Uint8Array(0));
        const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        out.set(relative(root, path), `${bytes.length}:${Array.from(hash.subarray(0, 8)).join()}`);
      }
    }
  };
  await walk(root);
  return out;
}

/** The differences between two snapshots (added, removed, changed paths), empty when equal. */
export function changes(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    if (!before.has(p)) out.push(`+${p}`);
    else if (before.get(p) !== v) out.push(`~${p}`);
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(`-${p}`);
  return out;
}

/** Counts the hostile cases of one group and the ones that ended cleanly. */
export class Tally {
  readonly failures: string[] = [];
  cases = 0;
  clean = 0;
  constructor(readonly group: string) {}

  /** Records one case: clean when `problem` is undefined, else remembered for the report. */
  add(name: string, problem: string | undefined): void {
    this.cases++;
    if (problem === undefined) this.clean++;
    else this.failures.push(`${name}: ${problem}`);
  }

  /** Prints and (with `SSL_FAULT_TALLY`) records the counts; throws listing any unclean case. */
  async finish(): Promise<void> {
    const line = `fault-suite: ${this.group}: ${this.cases} cases, ${this.clean} clean`;
    console.log(line);
    const file = Deno.env.get("SSL_FAULT_TALLY");
    if (file) {
      const row = { group: this.group, cases: this.cases, clean: this.clean };
      await Deno.writeTextFile(file, JSON.stringify(row) + "\n", { append: true });
    }
    if (this.failures.length > 0) {
      throw new Error(
        `${this.failures.length} unclean case(s) in ${this.group}:\n  ` +
          this.failures.slice(0, 30).join("\n  "),
      );
    }
  }
}

/** Whether this machine offers a WebGPU adapter (tests that need one skip without). */
export async function hasGpu(): Promise<boolean> {
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    return adapter !== null && adapter !== undefined;
  } catch {
    return false;
  }
}

/** `fn` over `items` with at most `limit` running at once, results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
