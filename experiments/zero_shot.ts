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
 * Command: `deno run -A experiments/zero_shot.ts [--pipeline=DIR] [--captions=40] [--n=32]
 *   [--temperature=1] [--seed=0] [--quick]`
 *   Without --pipeline: the full pipeline, else the quick one, else the newest demo run's (see
 *   experiments/rerank_n_sweep.ts); config.json records `pipeline` and `pipelineSource`.
 *   `--quick`: 8 captions per split, best of 16, tag "quick": the same path and files, for
 *   checking the code and the table, not the rates.
 * Runtime: one caption's 32 draws take ~1.8 s on our 2-core machine at a load of 2–3, so the
 *   default 2 × 40 captions take ~2.5 min (measured 2.5 min). `--quick`: 34 s (measured at a
 *   load of 4.3).
 * Writes: data/runs/zero_shot/<UTC>_<tag>/: config.json (with the caption lists), metrics.csv (one
 *   row per caption: step, split, caption, first_agrees, reranked_agrees, draws_agreeing of n,
 *   best_draw, best_score), summary.csv (the table: attribute, test_first, test_reranked,
 *   zero_shot_first, zero_shot_reranked, ratio_first, ratio_reranked, and for the scene row the
 *   intervals `<column>_low` / `<column>_high`), table.md (lib/display's `zeroShotTable`),
 *   notes.json (runtime, load).
 * Expected (paper §3.2: DALL-E composes unusual concepts, with reranking; our goal): reranked
 *   test agreement ≥ 60% and zero-shot ≥ 80% of it; zero-shot losses concentrated in colour and
 *   shape (the held-out pair), not in count or relation.
 * Measured (data/runs/zero_shot/20261202T042535Z_table; the full pipeline
 *   data/cache/pipeline_shapes of prior_shapes run 20261202T040412Z_full; 40 captions per split,
 *   32 draws each, t = 1; tensorflow; 2.5 min, load 3.0 at the start (prior_shapes was judging
 *   the same pipeline on the other core), 2.3 at the end). Judge agreement; scene with 95%
 *   intervals over captions; colour and shape over named objects, size over objects whose size is
 *   named, relation over two-object captions:
 *
 *   | attribute | test: 1st   | best of 32   | zero-shot: 1st | best of 32  | ratio: 1st | best |
 *   | --------- | ----------- | ------------ | -------------- | ----------- | ---------- | ---- |
 *   | scene     | 13% [5, 26] | 20% [10, 35] | 3% [0, 13]     | 15% [7, 29] | 0.20       | 0.75 |
 *   | colour    | 76%         | 91%          | 72%            | 93%         | 0.96       | 1.02 |
 *   | shape     | 41%         | 52%          | 32%            | 38%         | 0.78       | 0.73 |
 *   | size      | 72%         | 93%          | 68%            | 85%         | 0.93       | 0.91 |
 *   | count     | 93%         | 98%          | 90%            | 100%        | 0.97       | 1.03 |
 *   | relation  | 69%         | 58%          | 62%            | 55%         | 0.90       | 0.96 |
 *
 *   Goals not met: reranked test agreement is 20% [10, 35] (goal 60%); zero-shot keeps 0.75 of it
 *   (goal 0.8), a ratio of two small rates that the intervals leave wide open (the N sweep's
 *   other draws give 0.50). Reranking lifts zero-shot the most (3% → 15%: the first draw rarely
 *   composes a held-out pair, one of 32 often does) and brings colour, size and count near
 *   100% in both splits; what it cannot fix is shape (52% / 38% after reranking) and relation,
 *   which it makes worse (69% → 58% on test): the reranker barely reads shape and not left/right
 *   (see experiments/rerank_n_sweep.ts's header for the probe), so among 32 draws it keeps one
 *   with the right colours and sizes but, as often as not, the wrong shape or order. The
 *   zero-shot loss sits where expected, in shape (0.73–0.78 of test), not in colour (the held-out
 *   pair's colours are drawn as well as seen ones) nor in count or relation.
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import type { AttributeAgreement } from "../lib/data/mod.ts";
import { zeroShotTable } from "../lib/display/mod.ts";
import { createShapesJudge } from "../lib/judge/mod.ts";
import { applyPreset, machineLoad, parseFlags, RunLog, writeCsv } from "../lib/log/mod.ts";
import {
  bestOfFirst,
  interval95,
  type JudgedCaption,
  keptAttributes,
} from "../lib/pipeline/mod.ts";
import {
  CAPTION_DEFAULTS,
  choosePipeline,
  judgeSplits,
  loadRerankingPipeline,
  splitCaptions,
} from "./_judged_splits.ts";

/** The experiment's configuration and defaults. */
export const ZERO_SHOT_DEFAULTS = {
  /** The saved pipeline (tokenizer, dVAE, prior, reranker); "" = choose (see the header). */
  pipeline: "",
  /** Run at the small budget of {@link ZERO_SHOT_QUICK}. */
  quick: false,
  ...CAPTION_DEFAULTS,
  /** Candidates the reranker chooses from. @accepts integer ≥ 1 */
  n: 32,
  /** Sampling temperature of the prior. @accepts number > 0 */
  temperature: 1,
  /** Seed of the draws. @accepts integer */
  seed: 0,
  /** Suffix of the run folder. */
  tag: "table",
  /** Root folder of the runs. */
  root: "data/runs",
  /** Write the run folder (false: rows in memory, e.g. for tests). */
  write: true,
};

/** What `--quick` changes: a budget that checks the code path and the table, not the rates. */
export const ZERO_SHOT_QUICK: Partial<ZeroShotConfig> = {
  quick: true,
  captions: 8,
  n: 16,
  tag: "quick",
};

/** The experiment's configuration. */
export type ZeroShotConfig = typeof ZERO_SHOT_DEFAULTS;

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
 * @param overrides Changes to {@linkcode ZERO_SHOT_DEFAULTS}.
 * @returns The run folder and the table.
 */
export async function run(
  overrides: Partial<ZeroShotConfig> = {},
): Promise<{ dir: string; table: ZeroShotRow[] }> {
  const cfg = { ...ZERO_SHOT_DEFAULTS, ...(overrides.quick ? ZERO_SHOT_QUICK : {}), ...overrides };
  const started = performance.now();
  const chosen = await choosePipeline(cfg.pipeline, "zero_shot");
  const pipeline = await loadRerankingPipeline(chosen.dir, "zero_shot");
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
      ...atStart,
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
  });
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
    await log.writeFile("table.md", markdown + "\n");
    await log.writeFile("notes.json", JSON.stringify(timing, null, 2) + "\n");
  }
  const scene = table[0];
  console.log(`\n${markdown}\n`);
  console.log(
    `[zero_shot] goals at N = ${cfg.n}: reranked test agreement ${
      (100 * Number(scene.test_reranked)).toFixed(0)
    }% (goal ≥ 60%), zero-shot keeps ${(100 * Number(scene.ratio_reranked)).toFixed(0)}% of it ` +
      `(goal ≥ 80%) · ${minutes.toFixed(1)} min, load ${atStart.load_avg_1min.toFixed(1)} → ` +
      `${timing.load_avg_1min_at_end.toFixed(1)}${log.dir ? `; wrote ${log.dir}` : ""}`,
  );
  return { dir: log.dir, table };
}

if (import.meta.main) {
  const asked = parseFlags(ZERO_SHOT_DEFAULTS);
  const flags = asked.quick ? applyPreset(asked, ZERO_SHOT_QUICK) : asked;
  await initBackend(flags.backend);
  await run(flags);
}
