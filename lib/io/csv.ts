/**
 * CSV as the run folders use it (RFC 4180: a header line, comma-separated values, `"`-quoted
 * fields that may hold commas, quotes as `""`, and line breaks), without a dataframe library.
 *
 * Values are typed per cell, and `formatCsv` writes so that `parseCsv` gives back exactly what was
 * written: numbers as the shortest text that reads back as the same float64 (`String(x)`, `-0`
 * kept), booleans as `true`/`false`, null as an empty field, and strings quoted whenever they
 * would otherwise read back as something else (`""`, `"true"`, `"1.5"`). Files written by arquero
 * (older runs) read the same way: its unquoted numbers and booleans are typed, the rest are strings.
 *
 * @module
 */

/** One CSV cell: what a metrics row may hold. */
export type CsvValue = number | string | boolean | null;

/** One CSV row, keyed by the header's column names. */
export type CsvRow = Record<string, CsvValue>;

// Everything `String(number)` produces, plus the usual decimal spellings of other writers.
const NUMBER = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Infinity|NaN)$/;

/** What an unquoted field means. */
function typed(field: string): CsvValue {
  if (field === "") return null;
  if (field === "true") return true;
  if (field === "false") return false;
  return NUMBER.test(field) ? Number(field) : field;
}

/**
 * Splits CSV text into records of fields; each field says whether it was quoted.
 * A final line break does not start a record.
 */
function records(text: string): { value: string; quoted: boolean }[][] {
  const out: { value: string; quoted: boolean }[][] = [];
  let record: { value: string; quoted: boolean }[] = [];
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte-order mark is not part of the first name
  while (i < n) {
    let value = "";
    let quoted = false;
    if (text[i] === '"') {
      quoted = true;
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0) {
          throw new SyntaxError(`CSV: unterminated quoted field in record ${out.length + 1}`);
        }
        value += text.slice(i, close);
        i = close + 1;
        if (text[i] === '"') {
          value += '"';
          i++;
        } else break;
      }
    } else {
      let end = i;
      while (end < n && text[end] !== "," && text[end] !== "\n" && text[end] !== "\r") end++;
      value = text.slice(i, end);
      i = end;
    }
    record.push({ value, quoted });
    if (i >= n) break;
    const c = text[i];
    if (c === ",") {
      i++;
      if (i >= n) record.push({ value: "", quoted: false });
      continue;
    }
    if (c === "\r" && text[i + 1] === "\n") i += 2;
    else if (c === "\n" || c === "\r") i++;
    else {throw new SyntaxError(
        `CSV: unexpected text after a quoted field in record ${out.length + 1}`,
      );}
    out.push(record);
    record = [];
  }
  if (record.length > 0) out.push(record);
  return out;
}

/**
 * Parses CSV text with a header line into rows. Unquoted fields are typed (empty → null,
 * `true`/`false` → booleans, numbers → numbers); quoted fields are strings.
 *
 * @param text The file's text.
 * @returns One object per data line, keys in header order; short lines get nulls.
 * @throws SyntaxError on an unterminated quote or a line with more fields than the header.
 * @example
 * ```ts
 * import { parseCsv } from "./csv.ts";
 * const rows = parseCsv('step,loss,tag\n0,0.5,"a,b"\n1,0.25,\n');
 * console.log(rows[1]); // { step: 1, loss: 0.25, tag: null }
 * ```
 */
export function parseCsv(text: string): CsvRow[] {
  const [header, ...lines] = records(text);
  if (!header) return [];
  const names = header.map((f) => f.value);
  // A blank line is a one-column file's null, but in a wider file only stray whitespace.
  const blank = (fields: { value: string; quoted: boolean }[]) =>
    names.length > 1 && fields.length === 1 && !fields[0].quoted && fields[0].value === "";
  return lines.filter((fields) => !blank(fields)).map((fields, index) => {
    if (fields.length > names.length) {
      throw new SyntaxError(
        `CSV: line ${index + 2} has ${fields.length} fields, the header ${names.length}`,
      );
    }
    const row: CsvRow = {};
    names.forEach((name, j) => {
      const field = fields[j];
      row[name] = field === undefined ? null : field.quoted ? field.value : typed(field.value);
    });
    return row;
  });
}

function quote(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** A cell's text; strings are quoted when unquoted text would read back as something else. */
function cell(value: CsvValue | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  const text = String(value);
  return /[",\n\r]/.test(text) || typed(text) !== text ? quote(text) : text;
}

/**
 * The union of the rows' keys, in first-seen order.
 *
 * @param rows The rows.
 * @returns Column names.
 * @example
 * ```ts
 * import { columnsOf } from "./csv.ts";
 * console.log(columnsOf([{ step: 0 }, { step: 1, acc: 0.5 }])); // ["step", "acc"]
 * ```
 */
export function columnsOf(rows: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

/**
 * Formats rows as CSV text that {@link parseCsv} reads back to equal rows (missing keys → null).
 *
 * @param rows The rows.
 * @param columns Column order. @default the union of the rows' keys, in first-seen order
 * @returns A header line and one line per row, each ending in `\n`; `""` for no rows.
 * @example
 * ```ts
 * import { formatCsv, parseCsv } from "./csv.ts";
 * const rows = [{ step: 0, loss: 0.1 + 0.2, ok: true, tag: "1.5" }];
 * console.log(formatCsv(rows)); // step,loss,ok,tag\n0,0.30000000000000004,true,"1.5"\n
 * console.log(parseCsv(formatCsv(rows))[0].loss === 0.1 + 0.2); // true
 * ```
 */
export function formatCsv(
  rows: readonly Record<string, CsvValue | undefined>[],
  columns: readonly string[] = columnsOf(rows),
): string {
  if (rows.length === 0) return "";
  const header = columns.map((name) => /[",\n\r]/.test(name) ? quote(name) : name).join(",");
  const lines = rows.map((row) => columns.map((name) => cell(row[name])).join(","));
  return `${header}\n${lines.join("\n")}\n`;
}
