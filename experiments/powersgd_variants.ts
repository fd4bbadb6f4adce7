/**
 * PowerSGD variants: which of DALL-E's changes to PowerSGD matter (paper §2.5, App. E)?
 *
 * Question: at the rank sweep's minimum rank (8), with W = 4 simulated workers training the tiny
 * prior (lib/prior, d_model 64, 2 layers) on their own shards, how do these compare with each
 * other and with the uncompressed all-reduce?
 *   - Q: "warm" (reuse last step's Q, Vogels et al.) vs "fixed" (one seeded Gaussian Q, DALL-E)
 *     vs "fresh" (a new Gaussian Q every step, torch's warm_start=False);
 *   - orthogonalisation: Gram-Schmidt vs Householder QR of P + 1e-6·I (DALL-E);
 *   - with vs without error feedback;
 *   - communication in float32 vs float16 vs DALL-E's 1-6-9 format;
 *   - "dalle": fixed Q + Householder + 1-6-9 communication and error buffers together.
 * Every run has the same initial weights, batches and steps.
 *
 * Command: `deno run -A experiments/powersgd_variants.ts [--steps=120] [--rank=8]
 *   [--variants=none,baseline,fixed_q,...]`
 * Runtime: ~3 min on 2 cores (9 runs × 120 steps × 4 workers).
 * Writes: data/runs/powersgd_variants/<UTC>_<tag>/{config.json, metrics.csv, summary.csv};
 *   metrics: step, variant, loss, saved_fraction, error_norm, step_ms.
 * Expected (paper): a fixed Gaussian Q gives results equivalent to warm start; Householder and
 *   16-bit communication do not hurt; dropping error feedback hurts (Vogels et al.: error
 *   feedback is what makes low-rank compression converge like SGD). Fresh Q at low rank is a
 *   worse approximation per step than warm start.
 *
 * @module
 */
import { ensureBackend, initBackend } from "../lib/backend/mod.ts";
import { parseFlags, RunLog, writeCsv } from "../lib/log/mod.ts";
import { PowerSGD, type PowerSgdConfig } from "../lib/powersgd/mod.ts";
import {
  makeTokenDataset,
  meanOf,
  meanReducer,
  type Reducer,
  TINY_RUN_DEFAULTS,
  TINY_TOKENS,
  tinyPriorOf,
  type TrainableModel,
  trainDataParallel,
} from "./_data_parallel.ts";

/** The variants by name: PowerSGD options on top of { rank, workers, seed }, or null = none. */
export const POWERSGD_VARIANTS: Record<string, Partial<PowerSgdConfig> | null> = {
  none: null,
  baseline: {}, // warm Q, Gram-Schmidt, error feedback, float32
  fixed_q: { q: "fixed" },
  fresh_q: { q: "fresh" },
  householder: { orthogonalize: "householder" },
  no_error_feedback: { errorFeedback: false },
  comm_float16: { communication: "float16" },
  comm_1_6_9: { communication: "1-6-9" },
  dalle: {
    q: "fixed",
    orthogonalize: "householder",
    communication: "1-6-9",
    errorPrecision: "1-6-9",
  },
};

/** The experiment's configuration and defaults. */
export const VARIANTS_DEFAULTS = {
  ...TINY_RUN_DEFAULTS,
  /** Variants to run, by name (see POWERSGD_VARIANTS). */
  variants: Object.keys(POWERSGD_VARIANTS),
  /**
   * PowerSGD rank of every compressed variant: the smallest rank without an early gap in the
   * rank sweep (r/d_model = 1/8), the operating point the paper's choices were made at.
   */
  rank: 8,
  /** Simulated data-parallel workers W. */
  workers: 4,
  /** Training steps of every run. */
  steps: 120,
  /** Examples per worker per step. */
  batchSize: 8,
  /** Tag of the run folder. */
  tag: "variants",
};

/** The experiment's configuration. */
export type VariantsConfig = typeof VARIANTS_DEFAULTS;

/**
 * Runs every chosen variant from the same start and summarises the loss gaps.
 *
 * @param overrides Changes to {@linkcode VARIANTS_DEFAULTS}.
 * @param buildModel Makes the model (fresh, same seed, for every run). @default the tiny prior
 * @returns The run folder, the per-step rows and one summary row per variant.
 * @example
 * ```ts
 * import { runVariants } from "./powersgd_variants.ts";
 * const { summary } = await runVariants({ steps: 3, variants: ["none", "dalle"], write: false });
 * console.log(summary.map((s) => s.variant)); // ["none", "dalle"]
 * ```
 */
export async function runVariants(
  overrides: Partial<VariantsConfig> = {},
  buildModel?: (config: VariantsConfig) => TrainableModel,
): Promise<{
  dir: string;
  rows: Record<string, string | number | boolean | null>[];
  summary: Record<string, string | number>[];
}> {
  await ensureBackend(); // the backend chosen by the caller, else the default
  const config = { ...VARIANTS_DEFAULTS, ...overrides };
  for (const name of config.variants) {
    if (!(name in POWERSGD_VARIANTS)) {
      throw new RangeError(
        `unknown variant "${name}"; known: ${Object.keys(POWERSGD_VARIANTS).join(", ")}`,
      );
    }
  }
  const build: (c: VariantsConfig) => TrainableModel = buildModel ?? tinyPriorOf;
  const data = makeTokenDataset(config.examples, config.seed);
  const probe = build(config);
  const description = probe.description;
  probe.dispose();
  const log = await RunLog.create({
    experiment: "powersgd_variants",
    tag: config.tag,
    config: {
      ...config,
      model: description,
      data: TINY_TOKENS,
      definitions: Object.fromEntries(config.variants.map((v) => [v, POWERSGD_VARIANTS[v]])),
    },
    write: config.write,
    root: config.root,
    printEvery: 25,
    totalSteps: config.steps,
  });
  const losses = new Map<string, number[]>();
  const saved = new Map<string, number>();
  for (const variant of config.variants) {
    const options = POWERSGD_VARIANTS[variant];
    const model = build(config);
    const psgd = options
      ? new PowerSGD({ rank: config.rank, workers: config.workers, seed: config.seed, ...options })
      : null;
    const reduce: Reducer = psgd
      ? (workerGrads) => ({ grads: psgd.step(workerGrads) })
      : meanReducer();
    console.log(`[powersgd_variants] ${variant} ${JSON.stringify(options)}`);
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
        onStep: ({ step, loss, stepMs }) => {
          log.log({
            step,
            variant,
            loss,
            saved_fraction: psgd?.stats().savedFraction ?? 0,
            // The error buffers' size says how much gradient is still "owed" to the model.
            error_norm: Math.sqrt(psgd?.errorSquaredNorm() ?? 0),
            step_ms: Math.round(stepMs),
          });
        },
      }),
    );
    saved.set(variant, psgd?.stats().savedFraction ?? 0);
    psgd?.dispose();
    model.dispose();
  }
  await log.flush();

  const steps = config.steps;
  const reference = losses.get("none") ?? null;
  const baseline = losses.get("baseline") ?? null;
  const relGap = (curve: number[], against: number[] | null, from: number, to: number) =>
    against === null
      ? NaN
      : meanOf(curve.map((l, i) => l - against[i]), from, to) / meanOf(against, from, to);
  const last = Math.floor(steps * 0.9);
  const summary = config.variants.map((variant) => {
    const curve = losses.get(variant)!;
    return {
      variant,
      saved_fraction: saved.get(variant)!,
      final_loss: meanOf(curve, last, steps),
      early_gap_vs_none: relGap(
        curve,
        reference,
        Math.floor(steps * 0.05),
        Math.floor(steps * 0.1),
      ),
      final_gap_vs_none: relGap(curve, reference, last, steps),
      final_gap_vs_baseline: relGap(curve, baseline, last, steps),
    };
  });
  if (log.dir) await writeCsv(`${log.dir}/summary.csv`, summary);
  console.table(summary);
  if (log.dir) console.log(`[powersgd_variants] wrote ${log.dir}`);
  return { dir: log.dir, rows: log.rows, summary };
}

if (import.meta.main) {
  const flags = parseFlags(VARIANTS_DEFAULTS);
  await initBackend(flags.backend);
  await runVariants(flags);
}
