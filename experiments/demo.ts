/**
 * The main job (`deno task demo`): does the whole toolkit work end to end on captioned shapes,
 * within a quarter of an hour on a 2-core CPU, and what does each stage give?
 *
 * Stages, each an experiment of this folder run as its own process (so its memory is returned):
 * 1. Stage one: the dVAE on the shapes (`dvae_train.ts --dataset=shapes` at the demo's budget).
 * 2. Stage two: a BPE tokenizer, the transformer prior over caption + image tokens and the
 *    contrastive reranker, saved as one pipeline; then draws for train, test and zero-shot
 *    captions ranked by the reranker and judged by the shapes judge, and completions from top
 *    halves (`prior_shapes.ts` at the demo's budget).
 * 3. The report: data/runs/demo/<stamp>_<full|quick>/report.html, one self-contained page (curves,
 *    grids, the judge's table, backend, time per stage, warnings), beside config.json (which names
 *    the pipeline folder and both stages' run folders), summary.csv (one row per stage) and the
 *    pipeline itself (`Pipeline.load(dir + "/pipeline")`). A full run (not --quick) also copies
 *    its reconstruction and sample grids to data/figures/main_job_*.png, which the README shows.
 *
 * Command: `deno task demo` (a budget of a quarter of an hour on our 2-core machine with the
 *   default backend) or `deno task demo --quick` (the same path at tiny budgets, a few minutes on a
 *   fresh clone: it checks that the pipeline runs, not what it learns, and writes its own report).
 *   `--backend=NAME` (else $DALLE_LAB_BACKEND, else `auto`) goes to every stage. The budgets are
 *   flags (DEMO_DEFAULTS); the experiments' own defaults are the longer runs on the results page.
 * Stage one is not the paper's objective: it is dvae_train.ts's shapes recipe (β = 0 with a
 *   marginal KL(q̄ ‖ uniform) × 20 instead of the β-weighted per-cell KL, an information bonus, a
 *   Gaussian likelihood with σ = 0.1 instead of the logit-Laplace, a data-mean initial bias), which
 *   trains in minutes where the paper's objective collapses at this budget (dvae_train.ts's
 *   header). The report names that objective, lists the departures from the run's config.json, and
 *   prints the bound under its own name (the Gaussian model's ELB, not the paper's).
 * Expected: the budgets were chosen by measurement (probe runs named in the results page's
 *   demo section) to fit about ten minutes on our 2-core machine with compiled steps; at them
 *   the judge accepts most of the dVAE's reconstructions, the prior draws test captions' scenes
 *   more often than zero-shot ones (held-out colour–shape pairs are what the longer reference
 *   run learns and this one mostly does not), and the reranker's best of 8 follows its caption
 *   more often than a single draw. 64 captions per split: each rate is known to about ±10 points.
 * Results: data/figures/RESULTS.md § demo (`deno task figures` writes it from the newest full
 *   demo run: time per stage, the dVAE's held-out figures and the judge's table per split with 95%
 *   intervals and caption counts); each run's own report.html holds the same and its pictures.
 *
 * @module
 */
import { commandLine, runStamp, writeFileAtomic } from "../lib/io/mod.ts";
import {
  applyPreset,
  codeVersion,
  machineLoad,
  type MetricsRow,
  parseFlags,
  writeCsv,
} from "../lib/log/mod.ts";
import { writeDemoReport } from "./_demo_report.ts";
import { REPO_ROOT, runStage, type Stage } from "./_stages.ts";

/** The demo's budgets (each a flag, e.g. `--priorSteps=1200`). */
export const DEMO_DEFAULTS = {
  /** Tiny budgets on the same path (DEMO_QUICK): checks the pipeline, not the results. */
  quick: false,
  /** dVAE optimiser steps (batch 16, the shapes recipe of dvae_train.ts). @accepts integer ≥ 1 */
  dvaeSteps: 1800,
  /**
   * Captioned training scenes, for the dVAE and then the prior and the reranker (generated once
   * by stage one, read from the cache by stage two). @accepts integer ≥ 1
   */
  scenes: 12000,
  /** Prior optimiser steps (batch 32). @accepts integer ≥ 1 */
  priorSteps: 1800,
  /**
   * The prior's peak step size (warm-up, then cosine to a tenth; prior_shapes.ts's default is
   * 2e-3, measured slower at this budget). @accepts number > 0
   */
  priorLr: 4e-3,
  /**
   * Reranker optimiser steps (batch 128, lib/pipeline's RERANKER_RECIPE: at 600 on these scenes
   * it reads colour, size and most shapes but not yet order; by 1,000 it reads order but still
   * confuses shapes on zero-shot scenes; by 2,000 it reads both), trained in a second process
   * beside the prior (prior_shapes.ts's `--rerankBeside`), so that most of its time hides behind
   * the prior's. @accepts integer ≥ 1
   */
  rerankSteps: 2000,
  /**
   * Captions per split drawn and judged (8 draws each, at temperature 1; 64 for ±10-point
   * intervals). @accepts integer ≥ 1
   */
  evalCaptions: 64,
  /**
   * Train both stages with its steps as one TensorFlow call each (their `--compile`): the same
   * results to float32 rounding, faster (on the tensorflow backend). @accepts boolean
   */
  compile: true,
  /** Seed passed to every stage. @accepts integer */
  seed: 0,
};

/** What `--quick` changes (flags given explicitly still win). */
export const DEMO_QUICK: Partial<typeof DEMO_DEFAULTS> = {
  dvaeSteps: 40,
  scenes: 1000,
  priorSteps: 40,
  rerankSteps: 40,
  evalCaptions: 4,
};

const root = REPO_ROOT;

if (import.meta.main) {
  const flags = parseFlags(DEMO_DEFAULTS);
  const cfg = flags.quick ? applyPreset(flags, DEMO_QUICK) : flags;
  const started = new Date();
  const kind = cfg.quick ? "quick" : "full";
  const dir = `data/runs/demo/${runStamp(started)}_${kind}`;
  const pass = [
    ...(cfg.quick ? ["--quick"] : []),
    `--seed=${cfg.seed}`,
    ...(flags.backend === undefined ? [] : [`--backend=${flags.backend}`]),
    ...(cfg.compile ? [] : ["--compile=false"]),
  ];
  const loadAtStart = machineLoad();
  if (cfg.quick) {
    console.log(
      "--quick: tiny budgets on the main job's path. This checks that every stage runs and writes " +
        "its report; its samples and scores say nothing about what the models can learn.",
    );
  }
  const dvaePath = `${dir}/dvae.safetensors`;
  const pipelinePath = `${dir}/pipeline`;
  const stages: Stage[] = [];
  stages.push(
    await runStage("Stage one: dVAE on captioned shapes", "dvae_train", [
      "--dataset=shapes",
      `--steps=${cfg.dvaeSteps}`,
      `--out=${dvaePath}`,
      `--tag=demo_${kind}`,
      "--figures=false",
      `--testCount=${cfg.quick ? 200 : 500}`,
      // The prior's training scenes: generated once, then read from the cache by stage two.
      `--trainCount=${cfg.scenes}`,
      ...pass,
    ], { out: dvaePath }),
  );
  stages.push(
    await runStage("Stage two: tokenizer, prior, reranker, samples, judge", "prior_shapes", [
      `--dvae=${dvaePath}`,
      `--out=${pipelinePath}`,
      `--trainCount=${cfg.scenes}`,
      `--steps=${cfg.priorSteps}`,
      `--lr=${cfg.priorLr}`,
      `--rerankSteps=${cfg.rerankSteps}`,
      `--evalCaptions=${cfg.evalCaptions}`,
      "--temperatures=1",
      `--tag=demo_${kind}`,
      ...pass,
    ], { out: pipelinePath }),
  );
  const totalSeconds = (Date.now() - started.getTime()) / 1000;
  const summary: MetricsRow[] = stages.map((s) => ({
    stage: s.title,
    seconds: s.seconds,
    run: s.run,
    command: commandLine([s.script, ...s.args]),
  }));
  await writeCsv(`${root}${dir}/summary.csv`, summary);
  const report = await writeDemoReport({
    root,
    dir,
    quick: cfg.quick,
    started,
    totalSeconds,
    stages,
    machine: { atStart: loadAtStart, atEnd: machineLoad() },
  });
  // config.json last: a demo folder without it is unfinished, and latestRun passes it by.
  await writeFileAtomic(
    `${root}${dir}/config.json`,
    JSON.stringify(
      {
        experiment: "demo",
        ...cfg,
        backend: report.backend,
        code: await codeVersion(),
        pipeline: pipelinePath,
        dvae: dvaePath,
        dvaeRun: stages[0].run,
        priorRun: stages[1].run,
        started: started.toISOString(),
        total_seconds: totalSeconds,
        cores: loadAtStart.cores,
        load_avg_1min_at_start: loadAtStart.load_avg_1min,
      },
      null,
      2,
    ) + "\n",
  );
  if (!cfg.quick) {
    // The README shows the main job's grids; only a full run may replace them.
    const figures = [
      [`${stages[0].run}/recon.png`, "data/figures/main_job_recon.png"],
      [`${stages[1].run}/samples_test.png`, "data/figures/main_job_samples_test.png"],
      [`${stages[1].run}/samples_zero-shot.png`, "data/figures/main_job_samples_zero-shot.png"],
    ];
    for (const [from, to] of figures) await Deno.copyFile(`${root}${from}`, `${root}${to}`);
    console.log(`\nUpdated the README's grids: ${figures.map(([, to]) => to).join(", ")}`);
  }
  console.log(`\n${report.terminalSummary}`);
  console.log(`\nReport: ${dir}/report.html (${(totalSeconds / 60).toFixed(1)} min in all)`);
}
