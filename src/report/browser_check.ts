/**
 * Opens a report in headless Chromium and checks that it rendered: every plot laid out the bars
 * and points it expected and the page logged no errors. Uses the browser's own `--dump-dom` and `--screenshot`
 * switches, so no driver library is needed.
 *
 * @module
 */

/** What the browser saw. */
export interface BrowserCheck {
  /** Per plot: bars and points the browser laid out, and how many the report expects. */
  charts: { id: string; bars: number; expected: number; points: number; expectedPoints: number }[];
  /** Charts the page says it rendered / expected. */
  rendered: number;
  /** Charts the report holds, i.e. how many the page should render. */
  expectedCharts: number;
  /** Script errors caught by the page plus console errors Chromium logged. */
  errors: string[];
  /** The screenshot written, if asked for. */
  screenshot?: string;
}

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/** The Chromium executable (`SSL_CHROMIUM` overrides), or undefined when none is installed. */
export function findChromium(): string | undefined {
  const fromEnv = Deno.env.get("SSL_CHROMIUM");
  for (const name of fromEnv ? [fromEnv] : CANDIDATES) {
    try {
      const out = new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (out.success) return name;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"];

function attr(tag: string, name: string): string | undefined {
  return new RegExp(`${name}="([^"]*)"`).exec(tag)?.[1];
}

/**
 * Loads `htmlPath` headless and reports what rendered; writes a PNG screenshot to `screenshot`
 * when given (in the same browser run: one start-up instead of two).
 */
export async function checkReportInBrowser(
  chromium: string,
  htmlPath: string,
  screenshot?: string,
): Promise<BrowserCheck> {
  const abs = htmlPath.startsWith("/") ? htmlPath : `${Deno.cwd()}/${htmlPath}`;
  const url = `file://${abs}`;
  const profile = await Deno.makeTempDir({ prefix: "ssl-chromium-" });
  const shotPath = screenshot === undefined
    ? undefined
    : screenshot.startsWith("/")
    ? screenshot
    : `${Deno.cwd()}/${screenshot}`;
  if (shotPath) await Deno.remove(shotPath).catch(() => {});
  // The window is as tall as the plots need (one chart holder per plot in the file).
  const plots = [...(await Deno.readTextFile(abs)).matchAll(/<div class="chart"/g)].length;
  try {
    const dump = await new Deno.Command(chromium, {
      args: [
        ...FLAGS,
        `--user-data-dir=${profile}`,
        "--enable-logging=stderr",
        "--v=0",
        ...(shotPath
          ? [`--window-size=1400,${400 + 560 * plots}`, `--screenshot=${shotPath}`]
          : []),
        "--dump-dom",
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dom = new TextDecoder().decode(dump.stdout);
    const log = new TextDecoder().decode(dump.stderr);
    const errors: string[] = [];
    for (const line of log.split("\n")) {
      // Chromium logs page console output as `...:CONSOLE(n)] "message", source: ...`; only
      // messages from the report itself count, not the browser's own start-up chatter.
      if (/CONSOLE/.test(line) && line.includes(url)) errors.push(line.trim());
    }
    const pageErrors = /<div id="report-errors"[^>]*>([\s\S]*?)<\/div>/.exec(dom)?.[1]?.trim();
    if (pageErrors) errors.push(...pageErrors.split("\n"));
    if (!dump.success) errors.push(`chromium exited ${dump.code}`);
    const charts: BrowserCheck["charts"] = [];
    for (const m of dom.matchAll(/<div class="chart"[^>]*>/g)) {
      const tag = m[0];
      charts.push({
        id: attr(tag, "id") ?? "?",
        bars: Number(attr(tag, "data-bars") ?? -1),
        expected: Number(attr(tag, "data-expected-bars") ?? -1),
        points: Number(attr(tag, "data-points") ?? -1),
        expectedPoints: Number(attr(tag, "data-expected-points") ?? -1),
      });
    }
    const body = /<body[^>]*>/.exec(dom)?.[0] ?? "";
    const result: BrowserCheck = {
      charts,
      rendered: Number(attr(body, "data-charts-rendered") ?? 0),
      expectedCharts: Number(attr(body, "data-charts-expected") ?? -1),
      errors,
    };
    if (shotPath) {
      const written = await Deno.stat(shotPath).then((i) => i.isFile && i.size > 0, () => false);
      if (written) result.screenshot = shotPath;
      else errors.push(`screenshot failed (chromium exited ${dump.code})`);
    }
    return result;
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}
