/**
 * PowerSGD rank sweep: the smallest rank that trains like the exact all-reduce (paper Table 1,
 * §2.5, App. E), at our scale, on real workers.
 *
 * Question: training the tiny prior (lib/prior, d_model 64, 2 layers, 4 heads, dense attention)
 * on lib/data's synthetic token streams with 2 real workers (this process and one Deno Worker,
 * each computing half of every 32-example batch; lib/prior's `trainPrior`, lib/nn's one trainer),
 * how small can the PowerSGD rank be (r ∈ {2, 4, 8, 16, 32}, `powerSgd({ rank })`: warm-start Q,
 * Gram-Schmidt, error feedback, float32) before the loss falls behind the exact all-reduce
 * (`meanReducer()`) in the first 10% of training, how many bytes does each worker send per step,
 * and what does a step cost in wall time? Every run has the same initial weights, batches, steps
 * and schedule (peak lr 3e-3, warm-up 5%, cosine to a tenth; AdamW β2 0.96, weight decay 4.5e-2,
 * clip 4: trainPrior's paper settings).
 *
 * Gap criterion (ours, stated; the paper's Table 1 criterion is "no loss gap over the first 10%"):
 * gap = mean over steps in [5%, 10%) of training of (loss_r − loss_mean), divided by the mean of
 * loss_mean over the same steps; a rank shows "no gap" when gap ≤ gapTolerance (2%). The smallest
 * rank with no gap is the smallest from which every larger rank that ran also shows none. The
 * summary also gives the gap over the last 10%.
 *
 * Ranks the gradients do not allow (decided, stated): PowerSGD compresses an n × m matrix only
 * while (n + m)·r·minCompressionRate < n·m (minCompressionRate 2, torch's rule and the
 * reducer's default), so here 64 × 64 matrices are sent whole from r = 16 on, and at r = 32 no
 * matrix of this model qualifies (the largest allowed rank is 25, by the 64 × 256 MLP weights).
 * Such a rank is not run: lib/powersgd's `checkRank` rejects it and its summary row says
 * "rejected: <the RangeError's message>". `--minCompressionRate=1` compresses wherever it saves
 * anything and runs r = 32 (on the MLP and qkv matrices only).
 *
 * Command: `deno run -A experiments/powersgd_rank_sweep.ts [--steps=240] [--ranks=2,4,8,16,32]
 *   [--workers=2] [--batchSize=32] [--minCompressionRate=2] [--gapTolerance=0.02]`
 * Runtime: one to a few minutes on 2 cores, with the load (5 runs × 240 steps; the results page
 *   gives the newest full run's own time).
 *   `--quick` (QUICK: 40 steps, r ∈ {4, 16, 32}, tag "quick"): about half a minute;
 *   it checks the code path, not the result.
 * Writes: data/runs/powersgd_rank_sweep/<UTC>_<tag>/{config.json, metrics.csv, summary.csv};
 *   metrics: step, variant ("mean", "r2" …), rank (0: mean), then trainPrior's row: loss,
 *   text_loss_nats, image_loss_nats, image_bits_per_token, lr, grad_norm, skipped, skipped_steps,
 *   bytes_sent (bytes each worker posted that step, all rounds), tokens_per_sec, step_ms.
 *   summary: variant, rank, status, bytes_sent_per_step, bytes_vs_mean, step_ms_median,
 *   step_ms_vs_mean, early_gap, final_gap, no_early_gap, final_loss, smallest_rank_no_early_gap.
 * Expected (paper): a minimum rank exists below which early loss lags; DALL-E's minimum ranks were
 *   about a quarter of d_model (512/1920, 640/2688, 896/3968), saving 83–86% of communication.
 *   Here bytes per step fall with the rank; wall time does not, because our "network" is a
 *   message between two processes on one machine: PowerSGD's extra round trips and
 *   orthogonalisation cost more than the bytes they save.
 * Results: data/figures/RESULTS.md § powersgd_rank_sweep (`deno task figures` writes it from the
 *   newest full run, naming its folder, commit, machine and load). What to read there: the
 *   smallest rank with no early gap (`smallest_rank_no_early_gap`) against the paper's ~d_model/4;
 *   the bytes per step against the mean run's; and `step_ms_vs_mean`, where a ratio above 1 says
 *   that PowerSGD's extra rounds cost more than the bytes they save when the "network" is a
 *   message between two processes on one machine. The final-gap column says whether the early
 *   criterion promises equal final loss at this length (it need not).
 *
 * @module
 */
import { ensureBackend } from "../lib/backend/mod.ts";
import { median } from "../lib/io/mod.ts";
import { type Experiment, experimentMain, RunLog, writeCsv } from "../lib/log/mod.ts";
import { meanReducer, type ReducerSpec } from "../lib/nn/mod.ts";
import { checkRank, powerSgd } from "../lib/powersgd/mod.ts";
import { createPrior, type Prior } from "../lib/prior/mod.ts";
import {
  meanOf,
  relativeGap,
  TINY_PRIOR_DEFAULTS,
  tinyData,
  tinyPriorConfig,
  trainTinyPrior,
} from "./_tiny_prior.ts";

/** The sweep's configuration and defaults. */
export const DEFAULTS = {
  ...TINY_PRIOR_DEFAULTS,
  /** Ranks to try, besides the exact all-reduce. @accepts integer ≥ 1 */
  ranks: [2, 4, 8, 16, 32],
  /** Training steps of every run. @accepts integer ≥ 1 */
  steps: 240,
  /** PowerSGD compresses a matrix only if n·m > (n + m)·r·this. */
  minCompressionRate: 2,
  /**
   * Fraction of training the gap criterion looks at (the paper: the first 10%).
   * @accepts number > 0 ≤ 1
   */
  window: 0.1,
  /** Largest relative early gap that counts as "no gap". */
  gapTolerance: 0.02,
  /** Tag of the run folder. */
  tag: "sweep",
};

/**
 * The small budget of `--quick` (explicit flags still win): fewer examples, steps and ranks, one
 * of them rejected (r = 32), so every branch of the sweep runs in about half a minute.
 */
export const QUICK: Partial<RankSweepConfig> = {
  quick: true,
  trainCount: 1024,
  steps: 40,
  ranks: [4, 16, 32],
  tag: "quick",
};

/** The sweep's configuration. */
export type RankSweepConfig = typeof DEFAULTS;

/** One line of the summary (null where a rejected rank has no value). */
export interface RankSweepSummaryRow {
  [key: string]: string | number | boolean | null;
  variant: string;
  /** 0 for the exact all-reduce. */
  rank: number;
  /** "ok", or "rejected: <why>" for a rank the gradients do not allow. */
  status: string;
  /** Bytes each worker sent per step (median over steps; every step sends the same). */
  bytes_sent_per_step: number | null;
  /** That, as a fraction of the exact all-reduce's. */
  bytes_vs_mean: number | null;
  /** Median wall time of a step, ms. */
  step_ms_median: number | null;
  /** That, over the exact all-reduce's. */
  step_ms_vs_mean: number | null;
  early_gap: number | null;
  final_gap: number | null;
  no_early_gap: boolean | null;
  /** Mean loss over the last 10% of steps. */
  final_loss: number | null;
  /** The sweep's answer, the same on every row (null: every rank that ran shows a gap). */
  smallest_rank_no_early_gap: number | null;
}

/** The reducer of a rank, or why the model's gradients do not allow it. */
function reducerFor(rank: number, config: RankSweepConfig, prior: Prior): ReducerSpec | string {
  if (rank === 0) return meanReducer();
  const named = prior.namedParameters();
  try {
    checkRank(
      rank,
      named.map(([, p]) => p.shape),
      named.map(([n]) => n),
      config.minCompressionRate,
    );
  } catch (err) {
    if (err instanceof RangeError) return err.message;
    throw err;
  }
  return powerSgd({ rank, minCompressionRate: config.minCompressionRate, seed: config.seed });
}

/**
 * The smallest rank from which on every larger rank that ran also shows no early gap.
 *
 * @param rows Summary rows (the mean's, rank 0, and rejected ones are ignored).
 * @returns The rank, or null when the largest rank that ran shows a gap.
 * @example
 * ```ts
 * import { smallestRankWithoutGap } from "./powersgd_rank_sweep.ts";
 * const rows = [[2, false], [4, true], [8, false], [16, true], [32, true]]
 *   .map(([rank, ok]) => ({ rank: rank as number, status: "ok", no_early_gap: ok as boolean }));
 * console.log(smallestRankWithoutGap(rows)); // 16
 * ```
 */
export function smallestRankWithoutGap(
  rows: { rank: number; status: string; no_early_gap: boolean | null }[],
): number | null {
  const ran = rows.filter((r) => r.rank > 0 && r.status === "ok").sort((a, b) => a.rank - b.rank);
  let smallest: number | null = null;
  for (let i = ran.length - 1; i >= 0 && ran[i].no_early_gap; i--) smallest = ran[i].rank;
  return smallest;
}

/**
 * Runs the sweep: the exact all-reduce, then one run per allowed rank, all from the same start.
 *
 * @param overrides Changes to {@linkcode DEFAULTS}.
 * @returns The run folder, the per-step rows, the summary and the smallest rank without gap.
 * @example
 * ```ts
 * import { run } from "./powersgd_rank_sweep.ts";
 * const { summary, minimumRank } = await run({ steps: 4, ranks: [2], write: false });
 * console.log(summary.length, minimumRank); // 2, 2 or null
 * ```
 */
export async function run(overrides: Partial<RankSweepConfig> = {}): Promise<{
  dir: string;
  rows: Record<string, string | number | boolean | null>[];
  summary: RankSweepSummaryRow[];
  minimumRank: number | null;
}> {
  await ensureBackend(); // the backend chosen by the caller, else the default
  const config = { ...DEFAULTS, ...overrides };
  const data = tinyData(config);
  const probe = createPrior(tinyPriorConfig(config));
  const variants = [0, ...config.ranks].map((rank) => ({
    variant: rank === 0 ? "mean" : `r${rank}`,
    rank,
    reducer: reducerFor(rank, config, probe),
  }));
  probe.dispose();
  const log = await RunLog.create({
    experiment: "powersgd_rank_sweep",
    tag: config.tag,
    config: {
      ...config,
      model: tinyPriorConfig(config),
      reducers: Object.fromEntries(
        variants.map((v) => [v.variant, typeof v.reducer === "string" ? null : v.reducer.label]),
      ),
    },
    write: config.write,
    root: config.root,
    printEvery: 50,
    totalSteps: config.steps,
  });
  const runs = new Map<string, { loss: number[]; bytes: number[]; ms: number[] }>();
  for (const { variant, rank, reducer } of variants) {
    if (typeof reducer === "string") {
      console.log(`[powersgd_rank_sweep] ${variant}: not run (${reducer})`);
      continue;
    }
    console.log(`[powersgd_rank_sweep] ${variant}: ${reducer.label}, ${config.workers} workers`);
    const rows = await trainTinyPrior(config, data, {
      steps: config.steps,
      reducer,
      log,
      tags: { variant, rank },
    });
    runs.set(variant, {
      loss: rows.map((r) => Number(r.loss)),
      bytes: rows.map((r) => Number(r.bytes_sent)),
      ms: rows.map((r) => Number(r.step_ms)),
    });
  }
  await log.flush();

  const base = runs.get("mean")!;
  const steps = config.steps;
  const windowFrom = Math.floor(steps * config.window / 2);
  const windowTo = Math.max(windowFrom + 1, Math.floor(steps * config.window));
  const last = Math.floor(steps * 0.9);
  const summary: RankSweepSummaryRow[] = variants.map(({ variant, rank, reducer }) => {
    const run = runs.get(variant);
    if (!run) {
      return {
        variant,
        rank,
        status: `rejected: ${reducer}`,
        bytes_sent_per_step: null,
        bytes_vs_mean: null,
        step_ms_median: null,
        step_ms_vs_mean: null,
        early_gap: null,
        final_gap: null,
        no_early_gap: null,
        final_loss: null,
        smallest_rank_no_early_gap: null,
      };
    }
    const earlyGap = relativeGap(run.loss, base.loss, windowFrom, windowTo);
    return {
      variant,
      rank,
      status: "ok",
      bytes_sent_per_step: median(run.bytes),
      bytes_vs_mean: median(run.bytes) / median(base.bytes),
      step_ms_median: median(run.ms),
      step_ms_vs_mean: median(run.ms) / median(base.ms),
      early_gap: earlyGap,
      final_gap: relativeGap(run.loss, base.loss, last, steps),
      no_early_gap: earlyGap <= config.gapTolerance,
      final_loss: meanOf(run.loss, last, steps),
      smallest_rank_no_early_gap: null,
    };
  });
  const minimumRank = smallestRankWithoutGap(summary);
  for (const row of summary) row.smallest_rank_no_early_gap = minimumRank;
  if (log.dir) await writeCsv(`${log.dir}/summary.csv`, summary);
  console.table(summary.map(({ smallest_rank_no_early_gap: _, status, ...row }) => ({
    ...row,
    status: status.slice(0, 20),
  })));
  console.log(
    `[powersgd_rank_sweep] window steps ${windowFrom}–${windowTo - 1}; smallest rank with no ` +
      `early gap (≤ ${100 * config.gapTolerance}%): ${minimumRank ?? "none of those run"}` +
      (minimumRank ? ` (r/d_model = ${(minimumRank / config.dModel).toFixed(3)})` : "") +
      (log.dir ? `\n  wrote ${log.dir}` : ""),
  );
  return { dir: log.dir, rows: log.rows, summary, minimumRank };
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<RankSweepConfig, Awaited<ReturnType<typeof run>>> = {
  name: "powersgd_rank_sweep",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
