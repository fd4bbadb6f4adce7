/**
 * The reference job's record, assembled from its stages' run folders (experiments/reference.ts):
 * every figure with its interval, count and goal, where the recipe departs from the paper's, and
 * a finished stage one taken over from an earlier run.
 *
 * @module
 */
import { isAbsolute } from "node:path";
import { describeDvaeObjective } from "../lib/display/mod.ts";
import { readRunConfig } from "../lib/io/mod.ts";
import { experimentFlags, type MetricsRow, readCsv, UsageError } from "../lib/log/mod.ts";
import type { ReferenceFigure } from "../lib/pipeline/mod.ts";
import { type DvaeTrainConfig as DvaeConfig, EXPERIMENT as DVAE_TRAIN } from "./dvae_train.ts";
import type { ReferenceConfig } from "./reference.ts";
import { REPO_ROOT, type Stage } from "./_stages.ts";

/** The near misses stage two scores the reranker on (its near_miss.csv's `kind`). */
const NEAR_MISS_KINDS = ["colour", "shape", "size", "relation", "swap"];

/** A near-miss figure's name: how often the true caption beats the near miss of `kind`. */
const nearMissFigure = (kind: string) =>
  `reranker: true caption over ${
    kind === "relation"
      ? "relation flipped"
      : kind === "swap"
      ? "objects swapped"
      : `${kind} changed`
  }`;

/** The project's goals (issues #24, "pictures", and #23, "rerank"), by figure and split. */
const GOALS: Record<string, number> = {
  "dVAE reconstructions accepted|test": 0.95,
  "dVAE reconstructions accepted|zero-shot": 0.95,
  "per-draw agreement|test": 0.6,
  "per-draw agreement|zero-shot": 0.48,
  "reranker's best of 32|test": 0.9,
  "reranker's best of 32|zero-shot": 0.8,
  "shape per draw|test": 0.85,
  "relation per draw|test": 0.85,
  // Issue #23 ("rerank"): every kind of near miss, on rendered scenes of both held-out splits.
  ...Object.fromEntries(
    NEAR_MISS_KINDS.flatMap((kind) =>
      ["test", "zero-shot"].map((split) => [`${nearMissFigure(kind)}|${split}`, 0.9])
    ),
  ),
};

/** Stage one's flags that change where it writes, not what it trains. */
// compile: eager or one TensorFlow call per step is the same recipe (equal to float32 rounding).
const NOT_TRAINING = ["out", "tag", "figures", "compile"];

/**
 * Stage one from a finished run: its config.json must hold every flag dvae_train would resolve
 * from the flags stage one would get (its recipe and defaults included; those of NOT_TRAINING
 * aside, and `workers` and `backend` where the flags leave them to the machine); its dVAE is
 * copied to `dvaePath`.
 *
 * @param run The dvae_train run folder, relative to the repository.
 * @param args The flags stage one would get.
 * @param dvaePath Where its dVAE goes, relative to the repository.
 * @returns The stage, with the run's own time (train + evaluation).
 * @throws {UsageError} When the folder is not a finished dvae_train run or was trained otherwise.
 */
export async function reuseStageOne(
  run: string,
  args: string[],
  dvaePath: string,
): Promise<Stage> {
  const config = await readRunConfig(`${REPO_ROOT}${run}`);
  if (config === null || config.experiment !== "dvae_train") {
    throw new UsageError(`--dvaeRun=${run} is not a finished dvae_train run folder`);
  }
  const wanted: Record<string, unknown> = { ...await experimentFlags(DVAE_TRAIN, args) };
  const leftToMachine = (key: string) =>
    (key === "workers" && wanted.workers === 0) || (key === "backend" && !wanted.backend);
  // A flag added after that run is absent from its config: it ran as the flag's default does
  // (a new flag's default keeps the old behaviour), as resuming it would assume.
  const addedSince = (key: string) =>
    !(key in config) &&
    JSON.stringify(wanted[key]) === JSON.stringify(DVAE_TRAIN.defaults[key as keyof DvaeConfig]);
  const differs = Object.keys(wanted)
    .filter((key) => !NOT_TRAINING.includes(key) && !leftToMachine(key) && !addedSince(key))
    .filter((key) => JSON.stringify(config[key]) !== JSON.stringify(wanted[key]))
    .map((key) =>
      `${key}: ${JSON.stringify(config[key])} there, ${JSON.stringify(wanted[key])} here`
    );
  if (differs.length > 0) {
    throw new UsageError(`--dvaeRun=${run} was trained otherwise (${differs.join("; ")})`);
  }
  const out = String(config.out);
  await Deno.copyFile(isAbsolute(out) ? out : `${REPO_ROOT}${out}`, `${REPO_ROOT}${dvaePath}`);
  const [summary] = await rowsOf(`${REPO_ROOT}${run}/summary.csv`);
  const seconds = Number(summary.train_seconds) + Number(summary.eval_seconds);
  console.log(`Stage one reused: ${run} (${(seconds / 60).toFixed(0)} min when it ran)`);
  return { title: "dVAE (reused run)", script: "experiments/dvae_train.ts", args, seconds, run };
}

const rowsOf = async (path: string) => (await readCsv(path)).objects() as MetricsRow[];

/**
 * A figure from a summary row: the mean in `<column><meanSuffix>` (rerank_n_sweep writes
 * `random_mean`, prior_shapes `shape_agreement`), the interval in `<column>_low` / `_high`.
 */
const figureOf = (
  figure: string,
  split: string,
  row: MetricsRow,
  column: string,
  count: number,
  meanSuffix = "",
): ReferenceFigure => {
  const f: ReferenceFigure = {
    figure,
    split,
    mean: Number(row[`${column}${meanSuffix}`]),
    low: Number(row[`${column}_low`]),
    high: Number(row[`${column}_high`]),
    count,
  };
  const goal = GOALS[`${figure}|${split}`];
  return goal === undefined ? f : { ...f, goal };
};

/** Where the recipe departs from the paper's, from stage one's config and the flags. */
export async function departuresOf(stages: Stage[], cfg: ReferenceConfig): Promise<string[]> {
  const dvae = await readRunConfig(`${REPO_ROOT}${stages[0].run}`) ?? {};
  const objective = describeDvaeObjective(dvae);
  return [
    `the dVAE minimises ${objective.objective} (dvae_train.ts's shapes recipe), not the ` +
    "paper's ELB: " + objective.departures.join("; "),
    `the dVAE's encoder starts at ${cfg.dvaeHidden} channels (the paper's shape at our quarter ` +
    `width: 64) and trains on ${cfg.dvaeBatchSize} images per step`,
    `the prior: ${cfg.priorLayers} layers of width ${cfg.priorWidth} over an 8 × 8 grid of ` +
    "image tokens (the paper: 64 layers of width 3,968 over 32 × 32)",
    "the reranker trains with lib/pipeline's RERANKER_RECIPE (near-miss captions and near-miss " +
    "twins as hard negatives, half its images through the dVAE), not CLIP's batch negatives alone",
  ];
}

/** Every figure of the record, read from the stages' summaries. */
export async function figuresOf(stages: Stage[], cfg: ReferenceConfig): Promise<ReferenceFigure[]> {
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
    const sweepFigure = (figure: string, n: number, column: string) =>
      out.push(figureOf(figure, split, at(n), column, captions, "_mean"));
    // Per draw: a random one of the maxN draws, the mean over all of them.
    sweepFigure("per-draw agreement", cfg.maxN, "random");
    if (cfg.maxN > 8) sweepFigure("reranker's best of 8", 8, "reranked");
    sweepFigure(`reranker's best of ${cfg.maxN}`, cfg.maxN, "reranked");
    sweepFigure(`any of ${cfg.maxN} (oracle)`, cfg.maxN, "oracle");
  }
  const nearMisses = await rowsOf(`${REPO_ROOT}${stages[1].run}/near_miss.csv`);
  for (const kind of NEAR_MISS_KINDS) {
    for (const split of ["test", "zero-shot"]) {
      const row = nearMisses.find((r) =>
        r.split === split && r.images_of === "rendered" && r.kind === kind
      );
      if (!row) throw new Error(`prior_shapes' near_miss.csv has no ${kind} row for ${split}`);
      // near_miss.csv names the mean `accuracy` and the interval `ci_low` / `ci_high`.
      const named = { ci: row.accuracy, ci_low: row.ci_low, ci_high: row.ci_high };
      out.push(figureOf(nearMissFigure(kind), split, named, "ci", Number(row.images)));
    }
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
