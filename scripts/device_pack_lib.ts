/**
 * The pure parts of `deno task device-pack` (scripts/device_pack.ts): which Debian packages carry
 * which shared library for the Vulkan / GL / EGL loaders, the manifest of the pack folder and
 * its size budget (everything carried to a GPU machine, the working tree included, is limited
 * to 64 MiB).
 *
 * @module
 */

/** The carry limit of a device machine: working tree + pack, in bytes. */
export const CARRY_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Debian packages unpacked on a machine that lacks their library, and the soname that tells.
 * libvulkan1 is the Vulkan loader wgpu opens; NVIDIA's Vulkan ICD (libGLX_nvidia.so.0) needs the
 * GL vendor-neutral dispatch (libglvnd0) and links X11 libraries even when headless; the EGL /
 * GL loaders serve wgpu's GL backend.
 */
export const DEB_PROVIDES: Readonly<Record<string, string>> = {
  libvulkan1: "libvulkan.so.1",
  libglvnd0: "libGLdispatch.so.0",
  libgl1: "libGL.so.1",
  libglx0: "libGLX.so.0",
  libegl1: "libEGL.so.1",
  libgles2: "libGLESv2.so.2",
  libopengl0: "libOpenGL.so.0",
  "libx11-6": "libX11.so.6",
  libxext6: "libXext.so.6",
  libxcb1: "libxcb.so.1",
  libxau6: "libXau.so.6",
  libxdmcp6: "libXdmcp.so.6",
  libbsd0: "libbsd.so.0",
  libmd0: "libmd.so.0",
};

/** The package name of a downloaded `.deb` file (`libx11-6_2%3a1.8.4-2_amd64.deb` → `libx11-6`). */
export function debPackage(file: string): string {
  const base = file.split("/").pop()!;
  const m = /^([a-z0-9][a-z0-9+.-]*)_[^_]+_[^_]+\.deb$/.exec(base);
  if (!m) throw new RangeError(`not a Debian package file name: ${base}`);
  return m[1];
}

/**
 * `debs/provides.txt` for the launcher: one `soname file` line per package, so a shell script
 * can test each library and unpack only the missing ones. Throws for a package without a known
 * soname.
 */
export function providesText(debFiles: readonly string[]): string {
  return debFiles
    .map((f) => {
      const pkg = debPackage(f);
      const soname = DEB_PROVIDES[pkg];
      if (!soname) throw new RangeError(`no soname known for package ${pkg}`);
      return `${soname} ${f.split("/").pop()}`;
    })
    .sort()
    .join("\n") + "\n";
}

/** One file of the pack. */
export interface PackFile {
  /** Path relative to the pack folder. */
  path: string;
  bytes: number;
  sha256: string;
}

/** The manifest written to `<pack>/manifest.json`. */
export interface PackManifest {
  created: string;
  commit: string;
  deno: { version: string; sourceBytes: number; sourceSha256: string; file: string };
  files: PackFile[];
  packBytes: number;
  /** Tracked and untracked-but-not-ignored files of the working tree (what travels with it). */
  treeBytes: number;
  totalBytes: number;
  limitBytes: number;
  /** Whether pack + tree fit the limit. */
  fits: boolean;
}

/** Builds the manifest (files sorted by path) and checks the budget. */
export function packManifest(
  meta: { created: string; commit: string; deno: PackManifest["deno"] },
  files: readonly PackFile[],
  treeBytes: number,
  limitBytes = CARRY_LIMIT_BYTES,
): PackManifest {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const packBytes = sorted.reduce((s, f) => s + f.bytes, 0);
  const totalBytes = packBytes + treeBytes;
  return {
    ...meta,
    files: sorted,
    packBytes,
    treeBytes,
    totalBytes,
    limitBytes,
    fits: totalBytes <= limitBytes,
  };
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A short size report: per top-level entry of the pack, the tree, the total vs the limit. */
export function sizeReport(m: PackManifest): string {
  const groups = new Map<string, number>();
  for (const f of m.files) {
    const top = f.path.split("/")[0];
    groups.set(top, (groups.get(top) ?? 0) + f.bytes);
  }
  const lines = [...groups].map(([k, v]) => `  ${k.padEnd(24)} ${mib(v).padStart(10)}`);
  lines.push(`  ${"pack".padEnd(24)} ${mib(m.packBytes).padStart(10)}`);
  lines.push(`  ${"working tree".padEnd(24)} ${mib(m.treeBytes).padStart(10)}`);
  lines.push(
    `  ${"total".padEnd(24)} ${mib(m.totalBytes).padStart(10)} of ${mib(m.limitBytes)}` +
      (m.fits ? "" : "  OVER THE LIMIT"),
  );
  return lines.join("\n");
}
