/**
 * Tables of plain rows (run summaries, metrics, CSV rows) as HTML for notebooks and reports, and
 * as a fixed-width text table for the terminal that never runs wider than asked: long headers and
 * cells are shortened with "…" and, if that is not enough, columns on the right are left out
 * with a note naming them (a wrapped table is unreadable in a terminal).
 *
 * Cells: numbers to `digits` significant digits (integers exactly), missing values (null,
 * undefined, NaN) as "—", everything escaped in HTML. A column whose values are all numbers is
 * right-aligned. The same cells as a markdown table for files (`markdownTable`).
 *
 * @module
 */
import { display } from "./show.ts";

/** One row of a table: column name → value. Values other than primitives are shown as JSON. */
export type TableRow = Readonly<Record<string, unknown>>;

/** Options of {@link htmlTable} and {@link showTable}. */
export interface TableOptions {
  /** Columns to show, in order. @default every key of the rows, in first-seen order */
  columns?: readonly string[];
  /** Significant digits of non-integer numbers. @default 4 */
  digits?: number;
  /** A caption above the table. */
  caption?: string;
}

/** Options of {@link textTable}. */
export interface TextTableOptions extends TableOptions {
  /** Widest line, in characters, the table may print. @default 100 */
  maxWidth?: number;
}

const MISSING = "—";
const GAP = "  ";
/** Cells are cut to this width before any column is dropped, headers to their column's cells. */
const MIN_CELL_WIDTH = 10;
const MIN_HEADER_WIDTH = 8;

/**
 * One cell as text: integers exactly, other numbers to `digits` significant digits (no trailing
 * zeros), missing values as "—".
 *
 * @param value The value.
 * @param digits Significant digits. @default 4
 * @returns The text.
 * @example
 * ```ts
 * import { formatCell } from "./table.ts";
 * console.log(formatCell(3.14159), formatCell(1200), formatCell(null), formatCell(0.00001234567));
 * // 3.142 1200 — 1.235e-5
 * ```
 */
export function formatCell(value: unknown, digits = 4): string {
  if (value === null || value === undefined) return MISSING;
  if (typeof value === "number") {
    if (Number.isNaN(value)) return MISSING;
    if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
    if (Number.isInteger(value)) return String(value);
    const magnitude = Math.abs(value);
    if (magnitude >= 10 ** digits) return String(Math.round(value));
    if (magnitude < 1e-4) return shortExponent(value.toExponential(digits - 1));
    return String(Number(value.toPrecision(digits)));
  }
  if (typeof value === "string") return value;
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** "1.2350e-5" → "1.235e-5": trailing zeros of the mantissa say nothing. */
function shortExponent(text: string): string {
  const [mantissa, exponent] = text.split("e");
  const trimmed = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
  return `${trimmed}e${exponent}`;
}

function columnsOf(rows: readonly TableRow[], columns?: readonly string[]): string[] {
  if (columns) return [...columns];
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

/** A column is numeric when it holds at least one number and nothing but numbers or gaps. */
function isNumeric(rows: readonly TableRow[], column: string): boolean {
  let any = false;
  for (const row of rows) {
    const v = row[column];
    if (v === null || v === undefined) continue;
    if (typeof v !== "number") return false;
    any = true;
  }
  return any;
}

/**
 * Escapes text for HTML content and attribute values.
 *
 * @param text Any text.
 * @returns The text with `& < > " '` escaped.
 * @example
 * ```ts
 * import { escapeHtml } from "./table.ts";
 * console.log(escapeHtml(`<a href="x">`)); // &lt;a href=&quot;x&quot;&gt;
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/**
 * An HTML table of rows (self-styled, so it reads the same in a notebook and in a report).
 *
 * @param rows The rows.
 * @param options Columns, digits and caption.
 * @returns A `<table>` element.
 * @example
 * ```ts
 * import { htmlTable } from "./table.ts";
 * const html = htmlTable([{ split: "test", agreement: 0.30512 }], { caption: "N = 32" });
 * console.log(html.includes("<td style=\"text-align:right\">0.3051</td>")); // true
 * ```
 */
export function htmlTable(rows: readonly TableRow[], options: TableOptions = {}): string {
  const columns = columnsOf(rows, options.columns);
  const digits = options.digits ?? 4;
  const right = columns.map((c) => isNumeric(rows, c));
  const align = (i: number) => right[i] ? ` style="text-align:right"` : "";
  const caption = options.caption === undefined
    ? ""
    : `<caption style="caption-side:top;text-align:left;font-weight:600;padding:4px 0">` +
      `${escapeHtml(options.caption)}</caption>`;
  const head = columns.map((c, i) => `<th${align(i)}>${escapeHtml(c)}</th>`).join("");
  const body = rows.length === 0
    ? `<tr><td colspan="${Math.max(columns.length, 1)}">(no rows)</td></tr>`
    : rows.map((row) =>
      `<tr>${
        columns.map((c, i) => `<td${align(i)}>${escapeHtml(formatCell(row[c], digits))}</td>`)
          .join("")
      }</tr>`
    ).join("\n");
  return `<table class="dalle-lab-table" style="border-collapse:collapse;` +
    `font-variant-numeric:tabular-nums">${caption}<thead><tr>${head}</tr></thead>` +
    `<tbody>\n${body}\n</tbody></table>`;
}

/** Options of {@link markdownTable}. */
export interface MarkdownTableOptions {
  /** Columns to show, in order. @default every key of the rows, in first-seen order */
  columns?: readonly string[];
  /** Significant digits of non-integer numbers. @default 4 */
  digits?: number;
}

/**
 * A GitHub-flavoured markdown table: cells as {@link formatCell} writes them, numeric columns
 * right-aligned (`---:`), `|` inside a cell escaped and line breaks flattened so a row stays
 * one line.
 *
 * @param rows The rows (at least one, or `columns`).
 * @param options Columns and digits.
 * @returns The header, the rule and one line per row, joined by "\n" (no trailing newline).
 * @example
 * ```ts
 * import { markdownTable } from "./table.ts";
 * console.log(markdownTable([{ model: "12B", rank: 2816, rate: 0.8571 }]));
 * // | model | rank | rate |
 * // | --- | ---: | ---: |
 * // | 12B | 2816 | 0.8571 |
 * ```
 */
export function markdownTable(
  rows: readonly TableRow[],
  options: MarkdownTableOptions = {},
): string {
  const columns = columnsOf(rows, options.columns);
  if (columns.length === 0) {
    throw new RangeError("markdownTable: no columns (give rows or options.columns)");
  }
  const digits = options.digits ?? 4;
  const cell = (text: string) => text.replaceAll("|", "\\|").replace(/\r?\n/g, " ");
  const line = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const rule = `| ${columns.map((c) => isNumeric(rows, c) ? "---:" : "---").join(" | ")} |`;
  return [
    line(columns),
    rule,
    ...rows.map((row) => line(columns.map((c) => formatCell(row[c], digits)))),
  ].join("\n");
}

/** Width of text in terminal columns (code points; no wide glyphs in our tables). */
function widthOf(text: string): number {
  return Array.from(text).length;
}

/** Cuts text to `width` columns, ending in "…". */
function cutEnd(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return width <= 1 ? "…".slice(0, width) : chars.slice(0, width - 1).join("") + "…";
}

/** Cuts text to `width` columns in the middle, so a header keeps its unit suffix. */
function cutMiddle(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width < 3) return cutEnd(text, width);
  const head = Math.ceil((width - 1) / 2), tail = width - 1 - head;
  return chars.slice(0, head).join("") + "…" + (tail > 0 ? chars.slice(-tail).join("") : "");
}

/**
 * A fixed-width text table no line of which is wider than `maxWidth`: headers are shortened in
 * the middle ("elb_b…_per_dim"), then long cells at the end, then columns on the right are left
 * out, with a last line naming them.
 *
 * @param rows The rows.
 * @param options Columns, digits, caption and the width bound.
 * @returns Lines joined by "\n" (no trailing newline).
 * @example
 * ```ts
 * import { textTable } from "./table.ts";
 * console.log(textTable([{ stage: "dvae", seconds: 61.25 }, { stage: "prior", seconds: 120 }]));
 * // stage  seconds
 * // -----  -------
 * // dvae      61.25
 * // prior       120
 * ```
 */
export function textTable(rows: readonly TableRow[], options: TextTableOptions = {}): string {
  const maxWidth = options.maxWidth ?? 100;
  if (!(Number.isInteger(maxWidth) && maxWidth >= 30)) {
    throw new RangeError(`textTable: maxWidth must be an integer ≥ 30, got ${maxWidth}`);
  }
  const columns = columnsOf(rows, options.columns);
  const digits = options.digits ?? 4;
  const cells = rows.map((row) => columns.map((c) => formatCell(row[c], digits)));
  const right = columns.map((c) => isNumeric(rows, c));
  const cellWidth = columns.map((_, j) => Math.max(1, ...cells.map((r) => widthOf(r[j]))));
  const headerWidth = columns.map((c) => widthOf(c));
  const width = columns.map((_, j) => Math.max(cellWidth[j], headerWidth[j]));
  const total = (n: number) =>
    width.slice(0, n).reduce((a, b) => a + b, 0) + GAP.length * Math.max(0, n - 1);
  // 1. long headers shortened, down to their cells' width; 2. then long text cells.
  const headerFloor = width.map((_, j) => Math.max(cellWidth[j], MIN_HEADER_WIDTH));
  const cellFloor = width.map((w, j) => right[j] ? w : Math.min(w, MIN_CELL_WIDTH));
  for (const floor of [headerFloor, cellFloor]) {
    narrowTo(width, floor, width.reduce((a, b) => a + b, 0) - (total(columns.length) - maxWidth));
  }
  // 3. as many columns as fit, at least one (cut to the width).
  let shown = columns.length;
  while (shown > 1 && total(shown) > maxWidth) shown--;
  width[0] = Math.min(width[0], maxWidth);
  const pad = (text: string, j: number, isRight: boolean) => {
    const cut = cutEnd(text, width[j]);
    const fill = " ".repeat(width[j] - widthOf(cut));
    return isRight ? fill + cut : cut + fill;
  };
  const line = (texts: string[], header: boolean) =>
    texts.slice(0, shown).map((t, j) => pad(header ? cutMiddle(t, width[j]) : t, j, right[j])).join(
      GAP,
    ).trimEnd();
  const lines: string[] = [];
  if (options.caption !== undefined) lines.push(cutEnd(options.caption, maxWidth));
  lines.push(line(columns, true));
  lines.push(width.slice(0, shown).map((w) => "-".repeat(w)).join(GAP));
  if (rows.length === 0) lines.push("(no rows)");
  for (const row of cells) lines.push(line(row, false));
  if (shown < columns.length) {
    const left = columns.slice(shown);
    lines.push(cutEnd(`(+${left.length} columns not shown: ${left.join(", ")})`, maxWidth));
  }
  return lines.join("\n");
}

/**
 * Takes one character at a time from the column with the most to spare above its floor, so
 * shortening is shared out, until the widths sum to `target` or every column is at its floor.
 */
function narrowTo(width: number[], floor: number[], target: number): void {
  let sum = width.reduce((a, b) => a + b, 0);
  while (sum > target) {
    let widest = -1;
    for (let j = 0; j < width.length; j++) {
      const spare = width[j] - floor[j];
      if (spare > 0 && (widest < 0 || spare > width[widest] - floor[widest])) widest = j;
    }
    if (widest < 0) return;
    width[widest]--;
    sum--;
  }
}

/**
 * Shows rows as a table in a notebook (HTML, with the text table as the plain fallback), or
 * prints the text table outside one.
 *
 * @param rows The rows.
 * @param options Columns, digits, caption, and the text table's width.
 * @example
 * ```ts
 * import { showTable } from "./table.ts";
 * await showTable([{ beta: 1, elb_bits_per_dim: 0.123456 }], { caption: "β sweep" });
 * ```
 */
export async function showTable(
  rows: readonly TableRow[],
  options: TextTableOptions = {},
): Promise<void> {
  await display({ "text/html": htmlTable(rows, options), "text/plain": textTable(rows, options) });
}
