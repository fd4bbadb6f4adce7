/**
 * text2image.ts's report: one self-contained page, like the main job's, from the run folders of
 * its two stages (the dVAE's, found through the dVAE's metadata, and its own). The Fashion-MNIST
 * benchmark adds its classifier's section to the same page.
 *
 * @module
 */
import {
  describeDvaeObjective,
  dvaeTrainingFigures,
  lossCurvesFigure,
  mergeIntervals,
  Report,
} from "../lib/display/mod.ts";
import { type CsvRow, readFileOrNull, readRun, type RunRecord } from "../lib/io/mod.ts";
import { machineLoad } from "../lib/log/mod.ts";

/** What {@link writeText2ImageReport} reads and where it writes. */
export interface Text2ImageReportInput {
  /** text2image's run folder. */
  run: string;
  /** dvae_train's run folder ("" when the dVAE's metadata names none). */
  dvaeRun: string;
  /** The page's file. */
  out: string;
  /** The page's title. @default "dalle-lab text → image on <the folder>" */
  title?: string;
  /** Seconds the whole job took, when known (shown beside the machine's load). */
  totalSeconds?: number;
  /** Sections after text2image's own (the Fashion-MNIST benchmark's classifier). */
  extra?: (report: Report) => void | Promise<void>;
}

/**
 * Writes the report page of a text2image run.
 *
 * @param input The runs, the page's file and what to add.
 * @returns The page's path.
 */
export async function writeText2ImageReport(input: Text2ImageReportInput): Promise<string> {
  const run = await readRun(input.run);
  const dvae = input.dvaeRun ? await readRun(input.dvaeRun).catch(() => null) : null;
  const cfg = run.config;
  const report = new Report(input.title ?? `dalle-lab text → image on ${cfg.data}`, {
    subtitle: "a captioned folder → dVAE → BPE → prior → reranker → draws for held-out captions",
  });
  if (cfg.quick) report.warning("A --quick run: its figures check the code path, not the method.");
  if (!dvae) report.warning("The dVAE's run folder is unknown: stage one is not shown.");
  const load = machineLoad();
  report.facts({
    folder: cfg.data,
    backend: cfg.backend,
    ...(input.totalSeconds ? { "total time": `${(input.totalSeconds / 60).toFixed(1)} min` } : {}),
    machine: `${load.cores} cores, load ${load.load_avg_1min.toFixed(1)} when the page was written`,
    "stage one run": input.dvaeRun || "unknown",
    "stage two run": input.run,
    pipeline: `${cfg.out || `${input.run}/pipeline`} (Pipeline.load)`,
  });
  if (dvae) await stageOne(report, dvae);
  report.section(
    "Stage two: the prior and the reranker",
    `${cfg.steps} prior steps of ${cfg.batchSize} captioned images; ${cfg.rerankSteps} reranker ` +
      "steps (CLIP's recipe: batch negatives, as free captions have no grammar for near misses).",
  );
  report.plot(
    lossCurvesFigure(run.metrics.map((r) => ({ ...r, run: "prior" })), {
      by: "run",
      title: "Prior training loss (nats per token, moving average)",
    }),
  );
  report.table(mergeIntervals((run.summary ?? []) as CsvRow[]), {
    caption: "per part of the folder: the prior's bits per image token on its first 512 images; " +
      "for the held-out part, the reranker's retrieval of each caption's own image among " +
      "`retrieval_pool` [95% Wilson interval], and chance",
  });
  const samples = await readFileOrNull(`${input.run}/samples_test.png`);
  if (samples) {
    report.image(
      samples,
      "held-out captions: the real image, then the draws best first with " +
        "their reranker scores",
    );
  }
  await input.extra?.(report);
  await report.write(input.out);
  return input.out;
}

async function stageOne(report: Report, dvae: RunRecord): Promise<void> {
  const objective = describeDvaeObjective(dvae.config);
  report.section(
    "Stage one: the discrete VAE",
    `${dvae.config.steps} steps of ${dvae.config.batchSize} images; objective (from its ` +
      `config.json): ${objective.objective}; held-out figures with the EMA weights.`,
  );
  const { bound, codes } = dvaeTrainingFigures(dvae.metrics, { boundName: objective.boundName });
  report.plot(bound, `the ${objective.bound} and the loss per training batch, bits/dim`);
  report.plot(codes, "codebook usage: the KL terms and the batch's codebook perplexity");
  const summary = ((dvae.summary ?? []) as CsvRow[])[0] ?? {};
  const heldOut = Object.keys(summary).filter((k) => k.startsWith("test_"));
  if (heldOut.length > 0) {
    report.table([Object.fromEntries(heldOut.map((k) => [k, summary[k]]))], {
      caption: "held-out evaluation",
    });
  }
  const recon = await readFileOrNull(`${dvae.dir}/recon.png`);
  if (recon) report.image(recon, "held-out images (rows 1, 3) and their reconstructions (2, 4)");
}
