/**
 * PowerSGD variants: do DALL-E's changes to PowerSGD (paper §2.5, App. E) and 16-bit messages
 * cost loss, on real workers?
 *
 * Question: at the rank sweep's smallest rank with no early gap (8, r/d_model = 1/8; the paper
 * made its choices at its minimum ranks), training the tiny prior (lib/prior, d_model 64, 2 layers,
 * dense attention) with 2 real workers (this process and one Deno Worker, each computing half of
 * every 32-example batch; lib/prior's `trainPrior`), how do the variants the trainer's reducers
 * offer compare with each other and with the exact all-reduce, in loss, bytes each worker sends
 * per step and wall time per step?
 *   - "mean", "mean_16bit": `meanReducer({ bits: 32 | 16 })`, the exact all-reduce (16-bit:
 *     IEEE halves on the wire);
 *   - "vogels", "vogels_16bit": `powerSgd({ rank, variant: "vogels", bits })`: warm-start Q,
 *     Gram-Schmidt, float32 error buffers (Vogels et al.);
 *   - "dalle", "dalle_16bit": `powerSgd({ rank, variant: "dalle", bits })`: one fixed seeded
 *     Gaussian Q, Householder QR of P + 10⁻⁶·I, error buffers stored in the 1-6-9 format.
 * Every run has the same initial weights, batches, steps and schedule.
 *
 * Left to the studies (one training loop: the trainer runs only what `powerSgd`'s options
 * express): a fresh Gaussian Q every step, Householder or fixed Q on their own, no error feedback,
 * and 1-6-9-rounded messages. `PowerSGD` / `SimulatedAllReduce` (lib/powersgd, in-process
 * workers) still run them: lib/powersgd/powersgd_test.ts (warm vs fixed Q against the best
 * rank-r approximation, fresh Q, error feedback telescoping, 16-bit messages) and
 * bench/powersgd.ts (Gram-Schmidt vs Householder, float16 messages).
 *
 * Command: `deno run -A experiments/powersgd_variants.ts [--steps=150] [--rank=8]
 *   [--variants=mean,mean_16bit,vogels,vogels_16bit,dalle,dalle_16bit]`
 * Runtime: one to a few minutes on 2 cores, with the load (6 runs × 150 steps; the results page
 *   gives the newest full run's own time). `--quick` (QUICK: every variant,
 *   24 steps, tag "quick"): about half a minute; it checks the code path, not the result.
 * Writes: data/runs/powersgd_variants/<UTC>_<tag>/{config.json, metrics.csv, summary.csv};
 *   metrics: step, variant, then trainPrior's row (loss … bytes_sent, tokens_per_sec, step_ms).
 *   summary: variant, reducer, bytes_sent_per_step, bytes_vs_mean, step_ms_median, final_loss,
 *   early_gap_vs_mean, final_gap_vs_mean, final_gap_vs_vogels.
 * Expected (paper, Vogels et al.): a fixed Gaussian Q is about as good as warm start; Householder
 *   and 16-bit messages do not hurt; 16-bit messages halve the bytes exactly.
 * Results: data/figures/RESULTS.md § powersgd_variants (`deno task figures` writes it from the
 *   newest full run, naming its folder, commit, machine and load). What to read there: 16-bit
 *   messages halve `bytes_sent_per_step` exactly (a property of the code, not a measurement);
 *   the gaps against the mean run are single runs of one seed, so read a gap only against the
 *   `mean_16bit` row, which differs from the mean run by rounding alone and shows the run-to-run
 *   spread at this length. Step times under a shared load say nothing about PowerSGD's cost; the
 *   rank sweep's ratio does.
 *
 * @module
 */
import { ensureBackend } from "../lib/backend/mod.ts";
import { median } from "../lib/io/mod.ts";
import { type Experiment, experimentMain, RunLog, writeCsv } from "../lib/log/mod.ts";
import { meanReducer, type ReducerSpec } from "../lib/nn/mod.ts";
import { powerSgd } from "../lib/powersgd/mod.ts";
import {
  meanOf,
  relativeGap,
  TINY_PRIOR_DEFAULTS,
  tinyData,
  tinyPriorConfig,
  trainTinyPrior,
} from "./_tiny_prior.ts";

/** The variants by name: the reducer each runs, at rank `rank`. */
export const POWERSGD_VARIANTS: Record<string, (rank: number, seed: number) => ReducerSpec> = {
  mean: () => meanReducer(),
  mean_16bit: () => meanReducer({ bits: 16 }),
  vogels: (rank, seed) => powerSgd({ rank, variant: "vogels", seed }),
  vogels_16bit: (rank, seed) => powerSgd({ rank, variant: "vogels", bits: 16, seed }),
  dalle: (rank, seed) => powerSgd({ rank, variant: "dalle", seed }),
  dalle_16bit: (rank, seed) => powerSgd({ rank, variant: "dalle", bits: 16, seed }),
};

/** The experiment's configuration and defaults. */
export const DEFAULTS = {
  ...TINY_PRIOR_DEFAULTS,
  /** Variants to run, by name (see POWERSGD_VARIANTS). */
  variants: Object.keys(POWERSGD_VARIANTS),
  /**
   * PowerSGD rank of every compressed variant: the rank sweep's smallest without early gap.
   * @accepts integer ≥ 1
   */
  rank: 8,
  /** Training steps of every run. @accepts integer ≥ 1 */
  steps: 150,
  /** Tag of the run folder. */
  tag: "variants",
};

/** The small budget of `--quick` (explicit flags still win): every variant, few steps. */
export const QUICK: Partial<VariantsConfig> = {
  quick: true,
  trainCount: 1024,
  steps: 24,
  tag: "quick",
};

/** The experiment's configuration. */
export type VariantsConfig = typeof DEFAULTS;

/**
 * Runs every chosen variant from the same start and summarises loss gaps, bytes and time.
 *
 * @param overrides Changes to {@linkcode DEFAULTS}.
 * @returns The run folder, the per-step rows and one summary row per variant.
 * @example
 * ```ts
 * import { run } from "./powersgd_variants.ts";
 * const { summary } = await run({ steps: 3, variants: ["mean", "dalle"], write: false });
 * console.log(summary.map((s) => s.variant)); // ["mean", "dalle"]
 * ```
 */
export async function run(overrides: Partial<VariantsConfig> = {}): Promise<{
  dir: string;
  rows: Record<string, string | number | boolean | null>[];
  summary: Record<string, string | number>[];
}> {
  await ensureBackend(); // the backend chosen by the caller, else the default
  const config = { ...DEFAULTS, ...overrides };
  const reducers = config.variants.map((name) => {
    const make = POWERSGD_VARIANTS[name];
    if (!make) {
      throw new RangeError(
        `unknown variant "${name}"; known: ${Object.keys(POWERSGD_VARIANTS).join(", ")}`,
      );
    }
    return { variant: name, reducer: make(config.rank, config.seed) };
  });
  const data = tinyData(config);
  const log = await RunLog.create({
    experiment: "powersgd_variants",
    tag: config.tag,
    config: {
      ...config,
      model: tinyPriorConfig(config),
      reducers: Object.fromEntries(reducers.map((r) => [r.variant, r.reducer.label])),
    },
    write: config.write,
    root: config.root,
    printEvery: 50,
    totalSteps: config.steps,
  });
  const runs = new Map<string, { loss: number[]; bytes: number[]; ms: number[] }>();
  for (const { variant, reducer } of reducers) {
    console.log(`[powersgd_variants] ${variant}: ${reducer.label}, ${config.workers} workers`);
    const rows = await trainTinyPrior(config, data, {
      steps: config.steps,
      reducer,
      log,
      tags: { variant },
    });
    runs.set(variant, {
      loss: rows.map((r) => Number(r.loss)),
      bytes: rows.map((r) => Number(r.bytes_sent)),
      ms: rows.map((r) => Number(r.step_ms)),
    });
  }
  await log.flush();

  const steps = config.steps;
  const mean = runs.get("mean") ?? null;
  const vogels = runs.get("vogels") ?? null;
  const last = Math.floor(steps * 0.9);
  const gapTo = (
    curve: number[],
    against: { loss: number[] } | null,
    from: number,
    to: number,
  ) => against === null ? NaN : relativeGap(curve, against.loss, from, to);
  const summary = reducers.map(({ variant, reducer }) => {
    const run = runs.get(variant)!;
    return {
      variant,
      reducer: reducer.label,
      bytes_sent_per_step: median(run.bytes),
      bytes_vs_mean: mean ? median(run.bytes) / median(mean.bytes) : NaN,
      step_ms_median: median(run.ms),
      final_loss: meanOf(run.loss, last, steps),
      early_gap_vs_mean: gapTo(
        run.loss,
        mean,
        Math.floor(steps * 0.05),
        Math.max(Math.floor(steps * 0.05) + 1, Math.floor(steps * 0.1)),
      ),
      final_gap_vs_mean: gapTo(run.loss, mean, last, steps),
      final_gap_vs_vogels: gapTo(run.loss, vogels, last, steps),
    };
  });
  if (log.dir) await writeCsv(`${log.dir}/summary.csv`, summary);
  console.table(summary);
  if (log.dir) console.log(`[powersgd_variants] wrote ${log.dir}`);
  return { dir: log.dir, rows: log.rows, summary };
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<VariantsConfig, Awaited<ReturnType<typeof run>>> = {
  name: "powersgd_variants",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
