/**
 * Every reproduced figure and table of the paper, regenerated into one folder from the
 * experiments' run folders: `deno task figures`.
 *
 * Question: what do our runs say, as the paper's figures and tables? Each artefact is drawn by a
 * builder of lib/display from the newest run's CSVs of its experiment (lib/io `requireRun`); when
 * an experiment has no run yet, its small budget (`--quick`) runs first, announced with the full
 * run's command, and the artefact says it comes from a quick run.
 *
 * Command: `deno task figures` or `deno run -A experiments/figures.ts [--out=data/figures]
 *   [--png=true]` (`--png=false` skips the PNGs of the pages).
 * Runtime: tens of seconds with every run present (most of it writing the self-contained pages
 *   and one Chromium launch for all PNGs). On a fresh clone each missing experiment's `--quick`
 *   run comes first, a minute or two each; the reranking pair needs a pipeline (the main job's
 *   `--quick` run, made first when there is none).
 * Also writes RESULTS.md: every measured figure of the experiments, read from the newest full run
 *   of each (never a `--quick` one), each section naming its run folder, commit, backend and
 *   machine, rates with their 95% intervals (experiments/_results.ts). The experiments' headers
 *   and the README point there instead of copying numbers.
 * Writes into `--out` the files of {@link FIGURE_FILES}: HTML always (plotly embedded, with a
 * caption naming the run folder), PNG through headless Chromium when `findChromium()` finds it
 * (lib/display's `figuresToPngs`: every page's title, source line and figures, one launch for all;
 * else one line saying the PNGs were skipped and why; Figure 11's PNG is drawn with sharp and
 * always written), CSV with the run's columns unchanged, markdown with a comment naming the run.
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import {
  betaTauCurveFigures,
  betaTauSummaryFigure,
  bytesPerStepFigure,
  compressionRateFigure,
  type Figure,
  type FigurePicture,
  figuresToPngs,
  findChromium,
  gradScalingFigures,
  lossCurvesFigure,
  markdownTable,
  nSweepFigure,
  Report,
  type Row,
  runSource,
  stepTimeFigure,
  zeroShotFigure,
  zeroShotTable,
} from "../lib/display/mod.ts";
import { readRun, requireRun, type RunRecord, writeFileAtomic } from "../lib/io/mod.ts";
import { table1Rows } from "../lib/powersgd/mod.ts";
import { parseFlags, writeCsv } from "../lib/log/mod.ts";
import { writeFigure11 } from "./figure11.ts";
import { RESULTS_FILE, writeResults } from "./_results.ts";

/** Every file written, the experiment whose newest run it is drawn from, and what it shows. */
export const FIGURE_FILES: readonly { file: string; from: string; shows: string }[] = [
  { file: "figure11_masks.png", from: "lib/masks", shows: "Figure 11, the four masks (sharp)" },
  { file: "figure11_masks.html", from: "lib/masks", shows: "Figure 11, hover for query/key" },
  { file: "table1_powersgd.csv", from: "lib/powersgd", shows: "Table 1 with recomputed rates" },
  { file: "table1_powersgd.md", from: "lib/powersgd", shows: "Table 1 as markdown" },
  { file: "table1_powersgd.html", from: "lib/powersgd", shows: "Table 1, rate against rank" },
  { file: "dvae_beta_tau.html", from: "dvae_beta_tau", shows: "β–τ ablation, held out + curves" },
  { file: "dvae_beta_tau.png", from: "dvae_beta_tau", shows: "the same, as a picture" },
  {
    file: "powersgd_rank_sweep.html",
    from: "powersgd_rank_sweep",
    shows: "loss by rank, bytes and ms per step",
  },
  { file: "powersgd_rank_sweep.png", from: "powersgd_rank_sweep", shows: "the same" },
  {
    file: "powersgd_variants.html",
    from: "powersgd_variants",
    shows: "Vogels vs DALL-E PowerSGD, 16-bit",
  },
  { file: "powersgd_variants.png", from: "powersgd_variants", shows: "the same" },
  {
    file: "grad_scaling_fp16.html",
    from: "grad_scaling_fp16",
    shows: "underflow, scales, loss per mode",
  },
  { file: "grad_scaling_fp16.png", from: "grad_scaling_fp16", shows: "the same" },
  { file: "rerank_n_sweep.html", from: "rerank_n_sweep", shows: "Figure 9c: agreement vs N" },
  { file: "rerank_n_sweep.png", from: "rerank_n_sweep", shows: "the same" },
  { file: "zero_shot.csv", from: "zero_shot", shows: "zero-shot table, run's columns" },
  { file: "zero_shot.md", from: "zero_shot", shows: "zero-shot table as markdown" },
  { file: "zero_shot.html", from: "zero_shot", shows: "zero-shot table and bars" },
  {
    file: RESULTS_FILE,
    from: "every experiment's newest full run",
    shows: "every measured figure, with its run, commit and intervals",
  },
];

/** Flags and their defaults. */
export const FIGURES_DEFAULTS = {
  /** Folder the files go to. */
  out: "data/figures",
  /** Screenshot the pages with headless Chromium (false: HTML only). */
  png: true,
};

/** A self-contained page (lib/display's Report): the title, the source line, a table, figures. */
function page(title: string, source: string, figures: Figure[], table?: readonly Row[]): string {
  const report = new Report(title, { subtitle: source });
  if (table !== undefined) report.table(table);
  for (const figure of figures) report.plot(figure);
  return report.toHtml();
}

/** summary.csv's rows, or an error naming the run that has none. */
function summaryRows(run: RunRecord): Row[] {
  if (!Array.isArray(run.summary)) {
    throw new TypeError(`${run.dir} has no summary.csv rows (got ${typeof run.summary})`);
  }
  return run.summary as Row[];
}

/** The figure pages of each experiment, built from its run. */
const PAGES: Record<string, { title: string; build: (run: RunRecord) => Figure[] }> = {
  dvae_beta_tau: {
    title: "β–τ ablation of the dVAE (paper §2.1, App. A.2)",
    build: (run) => [betaTauSummaryFigure(summaryRows(run)), ...betaTauCurveFigures(run.metrics)],
  },
  powersgd_rank_sweep: {
    title: "PowerSGD rank sweep (paper Table 1 at our scale)",
    build: (run) => [
      lossCurvesFigure(run.metrics, {
        reference: "mean",
        shadeFraction: Number(run.config.window ?? 0.1),
        title: "Training loss by PowerSGD rank, 2 workers (10-step moving average)",
      }),
      bytesPerStepFigure(summaryRows(run)),
      stepTimeFigure(run.metrics),
    ],
  },
  powersgd_variants: {
    title: "PowerSGD variants: Vogels et al. vs DALL-E, 32- vs 16-bit messages",
    build: (run) => [
      lossCurvesFigure(run.metrics, { reference: "mean", title: "Training loss by variant" }),
      bytesPerStepFigure(summaryRows(run)),
    ],
  },
  grad_scaling_fp16: {
    title: "16-bit gradients: one global scale vs per-resblock scales (paper App. D)",
    build: (run) => {
      const { underflow, scales, loss } = gradScalingFigures(run.metrics);
      return [underflow, scales, loss];
    },
  },
  rerank_n_sweep: {
    title: "Reranking: judge agreement against N (paper Figure 9c)",
    build: (run) => [nSweepFigure(summaryRows(run))],
  },
};

/**
 * Regenerates every file of {@link FIGURE_FILES} into `out`.
 *
 * @param options `out`: the folder; `png`: screenshot the pages when Chromium is there;
 *   `print`: where progress goes.
 * @returns The paths written.
 * @example
 * ```ts ignore
 * import { writeFigures } from "./figures.ts";
 * const written = await writeFigures({ out: await Deno.makeTempDir() });
 * ```
 */
export async function writeFigures(
  options: { out?: string; png?: boolean; print?: (line: string) => void } = {},
): Promise<string[]> {
  const out = options.out ?? FIGURES_DEFAULTS.out;
  const print = options.print ?? ((line: string) => console.log(line));
  await Deno.mkdir(out, { recursive: true });
  const written: string[] = [];
  const chromium = options.png === false ? null : findChromium();
  if (options.png === false) print("[figures] PNGs of the pages skipped: --png=false");
  else if (chromium === null) {
    print(
      "[figures] PNGs of the pages SKIPPED: no Chromium found (install Debian's `chromium`, or " +
        "set DALLE_LAB_CHROMIUM); the HTML pages are written",
    );
  }
  const write = async (name: string, content: string | Uint8Array) => {
    await writeFileAtomic(`${out}/${name}`, content);
    written.push(`${out}/${name}`);
  };

  const fig11 = await writeFigure11(out);
  written.push(fig11.png, fig11.html);

  const table1 = table1Rows();
  await writeCsv(`${out}/table1_powersgd.csv`, table1);
  written.push(`${out}/table1_powersgd.csv`);
  await write(
    "table1_powersgd.md",
    "<!-- Table 1 of the paper, from lib/powersgd (paperTable1, planCompression on a GPU's " +
      "shards of one layer); no run -->\n" + markdownTable(table1) + "\n",
  );
  await write(
    "table1_powersgd.html",
    page(
      "Table 1: minimum PowerSGD rank and compression rate",
      "From lib/powersgd (the paper's ranks; rates from the formula and from element counts); no run.",
      [compressionRateFigure()],
      table1,
    ),
  );

  const runs = new Map<string, RunRecord>();
  const runOf = async (experiment: string) => {
    if (!runs.has(experiment)) {
      const command = [`experiments/${experiment}.ts`];
      runs.set(experiment, await readRun(await requireRun(experiment, { print, command })));
    }
    return runs.get(experiment)!;
  };
  const pictures: (FigurePicture & { file: string })[] = [];
  for (const [experiment, spec] of Object.entries(PAGES)) {
    const run = await runOf(experiment);
    const figures = spec.build(run);
    await write(`${experiment}.html`, page(spec.title, runSource(run), figures));
    pictures.push({
      file: `${experiment}.png`,
      title: spec.title,
      caption: runSource(run),
      figures,
    });
  }
  if (chromium !== null) {
    // One Chromium launch draws every page's figures (a launch per page cost seconds each).
    const pngs = await figuresToPngs(pictures);
    for (const [i, { file }] of pictures.entries()) await write(file, pngs[i]);
  }

  const zeroShot = await runOf("zero_shot");
  const zeroRows = summaryRows(zeroShot);
  const n = Number(zeroShot.config.n);
  const table = zeroShotTable(zeroRows, n);
  await writeCsv(`${out}/zero_shot.csv`, zeroRows as Record<string, string | number | null>[]);
  written.push(`${out}/zero_shot.csv`);
  await write("zero_shot.md", `<!-- ${runSource(zeroShot)} -->\n${table.markdown}\n`);
  await write(
    "zero_shot.html",
    page(
      `Zero-shot: judge agreement per attribute, first draw and best of ${n}`,
      runSource(zeroShot),
      [zeroShotFigure(zeroRows, n)],
      table.rows,
    ),
  );
  // Last: it reads full runs only (the quick runs made above for missing figures never count).
  written.push((await writeResults(out)).path);
  return written;
}

if (import.meta.main) {
  const flags = parseFlags(FIGURES_DEFAULTS);
  // Nothing here computes tensors; a backend starts only when asked for (which checks the name).
  if (flags.backend !== undefined) await initBackend(flags.backend);
  const started = performance.now();
  const written = await writeFigures({ out: flags.out, png: flags.png });
  console.log(
    `\n[figures] ${written.length} files in ${
      ((performance.now() - started) / 1000).toFixed(0)
    } s:`,
  );
  for (const path of written) {
    const entry = FIGURE_FILES.find((f) => path.endsWith(`/${f.file}`));
    const kib = (await Deno.stat(path)).size / 1024;
    console.log(`  ${path.padEnd(44)} ${kib.toFixed(0).padStart(6)} KiB  ${entry?.shows ?? ""}`);
  }
}
