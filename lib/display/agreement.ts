/**
 * Judge agreement as the reports show it: a rate with its 95% interval over captions (the caption
 * is the unit: its draws are correlated, so they do not count as independent trials) and the
 * number of captions, written one way everywhere ("30% [18, 45], 16 captions"); the judge table
 * of experiments/prior_shapes.ts's summary rows; and the one conclusion the main job's report
 * draws from them, which it states only when the intervals support it.
 *
 * Pure functions of summary rows (as written, or as lib/io's `readRun` reads them back), so an
 * experiment, a report and a notebook format the same figure the same way.
 *
 * @module
 */
import type { Row } from "./rows.ts";

/** A rate (a fraction in [0, 1]) with its 95% interval, as lib/pipeline's `interval95` gives it. */
export interface AgreementInterval {
  /** The rate. */
  mean: number;
  /** Lower end of the 95% interval. */
  low: number;
  /** Upper end of the 95% interval. */
  high: number;
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * A fraction as a whole percentage.
 *
 * @param v The fraction.
 * @returns e.g. "30%", or "—" when `v` is not a finite number.
 * @example
 * ```ts
 * import { formatPercent } from "./agreement.ts";
 * console.log(formatPercent(0.305), formatPercent(NaN)); // 31% —
 * ```
 */
export function formatPercent(v: unknown): string {
  return finite(v) ? `${(100 * v).toFixed(0)}%` : "—";
}

/**
 * A 95% interval of fractions in whole percent.
 *
 * @param low Its lower end.
 * @param high Its upper end.
 * @returns e.g. "[18, 45]", or "" when either end is unknown.
 * @example
 * ```ts
 * import { formatInterval } from "./agreement.ts";
 * console.log(formatInterval(0.18, 0.45)); // [18, 45]
 * ```
 */
export function formatInterval(low: unknown, high: unknown): string {
  return finite(low) && finite(high)
    ? `[${(100 * low).toFixed(0)}, ${(100 * high).toFixed(0)}]`
    : "";
}

/**
 * A rate with its interval and, when given, how many captions (or other units) it is over: the
 * one format for judge agreement in reports, tables and terminal lines.
 *
 * @param a The rate and its interval (an unknown interval is left out, an unknown rate is "—").
 * @param count The number of captions the interval is over; left out when undefined.
 * @param unit What `count` counts. @default "captions"
 * @returns e.g. "30% [18, 45], 16 captions".
 * @example
 * ```ts
 * import { formatAgreement } from "./agreement.ts";
 * console.log(formatAgreement({ mean: 0.3, low: 0.18, high: 0.45 }, 16)); // 30% [18, 45], 16 captions
 * console.log(formatAgreement({ mean: 0.3, low: NaN, high: NaN })); // 30%
 * ```
 */
export function formatAgreement(
  a: Readonly<AgreementInterval>,
  count?: number,
  unit = "captions",
): string {
  if (!finite(a.mean)) return "—";
  const text = `${formatPercent(a.mean)} ${formatInterval(a.low, a.high)}`.trim();
  return count === undefined
    ? text
    : `${text}, ${count} ${count === 1 ? unit.replace(/s$/, "") : unit}`;
}

/** A measured rate with what it is, where, the count it rests on and any goal for it. */
export interface MeasuredFigure extends AgreementInterval {
  /** What was measured, e.g. "per-draw agreement". */
  figure: string;
  /** The split (or set) it was measured on. */
  split: string;
  /** Captions (or images) the interval rests on. */
  count: number;
  /** The goal for it (a rate), where there is one. */
  goal?: number;
}

/**
 * Measured figures as table rows (lib/pipeline's reference record, in notebooks and reports).
 *
 * @param figures The figures.
 * @returns One row each: figure, split, measured (rate and interval), count, goal.
 * @example
 * ```ts
 * import { measuredFigureRows } from "./agreement.ts";
 * const [row] = measuredFigureRows([
 *   { figure: "per draw", split: "test", mean: 0.78, low: 0.74, high: 0.81, count: 64, goal: 0.6 },
 * ]);
 * console.log(row.measured, row.goal); // 78% [74, 81] ≥ 60%
 * ```
 */
export function measuredFigureRows(
  figures: readonly MeasuredFigure[],
): Record<string, string | number>[] {
  return figures.map((f) => ({
    figure: f.figure,
    split: f.split,
    measured: formatAgreement(f),
    count: f.count,
    goal: f.goal === undefined ? "" : `≥ ${formatPercent(f.goal)}`,
  }));
}

/**
 * A summary row's rate and interval: the columns `column`, `<column>_low` and `<column>_high`
 * (NaN where a column is missing, as in runs written before the intervals were).
 *
 * @param row A summary row.
 * @param column The rate's column, e.g. "judge_agreement".
 * @returns The rate and its interval.
 * @example
 * ```ts
 * import { agreementOf } from "./agreement.ts";
 * const row = { judge_agreement: 0.1, judge_agreement_low: 0.05, judge_agreement_high: 0.2 };
 * console.log(agreementOf(row, "judge_agreement").high); // 0.2
 * ```
 */
export function agreementOf(row: Row, column: string): AgreementInterval {
  const num = (v: unknown) => (finite(v) ? v : NaN);
  return {
    mean: num(row[column]),
    low: num(row[`${column}_low`]),
    high: num(row[`${column}_high`]),
  };
}

/**
 * The captions a summary row's rate is over: `<column>_captions` where the rate leaves some
 * captions out (size and relation are defined only for captions that name them), else `captions`.
 *
 * @param row A summary row.
 * @param column The rate's column.
 * @returns The count, or undefined when the row records none.
 */
export function captionsOf(row: Row, column: string): number | undefined {
  const own = row[`${column}_captions`];
  if (finite(own)) return own;
  return finite(row.captions) ? row.captions : undefined;
}

/**
 * Whether one rate is above another by the test the reports name: their 95% intervals do not
 * overlap (conservative: two rates can differ while their intervals overlap).
 *
 * @param above The rate that may be higher.
 * @param below The rate that may be lower.
 * @returns true only when both intervals are known and `above.low > below.high`.
 * @example
 * ```ts
 * import { clearlyAbove } from "./agreement.ts";
 * const draw = { mean: 0.1, low: 0.05, high: 0.2 };
 * console.log(clearlyAbove({ mean: 0.5, low: 0.3, high: 0.7 }, draw)); // true
 * console.log(clearlyAbove({ mean: 0.25, low: 0.1, high: 0.49 }, draw)); // false
 * ```
 */
export function clearlyAbove(above: AgreementInterval, below: AgreementInterval): boolean {
  return finite(above.low) && finite(below.high) && above.low > below.high;
}

/** The judge table's rate columns and their titles, in order. */
export const JUDGE_TABLE_COLUMNS: readonly (readonly [string, string])[] = [
  ["judge_agreement", "per draw"],
  ["reranked_agreement", "reranked best"],
  ["colour_agreement", "colour"],
  ["shape_agreement", "shape"],
  ["size_agreement", "size"],
  ["count_agreement", "count"],
  ["relation_agreement", "relation"],
  ["mismatched_caption_agreement", "mismatched caption"],
  ["real_image_agreement", "real image"],
  ["dvae_reconstruction_agreement", "dVAE recon."],
];

/**
 * The judge table: one row per summary row (split and temperature), each rate as "30% [18, 45]"
 * with the row's caption count in its own column, and a rate over fewer captions (size,
 * relation) naming its own count.
 *
 * @param rows prior_shapes' summary rows (`split`, `temperature`, `captions`,
 *   `draws_per_caption`, the rates and their `_low` / `_high`, `image_bits_per_token`).
 * @returns Rows of formatted cells.
 * @example
 * ```ts
 * import { judgeTable } from "./agreement.ts";
 * const [row] = judgeTable([{
 *   split: "test", temperature: 1, captions: 16, draws_per_caption: 8,
 *   judge_agreement: 0.11, judge_agreement_low: 0.06, judge_agreement_high: 0.19,
 * }]);
 * console.log(row["per draw"], row.captions); // 11% [6, 19] 16
 * ```
 */
export function judgeTable(rows: readonly Row[]): Record<string, string | number>[] {
  return rows.map((r) => {
    const out: Record<string, string | number> = {
      split: String(r.split),
      t: finite(r.temperature) ? r.temperature : "—",
      captions: finite(r.captions) ? r.captions : "—",
      "draws each": finite(r.draws_per_caption) ? r.draws_per_caption : "—",
    };
    for (const [column, title] of JUDGE_TABLE_COLUMNS) {
      const own = captionsOf(r, column);
      out[`${title} %`] = formatAgreement(
        agreementOf(r, column),
        own === r.captions ? undefined : own,
      );
    }
    out["bits/token"] = finite(r.image_bits_per_token) ? r.image_bits_per_token : "—";
    return out;
  });
}

/**
 * What a run's judge table says about reranking, stated only as far as the intervals support it:
 * per row, the reranked pick is "above" or "below" a single draw when their 95% intervals do not
 * overlap ({@link clearlyAbove}); otherwise the run does not tell. Rows without a reranked rate
 * are left out.
 *
 * @param rows prior_shapes' summary rows.
 * @returns One sentence, or "" when no row has a reranked rate.
 * @example
 * ```ts
 * import { rerankingStatement } from "./agreement.ts";
 * const row = (split: string, low: number, high: number) => ({
 *   split, captions: 16, judge_agreement: 0.1, judge_agreement_low: 0.05,
 *   judge_agreement_high: 0.2, reranked_agreement: (low + high) / 2, reranked_agreement_low: low,
 *   reranked_agreement_high: high,
 * });
 * console.log(rerankingStatement([row("test", 0.1, 0.49)]).includes("raises")); // false
 * ```
 */
export function rerankingStatement(rows: readonly Row[]): string {
  const judged = rows.filter((r) => finite(r.reranked_agreement));
  if (judged.length === 0) return "";
  const label = (r: Row) =>
    `${r.split}${rows.some((o) => o !== r && o.split === r.split) ? `, t = ${r.temperature}` : ""}`;
  const verdict = (r: Row) => {
    const draw = agreementOf(r, "judge_agreement"), best = agreementOf(r, "reranked_agreement");
    return clearlyAbove(best, draw) ? "above" : clearlyAbove(draw, best) ? "below" : "open";
  };
  // "train, test and zero-shot"; labels with a temperature ("test, t = 1") are split by "; ".
  const list = (labels: string[]) =>
    labels.some((l) => l.includes(","))
      ? labels.join("; ")
      : labels.length < 2
      ? labels.join("")
      : `${labels.slice(0, -1).join(", ")} and ${labels.at(-1)}`;
  const of = (v: string) => list(judged.filter((r) => verdict(r) === v).map(label));
  const [above, below, open] = [of("above"), of("below"), of("open")];
  const all = list(judged.map(label));
  const test = "non-overlapping 95% intervals over captions";
  const counts = [...new Set(judged.map((r) => captionsOf(r, "judge_agreement")))];
  const over = counts.length === 1 && counts[0] !== undefined
    ? ` (${counts[0]} captions${judged.length > 1 ? " each" : ""})`
    : "";
  if (above === all) {
    return `Reranking raises agreement on every split judged (${all}): the ` +
      `reranked pick's interval lies above a single draw's on each (${test}).`;
  }
  const parts: string[] = [];
  if (above) parts.push(`Reranking raises agreement on ${above} (${test}).`);
  if (below) {
    parts.push(`The reranked pick agrees less often than a single draw on ${below} (${test}).`);
  }
  if (open) {
    parts.push(
      `On ${open} the intervals of a single draw and of the reranked pick overlap${over}: ` +
        "this run does not show whether reranking changes agreement there.",
    );
  }
  return parts.join(" ");
}
