/**
 * CSV files of a run folder (summaries, comparisons): written atomically by lib/io's formatter,
 * whose output reads back to equal values, and read into arquero tables for analysis.
 *
 * @module
 */
import * as aq from "arquero";
import { formatCsv, parseCsv, writeFileAtomic } from "../io/mod.ts";
import type { MetricsRow } from "./run_log.ts";

/**
 * Writes rows to a CSV file atomically.
 *
 * @param path Target file; missing parent folders are created.
 * @param rows The rows; columns are the union of their keys in first-seen order.
 * @example
 * ```ts
 * import { writeCsv } from "./csv.ts";
 * const dir = await Deno.makeTempDir();
 * await writeCsv(`${dir}/summary.csv`, [{ run: "a", elb_bits_per_dim: 4.2 }]);
 * ```
 */
export async function writeCsv(path: string, rows: MetricsRow[]): Promise<void> {
  await writeFileAtomic(path, formatCsv(rows));
}

/**
 * Reads a CSV file into an arquero table, parsed by lib/io's `parseCsv` (the one CSV reader of
 * the toolkit: numbers and booleans typed, empty cells null, quoted fields kept as text). For
 * plain rows without arquero, call `parseCsv` or `readRun`.
 *
 * @param path The file.
 * @returns The table.
 * @example
 * ```ts
 * import { readCsv, writeCsv } from "./csv.ts";
 * const dir = await Deno.makeTempDir();
 * await writeCsv(`${dir}/t.csv`, [{ step: 1, loss: 0.5 }]);
 * console.log((await readCsv(`${dir}/t.csv`)).numRows()); // 1
 * ```
 */
export async function readCsv(path: string): Promise<aq.ColumnTable> {
  return aq.from(parseCsv(await Deno.readTextFile(path)));
}
