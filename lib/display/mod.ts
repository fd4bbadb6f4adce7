/**
 * Showing things in a Deno Jupyter notebook (tables, plots, pictures, live progress), and writing
 * figures to files: the plots, tables and pictures of every experiment, built from rows, as
 * plotly figures, markdown and HTML tables, PNGs (through a headless Chromium) and one
 * self-contained report page. Importing it has no effect of its own: a notebook calls
 * {@link useNotebookProgress} once to show training progress as one live display.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./mod.ts";
 * console.log(markdownTable([{ split: "test", agreement: 0.5 }]));
 * ```
 *
 * @module
 */
export {
  display,
  type Figure,
  inJupyter,
  type MimeBundle,
  plotHtml,
  plotlySource,
  plotPage,
  show,
  showHtml,
  showPlot,
  showPng,
} from "./show.ts";
export {
  figure11,
  figure11Png,
  maskFigure,
  maskPanelLayout,
  maskPanelsPng,
  type PanelLayout,
} from "./mask_figure.ts";
export {
  nearMissTable,
  nSweepFigure,
  nSweepTable,
  zeroShotFigure,
  zeroShotTable,
} from "./rerank_figures.ts";
export {
  type AgreementInterval,
  agreementOf,
  captionsOf,
  clearlyAbove,
  formatAgreement,
  formatInterval,
  formatPercent,
  JUDGE_TABLE_COLUMNS,
  judgeTable,
  type MeasuredFigure,
  measuredFigureRows,
  rerankingStatement,
} from "./agreement.ts";
export {
  type ChromiumOptions,
  findChromium,
  htmlToPng,
  inspectPage,
  type PageInspection,
  type PngOptions,
  type PngSize,
  screenshot,
} from "./chromium.ts";
export { type FigurePicture, figuresToPngs } from "./figure_pngs.ts";
export { pngIsBlank, pngSize, type PngStats, pngStats } from "./png.ts";
export {
  escapeHtml,
  formatCell,
  htmlTable,
  markdownTable,
  type MarkdownTableOptions,
  showTable,
  type TableOptions,
  type TableRow,
  textTable,
  type TextTableOptions,
} from "./table.ts";
export { groupBy, PALETTE, requireColumns, type Row, runSource, smooth } from "./rows.ts";
export { mergeIntervals, resultsMarkdown, type ResultsSection, runFacts } from "./results.ts";
export {
  bytesPerStepFigure,
  compressionRateFigure,
  gradScalingFigures,
  lossCurvesFigure,
  type LossCurvesOptions,
  stepTimeFigure,
} from "./training_figures.ts";
export { betaTauCurveFigures, betaTauSummaryFigure, dvaeTrainingFigures } from "./dvae_figures.ts";
export {
  describeDvaeObjective,
  type DvaeObjectiveText,
  PAPER_DVAE_OBJECTIVE,
} from "./dvae_objective.ts";
export { Report, type ReportImageOptions, type ReportOptions } from "./report.ts";
export {
  type NotebookProgressOptions,
  notebookProgressSink,
  progressBundle,
  type ProgressKernel,
  useNotebookProgress,
} from "./progress.ts";
