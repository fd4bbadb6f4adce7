/**
 * Reranking N sweep, the analogue of the paper's Figure 9(c): how does the judge's agreement with
 * the caption grow with the number N of candidates the reranker chooses from, against picking one
 * of the N at random and against an oracle that keeps any draw the judge accepts?
 *
 * Question: for fixed train, test and zero-shot caption lists (the first C distinct captions of
 * a seeded set per split; train captions from the prior's own training scenes), draw 64
 * candidates per caption once at temperature 1 from the saved pipeline, score them with its
 * contrastive reranker and read them with the shapes judge; the first N draws stand for a run
 * with N candidates (lib/pipeline's `rerankCurve`). For N ∈ {1, 2, 4, 8, 16, 32, 64}, per split:
 * the agreement of the reranker's best of N, of a random one of the N (its expectation per
 * caption), and of the oracle (any of the N agrees), each with a 95% interval over captions.
 *
 * Command: `deno run -A experiments/rerank_n_sweep.ts [--pipeline=DIR] [--captions=64]
 *   [--maxN=64] [--ns=1,2,4,8,16,32,64] [--temperature=1] [--seed=0] [--quick]`
 *   Without --pipeline: data/cache/pipeline_shapes (`deno run -A experiments/prior_shapes.ts`),
 *   else the reference pipeline shipped in lib/pipeline/reference/ (`deno task reference`), else
 *   data/cache/pipeline_shapes_quick (`deno run -A experiments/demo.ts --quick`), else the
 *   pipeline of the newest data/runs/demo/ run, made first when there is none; config.json
 *   records the folder (`pipeline`) and why (`pipelineSource`).
 *   `--reranker=PATH` judges the same draws under another reranker (rerank_train.ts's `--out`,
 *   e.g. one of CLIP's recipe) that reads the pipeline's tokenizer; config.json records it. `--quick`: 6 captions per split, 16 draws, N ≤ 16, tag "quick": the same path
 *   and files in well under a minute, for checking the code and the figure, not the rates.
 * Runtime: about five minutes on our 2-core machine for the default 3 × 64 captions, up to twice
 *   that when the other core is busy (the results page gives the newest full run's own time);
 *   `--quick` well under a minute.
 * Writes: data/runs/rerank_n_sweep/<UTC>_<tag>/: config.json (with the caption lists), metrics.csv
 *   (one row per caption: step, split, caption, draws_agreeing of maxN, first_agrees, score_auc =
 *   P(an agreeing draw outscores a disagreeing one), reranked_n<N> = 1 when the reranker's best of
 *   the first N agrees), summary.csv (split, n, captions, reranked/random/oracle × mean/low/high),
 *   draws.json (every draw's reranker score and judge verdict), near_miss.csv (the reranker's
 *   near-miss preference per kind on 400 rendered test and zero-shot scenes, on the same scenes
 *   through the pipeline's dVAE, and on the first 16 captions' draws per split captioned as the
 *   judge reads them: where the reranker and the judge disagree about a draw), notes.json (runtime, load, mean
 *   score_auc per split) and rerank_n_sweep.html (the three curves per split, plotly embedded).
 * Expected (paper, Figure 9c): agreement of the reranked pick rises with N and saturates (DALL-E
 *   keeps the best of 512); random stays flat at the per-draw rate; the oracle bounds both. Goal
 *   set for this project: at N = 32, ≥ 60% on test captions, and held-out compositions keep
 *   ≥ 80% of the test rate.
 * Results: data/figures/RESULTS.md § rerank_n_sweep (`deno task figures` writes it from the
 *   newest full run, naming its folder, commit, machine and the pipeline it judged) and the curves
 *   in data/figures/rerank_n_sweep.html. Each point carries its 95% interval over the run's
 *   captions (64 per split by default: about ±10–12 points for rates of 20–50%). What to read: the
 *   reranked curve against random (reranking helps where it leaves random's interval) and
 *   against the oracle (how often the reranker finds an agreeing draw that is there); at N = 32,
 *   the project's goal of ≥ 60% on test captions, and zero-shot ≥ 0.8 of the test rate.
 *
 * @module
 */

import type { ShapesSplit } from "../lib/data/mod.ts";
import { nSweepFigure, plotPage } from "../lib/display/mod.ts";
import { createShapesJudge } from "../lib/judge/mod.ts";
import {
  type Experiment,
  experimentMain,
  machineLoad,
  type MetricsRow,
  RunLog,
  writeCsv,
} from "../lib/log/mod.ts";
import {
  bestOfFirst,
  type JudgedCaption,
  rerankCurve,
  type RerankPoint,
} from "../lib/pipeline/mod.ts";
import {
  CAPTION_DEFAULTS,
  choosePipeline,
  judgeSplits,
  loadRerankingPipeline,
  splitCaptions,
  trainSetWarning,
} from "./_judged_splits.ts";
import {
  drawNearMissRows,
  heldOutNearMissRows,
  NEAR_MISS_EVAL,
  printNearMiss,
} from "./_near_miss.ts";
import { interval95 } from "../lib/io/mod.ts";

/** The sweep's configuration and defaults. */
export const DEFAULTS = {
  /** The saved pipeline (tokenizer, dVAE, prior, reranker); "" = choose (see the header). */
  pipeline: "",
  /**
   * A reranker's weights (rerank_train.ts's --out) to use instead of the pipeline's own; it must
   * read the pipeline's tokenizer. "" = the pipeline's.
   */
  reranker: "",
  /** Run at the small budget of {@link QUICK}. */
  quick: false,
  ...CAPTION_DEFAULTS,
  /** Splits whose captions are drawn for. @accepts train | test | zero-shot */
  splits: ["train", "test", "zero-shot"] as string[],
  /** Draws per caption; the Ns are prefixes of them. @accepts integer ≥ 1 */
  maxN: 64,
  /** Numbers of candidates the reranker chooses from (each ≤ maxN). @accepts integer ≥ 1 */
  ns: [1, 2, 4, 8, 16, 32, 64],
  /** Sampling temperature of the prior. @accepts number > 0 */
  temperature: 1,
  /** Seed of the draws. @accepts integer */
  seed: 0,
  /**
   * Rendered test and zero-shot scenes for the reranker's near-miss table (rendered, and
   * through the pipeline's dVAE). @accepts integer ≥ 1
   */
  nearMissScenes: NEAR_MISS_EVAL.count,
  /**
   * Captions per split whose draws (all maxN) also go into the near-miss table, captioned as the
   * judge reads them. @accepts integer ≥ 0
   */
  nearMissDrawCaptions: 16,
  /** Suffix of the run folder. */
  tag: "sweep",
  /** Root folder of the runs. */
  root: "data/runs",
  /** Write the run folder (false: rows in memory, e.g. for tests). */
  write: true,
};

/** What `--quick` changes: a budget that checks the code path and the figure, not the rates. */
export const QUICK: Partial<RerankNSweepConfig> = {
  quick: true,
  captions: 6,
  maxN: 16,
  ns: [1, 2, 4, 8, 16],
  nearMissScenes: 40,
  nearMissDrawCaptions: 2,
  tag: "quick",
};

/** The sweep's configuration. */
export type RerankNSweepConfig = typeof DEFAULTS;

/** One row of the summary: one split at one N. */
export type SweepRow = {
  split: string;
  n: number;
  captions: number;
} & Record<`${"reranked" | "random" | "oracle"}_${"mean" | "low" | "high"}`, number>;

const PICKS = ["reranked", "random", "oracle"] as const;

/** A curve point as a flat summary row. */
function sweepRow(split: string, captions: number, p: RerankPoint): SweepRow {
  const row = { split, n: p.n, captions } as SweepRow;
  for (const pick of PICKS) {
    row[`${pick}_mean`] = p[pick].mean;
    row[`${pick}_low`] = p[pick].low;
    row[`${pick}_high`] = p[pick].high;
  }
  return row;
}

/**
 * How well the reranker's score separates the draws the judge accepts from those it rejects, for
 * one caption: the probability that a random agreeing draw outscores a random disagreeing one
 * (ties count half; the area under the ROC curve).
 *
 * @param judged One caption's judged draws.
 * @returns The probability, or NaN when every draw agrees or none does.
 * @example
 * ```ts
 * import { scoreAuc } from "./rerank_n_sweep.ts";
 * const scenes = [0, 1, 2].map(() => ({ objects: [], relation: null }));
 * const agrees = [true, false, false];
 * console.log(scoreAuc({ caption: "", scores: [0.9, 0.1, 0.5], agrees, scenes })); // 1
 * ```
 */
export function scoreAuc(judged: JudgedCaption): number {
  const yes = judged.scores.filter((_, i) => judged.agrees[i]);
  const no = judged.scores.filter((_, i) => !judged.agrees[i]);
  if (yes.length === 0 || no.length === 0) return NaN;
  let wins = 0;
  for (const a of yes) for (const b of no) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return wins / (yes.length * no.length);
}

/**
 * Runs the sweep: judges maxN draws per caption per split once, then the curves.
 *
 * @param overrides Changes to {@linkcode DEFAULTS}.
 * @returns The run folder and the summary rows.
 */
export async function run(
  overrides: Partial<RerankNSweepConfig> = {},
): Promise<{ dir: string; summary: SweepRow[] }> {
  const cfg = {
    ...DEFAULTS,
    ...(overrides.quick ? QUICK : {}),
    ...overrides,
  };
  if (cfg.ns.some((n) => !Number.isInteger(n) || n < 1 || n > cfg.maxN)) {
    throw new RangeError(`every N must be an integer in [1, maxN = ${cfg.maxN}], got ${cfg.ns}`);
  }
  const started = performance.now();
  const chosen = await choosePipeline(cfg.pipeline, "rerank_n_sweep");
  const pipeline = await loadRerankingPipeline(chosen.dir, "rerank_n_sweep", cfg.reranker);
  const judge = await createShapesJudge();
  const splits = [];
  for (const split of cfg.splits as ShapesSplit[]) {
    splits.push({ split, captions: await splitCaptions(split, cfg) });
  }
  const warning = cfg.splits.includes("train") ? await trainSetWarning(chosen.dir, cfg) : "";
  if (warning) console.warn(`[rerank_n_sweep] WARNING: ${warning}`);
  const atStart = machineLoad();
  const log = await RunLog.create({
    experiment: "rerank_n_sweep",
    tag: cfg.tag,
    config: {
      ...cfg,
      pipeline: chosen.dir,
      pipelineSource: chosen.source,
      warning,
      captionLists: Object.fromEntries(splits.map((s) => [s.split, s.captions])),
    },
    root: cfg.root,
    write: cfg.write,
    printEvery: 0,
  });
  const judged = await judgeSplits(pipeline, judge, splits, {
    n: cfg.maxN,
    temperature: cfg.temperature,
    seed: cfg.seed,
    experiment: "rerank_n_sweep",
    keepImages: cfg.nearMissDrawCaptions,
  });
  // The reranker's near-miss table: rendered scenes, the same through the dVAE, and its draws.
  const reranker = pipeline.reranker!;
  const nearMiss = [
    ...await heldOutNearMissRows(reranker, pipeline.tokenizer, pipeline.dvae, cfg.nearMissScenes),
    ...judged.flatMap(({ split, judged: captions }) =>
      drawNearMissRows(reranker, pipeline.tokenizer, split, captions, cfg.seed)
    ),
  ];
  judged.forEach((s) => s.judged.forEach((j) => j.images?.dispose()));
  pipeline.dispose();
  judge.dispose();
  const summary: SweepRow[] = [];
  let step = 0;
  for (const { split, judged: captions } of judged) {
    for (const j of captions) {
      const row: MetricsRow = {
        step: step++,
        split,
        caption: j.caption,
        draws_agreeing: j.agrees.filter(Boolean).length,
        first_agrees: j.agrees[0] ? 1 : 0,
        score_auc: scoreAuc(j),
      };
      for (const n of cfg.ns) row[`reranked_n${n}`] = j.agrees[bestOfFirst(j, n)] ? 1 : 0;
      log.log(row);
    }
    for (const p of rerankCurve(captions, cfg.ns)) {
      summary.push(sweepRow(split, captions.length, p));
    }
  }
  await log.flush();
  const minutes = (performance.now() - started) / 60000;
  const auc = Object.fromEntries(judged.map(({ split, judged: captions }) => {
    const known = captions.map(scoreAuc).filter((v) => !Number.isNaN(v));
    return [split, { mean: interval95(known), captions: known.length }];
  }));
  const note = {
    score_auc: auc,
    minutes: Number(minutes.toFixed(2)),
    seconds_per_split: Object.fromEntries(judged.map((s) => [s.split, Math.round(s.seconds)])),
    load_avg_1min_at_end: machineLoad().load_avg_1min,
  };
  if (log.dir) {
    await writeCsv(`${log.dir}/summary.csv`, summary);
    await writeCsv(`${log.dir}/near_miss.csv`, nearMiss);
    await log.writeFile("notes.json", JSON.stringify({ ...atStart, ...note }, null, 2) + "\n");
    const draws = judged.flatMap(({ split, judged: captions }) =>
      captions.map((j) => ({ split, caption: j.caption, scores: j.scores, agrees: j.agrees }))
    );
    await log.writeFile("draws.json", JSON.stringify(draws) + "\n");
    const title = `Judge agreement vs N (${cfg.captions} captions per split, ${chosen.dir})`;
    await log.writeFile("rerank_n_sweep.html", plotPage(nSweepFigure(summary, title)));
  }
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  console.table(summary.map((r) => ({
    split: r.split,
    n: r.n,
    reranked: `${pct(r.reranked_mean)} [${pct(r.reranked_low)}, ${pct(r.reranked_high)}]`,
    random: `${pct(r.random_mean)} [${pct(r.random_low)}, ${pct(r.random_high)}]`,
    oracle: `${pct(r.oracle_mean)} [${pct(r.oracle_low)}, ${pct(r.oracle_high)}]`,
  })));
  printNearMiss("rerank_n_sweep", nearMiss);
  for (const [split, { mean, captions }] of Object.entries(auc)) {
    console.log(
      `[rerank_n_sweep] ${split}: P(an agreeing draw outscores a disagreeing one) = ` +
        `${mean.mean.toFixed(2)} [${mean.low.toFixed(2)}, ${mean.high.toFixed(2)}] over ` +
        `${captions} captions with both kinds (0.5: the reranker cannot tell them apart)`,
    );
  }
  console.log(
    `[rerank_n_sweep] ${minutes.toFixed(1)} min, load ${atStart.load_avg_1min.toFixed(1)} → ` +
      `${note.load_avg_1min_at_end.toFixed(1)}${log.dir ? `; wrote ${log.dir}` : ""}`,
  );
  return { dir: log.dir, summary };
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<RerankNSweepConfig, Awaited<ReturnType<typeof run>>> = {
  name: "rerank_n_sweep",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
