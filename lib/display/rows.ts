/**
 * Helpers over the rows a run writes (metrics.csv and summary.csv as lib/io's `readRun` reads
 * them back), shared by every figure builder. No TensorFlow here: the rerank and dVAE builders
 * import only this, so drawing their figures loads no tensor engine.
 *
 * @module
 */

/** A row as written or read back from CSV. */
export type Row = Readonly<Record<string, unknown>>;

/**
 * Where a figure's rows came from, in words, for a caption: the run folder, and a warning when it
 * is a `--quick` run (config.json's `quick`), whose numbers check the code path, not the result.
 *
 * @param run The run's folder and configuration (lib/io's `RunRecord` has both).
 * @returns One sentence.
 * @example
 * ```ts
 * import { runSource } from "./rows.ts";
 * console.log(runSource({ dir: "data/runs/x/20261202T000000Z_quick", config: { quick: true } }));
 * ```
 */
export function runSource(run: { dir: string; config: Readonly<Record<string, unknown>> }): string {
  return `From the run ${run.dir}` +
    (run.config.quick === true
      ? " — a --quick run: it checks the code path, not the result; run the full command."
      : ".");
}

/** Trace colours, in order: plotly's defaults, so that related traces across figures match. */
export const PALETTE: readonly string[] = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
];

/**
 * Checks that rows have the columns a figure reads, so a run of another experiment or an older
 * version fails with the columns it has instead of drawing empty traces.
 *
 * @param rows The rows.
 * @param columns Columns the first row must have.
 * @param what What the rows should be, for the message (e.g. "powersgd_rank_sweep's metrics").
 * @throws TypeError when there are no rows or a column is missing.
 * @example
 * ```ts
 * import { requireColumns } from "./rows.ts";
 * requireColumns([{ step: 0, loss: 1 }], ["step", "loss"], "metrics"); // passes
 * ```
 */
export function requireColumns(
  rows: readonly Row[],
  columns: readonly string[],
  what: string,
): void {
  if (rows.length === 0) throw new TypeError(`expected ${what}, got no rows`);
  const missing = columns.filter((c) => !(c in rows[0]));
  if (missing.length > 0) {
    throw new TypeError(
      `expected ${what} with ${missing.join(", ")}; got columns ${Object.keys(rows[0]).join(", ")}`,
    );
  }
}

/**
 * Trailing moving average, to read noisy training losses.
 *
 * @param ys The series.
 * @param window Points averaged (fewer at the start). @default 10
 * @returns The smoothed series, as long as `ys`.
 * @example
 * ```ts
 * import { smooth } from "./rows.ts";
 * console.log(smooth([4, 2, 6, 0], 2)); // [4, 3, 4, 3]
 * ```
 */
export function smooth(ys: readonly number[], window = 10): number[] {
  let sum = 0;
  return ys.map((y, i) => {
    sum += y - (i >= window ? ys[i - window] : 0);
    return sum / Math.min(i + 1, window);
  });
}

/**
 * Rows grouped by a column's value (as text), groups in first-seen order.
 *
 * @param rows The rows.
 * @param key The column.
 * @returns Value → its rows, in their order.
 * @example
 * ```ts
 * import { groupBy } from "./rows.ts";
 * const groups = groupBy([{ v: "a", x: 1 }, { v: "b", x: 2 }, { v: "a", x: 3 }], "v");
 * console.log([...groups.keys()], groups.get("a")?.length); // ["a", "b"] 2
 * ```
 */
export function groupBy<T extends Row>(rows: readonly T[], key: string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = String(r[key]);
    const group = out.get(k);
    if (group) group.push(r);
    else out.set(k, [r]);
  }
  return out;
}
