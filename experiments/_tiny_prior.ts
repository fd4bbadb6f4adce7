/**
 * What the gradient-exchange studies (PowerSGD rank sweep and variants, 16-bit gradient scaling)
 * share: the tiny prior on lib/data's synthetic token streams, its flags, one call that trains it
 * with a given reducer through lib/prior's `trainPrior` (the one trainer, on real Deno Workers),
 * and the loss-gap arithmetic of their summaries. There is no training loop here: every step,
 * shard and exchange is lib/nn's `train`.
 *
 * @module
 */
import type { MetricsRow, RunLog } from "../lib/log/mod.ts";
import type { ReducerSpec } from "../lib/nn/mod.ts";
import { makeTokenDataset, TINY_TOKENS, tokenBatchAt, type TokenDataset } from "../lib/data/mod.ts";
import { createPrior, type Prior, type PriorConfig, trainPrior } from "../lib/prior/mod.ts";

/**
 * Flags every study of the tiny prior shares; each experiment spreads these into its own
 * defaults and adds its question's flags.
 */
export const TINY_PRIOR_DEFAULTS = {
  /** Examples in the token dataset (lib/data `makeTokenDataset`). @accepts integer ≥ 1 */
  trainCount: 4096,
  /** Examples per step, split evenly over the workers. @accepts integer ≥ 1 */
  batchSize: 32,
  /** Processes computing each step: this one and workers − 1 Deno Workers. @accepts integer ≥ 1 */
  workers: 2,
  /** Peak AdamW step size (warm-up over 5% of steps, cosine decay to a tenth; trainPrior's). */
  lr: 3e-3,
  /** Width of the tiny prior. @accepts integer ≥ 1 */
  dModel: 64,
  /** Transformer layers. @accepts integer ≥ 1 */
  layers: 2,
  /** Attention heads. @accepts integer ≥ 1 */
  heads: 4,
  /** Seed of weights, data and batch order: the same for every run of a study. @accepts integer */
  seed: 0,
  /** Folder that holds the runs of all experiments. */
  root: "data/runs",
  /** Write the run folder (false: keep rows in memory). */
  write: true,
  /**
   * The small budget (each study's `*_QUICK`: same code path, about a minute, tag "quick"): it
   * checks that the study runs, not its result. config.json records it.
   */
  quick: false,
};

/** The shared flags. */
export type TinyPriorFlags = typeof TINY_PRIOR_DEFAULTS;

/**
 * The prior config the flags name: lib/prior over {@link TINY_TOKENS}, dense attention.
 *
 * @param c The flags.
 * @returns The config (`createPrior` makes the same initial weights from it every time).
 * @example
 * ```ts
 * import { TINY_PRIOR_DEFAULTS, tinyPriorConfig } from "./_tiny_prior.ts";
 * console.log(tinyPriorConfig(TINY_PRIOR_DEFAULTS).dModel); // 64
 * ```
 */
export function tinyPriorConfig(c: TinyPriorFlags): PriorConfig {
  return {
    ...TINY_TOKENS,
    dModel: c.dModel,
    layers: c.layers,
    heads: c.heads,
    masks: "dense",
    seed: c.seed,
  };
}

/** Options of {@link trainTinyPrior}. */
export interface TinyRunOptions {
  /** Steps of the run. */
  steps: number;
  /** How the workers' gradients combine, or a function making it from the fresh prior (e.g.
   * gradScale's blocks). */
  reducer: ReducerSpec | ((prior: Prior) => ReducerSpec);
  /** Where the rows go, each with `tags` after `step`. */
  log: RunLog;
  /** Columns naming the run inside the study's one metrics table, e.g. `{ variant: "r4" }`. */
  tags: MetricsRow;
}

/**
 * Trains a fresh tiny prior (same initial weights and batches every call) with one reducer, on
 * `c.workers` real workers, and logs its rows tagged.
 *
 * @param c The flags.
 * @param data The token dataset (`tinyData(c)`).
 * @param options Steps, reducer, log and tags.
 * @returns The run's rows, tags included.
 * @example
 * ```ts
 * import { meanReducer } from "../lib/nn/mod.ts";
 * import { RunLog } from "../lib/log/mod.ts";
 * import { TINY_PRIOR_DEFAULTS as c, tinyData, trainTinyPrior } from "./_tiny_prior.ts";
 * const log = await RunLog.create({ experiment: "demo", write: false });
 * const rows = await trainTinyPrior(c, tinyData(c), {
 *   steps: 3, reducer: meanReducer(), log, tags: { variant: "mean" },
 * });
 * ```
 */
export async function trainTinyPrior(
  c: TinyPriorFlags,
  data: TokenDataset,
  options: TinyRunOptions,
): Promise<MetricsRow[]> {
  const prior = createPrior(tinyPriorConfig(c));
  const rows: MetricsRow[] = [];
  try {
    const reducer = typeof options.reducer === "function"
      ? options.reducer(prior)
      : options.reducer;
    const run = await trainPrior(
      prior,
      (step) => tokenBatchAt(data, { batchSize: c.batchSize, seed: c.seed }, step),
      {
        steps: options.steps,
        lr: c.lr,
        seed: c.seed,
        workers: c.workers,
        reducer,
        // One log holds every run of the study, so the trainer gets none (and writes no
        // checkpoint): the rows come back here and are tagged.
        onStep: (row) => {
          const tagged = { step: row.step, ...options.tags, ...row };
          rows.push(tagged);
          options.log.log(tagged);
        },
      },
    );
    run.dispose();
  } finally {
    prior.dispose();
  }
  return rows;
}

/**
 * The study's token dataset.
 *
 * @param c The flags.
 * @returns `makeTokenDataset(c.trainCount, c.seed)` on {@link TINY_TOKENS}.
 */
export function tinyData(c: TinyPriorFlags): TokenDataset {
  return makeTokenDataset(c.trainCount, c.seed, TINY_TOKENS);
}

/**
 * Mean of `values[from..to)` (indices clamped), NaN when empty.
 *
 * @param values The series.
 * @param from First index.
 * @param to One past the last index.
 * @returns The mean.
 * @example
 * ```ts
 * import { meanOf } from "./_tiny_prior.ts";
 * console.log(meanOf([1, 2, 3, 4], 1, 3)); // 2.5
 * ```
 */
export function meanOf(values: number[], from: number, to: number): number {
  const slice = values.slice(Math.max(0, from), Math.min(values.length, to));
  return slice.length === 0 ? NaN : slice.reduce((a, b) => a + b, 0) / slice.length;
}

/**
 * Relative loss gap of a curve against a reference over steps [from, to): the mean of
 * (curve − reference) there, divided by the reference's mean there.
 *
 * @param curve Losses per step.
 * @param reference The reference run's losses per step (same batches).
 * @param from First step.
 * @param to One past the last step.
 * @returns The gap (0.02 = 2% worse than the reference).
 * @example
 * ```ts
 * import { relativeGap } from "./_tiny_prior.ts";
 * console.log(relativeGap([2.2, 2.2], [2, 2], 0, 2)); // ≈ 0.1
 * ```
 */
export function relativeGap(
  curve: number[],
  reference: number[],
  from: number,
  to: number,
): number {
  const diff = curve.map((l, i) => l - reference[i]);
  return meanOf(diff, from, to) / meanOf(reference, from, to);
}
