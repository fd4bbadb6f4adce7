/**
 * The reference pipeline (`deno task reference`): what do the toolkit's best recipes draw on
 * captioned shapes, trained in an hour or two on a 2-core CPU, and how does it fare on held-out
 * compositions? Its weights ship with the toolkit (lib/pipeline/reference/), so that
 * `Pipeline.load()` and notebooks 00 and 07 give a new user good pictures at once.
 *
 * Stages, each an experiment of this folder in its own process (experiments/_stages.ts):
 * 1. The dVAE: `dvae_train.ts --dataset=shapes` (its shapes recipe, not the paper's objective:
 *    dvae_train.ts's header lists the departures) at REFERENCE_DEFAULTS' width, batch and steps.
 * 2. The tokenizer, the prior and the reranker (lib/pipeline's RERANKER_RECIPE):
 *    `prior_shapes.ts` at the reference budget, its draws judged over 64 captions per split × 8
 *    draws (per attribute).
 * 3. `rerank_n_sweep.ts` on that pipeline: 64 captions per split × 32 draws, the per-draw
 *    agreement, the reranker's best of 8 and 32 and the oracle's.
 * 4. The fixed judged check (lib/pipeline's `referenceCheck`); then the pipeline is shipped: its
 *    parts, a manifest whose notes hold the record (this command, every stage's command, run
 *    folder and time, the commit, the machine, every figure with its 95% interval and goal, the
 *    check) and the two sample grids go to `--ship` (lib/pipeline/reference/), and README.md's
 *    generated table is rewritten from that record (experiments/_reference.ts).
 *
 * Command: `deno task reference` (REFERENCE_DEFAULTS; a little over an hour on our 2-core machine, the
 *   record giving the run's own time) or `deno task reference --quick` (the same path at tiny
 *   budgets in a few minutes, shipped to data/cache/reference_quick and never into the README:
 *   it checks the path, not the figures). `--dvaeRun=data/runs/dvae_train/<run>` reuses a
 *   finished stage one whose config.json matches the flags stage one would get (the record says
 *   so), e.g. after a later stage failed.
 * Writes: data/runs/reference/<stamp>_<full|quick>/ (config.json naming every stage's run folder,
 *   summary.csv with one row per stage, dvae.safetensors, pipeline/) and the shipped folder.
 * Results: the README's table and lib/pipeline/reference/pipeline.json (`readReferenceRecord()`),
 *   each figure with its interval and the count it rests on; the stages' run folders hold the
 *   rest (grids, near-miss tables, curves).
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import { isAbsolute, relative } from "node:path";
import { commandLine, readRunConfig, runStamp, writeFileAtomic } from "../lib/io/mod.ts";
import { createShapesJudge } from "../lib/judge/mod.ts";
import { applyPreset, codeVersion, machineLoad, parseFlags, writeCsv } from "../lib/log/mod.ts";
import {
  Pipeline,
  readManifest,
  REFERENCE_CHECK,
  referenceCheck,
  type ReferenceRecord,
} from "../lib/pipeline/mod.ts";
import { departuresOf, figuresOf, reuseStageOne } from "./_reference_record.ts";
import { REPO_ROOT, runStage, type Stage } from "./_stages.ts";
import { referenceMarkdown, withReferenceBlock } from "./_reference.ts";

/** The reference run's recipe and budgets (each a flag, e.g. `--priorSteps=4000`). */
export const REFERENCE_DEFAULTS = {
  /** Tiny budgets on the same path (REFERENCE_QUICK), shipped to data/cache/reference_quick. */
  quick: false,
  /** Channels of the dVAE encoder's first group (64 is the paper's at 1/4 width). @accepts integer ≥ 1 */
  dvaeHidden: 96,
  /** dVAE images per step. @accepts integer ≥ 1 */
  dvaeBatchSize: 32,
  /** dVAE optimiser steps. @accepts integer ≥ 1 */
  dvaeSteps: 3000,
  /** Scenes the prior and the reranker train on. @accepts integer ≥ 1 */
  trainCount: 24000,
  /** Prior optimiser steps (batch 32). @accepts integer ≥ 1 */
  priorSteps: 7000,
  /** Width of the prior. @accepts integer ≥ 1 */
  priorWidth: 128,
  /** Transformer layers of the prior. @accepts integer ≥ 1 */
  priorLayers: 4,
  /**
   * Reranker optimiser steps (batch 128, RERANKER_RECIPE), in a second process beside the prior:
   * 1,000 left it confusing shapes on zero-shot scenes, below the near-miss goal of 90% (stage
   * two's near_miss.csv says how often, for this run). @accepts integer ≥ 1
   */
  rerankSteps: 3000,
  /** Captions per split of the judged stages (64: the project's floor). @accepts integer ≥ 1 */
  evalCaptions: 64,
  /** Draws per caption of the reranking sweep (its largest N). @accepts integer ≥ 1 */
  maxN: 32,
  /**
   * Train every stage with its steps as one TensorFlow call each (their `--compile`): the same
   * results to float32 rounding, faster (on the tensorflow backend). @accepts boolean
   */
  compile: true,
  /** Seed of every stage. @accepts integer */
  seed: 0,
  /** Where the pipeline is shipped. */
  ship: "lib/pipeline/reference",
  /** A finished stage-one run folder to reuse (its flags must match). */
  dvaeRun: "",
};

/** What `--quick` changes (flags given explicitly still win). */
export const REFERENCE_QUICK: Partial<typeof REFERENCE_DEFAULTS> = {
  dvaeSteps: 40,
  trainCount: 1000,
  priorSteps: 40,
  rerankSteps: 40,
  evalCaptions: 4,
  maxN: 8,
  ship: "data/cache/reference_quick",
};

/** The reference run's configuration. */
export type ReferenceConfig = typeof REFERENCE_DEFAULTS;

if (import.meta.main) {
  const flags = parseFlags(REFERENCE_DEFAULTS);
  const cfg = flags.quick ? applyPreset(flags, REFERENCE_QUICK) : flags;
  const kind = cfg.quick ? "quick" : "full";
  const started = new Date();
  const dir = `data/runs/reference/${runStamp(started)}_${kind}`;
  await Deno.mkdir(`${REPO_ROOT}${dir}`, { recursive: true });
  const loadAtStart = machineLoad();
  const code = await codeVersion(); // at the start: the code the stages ran
  const backend = flags.backend === undefined ? [] : [`--backend=${flags.backend}`];
  const common = [...(cfg.quick ? ["--quick"] : []), `--seed=${cfg.seed}`, ...backend];
  const tag = `--tag=reference_${kind}`;
  const compile = cfg.compile ? [] : ["--compile=false"]; // the training stages only
  const dvaePath = `${dir}/dvae.safetensors`;
  const pipelinePath = `${dir}/pipeline`;
  const dvaeArgs = [
    "--dataset=shapes",
    `--hidden=${cfg.dvaeHidden}`,
    `--batchSize=${cfg.dvaeBatchSize}`,
    `--steps=${cfg.dvaeSteps}`,
    `--out=${dvaePath}`,
    tag,
    "--figures=false",
    ...common,
    ...compile,
  ];
  const stages: Stage[] = [];
  stages.push(
    cfg.dvaeRun
      ? await reuseStageOne(cfg.dvaeRun, dvaeArgs, dvaePath)
      : await runStage("dVAE", "dvae_train", dvaeArgs, { out: dvaePath }),
  );
  stages.push(
    await runStage("Tokenizer, prior, reranker; draws judged", "prior_shapes", [
      `--dvae=${dvaePath}`,
      `--out=${pipelinePath}`,
      `--trainCount=${cfg.trainCount}`,
      `--steps=${cfg.priorSteps}`,
      `--dModel=${cfg.priorWidth}`,
      `--layers=${cfg.priorLayers}`,
      `--rerankSteps=${cfg.rerankSteps}`,
      `--evalCaptions=${cfg.evalCaptions}`,
      "--temperatures=1",
      tag,
      ...common,
      ...compile,
    ], { out: pipelinePath }),
  );
  stages.push(
    await runStage("Reranking sweep", "rerank_n_sweep", [
      `--pipeline=${pipelinePath}`,
      `--captions=${cfg.evalCaptions}`,
      `--trainCount=${cfg.trainCount}`,
      `--maxN=${cfg.maxN}`,
      `--ns=${[...new Set([1, Math.min(8, cfg.maxN), cfg.maxN])].join(",")}`,
      tag,
      ...common,
    ], { pipeline: pipelinePath }),
  );
  await initBackend(flags.backend);
  const pipeline = await Pipeline.load(`${REPO_ROOT}${pipelinePath}`);
  const judge = await createShapesJudge();
  const checkConfig = cfg.quick ? { ...REFERENCE_CHECK, captions: 8, draws: 1 } : REFERENCE_CHECK;
  console.log(`\n=== The fixed check: ${checkConfig.captions} test captions ===`);
  const check = await referenceCheck(pipeline, judge, checkConfig);
  judge.dispose();
  const totalSeconds = (Date.now() - started.getTime()) / 1000;
  // As typed: a task, not a script (commandLine's `deno run -A` would not run it).
  const command = ["deno", "task", "reference", ...Deno.args].join(" ");
  const record: ReferenceRecord = {
    command,
    code,
    started: started.toISOString(),
    seconds: totalSeconds,
    machine: { cores: loadAtStart.cores, loadAtStart: loadAtStart.load_avg_1min, backend: "" },
    stages: stages.map((s) => ({
      title: s.title,
      command: commandLine([s.script, ...s.args]),
      run: s.run,
      seconds: s.seconds,
    })),
    departures: await departuresOf(stages, cfg),
    figures: await figuresOf(stages, cfg),
    check,
  };
  const priorConfig = await readRunConfig(`${REPO_ROOT}${stages[1].run}`);
  record.machine.backend = String(priorConfig?.backend ?? "");
  const ship = isAbsolute(cfg.ship) ? cfg.ship : `${REPO_ROOT}${cfg.ship}`;
  // Stage two's notes (its run folder, which trainSetWarning reads) stay beside the record.
  const staged = await readManifest(`${REPO_ROOT}${pipelinePath}`);
  await pipeline.save(ship, { ...staged.notes, reference: record });
  pipeline.dispose();
  for (const split of ["test", "zero-shot"]) {
    await Deno.copyFile(
      `${REPO_ROOT}${stages[1].run}/samples_${split}.png`,
      `${ship}/samples_${split}.png`,
    );
  }
  if (!cfg.quick) {
    const readme = `${REPO_ROOT}README.md`;
    const text = await Deno.readTextFile(readme);
    const block = referenceMarkdown(record, relative(REPO_ROOT, ship));
    await writeFileAtomic(readme, withReferenceBlock(text, block));
    // The block as `deno fmt` writes it, so `deno task check` stays clean.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", readme] }).output();
    console.log("Rewrote the README's reference table from the record.");
  }
  await writeCsv(
    `${REPO_ROOT}${dir}/summary.csv`,
    stages.map((s) => ({ stage: s.title, seconds: s.seconds, run: s.run })),
  );
  // config.json last: a folder without it is unfinished.
  await writeFileAtomic(
    `${REPO_ROOT}${dir}/config.json`,
    JSON.stringify(
      {
        experiment: "reference",
        ...cfg,
        code: record.code,
        stages: record.stages,
        shipped: cfg.ship,
        started: record.started,
        total_seconds: totalSeconds,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(
    `\nShipped ${cfg.ship} (${(totalSeconds / 60).toFixed(0)} min in all); the fixed check: ` +
      `${(check.mean * 100).toFixed(0)}% of draws agree over ${check.captions} test captions.`,
  );
}
