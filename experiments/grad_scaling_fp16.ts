/**
 * 16-bit gradients: one global loss scale vs one scale per residual block (paper §2.4, App. D).
 *
 * Question: when gradients are rounded to float16, what fraction of each block's gradient entries
 * flushes to zero under one global dynamic scale, and under per-resblock scales (App. D rules:
 * start 2¹³·M, grow after finite steps, ÷√2 and skip on overflow, clamp to [2⁷·M, 2²⁴·M])? And
 * do the loss curves of the tiny prior (lib/prior, d_model 64, 4 layers, W = 1) follow the
 * float32 run?
 *
 * Emulation (stated, because our model is tiny):
 * - Gradients are computed in float32, multiplied by the block's scale, rounded to float16
 *   (lib/gradscale), divided again; only parameter gradients are rounded, not the activation
 *   gradients of a real fp16 backward pass.
 * - A tiny model's gradients span ~10⁶ (1e-7 … 1e-1), inside float16's ~10¹² range, so nothing
 *   underflows at any sane scale. The paper's problem is a spread between resblocks that one
 *   scale cannot cover; we impose one: block l's gradients are multiplied by 2^(−depthDecayBits·
 *   (l + 1)) before rounding and divided after (AdamW is invariant to a fixed per-parameter
 *   gradient scale, so only the rounding differs). `--depthDecayBits=0` turns it off.
 * - The loss is multiplied by lossMultiplier (2⁴) before differentiation and the gradients divided
 *   after rounding: this only sets where the paper's starting scale 2¹³ lies relative to our
 *   gradients (the global scale's overflow limit, set by the embedding and head gradients, is
 *   then ~1.5 doublings above the start).
 * - The paper's schedule spans 430k updates; ours, a few hundred. Growth is 2^(1/growthInterval)
 *   per step (paper: growthInterval 1000) and the no-second-division window is backoffCooldown
 *   (paper: 125); the defaults (50, 6) keep the paper's ratio of the two. A scale at its overflow
 *   limit backs off and regrows every ~growthInterval/2 steps, skipping a step each time, so skips
 *   are ~20× more frequent than with the paper's schedule, and more so with more scales at their
 *   limit: skipped_steps is part of the summary.
 *
 * Command: `deno run -A experiments/grad_scaling_fp16.ts [--steps=300] [--depthDecayBits=8]
 *   [--growthInterval=20] [--modes=fp32,global,per-block] [--format=float16]`
 * Runtime: ~3 min on 2 cores (3 runs × 300 steps).
 * Writes: data/runs/grad_scaling_fp16/<UTC>_<tag>/{config.json, metrics.csv, summary.csv};
 *   metrics: step, mode, loss, skipped, underflow_fraction, then underflow_<block> and
 *   log2_scale_<block> for each block (embed, block0 …, head).
 * Expected (paper): the global scale is held down by the blocks with the largest gradients, so
 *   the blocks with the smallest gradients lose most of their entries to underflow; per-block
 *   scales grow until each block is near its own overflow and keep far fewer entries at zero,
 *   and their loss tracks float32 more closely.
 *
 * @module
 */
import { ensureBackend, initBackend, tf } from "../lib/backend/mod.ts";
import { type FloatFormatName, GradScaler } from "../lib/gradscale/mod.ts";
import { parseFlags, RunLog, writeCsv } from "../lib/log/mod.ts";
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

/** The experiment's configuration and defaults. */
export const GRAD_SCALING_DEFAULTS = {
  ...TINY_RUN_DEFAULTS,
  /** Runs: "fp32" (no rounding), "global" (one scale), "per-block" (App. D). */
  modes: ["fp32", "global", "per-block"],
  /** 16-bit format of the gradients: "float16" or "1-6-9". */
  format: "float16",
  /** Block l's gradients are shrunk by 2^(−depthDecayBits·(l + 1)) around the rounding. */
  depthDecayBits: 8,
  /**
   * Multiplies the loss (so every gradient) before rounding, divided out after: where the scales
   * start (2¹³) relative to our gradients. 2⁴ puts the global scale's overflow limit ~1.5
   * doublings above the start, so it is reached early in a short run.
   */
  lossMultiplier: 16,
  /** Steps per doubling of a scale (paper: 1000). */
  growthInterval: 50,
  /** Updates within which a scale is not divided twice (paper: 125 for 1000 above). */
  backoffCooldown: 6,
  /** Training steps of every run. */
  steps: 300,
  /** Examples per step. */
  batchSize: 16,
  /** Transformer layers (= residual blocks besides embed and head). */
  layers: 4,
  /** Tag of the run folder. */
  tag: "fp16",
};

/** The experiment's configuration. */
export type GradScalingConfig = typeof GRAD_SCALING_DEFAULTS;

/** The exponent d_b of the imposed gradient factor 2^(−d_b) of a block. */
function decayExponent(block: string, bitsPerBlock: number): number {
  const layer = /^block(\d+)$/.exec(block);
  return layer ? bitsPerBlock * (Number(layer[1]) + 1) : 0;
}

/**
 * Trains the tiny prior once per mode and records per-block underflow, scales and losses.
 *
 * @param overrides Changes to {@linkcode GRAD_SCALING_DEFAULTS}.
 * @param buildModel Makes the model (fresh, same seed, for every run). @default the tiny prior
 * @returns The run folder, the per-step rows and one summary row per mode and block.
 * @example
 * ```ts
 * import { runGradScaling } from "./grad_scaling_fp16.ts";
 * const { summary } = await runGradScaling({ steps: 3, layers: 1, write: false });
 * console.log(summary.length); // 3 modes × 3 blocks (embed, block0, head)
 * ```
 */
export async function runGradScaling(
  overrides: Partial<GradScalingConfig> = {},
  buildModel?: (config: GradScalingConfig) => TrainableModel,
): Promise<{
  dir: string;
  rows: Record<string, string | number | boolean | null>[];
  summary: Record<string, string | number>[];
}> {
  await ensureBackend(); // the backend chosen by the caller, else the default
  const config = { ...GRAD_SCALING_DEFAULTS, ...overrides };
  for (const mode of config.modes) {
    if (!["fp32", "global", "per-block"].includes(mode)) {
      throw new RangeError(`unknown mode "${mode}": expected fp32, global or per-block`);
    }
  }
  const build: (c: GradScalingConfig) => TrainableModel = buildModel ?? tinyPriorOf;
  const data = makeTokenDataset(config.examples, config.seed);
  const probe = build(config);
  const description = probe.description;
  const paramBlocks = probe.names.map((n) => probe.blockOf(n));
  probe.dispose();
  const blocks = [...new Set(paramBlocks)];
  const log = await RunLog.create({
    experiment: "grad_scaling_fp16",
    tag: config.tag,
    config: { ...config, model: description, data: TINY_TOKENS, blocks },
    write: config.write,
    root: config.root,
    printEvery: 50,
    totalSteps: config.steps,
  });
  const factors = paramBlocks.map((b) => 2 ** -decayExponent(b, config.depthDecayBits));
  const losses = new Map<string, number[]>();
  const underflow = new Map<string, Record<string, number[]>>();
  const skipped = new Map<string, number>();
  for (const mode of config.modes) {
    const model = build(config);
    const scaler = mode === "fp32" ? null : new GradScaler({
      blocks: paramBlocks,
      mode: mode as "global" | "per-block",
      format: config.format as FloatFormatName,
      growthFactor: 2 ** (1 / config.growthInterval),
      backoffCooldownSteps: config.backoffCooldown,
    });
    const perBlock: Record<string, number[]> = Object.fromEntries(blocks.map((b) => [b, []]));
    const reduce: Reducer = scaler === null ? meanReducer() : (workerGrads) => {
      const shrunk = tf.tidy(() => workerGrads[0].map((g, i) => g.mul(factors[i])));
      const result = scaler.step(shrunk);
      const grads = tf.tidy(() => result.grads.map((g, i) => g.div(factors[i])));
      tf.dispose([...shrunk, ...result.grads]);
      const metrics: Record<string, number> = {};
      let under = 0;
      let nonzero = 0;
      for (const r of result.blocks) {
        metrics[`underflow_${r.block}`] = r.underflowFraction;
        metrics[`log2_scale_${r.block}`] = Math.log2(r.scale);
        under += r.underflowEntries;
        nonzero += r.nonzeroEntries;
      }
      metrics.underflow_fraction = nonzero === 0 ? 0 : under / nonzero;
      return { grads, skip: result.skip, metrics };
    };
    console.log(`[grad_scaling_fp16] ${mode}`);
    let skips = 0;
    losses.set(
      mode,
      trainDataParallel({
        model,
        data,
        workers: 1,
        batchSize: config.batchSize,
        steps: config.steps,
        lr: config.lr,
        seed: config.seed,
        reduce,
        lossMultiplier: config.lossMultiplier,
        onStep: ({ step, loss, skipped: skip, metrics }) => {
          if (skip) skips++;
          const row: Record<string, string | number | boolean | null> = {
            step,
            mode,
            loss,
            skipped: skip ? 1 : 0,
            underflow_fraction: metrics.underflow_fraction ?? 0,
          };
          for (const b of blocks) {
            row[`underflow_${b}`] = metrics[`underflow_${b}`] ?? 0;
            perBlock[b].push(metrics[`underflow_${b}`] ?? 0);
          }
          for (const b of blocks) row[`log2_scale_${b}`] = metrics[`log2_scale_${b}`] ?? null;
          log.log(row);
        },
      }),
    );
    underflow.set(mode, perBlock);
    skipped.set(mode, skips);
    model.dispose();
  }
  await log.flush();

  const steps = config.steps;
  const half = Math.floor(steps / 2);
  const reference = losses.get("fp32") ?? null;
  const summary = config.modes.flatMap((mode) => {
    const curve = losses.get(mode)!;
    const finalLoss = meanOf(curve, Math.floor(steps * 0.9), steps);
    const refLoss = reference ? meanOf(reference, Math.floor(steps * 0.9), steps) : NaN;
    return blocks.map((block) => ({
      mode,
      block,
      // Mean over the second half of training, after the scales have had time to move.
      underflow_second_half: meanOf(underflow.get(mode)![block], half, steps),
      underflow_first_step: underflow.get(mode)![block][0] ?? NaN,
      imposed_log2_factor: -decayExponent(block, config.depthDecayBits),
      skipped_steps: skipped.get(mode)!,
      final_loss: finalLoss,
      final_gap_vs_fp32: (finalLoss - refLoss) / refLoss,
    }));
  });
  if (log.dir) await writeCsv(`${log.dir}/summary.csv`, summary);
  console.table(summary);
  if (log.dir) console.log(`[grad_scaling_fp16] wrote ${log.dir}`);
  return { dir: log.dir, rows: log.rows, summary };
}

if (import.meta.main) {
  const flags = parseFlags(GRAD_SCALING_DEFAULTS);
  await initBackend(flags.backend);
  await runGradScaling(flags);
}
