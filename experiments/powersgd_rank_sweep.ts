/**
 * PowerSGD rank sweep: the smallest rank that trains like uncompressed all-reduce (paper Table 1,
 * §2.5, App. E), at our scale.
 *
 * Question: with W = 4 simulated workers, each on its own data shard, training the tiny prior
 * (lib/prior, d_model 64, 2 layers, dense attention) on structured token streams, how small can
 * the PowerSGD rank be (r ∈ {1, 2, 4, 8, 16, 32}) before the loss curve falls behind the
 * uncompressed run in the first 10% of training, and how much communication does it save?
 * Every run has the same initial weights, the same batches and the same number of steps.
 *
 * Gap criterion (ours, stated): gap = mean over steps in [5%, 10%) of training of
 * (loss_r − loss_none), divided by the mean of loss_none over the same steps; a rank "shows no
 * gap" when gap ≤ gapTolerance (default 2%). The summary also gives the gap over the last 10%.
 *
 * Command: `deno run -A experiments/powersgd_rank_sweep.ts [--steps=150] [--ranks=1,2,4,8,16,32]
 *   [--workers=4] [--batchSize=8] [--dModel=64] [--layers=2] [--lr=0.003] [--gapTolerance=0.02]`
 * Runtime: ~4 min on 2 cores (7 runs × 150 steps × 4 workers); scales with steps.
 * Writes: data/runs/powersgd_rank_sweep/<UTC>_<tag>/{config.json, metrics.csv, summary.csv};
 *   metrics: step, variant, rank, loss, saved_fraction, compression_ratio, step_ms.
 * Expected (paper): a minimum rank exists below which early loss lags; DALL-E's minimum ranks were
 *   about a quarter of d_model (512/1920, 640/2688, 896/3968), saving 83–86% of communication.
 *   Here small matrices (64 × 64) are sent uncompressed once (n + m)·r·2 ≥ n·m, so the savings
 *   shrink to 0 as r approaches d_model / 4 and the compression rate of every run is logged.
 *
 * @module
 */
import { ensureBackend, initBackend } from "../lib/backend/mod.ts";
import { parseFlags, RunLog, writeCsv } from "../lib/log/mod.ts";
import { PowerSGD } from "../lib/powersgd/mod.ts";
import {
  makeTokenDataset,
  meanOf,
  meanReducer,
  powerSgdReducer,
  type Reducer,
  TINY_RUN_DEFAULTS,
  TINY_TOKENS,
  tinyPriorOf,
  type TrainableModel,
  trainDataParallel,
} from "./_data_parallel.ts";

/** The sweep's configuration and defaults. */
export const RANK_SWEEP_DEFAULTS = {
  ...TINY_RUN_DEFAULTS,
  /** Ranks to try, besides the uncompressed run. */
  ranks: [1, 2, 4, 8, 16, 32],
  /** Simulated data-parallel workers W. */
  workers: 4,
  /** Training steps of every run. */
  steps: 150,
  /** Examples per worker per step. */
  batchSize: 8,
  /** Fraction of training the gap criterion looks at (the paper: the first 10%). */
  window: 0.1,
  /** Largest relative early gap that counts as "no gap". */
  gapTolerance: 0.02,
  /** Tag of the run folder. */
  tag: "sweep",
};

/** The sweep's configuration. */
export type RankSweepConfig = typeof RANK_SWEEP_DEFAULTS;

/** One line of the summary. */
export interface RankSweepSummaryRow {
  [key: string]: string | number | boolean;
  variant: string;
  rank: number;
  rank_over_d_model: number;
  saved_fraction: number;
  compression_ratio: number;
  early_gap: number;
  final_gap: number;
  no_early_gap: boolean;
  final_loss: number;
}

/**
 * Runs the sweep: the uncompressed run, then one run per rank, all from the same start.
 *
 * @param overrides Changes to {@linkcode RANK_SWEEP_DEFAULTS}.
 * @param buildModel Makes the model (fresh, same seed, for every run). @default the tiny prior
 * @returns The run folder, the per-step rows, the summary and the smallest rank without gap.
 * @example
 * ```ts
 * import { runRankSweep } from "./powersgd_rank_sweep.ts";
 * const { summary, minimumRank } = await runRankSweep({ steps: 4, ranks: [1], write: false });
 * console.log(summary.length, minimumRank); // 2, 1 or null
 * ```
 */
export async function runRankSweep(
  overrides: Partial<RankSweepConfig> = {},
  buildModel?: (config: RankSweepConfig) => TrainableModel,
): Promise<{
  dir: string;
  rows: Record<string, string | number | boolean | null>[];
  summary: RankSweepSummaryRow[];
  minimumRank: number | null;
}> {
  await ensureBackend(); // the backend chosen by the caller, else the default
  const config = { ...RANK_SWEEP_DEFAULTS, ...overrides };
  const build: (c: RankSweepConfig) => TrainableModel = buildModel ?? tinyPriorOf;
  const data = makeTokenDataset(config.examples, config.seed);
  const probe = build(config);
  const description = probe.description;
  probe.dispose();
  const log = await RunLog.create({
    experiment: "powersgd_rank_sweep",
    tag: config.tag,
    config: { ...config, model: description, data: TINY_TOKENS },
    write: config.write,
    root: config.root,
    printEvery: 25,
    totalSteps: config.steps,
  });
  const variants: { variant: string; rank: number }[] = [
    { variant: "none", rank: 0 },
    ...config.ranks.map((rank) => ({ variant: `r${rank}`, rank })),
  ];
  const losses = new Map<string, number[]>();
  const finalStats = new Map<string, { saved: number; ratio: number }>();
  for (const { variant, rank } of variants) {
    const model = build(config);
    const psgd = rank > 0
      ? new PowerSGD({ rank, workers: config.workers, seed: config.seed })
      : null;
    const reduce: Reducer = psgd ? powerSgdReducer(psgd) : meanReducer();
    let last = { saved: 0, ratio: 1 };
    console.log(`[powersgd_rank_sweep] ${variant}`);
    losses.set(
      variant,
      trainDataParallel({
        model,
        data,
        workers: config.workers,
        batchSize: config.batchSize,
        steps: config.steps,
        lr: config.lr,
        seed: config.seed,
        reduce,
        onStep: ({ step, loss, stepMs, metrics }) => {
          last = { saved: metrics.saved_fraction ?? 0, ratio: metrics.compression_ratio ?? 1 };
          log.log({
            step,
            variant,
            rank,
            loss,
            saved_fraction: last.saved,
            compression_ratio: last.ratio,
            step_ms: Math.round(stepMs),
          });
        },
      }),
    );
    finalStats.set(variant, last);
    psgd?.dispose();
    model.dispose();
  }
  await log.flush();

  const base = losses.get("none")!;
  const steps = config.steps;
  const windowFrom = Math.floor(steps * config.window / 2);
  const windowTo = Math.max(windowFrom + 1, Math.floor(steps * config.window));
  const gap = (curve: number[], from: number, to: number) => {
    const diff = curve.map((l, i) => l - base[i]);
    return meanOf(diff, from, to) / meanOf(base, from, to);
  };
  const summary: RankSweepSummaryRow[] = variants.map(({ variant, rank }) => {
    const curve = losses.get(variant)!;
    const earlyGap = gap(curve, windowFrom, windowTo);
    return {
      variant,
      rank,
      rank_over_d_model: rank / config.dModel,
      saved_fraction: finalStats.get(variant)!.saved,
      compression_ratio: finalStats.get(variant)!.ratio,
      early_gap: earlyGap,
      final_gap: gap(curve, Math.floor(steps * 0.9), steps),
      no_early_gap: earlyGap <= config.gapTolerance,
      final_loss: meanOf(curve, Math.floor(steps * 0.9), steps),
    };
  });
  const ranked = summary.filter((s) => s.rank > 0).sort((a, b) => a.rank - b.rank);
  // The smallest rank from which on every larger rank also shows no gap.
  let minimumRank: number | null = null;
  for (let i = ranked.length - 1; i >= 0 && ranked[i].no_early_gap; i--) {
    minimumRank = ranked[i].rank;
  }
  if (log.dir) await writeCsv(`${log.dir}/summary.csv`, summary);
  console.table(summary);
  console.log(
    `[powersgd_rank_sweep] window steps ${windowFrom}–${windowTo - 1}; smallest rank with no ` +
      `early gap (≤ ${100 * config.gapTolerance}%): ${minimumRank ?? "none of those tried"}` +
      (minimumRank ? ` (r/d_model = ${(minimumRank / config.dModel).toFixed(3)})` : "") +
      (log.dir ? `\n  wrote ${log.dir}` : ""),
  );
  return { dir: log.dir, rows: log.rows, summary, minimumRank };
}

if (import.meta.main) {
  const flags = parseFlags(RANK_SWEEP_DEFAULTS);
  await initBackend(flags.backend);
  await runRankSweep(flags);
}
