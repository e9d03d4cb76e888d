/**
 * `deno task device-pack`: builds the folder `scripts/device_check.sh` runs from on a GPU machine
 * without network (default `device-pack/`, git-ignored):
 *
 * - `deno.xz`: this Deno binary, xz-compressed (the launcher decompresses it with `xz`, or with
 *   Python's `lzma` where `xz` is missing);
 * - `deno_dir.tar.xz`: a DENO_DIR holding the npm and remote dependencies of the device-check
 *   entry points and the parity tests (`deno install --entrypoint` into a fresh folder);
 * - `debs/*.deb` + `debs/provides.txt`: the Vulkan loader and the GL / EGL / X11 libraries
 *   NVIDIA's Vulkan driver needs (`apt-get download`), unpacked by the launcher only where the
 *   machine lacks the library;
 * - `manifest.json`: every file with size and sha256, the Deno version, the commit, and the size
 *   budget (pack + working tree ≤ 64 MiB, see scripts/device_pack_lib.ts).
 *
 * The Deno binary is recompressed only when it changed (its sha256 is in the manifest).
 *
 * @module
 */
import { join, relative } from "node:path";
import { writeJsonAtomic } from "../src/io/atomic.ts";
import { parseCli } from "../src/util/cli.ts";
import { runMain } from "../src/util/main.ts";
import {
  DEB_PROVIDES,
  mib,
  type PackFile,
  type PackManifest,
  packManifest,
  providesText,
  sizeReport,
} from "./device_pack_lib.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Entry points whose dependencies are vendored. */
const ENTRY_POINTS = [
  "scripts/device_check.ts",
  "scripts/info.ts",
  "tests/models/resnet_test.ts",
  "tests/train/moco_step_test.ts",
];

async function sha256(path: string): Promise<string> {
  const data = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function run(
  cmd: string,
  args: string[],
  options: Deno.CommandOptions = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...options })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(-600)}`,
    );
  }
  return text;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await walk(p));
    else if (e.isFile) out.push(p);
  }
  return out;
}

/** Bytes of the working tree that travels with the pack (tracked + untracked, not ignored). */
async function treeBytes(): Promise<number> {
  const list = await run("git", ["ls-files", "-z", "-co", "--exclude-standard"], { cwd: ROOT });
  let total = 0;
  for (const f of new Set(list.split("\0").filter(Boolean))) {
    try {
      const st = await Deno.lstat(join(ROOT, f));
      if (st.isFile) total += st.size;
    } catch { /* deleted in the work tree */ }
  }
  return total;
}

await runMain("device-pack", async () => {
  const { flags } = parseCli(Deno.args, {
    name: "deno task device-pack",
    summary: "Build the folder scripts/device_check.sh needs on a GPU machine without network.",
    flags: {
      out: { type: "string", default: "device-pack", help: "pack folder (git-ignored)" },
      "xz-level": { type: "string", default: "-9e", help: "xz preset for the Deno binary" },
      "no-debs": { type: "boolean", help: "skip the Debian packages (reuse those present)" },
    },
  });
  const out = (flags.out as string).startsWith("/") ? flags.out as string : join(ROOT, flags.out);
  await Deno.mkdir(join(out, "debs"), { recursive: true });
  const old: PackManifest | undefined = await Deno.readTextFile(join(out, "manifest.json"))
    .then(JSON.parse).catch(() => undefined);

  // 1. The Deno binary.
  const denoPath = Deno.execPath();
  const denoSha = await sha256(denoPath);
  const denoXz = join(out, "deno.xz");
  if (old?.deno.sourceSha256 === denoSha && await exists(denoXz)) {
    console.error(`device-pack: deno.xz is current (${Deno.version.deno})`);
  } else {
    console.error(`device-pack: compressing ${denoPath} (xz ${flags["xz-level"]}, minutes)`);
    const file = await Deno.open(`${denoXz}.tmp`, { write: true, create: true, truncate: true });
    const xz = new Deno.Command("xz", {
      args: [flags["xz-level"] as string, "-T1", "-c", denoPath],
      stdout: "piped",
    }).spawn();
    await xz.stdout.pipeTo(file.writable);
    if (!(await xz.status).success) throw new Error("xz failed");
    await Deno.rename(`${denoXz}.tmp`, denoXz);
  }

  // 2. The vendored dependencies: a fresh DENO_DIR, packed as tar.xz.
  const denoDir = join(out, "deno_dir");
  await Deno.remove(denoDir, { recursive: true }).catch(() => {});
  console.error(`device-pack: deno install --entrypoint ${ENTRY_POINTS.join(" ")}`);
  await run(denoPath, ["install", "--entrypoint", ...ENTRY_POINTS], {
    cwd: ROOT,
    env: { DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1" },
  });
  // Caches the machine rebuilds by itself (transpiled code, analysis databases) stay out.
  for await (const e of Deno.readDir(denoDir)) {
    if (e.name !== "npm" && e.name !== "remote") {
      await Deno.remove(join(denoDir, e.name), { recursive: true });
    }
  }
  await run("tar", ["-C", out, "-cJf", join(out, "deno_dir.tar.xz"), "deno_dir"], {
    env: { XZ_OPT: "-9" },
  });
  await Deno.remove(denoDir, { recursive: true });

  // 3. The loader libraries.
  const debDir = join(out, "debs");
  if (!flags["no-debs"]) {
    for await (const e of Deno.readDir(debDir)) await Deno.remove(join(debDir, e.name));
    console.error(`device-pack: apt-get download ${Object.keys(DEB_PROVIDES).join(" ")}`);
    await run("apt-get", ["download", ...Object.keys(DEB_PROVIDES)], { cwd: debDir });
  }
  const debs = (await walk(debDir)).filter((f) => f.endsWith(".deb")).sort();
  await Deno.writeTextFile(join(debDir, "provides.txt"), providesText(debs));

  // 4. The manifest.
  const files: PackFile[] = [];
  for (const f of await walk(out)) {
    const path = relative(out, f);
    if (path === "manifest.json" || path.endsWith(".tmp")) continue;
    files.push({ path, bytes: (await Deno.stat(f)).size, sha256: await sha256(f) });
  }
  const commit = (await run("git", ["rev-parse", "HEAD"], { cwd: ROOT })).trim();
  const manifest = packManifest(
    {
      created: new Date().toISOString(),
      commit,
      deno: {
        version: Deno.version.deno,
        sourceBytes: (await Deno.stat(denoPath)).size,
        sourceSha256: denoSha,
        file: "deno.xz",
      },
    },
    files,
    await treeBytes(),
  );
  await writeJsonAtomic(join(out, "manifest.json"), manifest);
  console.log(
    `device-pack: ${out} (Deno ${Deno.version.deno}, ${mib(manifest.deno.sourceBytes)} ` +
      `uncompressed)`,
  );
  console.log(sizeReport(manifest));
  if (!manifest.fits) Deno.exit(1);
});
