/**
 * Headless Chromium as a renderer and a checker: HTML to PNG (plotly figures included), and a
 * page's console errors and post-script DOM for tests. No TensorFlow here.
 *
 * Each call starts one Chromium process with a fresh profile folder (removed afterwards), so calls
 * may run side by side. Chromium's headless mode prints console messages on stderr as
 * `INFO:CONSOLE…] "message", source: …` lines, all at INFO whatever their level, so the page is
 * given a small prelude script that tags console.error and uncaught errors before anything of the
 * page runs; the prelude goes into a temporary copy of the page whose `<base>` points back at the
 * original folder, so relative links still resolve and the original file is never touched.
 *
 * @module
 */
import { pngSize } from "./png.ts";

/** How long a Chromium call may take in wall time before it is killed. */
const DEFAULT_TIMEOUT_MS = 60_000;
/** Virtual time Chromium grants the page's timers before it dumps or shoots, so plotly has drawn. */
const DEFAULT_VIRTUAL_TIME_MS = 5_000;
/** Skia refuses larger surfaces; taller pages are cut at this height (see `pageHeight`). */
const DEFAULT_MAX_HEIGHT_PX = 16_384;
const ERROR_TAG = "[dalle-lab:error] ";
const HEIGHT_ATTRIBUTE = "data-dalle-lab-height";
const NAMES_ON_PATH = ["chromium", "chromium-browser", "google-chrome"];

/**
 * The Chromium binary to use: `$DALLE_LAB_CHROMIUM` when set (as given, so a wrong path fails
 * loudly), else the first of `chromium`, `chromium-browser`, `google-chrome` on PATH.
 *
 * @returns The binary's path, or null when there is none.
 * @example
 * ```ts
 * import { findChromium } from "./chromium.ts";
 * console.log(findChromium() ?? "no Chromium: apt-get install chromium");
 * ```
 */
export function findChromium(): string | null {
  const chosen = Deno.env.get("DALLE_LAB_CHROMIUM");
  if (chosen) return chosen;
  const folders = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of NAMES_ON_PATH) {
    for (const folder of folders) {
      const path = `${folder}/${name}`;
      try {
        const info = Deno.statSync(path);
        if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
      } catch {
        // not in this folder
      }
    }
  }
  return null;
}

/** Options shared by every Chromium call. */
export interface ChromiumOptions {
  /** Wall-clock limit for the Chromium process. @default 60000 */
  timeoutMs?: number;
  /** Virtual time the page's timers get before the result is taken. @default 5000 */
  virtualTimeMs?: number;
}

/** Options of {@link htmlToPng} and {@link screenshot}. */
export interface PngOptions extends ChromiumOptions {
  /** Viewport width in CSS pixels. @default 1000 */
  width?: number;
  /** Viewport height in CSS pixels; omitted, the page's full height (capped at `maxHeight`). */
  height?: number;
  /** Tallest PNG made when `height` is omitted. @default 16384 */
  maxHeight?: number;
}

/** What a PNG call produced: its size, and the page's full height when that was measured. */
export interface PngSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** The page's scroll height at `width` (only when `height` was omitted); > height if cut. */
  pageHeight?: number;
}

/**
 * Renders an HTML page to a PNG with headless Chromium. The page is written to a temporary file,
 * so relative links resolve against the current folder; use {@link screenshot} for a page on disk.
 *
 * @param html A complete page (plotly may be embedded: its timers run in virtual time).
 * @param pngPath Where to write the PNG.
 * @param options Size and limits; without `height` the PNG holds the whole page.
 * @returns The PNG's size in pixels.
 * @example
 * ```ts ignore
 * import { htmlToPng } from "./chromium.ts";
 * const size = await htmlToPng("<h1>hello</h1>", "/tmp/hello.png", { width: 400 });
 * console.log(size.width); // 400
 * ```
 */
export async function htmlToPng(
  html: string,
  pngPath: string,
  options: PngOptions = {},
): Promise<PngSize> {
  const dir = await Deno.makeTempDir({ prefix: "dalle-lab-page-" });
  try {
    const path = `${dir}/page.html`;
    await Deno.writeTextFile(path, html);
    return await screenshot(path, pngPath, options);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Screenshots an HTML file on disk with headless Chromium.
 *
 * @param htmlPath The page.
 * @param pngPath Where to write the PNG.
 * @param options Size and limits; without `height` the PNG holds the whole page.
 * @returns The PNG's size in pixels.
 * @example
 * ```ts ignore
 * import { screenshot } from "./chromium.ts";
 * const { height } = await screenshot("data/runs/demo/x/report.html", "/tmp/report.png");
 * ```
 */
export async function screenshot(
  htmlPath: string,
  pngPath: string,
  options: PngOptions = {},
): Promise<PngSize> {
  const width = options.width ?? 1000;
  const maxHeight = options.maxHeight ?? DEFAULT_MAX_HEIGHT_PX;
  const sizes = { width, height: options.height, maxHeight };
  for (const [name, value] of Object.entries(sizes)) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`screenshot: ${name} must be a positive integer, got ${value}`);
    }
  }
  let height = options.height;
  let pageHeight: number | undefined;
  if (height === undefined) {
    const { rawDom } = await runOnPage(
      htmlPath,
      ["--dump-dom", `--window-size=${width},600`],
      options,
    );
    const match = rawDom.match(new RegExp(`${HEIGHT_ATTRIBUTE}="(\\d+)"`));
    if (!match) throw new Error(`screenshot: could not measure the height of ${htmlPath}`);
    pageHeight = Number(match[1]);
    height = Math.min(Math.max(pageHeight, 1), maxHeight);
  }
  const absolutePng = absolute(pngPath);
  await runOnPage(
    htmlPath,
    [`--screenshot=${absolutePng}`, `--window-size=${width},${height}`],
    options,
  );
  const { width: w, height: h } = pngSize(await Deno.readFile(absolutePng));
  return pageHeight === undefined ? { width: w, height: h } : { width: w!, height: h!, pageHeight };
}

/** What {@link inspectPage} saw. */
export interface PageInspection {
  /** console.error calls, uncaught errors, unhandled rejections and failed resource loads. */
  consoleErrors: string[];
  /** Every console message, errors included, in order. */
  consoleMessages: string[];
  /** The DOM after the page's scripts ran (`--dump-dom`). */
  dom: string;
}

/**
 * Loads a page in headless Chromium and reports its console errors and its DOM after scripts ran
 * (with virtual time for timers), e.g. to check that a report's figures all drew.
 *
 * @param htmlPath The page on disk.
 * @param options Limits.
 * @returns The errors, all console messages, and the serialised DOM.
 * @example
 * ```ts ignore
 * import { inspectPage } from "./chromium.ts";
 * const { consoleErrors, dom } = await inspectPage("data/runs/demo/x/report.html");
 * console.log(consoleErrors.length, dom.includes("data-figures-rendered"));
 * ```
 */
export async function inspectPage(
  htmlPath: string,
  options: ChromiumOptions = {},
): Promise<PageInspection> {
  const { dom, stderr } = await runOnPage(
    htmlPath,
    ["--dump-dom", "--enable-logging=stderr", "--v=0", "--window-size=1000,800"],
    options,
  );
  const consoleMessages = consoleLines(stderr);
  const consoleErrors = consoleMessages
    .filter((m) => m.startsWith(ERROR_TAG))
    .map((m) => m.slice(ERROR_TAG.length));
  return {
    consoleErrors,
    consoleMessages: consoleMessages.map((m) => m.replace(ERROR_TAG, "error: ")),
    dom,
  };
}

/** Console messages from Chromium's stderr; a message may span lines (stack traces). */
function consoleLines(stderr: string): string[] {
  const pattern = /\[[^\]]*:CONSOLE[^\]]*\] "([\s\S]*?)", source: [^\n]*/g;
  return [...stderr.matchAll(pattern)].map((m) => m[1]);
}

/**
 * Runs before the page's own scripts: tags errors on the console (Chromium logs every level the
 * same), and keeps the page's scroll height in an attribute for the full-page screenshot.
 */
const PRELUDE = `<script>(function(){
const tag=${JSON.stringify(ERROR_TAG)};
const text=(x)=>{if(x instanceof Error)return x.stack||String(x);
if(typeof x==="object"&&x!==null){try{return JSON.stringify(x);}catch(e){return String(x);}}
return String(x);};
const log=console.log.bind(console);const error=console.error.bind(console);
console.error=function(){error(tag+Array.from(arguments).map(text).join(" "));};
addEventListener("error",(e)=>{const t=e.target;
if(t&&t!==window&&t.tagName){log(tag+"failed to load <"+t.tagName.toLowerCase()+"> "+(t.src||t.href||""));return;}
log(tag+"Uncaught "+(e.error?text(e.error):e.message)+" at "+e.filename+":"+e.lineno);},true);
addEventListener("unhandledrejection",(e)=>log(tag+"Unhandled rejection "+text(e.reason)));
const measure=()=>{const d=document.documentElement;
d.setAttribute(${
  JSON.stringify(HEIGHT_ATTRIBUTE)
},String(Math.max(d.scrollHeight,document.body?document.body.scrollHeight:0)));};
addEventListener("load",measure);setInterval(measure,100);
})();</script>`;

function insertedBy(html: string, folderUrl: string): string {
  return (/<base[\s>]/i.test(html) ? "" : `<base href="${folderUrl}">`) + PRELUDE;
}

/** The page with the prelude first and a `<base>` at its own folder, as a string. */
function withPrelude(html: string, folderUrl: string): string {
  const insert = insertedBy(html, folderUrl);
  // After <head> or <html> (never before the doctype: that would switch to quirks mode).
  for (const tag of [/<head(\s[^>]*)?>/i, /<html(\s[^>]*)?>/i, /<!doctype[^>]*>/i]) {
    const match = tag.exec(html);
    if (match) {
      const at = match.index + match[0].length;
      return html.slice(0, at) + insert + html.slice(at);
    }
  }
  return insert + html;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/** Copies the page with the prelude into a temp folder and runs Chromium on it. */
async function runOnPage(
  htmlPath: string,
  flags: string[],
  options: ChromiumOptions,
): Promise<{ dom: string; rawDom: string; stderr: string }> {
  const source = absolute(htmlPath);
  const html = await Deno.readTextFile(source);
  const folderUrl = new URL(".", `file://${source}`).href;
  const dir = await Deno.makeTempDir({ prefix: "dalle-lab-chromium-" });
  try {
    const page = `${dir}/page.html`;
    await Deno.writeTextFile(page, withPrelude(html, folderUrl));
    await Deno.mkdir(`${dir}/profile`);
    const { stdout, stderr } = await runChromium([
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--no-first-run",
      `--user-data-dir=${dir}/profile`,
      `--virtual-time-budget=${options.virtualTimeMs ?? DEFAULT_VIRTUAL_TIME_MS}`,
      ...flags,
      new URL(`file://${page}`).href,
    ], options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    // Hand back the page's own DOM: without the prelude, its <base> or the height mark.
    const dom = stdout.replace(insertedBy(html, folderUrl), "")
      .replace(new RegExp(` ${HEIGHT_ATTRIBUTE}="\\d+"`), "");
    return { dom, rawDom: stdout, stderr };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function runChromium(
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> {
  const binary = findChromium();
  if (binary === null) {
    throw new Error(
      "Chromium not found (looked for chromium, chromium-browser, google-chrome on PATH): " +
        "install Debian's `chromium` package (bash .ci/setup does) or set DALLE_LAB_CHROMIUM",
    );
  }
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(binary, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`Chromium binary ${binary} does not exist (from $DALLE_LAB_CHROMIUM?)`);
    }
    throw error;
  }
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    const why = output.signal === "SIGTERM"
      ? `was killed after ${timeoutMs} ms`
      : `exited with ${output.code}`;
    throw new Error(
      `Chromium ${why}: ${lastMeaningfulLines(stderr, 3).join(" | ") || "(no stderr)"}`,
    );
  }
  return { stdout: new TextDecoder().decode(output.stdout), stderr };
}

/** Chromium's stderr without the dbus/GPU noise a headless container always produces. */
function lastMeaningfulLines(stderr: string, count: number): string[] {
  const noise = /dbus|bluez|Floss|vaapi|sandbox_linux|idle_linux|unexpected operator|:CONSOLE/;
  return stderr.split("\n").filter((l) => l.trim() !== "" && !noise.test(l)).slice(-count);
}
