/**
 * Figures of the gradient-exchange studies (PowerSGD rank sweep and variants, 16-bit gradient
 * scaling) and the paper's compression rates, as pure functions of the rows their runs write (metrics.csv
 * and summary.csv as lib/io's `readRun` reads them back): the notebooks and `deno task figures`
 * draw the same figures from the same code (Table 1's rows are lib/powersgd's `table1Rows`). The
 * row helpers every builder shares live in rows.ts.
 *
 * @module
 */
import { paperCompressionRate, paperTable1 } from "../powersgd/mod.ts";
import type { Figure } from "./show.ts";
import { groupBy, PALETTE, requireColumns, type Row, smooth } from "./rows.ts";

/** Options of {@link lossCurvesFigure}. */
export interface LossCurvesOptions {
  /** The column naming each run. @default "variant" */
  by?: string;
  /** The figure's title. @default "Training loss (10-step moving average)" */
  title?: string;
  /** A run drawn thick and black, the others' reference (e.g. "mean"). */
  reference?: string;
  /** Shade the first fraction of steps (the rank sweep's gap window), e.g. 0.1. */
  shadeFraction?: number;
}

/**
 * One smoothed loss curve per run of a study's metrics (rank sweep, variants, fp16 modes).
 *
 * @param metrics metrics.csv's rows: `step`, `loss` and the `by` column.
 * @param options See {@link LossCurvesOptions}.
 * @returns A plotly figure.
 * @example
 * ```ts
 * import { lossCurvesFigure } from "./training_figures.ts";
 * const rows = [0, 1, 2].flatMap((step) => ["mean", "r4"].map((variant) => ({ step, variant, loss: 3 - step })));
 * console.log(lossCurvesFigure(rows, { reference: "mean" }).data.length); // 2
 * ```
 */
export function lossCurvesFigure(metrics: readonly Row[], options: LossCurvesOptions = {}): Figure {
  const by = options.by ?? "variant";
  requireColumns(metrics, ["step", "loss", by], "a study's metrics rows");
  const steps = 1 + Math.max(...metrics.map((r) => Number(r.step)));
  const shade = options.shadeFraction;
  return {
    data: [...groupBy(metrics, by)].map(([name, rows]) => ({
      x: rows.map((r) => Number(r.step)),
      y: smooth(rows.map((r) => Number(r.loss))),
      mode: "lines",
      name,
      line: name === options.reference ? { color: "black", width: 3 } : {},
    })),
    layout: {
      title: { text: options.title ?? "Training loss (10-step moving average)" },
      xaxis: { title: { text: "step" } },
      yaxis: { title: { text: "loss (nats)" } },
      height: 420,
      shapes: shade === undefined ? [] : [{
        type: "rect",
        xref: "x",
        yref: "paper",
        x0: 0,
        x1: shade * steps,
        y0: 0,
        y1: 1,
        fillcolor: "grey",
        opacity: 0.12,
        line: { width: 0 },
      }],
      annotations: shade === undefined ? [] : [{
        x: shade * steps / 2,
        y: 1,
        yref: "paper",
        text: `first ${100 * shade}%`,
        showarrow: false,
      }],
    },
  };
}

/**
 * Bytes each worker sends per step, per reducer that ran, labelled with its share of the exact
 * all-reduce's (the rank sweep's and the variants' summaries).
 *
 * @param summary summary.csv's rows: `variant`, `bytes_sent_per_step`, `bytes_vs_mean`, and
 *   `status` where some did not run ("ok" for those that did).
 * @param title The figure's title.
 * @returns A bar chart.
 * @example
 * ```ts
 * import { bytesPerStepFigure } from "./training_figures.ts";
 * const fig = bytesPerStepFigure([
 *   { variant: "mean", bytes_sent_per_step: 4096, bytes_vs_mean: 1, status: "ok" },
 *   { variant: "r4", bytes_sent_per_step: 512, bytes_vs_mean: 0.125, status: "ok" },
 * ]);
 * console.log(fig.data[0].text); // ["100.0%", "12.5%"]
 * ```
 */
export function bytesPerStepFigure(
  summary: readonly Row[],
  title = "Bytes each worker sends per step, % of the exact all-reduce's",
): Figure {
  requireColumns(summary, ["variant", "bytes_sent_per_step", "bytes_vs_mean"], "a summary");
  const ran = summary.filter((r) => r.status === undefined || r.status === "ok");
  return {
    data: [{
      type: "bar",
      x: ran.map((r) => String(r.variant)),
      y: ran.map((r) => Number(r.bytes_sent_per_step) / 1024),
      text: ran.map((r) => `${(100 * Number(r.bytes_vs_mean)).toFixed(1)}%`),
      textposition: "outside",
      name: "bytes sent",
    }],
    layout: {
      title: { text: title },
      xaxis: { title: { text: "reducer" } },
      yaxis: { title: { text: "KiB per step" } },
      height: 380,
    },
  };
}

/**
 * The spread of the trainer's wall time per step, one box per run.
 *
 * @param metrics metrics.csv's rows: `step_ms` and the `by` column.
 * @param by The column naming each run. @default "variant"
 * @returns A box plot.
 * @example
 * ```ts
 * import { stepTimeFigure } from "./training_figures.ts";
 * const fig = stepTimeFigure([{ variant: "mean", step_ms: 90 }, { variant: "r4", step_ms: 150 }]);
 * console.log(fig.data.length); // 2
 * ```
 */
export function stepTimeFigure(metrics: readonly Row[], by = "variant"): Figure {
  requireColumns(metrics, ["step_ms", by], "a study's metrics rows");
  return {
    data: [...groupBy(metrics, by)].map(([name, rows]) => ({
      type: "box",
      name,
      y: rows.map((r) => Number(r.step_ms)),
      boxpoints: false,
    })),
    layout: {
      title: { text: "Wall time per step (ms; the trainer's step_ms, all steps)" },
      showlegend: false,
      xaxis: { title: { text: "reducer" } },
      yaxis: { title: { text: "ms per step" }, rangemode: "tozero" },
      height: 380,
    },
  };
}

/** The blocks of grad_scaling_fp16's metrics, from their `grad_underflow_<block>` columns. */
function scaledBlocks(metrics: readonly Row[]): string[] {
  const keys = new Set(metrics.flatMap((r) => Object.keys(r)));
  return [...keys].filter((k) => k.startsWith("grad_underflow_"))
    .map((k) => k.slice("grad_underflow_".length));
}

/**
 * The 16-bit gradient-scaling study's figures: per-block underflow and log₂ scale (dotted: one
 * global scale, solid: per-block scales) and the loss of every mode.
 *
 * @param metrics grad_scaling_fp16's metrics rows: `step`, `mode`, `loss`, and for the 16-bit
 *   modes `grad_underflow_<block>` and `grad_scale_log2_<block>`.
 * @returns Three figures.
 * @example
 * ```ts
 * import { gradScalingFigures } from "./training_figures.ts";
 * const rows = [0, 1].flatMap((step) => ["fp32", "global", "per-block"].map((mode) => ({
 *   step, mode, loss: 2, grad_underflow_embed: mode === "fp32" ? null : 0.01,
 *   grad_scale_log2_embed: mode === "fp32" ? null : 13 + step,
 * })));
 * const { underflow, scales, loss } = gradScalingFigures(rows);
 * console.log(underflow.data.length, scales.data.length, loss.data.length); // 2 2 3
 * ```
 */
export function gradScalingFigures(
  metrics: readonly Row[],
): { underflow: Figure; scales: Figure; loss: Figure } {
  requireColumns(metrics, ["step", "mode", "loss"], "grad_scaling_fp16's metrics rows");
  const blocks = scaledBlocks(metrics);
  if (blocks.length === 0) {
    throw new TypeError("expected grad_scaling_fp16's metrics with grad_underflow_<block> columns");
  }
  const byMode = groupBy(metrics, "mode");
  const perBlock = (prefix: string, scale: number) =>
    ["global", "per-block"].filter((m) => byMode.has(m)).flatMap((mode) =>
      blocks.map((block, i) => ({
        x: byMode.get(mode)!.map((r) => Number(r.step)),
        y: byMode.get(mode)!.map((r) => scale * Number(r[`${prefix}${block}`])),
        mode: "lines",
        name: `${mode} · ${block}`,
        legendgroup: block,
        line: { color: PALETTE[i % PALETTE.length], dash: mode === "global" ? "dot" : "solid" },
      }))
    );
  const axes = (y: string) => ({
    xaxis: { title: { text: "step" } },
    yaxis: { title: { text: y } },
  });
  return {
    underflow: {
      data: perBlock("grad_underflow_", 100),
      layout: {
        title: {
          text: "Gradient entries flushed to zero per block (dotted: global, solid: per-block)",
        },
        ...axes("underflow (% of non-zero entries)"),
        height: 450,
      },
    },
    scales: {
      data: perBlock("grad_scale_log2_", 1),
      layout: {
        title: { text: "log₂ of each block's gradient scale (dotted: the one global scale)" },
        ...axes("log₂ scale"),
        height: 400,
      },
    },
    loss: lossCurvesFigure(metrics, { by: "mode", reference: "fp32" }),
  };
}

/**
 * The compression rate 1 − 5r/(8·d_model) against the rank for each of the paper's model sizes,
 * with Table 1's minimum ranks marked.
 *
 * @returns A plotly figure.
 * @example
 * ```ts
 * import { compressionRateFigure } from "./training_figures.ts";
 * console.log(compressionRateFigure().data.length); // 4: three models and the table's points
 * ```
 */
export function compressionRateFigure(): Figure {
  const ranks = Array.from({ length: 64 }, (_, i) => 32 * (i + 1));
  const table = paperTable1();
  return {
    data: [
      ...table.map((row) => ({
        x: ranks,
        y: ranks.map((r) => 100 * paperCompressionRate(r, row.dModel)),
        mode: "lines",
        name: `${row.model} (d ${row.dModel})`,
      })),
      {
        x: table.map((r) => r.rank),
        y: table.map((r) => r.paperPercent),
        mode: "markers+text",
        text: table.map((r) => `${r.model}: ${r.paperPercent}%`),
        textposition: "top right",
        name: "Table 1",
        marker: { size: 10 },
      },
    ],
    layout: {
      title: { text: "Compression rate 1 − 5r/(8·d_model) and the paper's minimum ranks" },
      xaxis: { title: { text: "rank r" } },
      yaxis: { title: { text: "communication saved (%)" }, range: [40, 100] },
      height: 420,
    },
  };
}
