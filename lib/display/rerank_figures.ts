/**
 * The reranking figures and tables, built from the summary rows that experiments/rerank_n_sweep.ts
 * and experiments/zero_shot.ts write (as written, or as lib/io's `readRun` reads them back, numbers
 * typed): Figure 9(c) at our scale (judge agreement against N per split), its table at one N, and
 * the zero-shot table per attribute (rows for a notebook table, and markdown) with its bar chart,
 * and the reranker's near-miss table (experiments/rerank_train.ts's near_miss.csv).
 * Pure functions: no TensorFlow, no files, so the experiments, notebook 07 and `deno task figures`
 * draw the same thing from the same CSV.
 *
 * @module
 */
import { agreementOf, formatAgreement, formatPercent as percent } from "./agreement.ts";
import type { Figure } from "./show.ts";
import { requireColumns, type Row } from "./rows.ts";
import { markdownTable } from "./table.ts";

/** The picks the N sweep compares, in legend order. */
const PICKS = ["reranked", "random", "oracle"] as const;
const PICK_NAMES = {
  reranked: "reranker's best of N",
  random: "random of N",
  oracle: "oracle (any of N)",
} as const;
const PICK_COLOURS = { reranked: "#d62728", random: "#1f77b4", oracle: "#7f7f7f" } as const;

/** The project's goal for the reranked pick on test captions at N = 32, %, drawn as a guide. */
const GOAL_PERCENT = 60;

/** The zero-shot table's agreement columns, in order. */
const ZERO_SHOT_COLUMNS = [
  "test_first",
  "test_reranked",
  "zero_shot_first",
  "zero_shot_reranked",
] as const;
const ZERO_SHOT_COLOURS = {
  test_first: "#9ecae1",
  test_reranked: "#3182bd",
  zero_shot_first: "#fdae6b",
  zero_shot_reranked: "#e6550d",
} as const;

/** A ratio to two decimals, "—" when it is not a finite number. */
function ratio(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(2) : "—";
}

/** The split names in the order the rows first name them. */
function splitsOf(rows: readonly Row[]): string[] {
  return [...new Set(rows.map((r) => String(r.split)))];
}

/**
 * Figure 9(c) at our scale: per split, judge agreement (%) against N on a log₂ axis for the
 * reranker's best of N, a random one of the N and the oracle (any of the N agrees), with their
 * 95% intervals as error bars, and the project's 60% goal as a dashed line.
 *
 * @param rows rerank_n_sweep's summary rows: `split`, `n` and `<pick>_mean|low|high` for
 *   reranked, random and oracle (fractions).
 * @param title The figure's title. @default "Judge agreement vs N"
 * @returns A plotly figure with three traces per split, one panel per split.
 * @throws TypeError when the rows lack those columns.
 * @example
 * ```ts
 * import { nSweepFigure } from "./rerank_figures.ts";
 * const row = (n: number, reranked: number) => ({
 *   split: "test", n, captions: 40,
 *   reranked_mean: reranked, reranked_low: reranked - 0.1, reranked_high: reranked + 0.1,
 *   random_mean: 0.11, random_low: 0.05, random_high: 0.2,
 *   oracle_mean: 0.65, oracle_low: 0.5, oracle_high: 0.78,
 * });
 * const fig = nSweepFigure([row(1, 0.13), row(32, 0.3)]);
 * console.log(fig.data.length, fig.data[0].y); // 3 [13, 30]
 * ```
 */
export function nSweepFigure(rows: readonly Row[], title = "Judge agreement vs N"): Figure {
  requireColumns(
    rows,
    ["split", "n", ...PICKS.flatMap((p) => [`${p}_mean`, `${p}_low`, `${p}_high`])],
    "rerank_n_sweep's summary rows",
  );
  const splits = splitsOf(rows);
  const ns = [...new Set(rows.map((r) => Number(r.n)))].sort((a, b) => a - b);
  const axisKey = (s: number) => (s === 0 ? "" : String(s + 1));
  const data = splits.flatMap((split, s) => {
    const part = rows.filter((r) => String(r.split) === split)
      .sort((a, b) => Number(a.n) - Number(b.n));
    return PICKS.map((pick) => {
      const mean = part.map((r) => 100 * Number(r[`${pick}_mean`]));
      return {
        x: part.map((r) => Number(r.n)),
        y: mean,
        error_y: {
          type: "data",
          symmetric: false,
          array: part.map((r, i) => 100 * Number(r[`${pick}_high`]) - mean[i]),
          arrayminus: part.map((r, i) => mean[i] - 100 * Number(r[`${pick}_low`])),
        },
        mode: "lines+markers",
        name: PICK_NAMES[pick],
        legendgroup: pick,
        showlegend: s === 0,
        line: { color: PICK_COLOURS[pick], dash: pick === "oracle" ? "dot" : "solid" },
        xaxis: `x${axisKey(s)}`,
        yaxis: `y${axisKey(s)}`,
      };
    });
  });
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows: 1, columns: splits.length, pattern: "independent" },
    width: 360 * splits.length + 80,
    height: 440,
    legend: { orientation: "h", y: -0.2 },
    annotations: splits.map((split, s) => ({
      text: `<b>${split}</b>`,
      xref: `x${axisKey(s)} domain`,
      yref: "paper",
      x: 0.5,
      y: 1.02,
      showarrow: false,
      yanchor: "bottom",
    })),
    shapes: splits.map((_, s) => ({
      type: "line",
      xref: `x${axisKey(s)} domain`,
      yref: `y${axisKey(s)}`,
      x0: 0,
      x1: 1,
      y0: GOAL_PERCENT,
      y1: GOAL_PERCENT,
      line: { color: "green", dash: "dash", width: 1 },
    })),
  };
  splits.forEach((_, s) => {
    layout[`xaxis${axisKey(s)}`] = {
      type: "log",
      tickvals: ns,
      ticktext: ns.map(String),
      title: { text: "N (candidates)" },
    };
    layout[`yaxis${axisKey(s)}`] = {
      range: [0, 102],
      title: { text: s === 0 ? "judge agrees (%)" : "" },
    };
  });
  return { data, layout };
}

/**
 * The N sweep at one N as table rows, one per split: the reranked pick with its 95% interval,
 * random, oracle, how often the reranker finds an agreeing draw when there is one (reranked ÷
 * oracle) and, given the run's metrics, the mean score AUC over the split's captions.
 *
 * @param rows rerank_n_sweep's summary rows.
 * @param options `n`: the N to show (default 32 when the rows have it, else their largest);
 *   `metrics`: the run's metrics rows (their `split` and `score_auc` columns).
 * @returns The N shown and one row of formatted cells per split.
 * @throws TypeError when the rows lack rerank_n_sweep's columns; RangeError when no row has `n`.
 * @example
 * ```ts
 * import { nSweepTable } from "./rerank_figures.ts";
 * const { n, rows } = nSweepTable([{
 *   split: "test", n: 32, captions: 40,
 *   reranked_mean: 0.3, reranked_low: 0.18, reranked_high: 0.45,
 *   random_mean: 0.11, random_low: 0.05, random_high: 0.2,
 *   oracle_mean: 0.65, oracle_low: 0.5, oracle_high: 0.78,
 * }]);
 * console.log(n, rows[0].reranked, rows[0]["reranked ÷ oracle"]); // 32 "30% [18, 45]" "0.46"
 * ```
 */
export function nSweepTable(
  rows: readonly Row[],
  options: { n?: number; metrics?: readonly Row[] } = {},
): { n: number; rows: Record<string, string | number>[] } {
  requireColumns(
    rows,
    ["split", "n", "captions", "reranked_mean", "oracle_mean"],
    "rerank_n_sweep's summary rows",
  );
  const ns = rows.map((r) => Number(r.n));
  const n = options.n ?? (ns.includes(32) ? 32 : Math.max(...ns));
  const at = rows.filter((r) => Number(r.n) === n);
  if (at.length === 0) throw new RangeError(`no summary row has n = ${n}; the rows have ${ns}`);
  const meanAuc = (split: string) => {
    const values = (options.metrics ?? [])
      .filter((r) => String(r.split) === split)
      .map((r) => r.score_auc)
      .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
  };
  return {
    n,
    rows: at.map((r) => {
      const row: Record<string, string | number> = {
        split: String(r.split),
        N: n,
        captions: Number(r.captions),
        reranked: formatAgreement({
          mean: Number(r.reranked_mean),
          low: Number(r.reranked_low),
          high: Number(r.reranked_high),
        }),
        random: percent(r.random_mean),
        oracle: percent(r.oracle_mean),
        "reranked ÷ oracle": ratio(Number(r.reranked_mean) / Number(r.oracle_mean)),
      };
      if (options.metrics) row["score AUC"] = ratio(meanAuc(String(r.split)));
      return row;
    }),
  };
}

/**
 * The zero-shot table: one row per attribute (scene = every attribute right, then colour, shape,
 * size, count, relation) with test and zero-shot agreement for the first draw and the reranker's
 * best of `n` (the scene row with its 95% intervals), and the zero-shot ÷ test ratios; as rows of
 * formatted cells (for a notebook table) and as markdown.
 *
 * @param rows zero_shot's summary rows: `attribute`, `test_first`, `test_reranked`,
 *   `zero_shot_first`, `zero_shot_reranked`, `ratio_first`, `ratio_reranked`, and for the scene
 *   row `<column>_low` / `<column>_high`.
 * @param n Candidates the reranker chose from (the run's `n`).
 * @returns `rows` keyed by the column titles, and `markdown`: a header, a rule and one line per
 *   attribute.
 * @throws TypeError when the rows lack zero_shot's columns.
 * @example
 * ```ts
 * import { zeroShotTable } from "./rerank_figures.ts";
 * const { rows, markdown } = zeroShotTable([{
 *   attribute: "colour", test_first: 0.76, test_reranked: 0.91, zero_shot_first: 0.72,
 *   zero_shot_reranked: 0.93, ratio_first: 0.95, ratio_reranked: 1.02,
 * }], 32);
 * console.log(rows[0]["test, best of 32"]); // "91%"
 * console.log(markdown.split("\n")[2]); // "| colour | 76% | 91% | 72% | 93% | 0.95 | 1.02 |"
 * ```
 */
export function zeroShotTable(
  rows: readonly Row[],
  n: number,
): { rows: Record<string, string>[]; markdown: string } {
  requireColumns(
    rows,
    ["attribute", ...ZERO_SHOT_COLUMNS, "ratio_first", "ratio_reranked"],
    "zero_shot's summary rows",
  );
  const titles = [
    "attribute",
    "test, first draw",
    `test, best of ${n}`,
    "zero-shot, first draw",
    `zero-shot, best of ${n}`,
    "zero-shot ÷ test, first",
    `zero-shot ÷ test, best of ${n}`,
  ];
  const cell = (r: Row, c: string) => formatAgreement(agreementOf(r, c));
  const table = rows.map((r) => {
    const values = [
      String(r.attribute),
      ...ZERO_SHOT_COLUMNS.map((c) => cell(r, c)),
      ratio(r.ratio_first),
      ratio(r.ratio_reranked),
    ];
    return Object.fromEntries(titles.map((t, i) => [t, values[i]]));
  });
  return { rows: table, markdown: markdownTable(table, { columns: titles }) };
}

/**
 * The zero-shot table as grouped bars: per attribute, agreement (%) on test and zero-shot
 * captions, first draw and the reranker's best of `n` (an attribute with no cases, e.g. relation
 * without two-object captions, has no bar).
 *
 * @param rows zero_shot's summary rows.
 * @param n Candidates the reranker chose from.
 * @returns A plotly figure with one trace per column (test / zero-shot × first / best of n).
 * @throws TypeError when the rows lack zero_shot's columns.
 * @example
 * ```ts
 * import { zeroShotFigure } from "./rerank_figures.ts";
 * const fig = zeroShotFigure([{
 *   attribute: "scene", test_first: 0.13, test_reranked: 0.2, zero_shot_first: 0.03,
 *   zero_shot_reranked: 0.15, ratio_first: 0.2, ratio_reranked: 0.75,
 * }], 32);
 * console.log(fig.data.length); // 4
 * ```
 */
export function zeroShotFigure(rows: readonly Row[], n: number): Figure {
  requireColumns(rows, ["attribute", ...ZERO_SHOT_COLUMNS], "zero_shot's summary rows");
  const names = {
    test_first: "test, first draw",
    test_reranked: `test, best of ${n}`,
    zero_shot_first: "zero-shot, first draw",
    zero_shot_reranked: `zero-shot, best of ${n}`,
  };
  return {
    data: ZERO_SHOT_COLUMNS.map((c) => ({
      type: "bar",
      name: names[c],
      x: rows.map((r) => String(r.attribute)),
      y: rows.map((r) => {
        const v = r[c];
        return typeof v === "number" && Number.isFinite(v) ? 100 * v : null;
      }),
      marker: { color: ZERO_SHOT_COLOURS[c] },
    })),
    layout: {
      title: {
        text: `Judge agreement per attribute: test vs zero-shot, first draw vs best of ${n}`,
      },
      barmode: "group",
      yaxis: { title: { text: "judge agrees (%)" }, range: [0, 105] },
      height: 420,
      width: 760,
    },
  };
}

/**
 * The near-miss table (the near_miss.csv of experiments/rerank_train.ts, rerank_n_sweep.ts,
 * zero_shot.ts and prior_shapes.ts): one row per kind of near miss (colour, shape, size,
 * relation, swap), one column per split and kind of image (rows with `images_of` other than
 * "rendered" get a column "split, images_of"), each cell how often the reranker scored an image's
 * true caption above that near miss, with its 95% interval and the images it rests on. Chance is
 * 50%.
 *
 * @param rows near_miss.csv's rows: `split`, `kind`, `images`, `accuracy`, `ci_low`, `ci_high`,
 *   and optionally `images_of`.
 * @returns `rows` keyed by the column titles ("near miss", then the columns in the order the rows
 *   first name them), and `markdown`.
 * @throws TypeError when the rows lack those columns.
 * @example
 * ```ts
 * import { nearMissTable } from "./rerank_figures.ts";
 * const { markdown } = nearMissTable([
 *   { split: "test", kind: "shape", images: 2000, accuracy: 0.58, ci_low: 0.56, ci_high: 0.6 },
 * ]);
 * console.log(markdown.split("\n")[2]); // "| shape | 58% [56, 60], 2000 images |"
 * ```
 */
export function nearMissTable(
  rows: readonly Row[],
): { rows: Record<string, string>[]; markdown: string } {
  requireColumns(
    rows,
    ["split", "kind", "images", "accuracy", "ci_low", "ci_high"],
    "near_miss.csv rows",
  );
  const columnOf = (r: Row) => {
    const of = r.images_of === undefined ? "rendered" : String(r.images_of);
    return of === "rendered" ? String(r.split) : `${r.split}, ${of}`;
  };
  const columns = [...new Set(rows.map(columnOf))];
  const kinds = [...new Set(rows.map((r) => String(r.kind)))];
  const titles = ["near miss", ...columns];
  const table = kinds.map((kind) => {
    const row: Record<string, string> = { "near miss": kind };
    for (const split of columns) {
      const r = rows.find((x) => String(x.kind) === kind && columnOf(x) === split);
      row[split] = r === undefined ? "—" : formatAgreement(
        { mean: Number(r.accuracy), low: Number(r.ci_low), high: Number(r.ci_high) },
        Number(r.images),
        "images",
      );
    }
    return row;
  });
  return { rows: table, markdown: markdownTable(table, { columns: titles }) };
}
