/**
 * A self-contained HTML report, built a block at a time: sections with a table of contents,
 * paragraphs, key/value facts, plotly figures, PNG images, tables and warnings. The page needs
 * no network: plotly's bundle is embedded once, images are `data:` URIs.
 *
 * Warnings are loud: each shows where it was added and again in a box at the top of the page.
 * A small script in the page records uncaught errors and, as figures draw, sets attributes on
 * `<body>` that a browser test reads back from the DOM (lib/display/chromium.ts `inspectPage`):
 * `data-figures-expected`, `data-figures-rendered` (plotly plots that produced an SVG),
 * `data-errors`, and `data-report-ready="true"` once every figure drew (or after 15 s).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { writeFileAtomic } from "../io/mod.ts";
import { type Figure, plotHtml, plotlySource } from "./show.ts";
import { pngSize } from "./png.ts";
import { escapeHtml, formatCell, htmlTable, type TableOptions, type TableRow } from "./table.ts";

/** Options of a {@link Report}. */
export interface ReportOptions {
  /** A line under the title (e.g. the run folder or the command). */
  subtitle?: string;
}

/** Options of {@link Report.image}. */
export interface ReportImageOptions {
  /** Display scale over the PNG's own size, drawn with crisp pixels (small sample grids). @default 1 */
  scale?: number;
  /** Alternative text. @default the caption, else "image" */
  alt?: string;
}

interface Section {
  id: string;
  title: string;
}

/** Gives up waiting for figures after this long (virtual time in headless Chromium). */
const READY_TIMEOUT_MS = 15_000;

/**
 * Builds a self-contained HTML report; every adder returns the report, so calls chain.
 *
 * @example
 * ```ts
 * import { Report } from "./report.ts";
 * const report = new Report("Main job", { subtitle: "data/runs/demo/20261202T101500Z_full" })
 *   .facts({ backend: "tensorflow", "total (s)": 812.4 })
 *   .warning("the judge rejects the dVAE's reconstructions")
 *   .section("dVAE", "Trained for `600` steps.")
 *   .plot({ data: [{ y: [3, 2, 1.5] }], layout: { title: { text: "ELB" } } }, "bits per dim")
 *   .table([{ split: "test", agreement: 0.305 }], { caption: "judge agreement" });
 * const html = report.toHtml();
 * console.log(html.includes("data-figures-expected=\"1\"")); // true
 * ```
 */
export class Report {
  /** The report's title, its page heading. */
  readonly title: string;
  /** A line under the title, when given. */
  readonly subtitle?: string;
  #blocks: string[] = [];
  #sections: Section[] = [];
  #warnings: string[] = [];
  #figures = 0;

  /**
   * Starts an empty report.
   * @param title The page's title and heading.
   * @param options A subtitle.
   */
  constructor(title: string, options: ReportOptions = {}) {
    this.title = title;
    this.subtitle = options.subtitle;
  }

  /** The warnings added so far, in order. */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /**
   * Starts a section (listed in the table of contents), with optional text under its heading.
   *
   * @param title The heading.
   * @param text Paragraphs, as in {@link Report.text}.
   * @returns This report.
   */
  section(title: string, text?: string): this {
    const id = `section-${this.#sections.length + 1}`;
    this.#sections.push({ id, title });
    this.#blocks.push(`<h2 id="${id}">${escapeHtml(title)}</h2>`);
    return text === undefined ? this : this.text(text);
  }

  /**
   * Adds text: blank lines separate paragraphs; `backticks` mark code. Everything is escaped.
   *
   * @param text The text.
   * @returns This report.
   */
  text(text: string): this {
    for (const paragraph of text.split(/\n\s*\n/)) {
      if (paragraph.trim() !== "") this.#blocks.push(`<p>${inline(paragraph.trim())}</p>`);
    }
    return this;
  }

  /**
   * Adds a key/value list (backend, commit, machine load, times). Numbers use 4 significant
   * digits; objects are shown as JSON.
   *
   * @param record The facts, in order.
   * @returns This report.
   */
  facts(record: Readonly<Record<string, unknown>>): this {
    const items = Object.entries(record).map(([key, value]) =>
      `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(formatCell(value))}</dd>`
    );
    this.#blocks.push(`<dl class="facts">${items.join("")}</dl>`);
    return this;
  }

  /**
   * Adds a plotly figure (drawn in the page by the embedded bundle).
   *
   * @param figure The figure.
   * @param caption A caption under it.
   * @returns This report.
   */
  plot(figure: Figure, caption?: string): this {
    this.#figures++;
    this.#blocks.push(
      `<figure class="report-plot">${plotHtml(figure, { includePlotly: false })}` +
        `${captionHtml(caption)}</figure>`,
    );
    return this;
  }

  /**
   * Adds a PNG image, embedded as a `data:` URI.
   *
   * @param png Encoded PNG bytes.
   * @param caption A caption under it.
   * @param options Display scale and alternative text.
   * @returns This report.
   */
  image(png: Uint8Array, caption?: string, options: ReportImageOptions = {}): this {
    const { width, height } = pngSize(png);
    const scale = options.scale ?? 1;
    if (!(scale > 0 && Number.isFinite(scale))) {
      throw new RangeError(`Report.image: scale must be a positive number, got ${scale}`);
    }
    const alt = options.alt ?? caption ?? "image";
    const crisp = scale > 1 ? ";image-rendering:pixelated" : "";
    this.#blocks.push(
      `<figure class="report-image"><img alt="${escapeHtml(alt)}" ` +
        `width="${Math.round(width * scale)}" height="${Math.round(height * scale)}" ` +
        `style="max-width:100%;height:auto${crisp}" ` +
        `src="data:image/png;base64,${Buffer.from(png).toString("base64")}">` +
        `${captionHtml(caption)}</figure>`,
    );
    return this;
  }

  /**
   * Adds a table (lib/display's `htmlTable`: escaped, numbers right-aligned).
   *
   * @param rows The rows.
   * @param options Columns, digits and caption.
   * @returns This report.
   */
  table(rows: readonly TableRow[], options: TableOptions = {}): this {
    this.#blocks.push(`<div class="table-wrap">${htmlTable(rows, options)}</div>`);
    return this;
  }

  /**
   * Adds a warning here, and again in the box at the top of the page.
   *
   * @param text What is wrong and what it means for the results.
   * @returns This report.
   */
  warning(text: string): this {
    this.#warnings.push(text);
    const id = `warning-${this.#warnings.length}`;
    this.#blocks.push(
      `<div class="warning" id="${id}"><strong>Warning:</strong> ${inline(text)}</div>`,
    );
    return this;
  }

  /**
   * The whole page.
   *
   * @returns A complete HTML document with plotly embedded when the report has figures.
   */
  toHtml(): string {
    const warnings = this.#warnings.length === 0 ? "" : `<div class="warning top" role="alert">` +
      `<strong>${this.#warnings.length} warning${
        this.#warnings.length > 1 ? "s" : ""
      }</strong><ul>` +
      this.#warnings.map((w, i) => `<li><a href="#warning-${i + 1}">${inline(w)}</a></li>`).join(
        "",
      ) +
      `</ul></div>`;
    const toc = this.#sections.length === 0 ? "" : `<nav><strong>Contents</strong><ol>` +
      this.#sections.map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a></li>`).join("") +
      `</ol></nav>`;
    const subtitle = this.subtitle === undefined
      ? ""
      : `<p class="subtitle">${inline(this.subtitle)}</p>`;
    // The bundle has no "</script>" in it (plotPage embeds it the same way).
    const plotly = this.#figures > 0 ? `<script>${plotlySource()}</script>` : "";
    return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
      `<meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<title>${escapeHtml(this.title)}</title><style>${STYLE}</style>` +
      `<script>${ERROR_RECORDER}</script>${plotly}</head>\n` +
      `<body data-figures-expected="${this.#figures}" data-figures-rendered="0" data-errors="0">` +
      `<main><header><h1>${escapeHtml(this.title)}</h1>${subtitle}</header>` +
      `<div id="report-errors" class="warning" hidden></div>${warnings}${toc}\n` +
      `${this.#blocks.join("\n")}\n</main><script>${STATUS_SCRIPT}</script></body></html>\n`;
  }

  /**
   * Writes the page atomically (a reader sees the old report or the new one, never half).
   *
   * @param path Where to write, e.g. `<run folder>/report.html`.
   */
  async write(path: string): Promise<void> {
    await writeFileAtomic(path, this.toHtml());
  }
}

/** Escaped text with `code` spans. */
function inline(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>");
}

function captionHtml(caption?: string): string {
  return caption === undefined ? "" : `<figcaption>${inline(caption)}</figcaption>`;
}

/** Runs first in <head>, so errors thrown while plotly loads are counted too. */
const ERROR_RECORDER = `window.__reportErrors=[];` +
  `addEventListener("error",function(e){var t=e.target;window.__reportErrors.push(` +
  `t&&t!==window&&t.tagName?"failed to load <"+t.tagName.toLowerCase()+">":` +
  `String(e.message||e.error));},true);` +
  `addEventListener("unhandledrejection",function(e){` +
  `window.__reportErrors.push("unhandled rejection: "+String(e.reason));});`;

/** Counts plots that drew an SVG and reports errors, until every figure drew or time is up. */
const STATUS_SCRIPT = `(function(){var b=document.body,start=Date.now(),timer;` +
  `var expected=Number(b.getAttribute("data-figures-expected"));` +
  `function update(){var rendered=Array.prototype.filter.call(` +
  `document.querySelectorAll("figure.report-plot"),function(f){` +
  `return f.querySelector(".js-plotly-plot svg.main-svg")!==null;}).length;` +
  `var errors=window.__reportErrors;b.setAttribute("data-figures-rendered",String(rendered));` +
  `b.setAttribute("data-errors",String(errors.length));` +
  `if(errors.length>0){var box=document.getElementById("report-errors");box.hidden=false;` +
  `box.textContent="This page hit "+errors.length+" script error(s): "+errors.join(" | ");}` +
  `if(rendered>=expected||Date.now()-start>${READY_TIMEOUT_MS}){` +
  `b.setAttribute("data-report-ready","true");clearInterval(timer);}}` +
  `timer=setInterval(update,100);addEventListener("load",update);update();})();`;

const STYLE = `
body{margin:0;background:#fafafa;color:#1d1d1f;font:16px/1.55 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:24px 32px 64px;background:#fff;min-height:100vh;
box-shadow:0 0 0 1px #e5e5e5}
h1{font-size:1.9em;margin:0.2em 0 0.1em}h2{margin-top:2em;padding-bottom:0.2em;
border-bottom:1px solid #e5e5e5}.subtitle{color:#666;margin-top:0}
code{font:0.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f2f2f2;
padding:0.1em 0.3em;border-radius:3px}
nav{background:#f6f8fa;border:1px solid #e5e5e5;border-radius:6px;padding:10px 16px;margin:16px 0}
nav ol{margin:4px 0 0;padding-left:1.4em}a{color:#0b5cad}
.warning{background:#fff4e5;border:1px solid #f0a030;border-left:6px solid #e07000;
border-radius:4px;padding:10px 14px;margin:14px 0}.warning.top{background:#ffe9d6}
.warning ul{margin:4px 0 0;padding-left:1.2em}#report-errors{background:#fde8e8;
border-color:#d33;border-left-color:#b00}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}
dl.facts dt{color:#555}dl.facts dd{margin:0;font-variant-numeric:tabular-nums}
figure{margin:16px 0}figcaption{color:#555;font-size:0.9em;margin-top:4px}
.table-wrap{overflow-x:auto;margin:12px 0}
.dalle-lab-table{font-size:0.92em}.dalle-lab-table th{text-align:left}.dalle-lab-table th,.dalle-lab-table td{padding:3px 10px;
border-bottom:1px solid #e5e5e5}.dalle-lab-table thead th{border-bottom:2px solid #ccc}
.dalle-lab-table tbody tr:nth-child(even){background:#f8f8f8}
`.replaceAll("\n", "");
