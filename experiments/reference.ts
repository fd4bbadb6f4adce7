/**
 * The reference pipeline (`deno task reference`): what do the toolkit's best recipes draw on
 * captioned shapes, trained in about two hours on a 2-core CPU, and how does it fare on held-out
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
 * Command: `deno task reference` (REFERENCE_DEFAULTS; about two hours on our 2-core machine, the
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
import { commandLine, readRunConfig, runStamp, writeFileAtomic } from "../lib/io/mod.ts";
import { describeDvaeObjective } from "../lib/display/mod.ts";
import { createShapesJudge } from "../lib/judge/mod.ts";
import {
  applyPreset,
  codeVersion,
  machineLoad,
  type MetricsRow,
  parseFlags,
  readCsv,
  UsageError,
  writeCsv,
} from "../lib/log/mod.ts";
import {
  Pipeline,
  readManifest,
  REFERENCE_CHECK,
  referenceCheck,
  type ReferenceFigure,
  type ReferenceRecord,
} from "../lib/pipeline/mod.ts";
import { REPO_ROOT, runStage, type Stage } from "./_stages.ts";
import { referenceMarkdown, withReferenceBlock } from "./_reference.ts";

/** The reference run's recipe and budgets (each a flag, e.g. `--priorSteps=4000`). */
export const REFERENCE_DEFAULTS = {
  /** Tiny budgets on the same path (REFERENCE_QUICK), shipped to data/cache/reference_quick. */
  quick: false,
  /** Channels of the dVAE encoder's first group (64 is the paper's at 1/4 width). @accepts integer ≥ 1 */
  dvaeHidden: 96,
  /** dVAE images per step. @accepts integer ≥ 1 */
  dvaeBatch: 32,
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
  /** Reranker optimiser steps (batch 128, RERANKER_RECIPE). @accepts integer ≥ 1 */
  rerankSteps: 1000,
  /** Captions per split of the judged stages (64: the project's floor). @accepts integer ≥ 1 */
  evalCaptions: 64,
  /** Draws per caption of the reranking sweep (its largest N). @accepts integer ≥ 1 */
  maxN: 32,
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

/** The project's goals (issue "pictures"), by figure and split. */
const GOALS: Record<string, number> = {
  "dVAE reconstructions accepted|test": 0.95,
  "dVAE reconstructions accepted|zero-shot": 0.95,
  "per-draw agreement|test": 0.6,
  "per-draw agreement|zero-shot": 0.48,
  "reranker's best of 32|test": 0.9,
  "reranker's best of 32|zero-shot": 0.8,
  "shape per draw|test": 0.85,
  "relation per draw|test": 0.85,
};

/** `--key=value` flags as a map (`--key` alone: "true"). */
function flagMap(args: readonly string[]): Map<string, string> {
  return new Map(args.map((a) => {
    const [key, value] = a.replace(/^--/, "").split(/=(.*)/s, 2);
    return [key, value ?? "true"];
  }));
}

/** Stage one's flags that change where it writes, not what it trains. */
const NOT_TRAINING = ["out", "tag", "figures"];

/**
 * Stage one from a finished run: its config.json must record every flag stage one would get
 * (those of NOT_TRAINING aside); its dVAE is copied to `dvaePath`.
 *
 * @param run The dvae_train run folder, relative to the repository.
 * @param args The flags stage one would get.
 * @param dvaePath Where its dVAE goes, relative to the repository.
 * @returns The stage, with the run's own time (train + evaluation).
 * @throws {UsageError} When the folder is not a finished dvae_train run or was trained otherwise.
 */
export async function reuseStageOne(run: string, args: string[], dvaePath: string): Promise<Stage> {
  const config = await readRunConfig(`${REPO_ROOT}${run}`);
  if (config === null || config.experiment !== "dvae_train") {
    throw new UsageError(`--dvaeRun=${run} is not a finished dvae_train run folder`);
  }
  const differs = [...flagMap(args)].filter(([key, value]) =>
    !NOT_TRAINING.includes(key) && String(config[key]) !== value
  ).map(([key, value]) => `${key}: ${String(config[key])} there, ${value} here`);
  if (differs.length > 0) {
    throw new UsageError(`--dvaeRun=${run} was trained otherwise (${differs.join("; ")})`);
  }
  await Deno.copyFile(String(config.out), `${REPO_ROOT}${dvaePath}`);
  const [summary] = await rowsOf(`${REPO_ROOT}${run}/summary.csv`);
  const seconds = Number(summary.train_seconds) + Number(summary.eval_seconds);
  console.log(`Stage one reused: ${run} (${(seconds / 60).toFixed(0)} min when it ran)`);
  return { title: "dVAE (reused run)", script: "experiments/dvae_train.ts", args, seconds, run };
}

const rowsOf = async (path: string) => (await readCsv(path)).objects() as MetricsRow[];

const figureOf = (
  figure: string,
  split: string,
  row: MetricsRow,
  column: string,
  count: number,
): ReferenceFigure => {
  const f: ReferenceFigure = {
    figure,
    split,
    mean: Number(row[column]),
    low: Number(row[`${column}_low`]),
    high: Number(row[`${column}_high`]),
    count,
  };
  const goal = GOALS[`${figure}|${split}`];
  return goal === undefined ? f : { ...f, goal };
};

/** Where the recipe departs from the paper's, from stage one's config and the flags. */
async function departuresOf(stages: Stage[], cfg: ReferenceConfig): Promise<string[]> {
  const dvae = await readRunConfig(`${REPO_ROOT}${stages[0].run}`) ?? {};
  const objective = describeDvaeObjective(dvae);
  return [
    `the dVAE minimises ${objective.objective} (dvae_train.ts's shapes recipe), not the ` +
    "paper's ELB: " + objective.departures.join("; "),
    `the dVAE's encoder starts at ${cfg.dvaeHidden} channels (the paper's shape at our quarter ` +
    `width: 64) and trains on ${cfg.dvaeBatch} images per step`,
    `the prior: ${cfg.priorLayers} layers of width ${cfg.priorWidth} over an 8 × 8 grid of ` +
    "image tokens (the paper: 64 layers of width 3,968 over 32 × 32)",
    "the reranker trains with lib/pipeline's RERANKER_RECIPE (near-miss captions and near-miss " +
    "twins as hard negatives, half its images through the dVAE), not CLIP's batch negatives alone",
  ];
}

/** Every figure of the record, read from the stages' summaries. */
async function figuresOf(stages: Stage[], cfg: ReferenceConfig): Promise<ReferenceFigure[]> {
  const csv = (stage: Stage) => rowsOf(`${REPO_ROOT}${stage.run}/summary.csv`);
  const [dvae] = await csv(stages[0]);
  const prior = await csv(stages[1]);
  const sweep = await csv(stages[2]);
  const out: ReferenceFigure[] = [];
  const images = Number(dvae.test_images);
  out.push(figureOf("dVAE reconstructions accepted", "test", dvae, "judge_accepts_test", images));
  out.push(
    figureOf("dVAE reconstructions accepted", "zero-shot", dvae, "judge_accepts_zero_shot", images),
  );
  const sweepRow = (split: string, n: number) =>
    sweep.find((r) => r.split === split && Number(r.n) === n);
  for (const split of ["train", "test", "zero-shot"]) {
    const at = (n: number) => {
      const row = sweepRow(split, n);
      if (!row) throw new Error(`rerank_n_sweep's summary has no row for ${split}, N = ${n}`);
      return row;
    };
    const captions = Number(at(cfg.maxN).captions);
    const rename = (row: MetricsRow, from: string) => ({
      v: row[`${from}_mean`],
      v_low: row[`${from}_low`],
      v_high: row[`${from}_high`],
    });
    out.push(figureOf("per-draw agreement", split, rename(at(cfg.maxN), "random"), "v", captions));
    if (cfg.maxN !== 8) {
      out.push(figureOf("reranker's best of 8", split, rename(at(8), "reranked"), "v", captions));
    }
    out.push(
      figureOf(
        `reranker's best of ${cfg.maxN}`,
        split,
        rename(at(cfg.maxN), "reranked"),
        "v",
        captions,
      ),
    );
    out.push(
      figureOf(`any of ${cfg.maxN} (oracle)`, split, rename(at(cfg.maxN), "oracle"), "v", captions),
    );
  }
  for (const split of ["test", "zero-shot"]) {
    const row = prior.find((r) => r.split === split && Number(r.temperature) === 1);
    if (!row) throw new Error(`prior_shapes' summary has no row for ${split} at temperature 1`);
    const count = (attribute: string) =>
      Number(row[`${attribute}_agreement_captions`] || row.captions);
    for (const attribute of ["colour", "shape", "size", "relation"]) {
      out.push(
        figureOf(`${attribute} per draw`, split, row, `${attribute}_agreement`, count(attribute)),
      );
    }
  }
  return out;
}

if (import.meta.main) {
  const flags = parseFlags(REFERENCE_DEFAULTS);
  const cfg = flags.quick ? applyPreset(flags, REFERENCE_QUICK) : flags;
  const kind = cfg.quick ? "quick" : "full";
  const started = new Date();
  const dir = `data/runs/reference/${runStamp(started)}_${kind}`;
  await Deno.mkdir(`${REPO_ROOT}${dir}`, { recursive: true });
  const loadAtStart = machineLoad();
  const backend = flags.backend === undefined ? [] : [`--backend=${flags.backend}`];
  const common = [...(cfg.quick ? ["--quick"] : []), `--seed=${cfg.seed}`, ...backend];
  const tag = `--tag=reference_${kind}`;
  const dvaePath = `${dir}/dvae.safetensors`;
  const pipelinePath = `${dir}/pipeline`;
  const dvaeArgs = [
    "--dataset=shapes",
    `--hidden=${cfg.dvaeHidden}`,
    `--batchSize=${cfg.dvaeBatch}`,
    `--steps=${cfg.dvaeSteps}`,
    `--out=${dvaePath}`,
    tag,
    "--figures=false",
    ...common,
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
    ], { out: pipelinePath }),
  );
  stages.push(
    await runStage("Reranking sweep", "rerank_n_sweep", [
      `--pipeline=${pipelinePath}`,
      `--captions=${cfg.evalCaptions}`,
      `--trainCount=${cfg.trainCount}`,
      `--maxN=${cfg.maxN}`,
      `--ns=${[...new Set([1, 8, cfg.maxN])].join(",")}`,
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
  const command = `deno task reference${cfg.quick ? " --quick" : ""}`;
  const record: ReferenceRecord = {
    command,
    code: await codeVersion(),
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
  const ship = cfg.ship.startsWith("/") ? cfg.ship : `${REPO_ROOT}${cfg.ship}`;
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
    await writeFileAtomic(readme, withReferenceBlock(text, referenceMarkdown(record, cfg.ship)));
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
