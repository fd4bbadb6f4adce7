/**
 * Zero-shot compositions: how much of the in-distribution agreement survives on captions that
 * pair a colour with a shape the prior never saw together, per attribute, with and without the
 * reranker?
 *
 * Question: for fixed test and zero-shot caption lists (the first C distinct captions of each
 * split's seeded set; zero-shot captions name at least one held-out colour–shape pair), draw
 * N = 32 candidates per caption once at temperature 1 from the saved pipeline, score them with
 * its reranker and read them with the shapes judge. One table: rows = attribute (scene: every
 * attribute right; colour, shape, size, count, relation), columns = test / zero-shot × the first
 * draw (what a pipeline without reranking returns) / the reranker's best of 32, and the
 * zero-shot ÷ test ratios. Scene rows carry 95% intervals over captions.
 *
 * Command: `deno run -A experiments/zero_shot.ts [--pipeline=DIR] [--captions=64] [--n=32]
 *   [--temperature=1] [--seed=0] [--quick]`
 *   Without --pipeline: the full pipeline, else the shipped reference one, else the quick one,
 *   else the newest demo run's (see experiments/rerank_n_sweep.ts); config.json records
 *   `pipeline` and `pipelineSource`.
 *   `--reranker=PATH` judges the same draws under another reranker (rerank_train.ts's `--out`,
 *   e.g. one trained with near-miss negatives) that reads the pipeline's tokenizer; config.json
 *   records it.
 *   `--quick`: 8 captions per split, best of 16, tag "quick": the same path and files, for
 *   checking the code and the table, not the rates.
 * Runtime: a few minutes on our 2-core machine for the default 2 × 64 captions (the results page
 *   gives the newest full run's own time); `--quick` well under a minute.
 * Writes: data/runs/zero_shot/<UTC>_<tag>/: config.json (with the caption lists), metrics.csv (one
 *   row per caption: step, split, caption, first_agrees, reranked_agrees, draws_agreeing of n,
 *   best_draw, best_score), summary.csv (the table: attribute, test_first, test_reranked,
 *   zero_shot_first, zero_shot_reranked, ratio_first, ratio_reranked, and for the scene row the
 *   intervals `<column>_low` / `<column>_high`), table.md (lib/display's `zeroShotTable`),
 *   near_miss.csv (the reranker's near-miss preference per kind on rendered test and zero-shot
 *   scenes, through the dVAE, and on draws as the judge reads them; see rerank_n_sweep.ts),
 *   notes.json (runtime, load).
 * Expected (paper §3.2: DALL-E composes unusual concepts, with reranking; our goal): reranked
 *   test agreement ≥ 60% and zero-shot ≥ 80% of it; zero-shot losses concentrated in colour and
 *   shape (the held-out pair), not in count or relation.
 * Results: data/figures/RESULTS.md § zero_shot (`deno task figures` writes it from the newest full
 *   run, naming its folder, commit, machine and the pipeline it judged) and
 *   data/figures/zero_shot.md. Every rate there rests on the run's caption count (64 per split by
 *   default: a scene rate near 20% is then known to about ±10 points, and a zero-shot ÷ test ratio
 *   of two such rates is barely determined). What to read: whether reranking lifts the scene row
 *   beyond its interval, and in which attributes the zero-shot split loses (expected: the held-out
 *   pair's shape, not count or relation). How well the reranker itself reads each attribute is
 *   measured by experiments/rerank_train.ts (near_miss.csv); `--reranker=PATH` judges the same
 *   draws under another reranker, e.g. one trained with near-miss negatives.
 *
 * @module
 */

import type { AttributeAgreement } from "../lib/data/mod.ts";
import { zeroShotTable } from "../lib/display/mod.ts";
import { createShapesJudge } from "../lib/judge/mod.ts";
import { type Experiment, experimentMain, machineLoad, RunLog, writeCsv } from "../lib/log/mod.ts";
import { bestOfFirst, type JudgedCaption, keptAttributes } from "../lib/pipeline/mod.ts";
import {
  CAPTION_DEFAULTS,
  choosePipeline,
  judgeSplits,
  loadRerankingPipeline,
  splitCaptions,
} from "./_judged_splits.ts";
import {
  drawNearMissRows,
  heldOutNearMissRows,
  NEAR_MISS_EVAL,
  printNearMiss,
} from "./_near_miss.ts";
import { interval95 } from "../lib/io/mod.ts";

/** The experiment's configuration and defaults. */
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
  /** Candidates the reranker chooses from. @accepts integer ≥ 1 */
  n: 32,
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
   * Captions per split whose draws also go into the near-miss table, captioned as the judge
   * reads them. @accepts integer ≥ 0
   */
  nearMissDrawCaptions: 16,
  /** Suffix of the run folder. */
  tag: "table",
  /** Root folder of the runs. */
  root: "data/runs",
  /** Write the run folder (false: rows in memory, e.g. for tests). */
  write: true,
};

/** What `--quick` changes: a budget that checks the code path and the table, not the rates. */
export const QUICK: Partial<ZeroShotConfig> = {
  quick: true,
  captions: 8,
  n: 16,
  nearMissScenes: 40,
  nearMissDrawCaptions: 2,
  tag: "quick",
};

/** The experiment's configuration. */
export type ZeroShotConfig = typeof DEFAULTS;

/** The table's attributes, in order (`scene`: every attribute right). */
export const ATTRIBUTES = ["scene", "colour", "shape", "size", "count", "relation"] as const;

/** One row of the table. */
export type ZeroShotRow = Record<string, string | number | null> & { attribute: string };

const COLUMNS = ["test_first", "test_reranked", "zero_shot_first", "zero_shot_reranked"] as const;

/**
 * The summary rows from the judged draws of both splits (lib/display's `zeroShotTable` formats
 * them).
 *
 * @param test Judged test captions.
 * @param zeroShot Judged zero-shot captions.
 * @param n Candidates the reranker chose from.
 * @returns One row per attribute.
 */
export function zeroShotSummary(
  test: readonly JudgedCaption[],
  zeroShot: readonly JudgedCaption[],
  n: number,
): ZeroShotRow[] {
  const parts: Record<(typeof COLUMNS)[number], AttributeAgreement> = {
    test_first: keptAttributes(test, n, false),
    test_reranked: keptAttributes(test, n, true),
    zero_shot_first: keptAttributes(zeroShot, n, false),
    zero_shot_reranked: keptAttributes(zeroShot, n, true),
  };
  const sceneFlags = {
    test_first: test.map((j) => (j.agrees[0] ? 1 : 0)),
    test_reranked: test.map((j) => (j.agrees[bestOfFirst(j, n)] ? 1 : 0)),
    zero_shot_first: zeroShot.map((j) => (j.agrees[0] ? 1 : 0)),
    zero_shot_reranked: zeroShot.map((j) => (j.agrees[bestOfFirst(j, n)] ? 1 : 0)),
  };
  return ATTRIBUTES.map((attribute) => {
    const key = attribute === "scene" ? "scenes" : attribute;
    const row: ZeroShotRow = { attribute };
    for (const c of COLUMNS) row[c] = parts[c][key];
    row.ratio_first = Number(row.zero_shot_first) / Number(row.test_first);
    row.ratio_reranked = Number(row.zero_shot_reranked) / Number(row.test_reranked);
    for (const c of COLUMNS) {
      const ci = attribute === "scene" ? interval95(sceneFlags[c]) : null;
      row[`${c}_low`] = ci?.low ?? null;
      row[`${c}_high`] = ci?.high ?? null;
    }
    return row;
  });
}

/**
 * Runs the experiment: one judged pass of `n` draws per caption for test and zero-shot.
 *
 * @param overrides Changes to {@linkcode DEFAULTS}.
 * @returns The run folder and the table.
 */
export async function run(
  overrides: Partial<ZeroShotConfig> = {},
): Promise<{ dir: string; table: ZeroShotRow[] }> {
  const cfg = { ...DEFAULTS, ...(overrides.quick ? QUICK : {}), ...overrides };
  const started = performance.now();
  const chosen = await choosePipeline(cfg.pipeline, "zero_shot");
  const pipeline = await loadRerankingPipeline(chosen.dir, "zero_shot", cfg.reranker);
  const judge = await createShapesJudge();
  const splits = [
    { split: "test" as const, captions: await splitCaptions("test", cfg) },
    { split: "zero-shot" as const, captions: await splitCaptions("zero-shot", cfg) },
  ];
  const atStart = machineLoad();
  const log = await RunLog.create({
    experiment: "zero_shot",
    tag: cfg.tag,
    config: {
      ...cfg,
      pipeline: chosen.dir,
      pipelineSource: chosen.source,
      captionLists: Object.fromEntries(splits.map((s) => [s.split, s.captions])),
    },
    root: cfg.root,
    write: cfg.write,
    printEvery: 0,
  });
  const [test, zeroShot] = await judgeSplits(pipeline, judge, splits, {
    n: cfg.n,
    temperature: cfg.temperature,
    seed: cfg.seed,
    experiment: "zero_shot",
    keepImages: cfg.nearMissDrawCaptions,
  });
  // The reranker's near-miss table: rendered scenes, the same through the dVAE, and its draws.
  const reranker = pipeline.reranker!;
  const nearMiss = [
    ...await heldOutNearMissRows(reranker, pipeline.tokenizer, pipeline.dvae, cfg.nearMissScenes),
    ...[test, zeroShot].flatMap(({ split, judged }) =>
      drawNearMissRows(reranker, pipeline.tokenizer, split, judged, cfg.seed)
    ),
  ];
  [test, zeroShot].forEach((s) => s.judged.forEach((j) => j.images?.dispose()));
  pipeline.dispose();
  judge.dispose();
  let step = 0;
  for (const { split, judged } of [test, zeroShot]) {
    for (const j of judged) {
      const best = bestOfFirst(j, cfg.n);
      log.log({
        step: step++,
        split,
        caption: j.caption,
        first_agrees: j.agrees[0] ? 1 : 0,
        reranked_agrees: j.agrees[best] ? 1 : 0,
        draws_agreeing: j.agrees.filter(Boolean).length,
        best_draw: best,
        best_score: j.scores[best],
      });
    }
  }
  await log.flush();
  const table = zeroShotSummary(test.judged, zeroShot.judged, cfg.n);
  const { markdown } = zeroShotTable(table, cfg.n);
  const minutes = (performance.now() - started) / 60000;
  const timing = {
    ...atStart,
    minutes: Number(minutes.toFixed(2)),
    seconds_per_split: {
      test: Math.round(test.seconds),
      "zero-shot": Math.round(zeroShot.seconds),
    },
    load_avg_1min_at_end: machineLoad().load_avg_1min,
  };
  if (log.dir) {
    await writeCsv(`${log.dir}/summary.csv`, table);
    await writeCsv(`${log.dir}/near_miss.csv`, nearMiss);
    await log.writeFile("table.md", markdown + "\n");
    await log.writeFile("notes.json", JSON.stringify(timing, null, 2) + "\n");
  }
  const scene = table[0];
  console.log(`\n${markdown}\n`);
  printNearMiss("zero_shot", nearMiss);
  console.log(
    `[zero_shot] goals at N = ${cfg.n}: reranked test agreement ${
      (100 * Number(scene.test_reranked)).toFixed(0)
    }% (goal ≥ 60%), zero-shot keeps ${(100 * Number(scene.ratio_reranked)).toFixed(0)}% of it ` +
      `(goal ≥ 80%) · ${minutes.toFixed(1)} min, load ${atStart.load_avg_1min.toFixed(1)} → ` +
      `${timing.load_avg_1min_at_end.toFixed(1)}${log.dir ? `; wrote ${log.dir}` : ""}`,
  );
  return { dir: log.dir, table };
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<ZeroShotConfig, Awaited<ReturnType<typeof run>>> = {
  name: "zero_shot",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
