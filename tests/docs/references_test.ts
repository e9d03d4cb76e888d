/**
 * The repository's references resolve: no pointer to documents outside it (the SPEC / DESIGN
 * files the code once cited), every `docs/….md#anchor` names an existing page and heading, every
 * relative Markdown link and every repository path written in code, help texts and docs exists.
 */
import { assert } from "../util/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SCANNED = [
  "mod.ts",
  "README.md",
  "src",
  "scripts",
  "tests",
  "kernels",
  "docs",
  "models",
  "results",
];
const TEXT = /\.(ts|md|wgsl|py|json|cff)$/;

function walk(rel: string, out: string[]): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(ROOT + rel);
  } catch {
    return;
  }
  if (info.isFile) {
    if (TEXT.test(rel)) out.push(rel);
    return;
  }
  for (const e of Deno.readDirSync(ROOT + rel)) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    // results/ holds run outputs (git-ignored) besides its README.
    if (rel === "results" && e.name !== "README.md") continue;
    walk(`${rel}/${e.name}`, out);
  }
}

/** GitHub's heading anchors plus explicit `<a id="…">` anchors of a Markdown file. */
function anchorsOf(path: string): Set<string> {
  const text = Deno.readTextFileSync(ROOT + path);
  const anchors = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const slug = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    anchors.add(slug);
  }
  for (const m of text.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(m[1]);
  return anchors;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(ROOT + path);
    return true;
  } catch {
    return false;
  }
}

function normalise(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return parts.join("/");
}

Deno.test("references in code, help texts and docs point at files (and anchors) that exist", () => {
  const files: string[] = [];
  for (const top of SCANNED) walk(top, files);
  assert(files.length > 100, `scanned ${files.length} files`);
  const self = "tests/docs/references_test.ts";
  const problems: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const checkTarget = (from: string, target: string, anchor: string | undefined) => {
    if (!exists(target)) {
      problems.push(`${from}: ${target} does not exist`);
      return;
    }
    if (anchor && target.endsWith(".md")) {
      if (!anchorCache.has(target)) anchorCache.set(target, anchorsOf(target));
      if (!anchorCache.get(target)!.has(anchor)) {
        problems.push(`${from}: no #${anchor} in ${target}`);
      }
    }
  };
  for (const file of files) {
    if (file === self) continue;
    const text = Deno.readTextFileSync(ROOT + file);
    for (const m of text.matchAll(/SPEC §|\bSPEC\.md\b|\bDESIGN\.md\b/g)) {
      problems.push(`${file}: '${m[0]}' points outside the repository (use docs/)`);
    }
    // Repository paths written out: docs pages (with anchors), sources, scripts, kernels, tests.
    const pathRe =
      /(?<![\w./-])((?:docs|src|scripts|kernels|tests|models)\/[\w./-]*\.(?:md|ts|wgsl|py|json))(?:#([\w-]+))?/g;
    for (const m of text.matchAll(pathRe)) {
      const target = m[1].replace(/\.$/, "");
      if (/\/\.\.?\//.test(target)) continue;
      checkTarget(file, target, m[2]);
    }
    if (file.endsWith(".md")) {
      const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1];
        if (/^[a-z]+:/.test(link)) continue;
        const [path, anchor] = link.split("#");
        const target = path === "" ? file : normalise(dir + path);
        checkTarget(file, target, anchor);
      }
    }
  }
  assert(
    problems.length === 0,
    `${problems.length} dangling reference(s):\n${problems.join("\n")}`,
  );
});

Deno.test("LICENSE, CITATION.cff and the docs index are present", () => {
  for (const f of ["LICENSE", "CITATION.cff", "docs/README.md"]) assert(exists(f), `${f} missing`);
  const cff = Deno.readTextFileSync(`${ROOT}CITATION.cff`);
  assert(/2111\.11398/.test(cff) && /Ericsson/.test(cff), "CITATION.cff cites the paper");
});
