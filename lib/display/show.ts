/**
 * Showing things in a Deno Jupyter notebook: outputs that arrive, plots with plotly embedded.
 *
 * The Deno 2.9 kernel publishes outputs on a ZeroMQ PUB socket that silently drops a message
 * while more than 128 KB of earlier ones is still unsent, and it only writes that backlog out when
 * it sends the next message. A multi-MB output (the first plot carries the plotly bundle) then
 * swallows the outputs behind it, or is itself swallowed, whenever the frontend reads slowly. So
 * every helper here displays explicitly and then keeps sending empty `update_display_data`
 * messages (which frontends ignore) for a time that grows with the output's size: each one pushes
 * more of the backlog out. Under a 6× CPU overload this delivered 32 of 32 outputs against 18 of
 * 32 without. Outside a notebook the helpers print a one-line summary.
 *
 * Figures are plain plotly objects `{ data, layout }`. plotly.js cannot be imported under Deno (it
 * needs `window`), so its bundle is embedded into the HTML the notebook or a file displays.
 *
 * @module
 */
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";

/** A plotly figure: traces and a layout, as plotly.js takes them. */
export interface Figure {
  /** The traces, as plotly takes them. */
  data: Record<string, unknown>[];
  /** The layout, as plotly takes it. */
  layout?: Record<string, unknown>;
  /** plotly's config (toolbar, responsiveness). */
  config?: Record<string, unknown>;
}

/** A Jupyter MIME bundle, e.g. `{ "text/html": "<b>hi</b>" }`. */
export type MimeBundle = Record<string, unknown>;

/**
 * How long to keep flushing after a small output, and how fast to assume a slow frontend reads:
 * 30 ms and 10 MB/s still lost outputs while the machine ran other jobs (load 8–11 on 2 cores).
 */
const FLUSH_MIN_MS = 100;
const FLUSH_BYTES_PER_MS = 4_000;
const FLUSH_INTERVAL_MS = 10;

/**
 * Whether this code runs inside the Deno Jupyter kernel.
 *
 * @returns true in a notebook, false in `deno run` / `deno test`.
 * @example
 * ```ts
 * import { inJupyter } from "./show.ts";
 * console.log(inJupyter()); // false outside a notebook
 * ```
 */
export function inJupyter(): boolean {
  try {
    return typeof (Deno as unknown as { jupyter?: unknown }).jupyter === "object";
  } catch {
    return false; // the getter throws outside `deno jupyter`
  }
}

/**
 * Displays a MIME bundle in the notebook and waits for the kernel to send it; elsewhere prints
 * the bundle's `text/plain` entry (or the list of its types).
 *
 * @param bundle What to show, keyed by MIME type.
 * @example
 * ```ts
 * import { display } from "./show.ts";
 * await display({ "text/plain": "hello", "text/html": "<b>hello</b>" });
 * ```
 */
export async function display(bundle: MimeBundle): Promise<void> {
  if (inJupyter()) {
    const jupyter = (Deno as unknown as { jupyter: KernelApi }).jupyter;
    await flushOutputs(jupyter, FLUSH_MIN_MS);
    await jupyter.display(bundle, { raw: true });
    await flushOutputs(jupyter, FLUSH_MIN_MS + bundleBytes(bundle) / FLUSH_BYTES_PER_MS);
  } else {
    const text = bundle["text/plain"];
    console.log(typeof text === "string" ? text : `[display: ${Object.keys(bundle).join(", ")}]`);
  }
}

interface KernelApi {
  display(obj: unknown, options?: { raw?: boolean }): Promise<void>;
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void>;
}

/** Sends no-op display updates for `ms` milliseconds so the kernel writes out queued outputs. */
async function flushOutputs(jupyter: KernelApi, ms: number): Promise<void> {
  const end = Date.now() + ms;
  do {
    await jupyter.broadcast("update_display_data", {
      data: {},
      metadata: {},
      transient: { display_id: "dalle-lab-flush" },
    });
    await new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS));
  } while (Date.now() < end);
}

function bundleBytes(bundle: MimeBundle): number {
  let bytes = 0;
  for (const value of Object.values(bundle)) {
    bytes += typeof value === "string" ? value.length : JSON.stringify(value)?.length ?? 0;
  }
  return bytes;
}

/**
 * Shows any value: strings as text, numbers/arrays/objects as JSON, `{ toString }` objects as text.
 *
 * @param value What to show.
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * await show({ loss: 0.25, step: 10 });
 * ```
 */
export async function show(value: unknown): Promise<void> {
  const text = typeof value === "string" ? value : (() => {
    try {
      return JSON.stringify(value, null, 2) ?? String(value);
    } catch {
      return String(value);
    }
  })();
  await display({ "text/plain": text });
}

/**
 * Shows an HTML fragment.
 *
 * @param html The markup.
 * @param plain What to print outside a notebook. @default "[html]"
 * @example
 * ```ts
 * import { showHtml } from "./show.ts";
 * await showHtml("<table><tr><td>1</td></tr></table>");
 * ```
 */
export async function showHtml(html: string, plain = "[html]"): Promise<void> {
  await display({ "text/html": html, "text/plain": plain });
}

/**
 * Shows PNG bytes as an image.
 *
 * @param png Encoded PNG (e.g. from `imageGrid` or `savePng`'s input).
 * @param plain What to print outside a notebook. @default "[png]"
 * @example
 * ```ts
 * import { showPng } from "./show.ts";
 * const onePixel = Uint8Array.from(atob(
 *   "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
 * ), (c) => c.charCodeAt(0));
 * await showPng(onePixel);
 * ```
 */
export async function showPng(png: Uint8Array, plain = "[png]"): Promise<void> {
  await display({ "image/png": toBase64(png), "text/plain": `${plain} (${png.length} bytes)` });
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    s += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(s);
}

let plotlyBundle: string | null = null;
let plotlyShown = false;
let plotCounter = 0;

/**
 * The plotly.js bundle's source, read once from the installed npm package.
 *
 * @returns JavaScript that defines `window.Plotly`.
 * @example
 * ```ts
 * import { plotlySource } from "./show.ts";
 * console.log(plotlySource().length > 1e6); // true
 * ```
 */
export function plotlySource(): string {
  if (plotlyBundle === null) {
    const require = createRequire(import.meta.url);
    let path: string;
    try {
      path = require.resolve("plotly.js-dist-min/plotly.min.js");
    } catch {
      // `createRequire` finds the package only after Deno has installed it into node_modules.
      throw new Error(
        "plotly.js-dist-min is not installed in node_modules: run `deno install` in the repository",
      );
    }
    plotlyBundle = Deno.readTextFileSync(path);
  }
  return plotlyBundle;
}

function figureJson(fig: Figure): string {
  // `</script>` inside a JSON string would end the inline script early.
  return JSON.stringify(fig).replaceAll("</", "<\\/");
}

let plotlyGzipBase64: string | null = null;

/**
 * A script that defines `window.Plotly` from a gzip+base64 copy of the bundle. The Deno kernel
 * fails to sign Jupyter messages of several MB (nbclient then rejects them as "Invalid
 * Signature"), and the plain bundle is 11 MB; compressed it is about a quarter of that.
 */
function plotlyLoader(): string {
  plotlyGzipBase64 ??= toBase64(gzipSync(new TextEncoder().encode(plotlySource()), { level: 9 }));
  // require.js in classic Jupyter would capture the UMD bundle as an AMD module: hide `define`.
  return `<script>window.__dalleLabPlotly = window.Plotly ? Promise.resolve() : (async () => {` +
    `const bytes = Uint8Array.from(atob("${plotlyGzipBase64}"), (c) => c.charCodeAt(0));` +
    `const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));` +
    `const code = await new Response(stream).text();` +
    `const define = window.define; window.define = undefined;` +
    `try { (0, eval)(code); } finally { window.define = define; }` +
    `})();</script>`;
}

/**
 * An HTML fragment that draws a plotly figure.
 *
 * @param fig The figure.
 * @param options `includePlotly`: embed plotly (needed once per page): "inline" as a plain
 *   script (for files), "compressed" as a gzip loader (for notebooks), or false. @default "inline"
 * @returns HTML with a div and an inline script.
 * @example
 * ```ts
 * import { plotHtml } from "./show.ts";
 * const html = plotHtml({ data: [{ y: [1, 3, 2] }] }, { includePlotly: false });
 * console.log(html.includes("Plotly.newPlot")); // true
 * ```
 */
export function plotHtml(
  fig: Figure,
  options: { includePlotly?: "inline" | "compressed" | false } = {},
): string {
  const id = `dalle-lab-plot-${Date.now().toString(36)}-${plotCounter++}`;
  const width = (fig.layout?.width as number | undefined) ?? 720;
  const height = (fig.layout?.height as number | undefined) ?? 420;
  const include = options.includePlotly ?? "inline";
  const bundle = include === "inline"
    ? `<script>${plotlySource()}</script>`
    : include === "compressed"
    ? plotlyLoader()
    : "";
  return `${bundle}<div id="${id}" style="width:${width}px;height:${height}px"></div>` +
    `<script>(function(){const f=${figureJson(fig)};` +
    `const draw=()=>Plotly.newPlot("${id}",f.data,f.layout||{},` +
    `Object.assign({responsive:true},f.config||{}));` +
    `if(window.Plotly)draw();else(window.__dalleLabPlotly||Promise.resolve()).then(draw);` +
    `})();</script>`;
}

/**
 * Shows a plotly figure in the notebook. The plotly bundle is embedded with the first figure a
 * kernel shows (later figures on the page reuse it); pass `standalone` to embed it every time.
 *
 * @param fig The figure.
 * @param options `standalone`: always embed plotly. @default false
 * @example
 * ```ts
 * import { showPlot } from "./show.ts";
 * await showPlot({ data: [{ x: [1, 2, 3], y: [3, 1, 2], type: "scatter" }], layout: { title: { text: "demo" } } });
 * ```
 */
export async function showPlot(fig: Figure, options: { standalone?: boolean } = {}): Promise<void> {
  const include = options.standalone || !plotlyShown;
  const html = inJupyter() ? plotHtml(fig, { includePlotly: include ? "compressed" : false }) : "";
  if (inJupyter()) plotlyShown = true;
  const title = fig.layout?.title as { text?: string } | string | undefined;
  const name = typeof title === "string" ? title : title?.text ?? "figure";
  await display({
    "text/html": html,
    // JupyterLab and VS Code render this natively when they have a plotly renderer.
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout ?? {} },
    "text/plain": `[plot: ${name}, ${fig.data.length} traces]`,
  });
}

/**
 * A complete standalone HTML page drawing the figure (plotly embedded), for saving next to a run.
 *
 * @param fig The figure.
 * @returns The page.
 * @example
 * ```ts
 * import { plotPage } from "./show.ts";
 * const page = plotPage({ data: [{ y: [1, 2] }] });
 * console.log(page.startsWith("<!DOCTYPE html>")); // true
 * ```
 */
export function plotPage(fig: Figure): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>` +
    `${plotHtml(fig, { includePlotly: "inline" })}</body></html>`;
}
