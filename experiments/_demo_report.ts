/**
 * The main job's report (experiments/demo.ts): one self-contained page from the run folders its
 * stages wrote, and the compact summary the terminal ends with.
 *
 * @module
 */
import {
  dvaeTrainingFigures,
  lossCurvesFigure,
  nSweepFigure,
  Report,
  textTable,
} from "../lib/display/mod.ts";
import {
  type CsvRow,
  latestRun,
  parseCsv,
  readFileOrNull,
  readRun,
  readTextOrNull,
  type RunRecord,
} from "../lib/io/mod.ts";

/** What the demo hands over. */
export interface DemoReportInput {
  /** The repository root (absolute, with a trailing slash). */
  root: string;
  /** The demo's run folder, relative to `root`. */
  dir: string;
  quick: boolean;
  started: Date;
  totalSeconds: number;
  stages: { title: string; seconds: number; run: string; script: string }[];
  machine: {
    atStart: { cores: number; load_avg_1min: number };
    atEnd: { cores: number; load_avg_1min: number };
  };
}

const SPLITS = ["train", "test", "zero-shot"];
const pct = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? 100 * x : NaN);

/** The judge's table: one row per split, agreement in percent. */
function judgeRows(summary: CsvRow[]): CsvRow[] {
  return summary.filter((r) => SPLITS.includes(String(r.split)) && r.temperature !== undefined)
    .map((r) => ({
      split: r.split,
      "per draw %": pct(r.judge_agreement),
      "reranked best %": pct(r.reranked_agreement),
      "colour %": pct(r.colour_agreement),
      "shape %": pct(r.shape_agreement),
      "size %": pct(r.size_agreement),
      "count %": pct(r.count_agreement),
      "relation %": pct(r.relation_agreement),
      "mismatched caption %": pct(r.mismatched_caption_agreement),
      "dVAE recon. %": pct(r.dvae_reconstruction_agreement),
      "bits/token": r.image_bits_per_token,
    }));
}

/** The warnings a reader must see first. */
function warningsOf(input: DemoReportInput, dvae: RunRecord, prior: RunRecord): string[] {
  const warnings: string[] = [];
  if (input.quick) {
    warnings.push(
      "This is a --quick run: tiny budgets on the main job's path. It checks that every stage " +
        "runs; its curves, samples and scores say nothing about what the models can learn.",
    );
  }
  for (const run of [dvae, prior]) {
    if (run.config.backend !== "tensorflow") {
      warnings.push(
        `${run.experiment} ran on the ${run.config.backend} backend, not tensorflow (the default ` +
          "and the fast one): its times are not comparable to the documented ones.",
      );
    }
  }
  const summary = (prior.summary ?? []) as CsvRow[];
  const priorWarning = summary.map((r) => r.warning).find((w) => typeof w === "string" && w);
  if (priorWarning) warnings.push(`Stage two: ${priorWarning}.`);
  const skipped = [dvae, prior].map((r) => Number(r.metrics.at(-1)?.skipped_steps ?? 0));
  if (skipped.some((n) => n > 0)) {
    warnings.push(
      `Non-finite steps were skipped: ${skipped[0]} in the dVAE, ${skipped[1]} in the prior.`,
    );
  }
  return warnings;
}

/**
 * Writes `<dir>/report.html` and returns the terminal's summary and the backend used.
 *
 * @param input The demo's stages and run folder.
 * @returns The summary text and the backend the stages ran on.
 */
export async function writeDemoReport(
  input: DemoReportInput,
): Promise<{ terminalSummary: string; backend: string }> {
  const at = (path: string) => `${input.root}${path}`;
  const [dvae, prior] = await Promise.all(input.stages.map((s) => readRun(at(s.run))));
  const dvaeSummary = ((dvae.summary ?? []) as CsvRow[])[0] ?? {};
  const priorSummary = (prior.summary ?? []) as CsvRow[];
  const stagesCsv = await readTextOrNull(at(`${input.stages[1].run}/stages.csv`));
  const priorStages = stagesCsv === null ? [] : parseCsv(stagesCsv);
  const backend = String(prior.config.backend ?? dvae.config.backend);
  const warnings = warningsOf(input, dvae, prior);

  const report = new Report(`dalle-lab main job (${input.quick ? "quick" : "full"})`, {
    subtitle: "captioned shapes → dVAE → BPE → prior → reranker → samples, judged",
  });
  for (const w of warnings) report.warning(w);
  report.facts({
    started: input.started.toISOString(),
    "total time": `${(input.totalSeconds / 60).toFixed(1)} min`,
    backend,
    machine: `${input.machine.atStart.cores} cores, load ${
      input.machine.atStart.load_avg_1min.toFixed(1)
    } at the start, ${input.machine.atEnd.load_avg_1min.toFixed(1)} at the end`,
    "stage one run": input.stages[0].run,
    "stage two run": input.stages[1].run,
    pipeline: `${input.dir}/pipeline (Pipeline.load)`,
  });

  report.section("Time per stage");
  const timeRows = [
    ...input.stages.map((s) => ({ stage: s.title, seconds: s.seconds })),
    ...priorStages.map((r) => ({ stage: `  stage two: ${r.stage}`, seconds: r.seconds })),
  ];
  report.table(timeRows, { caption: "wall time of each stage's process, then stage two's parts" });

  report.section(
    "Stage one: the discrete VAE",
    `${dvae.config.steps} steps of ${dvae.config.batchSize} shapes images; the held-out figures ` +
      "use the EMA weights.",
  );
  const { bound, codes } = dvaeTrainingFigures(dvae.metrics);
  report.plot(bound, "the bound and the loss per training batch (bits per dimension)");
  report.plot(codes, "codebook usage: the KL terms and the batch's codebook perplexity");
  report.table([dvaeSummary], {
    caption: "held-out evaluation",
    columns: Object.keys(dvaeSummary).filter((k) => k.startsWith("test_")),
  });
  const recon = await readFileOrNull(at(`${input.stages[0].run}/recon.png`));
  if (recon) report.image(recon, "held-out images (rows 1, 3) and their reconstructions (2, 4)");

  report.section(
    "Stage two: the prior and the reranker",
    `${prior.config.steps} prior steps of ${prior.config.batch} captioned scenes, ` +
      `${prior.config.rerankSteps} reranker steps.`,
  );
  report.plot(
    lossCurvesFigure(prior.metrics.map((r) => ({ ...r, run: "prior" })), {
      by: "run",
      title: "Prior training loss (nats per token, moving average)",
    }),
  );
  report.table(judgeRows(priorSummary), {
    caption: "the shapes judge's agreement with the caption, per split (8 draws per caption, " +
      "temperature 1; reranked best = the reranker's top draw)",
  });
  for (const split of SPLITS) {
    const png = await readFileOrNull(at(`${input.stages[1].run}/samples_${split}.png`));
    if (png) {
      report.image(
        png,
        `${split} captions: the real image, then the draws best first with their reranker scores`,
      );
    }
  }
  const completion = await readFileOrNull(at(`${input.stages[1].run}/completion_test.png`));
  if (completion) report.image(completion, "completions of test images from their top halves");

  const sweepDir = await latestRun("rerank_n_sweep", { root: at("data/runs") });
  if (sweepDir !== null) {
    const sweep = await readRun(sweepDir);
    report.section(
      "Reranking against N (latest rerank_n_sweep run)",
      `${sweepDir.slice(input.root.length)}, pipeline ${sweep.config.pipeline}`,
    );
    report.plot(nSweepFigure(sweep.summary as CsvRow[]));
  }
  await report.write(at(`${input.dir}/report.html`));

  const headline = judgeRows(priorSummary).map((r) => ({
    split: r.split,
    "draw %": r["per draw %"],
    "reranked %": r["reranked best %"],
    "shape %": r["shape %"],
    "colour %": r["colour %"],
  }));
  const lines = [
    `dVAE: −ELB ${Number(dvaeSummary.test_elb_bits_per_dim).toFixed(2)} bits/dim, codebook ` +
    `perplexity ${Number(dvaeSummary.test_codebook_perplexity).toFixed(0)}; prior: ` +
    `${Number(prior.metrics.at(-1)?.image_bits_per_token).toFixed(2)} bits per image token`,
    textTable(headline, { maxWidth: 80 }),
    textTable(input.stages.map((s) => ({ stage: s.title, seconds: s.seconds })), {
      maxWidth: 80,
    }),
    ...warnings.map((w) => `WARNING: ${w}`),
  ];
  return { terminalSummary: lines.join("\n"), backend };
}
