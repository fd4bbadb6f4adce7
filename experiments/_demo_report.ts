/**
 * The main job's report (experiments/demo.ts): one self-contained page from the run folders its
 * stages wrote, and the compact summary the terminal ends with.
 *
 * @module
 */
import {
  agreementOf,
  describeDvaeObjective,
  type DvaeObjectiveText,
  dvaeTrainingFigures,
  formatAgreement,
  judgeTable,
  lossCurvesFigure,
  measuredFigureRows,
  nearMissTable,
  nSweepFigure,
  Report,
  rerankingStatement,
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
import { PipelineManifestError, readReferenceRecord } from "../lib/pipeline/mod.ts";

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
  /** The reference pipeline whose figures are shown beside this run's. @default REFERENCE_DIR */
  referenceDir?: string;
}

const SPLITS = ["train", "test", "zero-shot"];

/** The judged splits' summary rows (the completion row is shown under its grid). */
function splitRows(summary: CsvRow[]): CsvRow[] {
  return summary.filter((r) => SPLITS.includes(String(r.split)) && r.temperature !== undefined);
}

/** How the judge table's intervals are made, for its caption and the terminal. */
const INTERVALS = "95% intervals over captions (a caption's draws are correlated, so the " +
  "caption is the unit: Wilson's for 0/1 values such as the reranked pick, else the normal " +
  "approximation of per-caption rates)";

/**
 * The shipped reference pipeline's figures beside this run's (from its manifest's record), so a
 * reader sees what the same toolkit reaches with its longer recipe; named as such, never mixed
 * into this run's table.
 */
async function referenceSection(report: Report, dir?: string): Promise<void> {
  try {
    const record = await readReferenceRecord(dir);
    report.table(
      measuredFigureRows(record.figures),
      {
        caption: "for comparison, not this run: the reference pipeline shipped with the toolkit " +
          `(lib/pipeline/reference/, \`${record.command}\` at commit ` +
          `${record.code.commit?.slice(0, 7) ?? "(unknown)"}, ` +
          `${(record.seconds / 60).toFixed(0)} min on ` +
          `${record.machine.cores} cores), the same judge, 95% intervals over the count shown`,
      },
    );
  } catch (err) {
    // Only a missing or recordless reference is reported as such; any other error is a bug.
    if (!(err instanceof PipelineManifestError)) throw err;
    report.text(`No reference pipeline to compare with: ${err.message}`);
  }
}

/** A sweep run beside this one, and whether it judged this run's pipeline. */
interface Sweep {
  /** Its run folder, relative to the root. */
  dir: string;
  /** The pipeline its config.json names. */
  pipeline: string;
  /** Its summary rows. */
  summary: CsvRow[];
  ours: boolean;
}

/**
 * The newest rerank_n_sweep run, if any, and whether it judged this run's pipeline: its config's
 * `pipeline` (relative to the repository root unless absolute) resolves to `<dir>/pipeline`.
 */
async function newestSweep(input: DemoReportInput): Promise<Sweep | null> {
  const dir = await latestRun("rerank_n_sweep", { root: `${input.root}data/runs` });
  if (dir === null) return null;
  const run = await readRun(dir);
  const pipeline = String(run.config.pipeline ?? "");
  const resolve = async (path: string) => {
    const full = path.startsWith("/") ? path : `${input.root}${path}`;
    return await Deno.realPath(full).catch(() => full.replace(/\/+$/, ""));
  };
  const ours = pipeline !== "" &&
    await resolve(pipeline) === await resolve(`${input.dir}/pipeline`);
  return {
    dir: dir.slice(input.root.length),
    pipeline,
    summary: (run.summary ?? []) as CsvRow[],
    ours,
  };
}

/** Stage one's section: what it minimised and how that departs from the paper's objective. */
function stageOneSection(report: Report, dvae: RunRecord, objective: DvaeObjectiveText): void {
  const departs = objective.departures.length > 0;
  report.section(
    "Stage one: the discrete VAE",
    `${dvae.config.steps} steps of ${dvae.config.batchSize} shapes images; the held-out figures ` +
      `use the EMA weights. Its objective (from its config.json): ${objective.objective}. ` +
      (departs
        ? "This is not the paper's objective (a β-weighted ELB with a logit-Laplace likelihood):"
        : "Its config records no departure from the paper's objective."),
  );
  if (departs) {
    report.table(objective.departures.map((d) => ({ "departs from the paper's objective": d })));
  }
  if (objective.missing.length > 0) {
    report.warning(
      `Stage one's config.json does not record ${objective.missing.join(", ")}: its objective ` +
        "and the list of how it departs from the paper's may be incomplete.",
    );
  }
  report.text(
    `The bound shown, the ${objective.bound} in bits per dimension, is the ELB at β = 1 under ` +
      "the likelihood this run trained: a continuous-density bound on ε-mapped pixels (it can " +
      "be negative)" +
      (objective.paperLikelihood ? "." : ", not comparable with the paper's logit-Laplace bound."),
  );
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
  const objective = describeDvaeObjective(dvae.config);

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
    "stage one's objective": objective.objective +
      (objective.departures.length > 0 ? " (not the paper's: see stage one)" : ""),
    [`stage one's held-out ${objective.boundName}`]: dvaeSummary.test_elb_bits_per_dim,
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

  stageOneSection(report, dvae, objective);
  const { bound, codes } = dvaeTrainingFigures(dvae.metrics, { boundName: objective.boundName });
  report.plot(bound, `the ${objective.bound} and the loss per training batch, bits/dim`);
  report.plot(codes, "codebook usage: the KL terms and the batch's codebook perplexity");
  // The bound under the name of the likelihood it was computed with, not a bare "ELB".
  const heldOutName = (k: string) => (k === "test_elb_bits_per_dim" ? objective.boundName : k);
  const heldOut = Object.keys(dvaeSummary).filter((k) => k.startsWith("test_"));
  report.table([Object.fromEntries(heldOut.map((k) => [heldOutName(k), dvaeSummary[k]]))], {
    caption: "held-out evaluation (codes sampled exactly, EMA weights)",
  });
  const recon = await readFileOrNull(at(`${input.stages[0].run}/recon.png`));
  if (recon) report.image(recon, "held-out images (rows 1, 3) and their reconstructions (2, 4)");

  report.section(
    "Stage two: the prior and the reranker",
    `${prior.config.steps} prior steps of ${prior.config.batchSize} captioned scenes, ` +
      `${prior.config.rerankSteps} reranker steps.`,
  );
  report.plot(
    lossCurvesFigure(prior.metrics.map((r) => ({ ...r, run: "prior" })), {
      by: "run",
      title: "Prior training loss (nats per token, moving average)",
    }),
  );
  const judged = splitRows(priorSummary);
  report.table(judgeTable(judged), {
    caption: "the shapes judge's agreement with the caption, per split (per draw: every draw at " +
      "the split's temperature; reranked best: the reranker's top draw of each caption), with " +
      `${INTERVALS}; a rate over fewer captions names its own count`,
  });
  const statement = rerankingStatement(judged);
  if (statement) report.text(statement);
  await referenceSection(report, input.referenceDir);
  const nearMissCsv = await readTextOrNull(at(`${input.stages[1].run}/near_miss.csv`));
  if (nearMissCsv !== null) {
    report.table(nearMissTable(parseCsv(nearMissCsv)).rows, {
      caption: "does the reranker read the whole caption? How often it prefers an image's true " +
        "caption to the same caption with one change (chance 50%), on rendered test and " +
        "zero-shot scenes, on the same scenes through the dVAE, and on this run's draws " +
        "captioned as the judge reads them; 95% Wilson intervals",
    });
  }
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
  const completed = priorSummary.find((r) => !SPLITS.includes(String(r.split)));
  if (completion) {
    const rate = completed === undefined
      ? ""
      : `; the judge agrees with ${formatAgreement(agreementOf(completed, "judge_agreement"))} ` +
        `of them (95% interval over ${completed.captions} images)`;
    report.image(completion, `completions of test images from their top halves${rate}`);
  }

  // Only this run's results: a sweep of another pipeline is named, never shown as this run's.
  const sweep = await newestSweep(input);
  if (sweep?.ours) {
    report.section("Reranking against N (rerank_n_sweep of this run's pipeline)", sweep.dir);
    report.plot(nSweepFigure(sweep.summary));
  } else if (sweep) {
    report.text(
      `An N-sweep exists (${sweep.dir}), but of another pipeline (${sweep.pipeline}), not this ` +
        "run's: it is not shown here.",
    );
  }
  await report.write(at(`${input.dir}/report.html`));

  const cell = (r: CsvRow, column: string) => formatAgreement(agreementOf(r, column));
  const headline = judged.map((r) => ({
    split: r.split,
    captions: r.captions,
    "per draw": cell(r, "judge_agreement"),
    reranked: cell(r, "reranked_agreement"),
    shape: cell(r, "shape_agreement"),
    colour: cell(r, "colour_agreement"),
  }));
  const lines = [
    `dVAE (stage one, ${objective.objective}): held-out ${objective.boundName}: ` +
    `${Number(dvaeSummary.test_elb_bits_per_dim).toFixed(2)}, codebook perplexity ` +
    `${Number(dvaeSummary.test_codebook_perplexity).toFixed(0)}` +
    (objective.departures.length > 0
      ? `; not the paper's objective (${objective.departures.length} departures, in the report)`
      : ""),
    `prior: ${Number(prior.metrics.at(-1)?.image_bits_per_token).toFixed(2)} bits per image ` +
    "token. The judge's agreement, with 95% intervals over captions (see the report):",
    textTable(headline, { maxWidth: 80 }),
    ...(statement ? [statement] : []),
    textTable(input.stages.map((s) => ({ stage: s.title, seconds: s.seconds })), {
      maxWidth: 80,
    }),
    ...warnings.map((w) => `WARNING: ${w}`),
  ];
  return { terminalSummary: lines.join("\n"), backend };
}
