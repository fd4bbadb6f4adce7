/**
 * 16-bit gradients: one global loss scale vs one scale per residual block (paper §2.4, App. D),
 * in the trainer's real gradient exchange.
 *
 * Question: when each worker's gradients are scaled and rounded to float16 before they are sent,
 * what fraction of each residual block's non-zero gradient entries flushes to zero under one
 * global dynamic scale, and under per-resblock scales (App. D rules: start 2¹³·W, grow after
 * finite steps, ÷√2 and skip on overflow, clamp to [2⁷·W, 2²⁴·W])? How many steps are skipped,
 * and does the loss of the tiny prior (lib/prior, d_model 64, 4 layers, dense attention) follow
 * the float32 run? Training: lib/prior's `trainPrior` with 2 real workers (this process and one
 * Deno Worker, each computing half of every 32-example batch); "fp32" exchanges float32
 * (`meanReducer()`), "global" and "per-block" run `gradScale(meanReducer({ bits: 16 }),
 * { blocks: residualBlocks(prior), mode })`: the messages really are IEEE halves.
 *
 * Emulation (stated, because our model is tiny):
 * - Gradients are computed in float32, multiplied by their block's scale on each worker, rounded
 *   to the 16-bit format (lib/gradscale), summed and divided again by the coordinator; only
 *   parameter gradients are rounded, not the activation gradients of a real fp16 backward pass.
 * - A tiny model's gradients span a range float16 covers at the paper's starting scale, so few
 *   entries underflow in either mode: what one global scale loses here is what the largest
 *   blocks' overflow limit keeps it from gaining. The earlier, simulated version of this study
 *   imposed a depth profile (block l's gradients × 2^(−8(l+1)) around the rounding) and a loss
 *   multiplier inside its own training loop; the trainer has neither knob, and a second loop is
 *   what this repository dropped, so both are gone and the underflow measured is the model's own.
 * - The paper's schedule spans 430k updates; ours, a few hundred. Growth is 2^(1/growthInterval)
 *   per step (paper: growthInterval 1000) and the no-second-division window is backoffCooldown
 *   (paper: 125); the defaults (16, 2) keep the paper's 8:1 ratio of the two and let the scales
 *   reach their overflow limits (~2²⁰ here) in the first half of a 240-step run (with 50 they
 *   would not, and the two modes would not differ). A scale at its overflow limit backs off and
 *   regrows every ~growthInterval/2 steps, skipping a step each time, so skips are ~60× more
 *   frequent than with the paper's schedule, and more so with more scales at their limit:
 *   skipped_steps is part of the summary.
 *
 * Command: `deno run -A experiments/grad_scaling_fp16.ts [--steps=240] [--growthInterval=16]
 *   [--modes=fp32,global,per-block] [--format=float16] [--layers=4]`
 * Runtime: one to a few minutes on 2 cores, with the load (3 runs × 240 steps; the 16-bit modes'
 *   steps are slower; the results page gives the newest full run's own time).
 *   `--quick` (QUICK: 2 layers, 40 steps, a scale doubling every 4 steps, tag
 *   "quick"): about half a minute; it checks the code path, not the result.
 * Writes: data/runs/grad_scaling_fp16/<UTC>_<tag>/{config.json, metrics.csv, summary.csv};
 *   metrics: step, mode, trainPrior's row (loss … bytes_sent, step_ms), and for the 16-bit modes
 *   gradScale's grad_scale_log2_<block>, grad_underflow_<block> (block: embed, block0 …, head)
 *   and grad_scale_skipped.
 * Expected (paper): the global scale is held down by the blocks with the largest gradients, so
 *   the blocks with the smallest gradients lose more of their entries to underflow; per-block
 *   scales grow until each block is near its own overflow and keep fewer entries at zero.
 * Results: data/figures/RESULTS.md § grad_scaling_fp16 (`deno task figures` writes it from the
 *   newest full run, naming its folder, commit, machine and load), and its curves in
 *   data/figures/grad_scaling_fp16.html. What to read there: the scales per block (per-block
 *   scales of the blocks with small gradients should end doublings above the global scale), the
 *   underflow fraction per block and mode, the skipped steps (more scales at their limits skip
 *   more often with our compressed growth schedule) and the final loss against fp32.
 *
 * @module
 */
import { ensureBackend } from "../lib/backend/mod.ts";
import { type FloatFormatName, formatByName, gradScale } from "../lib/gradscale/mod.ts";
import { median } from "../lib/io/mod.ts";
import { type Experiment, experimentMain, RunLog, writeCsv } from "../lib/log/mod.ts";
import { meanReducer, type ReducerSpec } from "../lib/nn/mod.ts";
import { createPrior, type Prior, residualBlocks } from "../lib/prior/mod.ts";
import {
  meanOf,
  TINY_PRIOR_DEFAULTS,
  tinyData,
  tinyPriorConfig,
  trainTinyPrior,
} from "./_tiny_prior.ts";

const MODES = ["fp32", "global", "per-block"] as const;

/** The experiment's configuration and defaults. */
export const DEFAULTS = {
  ...TINY_PRIOR_DEFAULTS,
  /**
   * Runs: "fp32" (float32 exchange), "global" (one scale), "per-block" (App. D).
   * @accepts fp32 | global | per-block
   */
  modes: [...MODES] as string[],
  /**
   * 16-bit format of the gradients: "float16" (sent as IEEE halves) or "1-6-9" (emulated).
   * @accepts float16 | 1-6-9
   */
  format: "float16",
  /** Steps per doubling of a scale (paper: 1000). @accepts integer ≥ 1 */
  growthInterval: 16,
  /**
   * Updates within which a scale is not divided twice (paper: 125 for 1000 above).
   * @accepts integer ≥ 0
   */
  backoffCooldown: 2,
  /** Training steps of every run. @accepts integer ≥ 1 */
  steps: 240,
  /** Transformer layers (= residual blocks besides embed and head). @accepts integer ≥ 1 */
  layers: 4,
  /** Tag of the run folder. */
  tag: "fp16",
};

/**
 * The small budget of `--quick` (explicit flags still win): every mode on a 2-layer prior, with
 * faster scale growth so that the scales still move within the few steps.
 */
export const QUICK: Partial<GradScalingConfig> = {
  quick: true,
  trainCount: 1024,
  steps: 40,
  layers: 2,
  growthInterval: 4,
  tag: "quick",
};

/** The experiment's configuration. */
export type GradScalingConfig = typeof DEFAULTS;

/** The reducer of a mode on a fresh prior (the blocks come from its parameter names). */
function reducerOf(mode: string, config: GradScalingConfig, prior: Prior): ReducerSpec {
  if (mode === "fp32") return meanReducer();
  const format = config.format as FloatFormatName;
  // IEEE halves carry float16 values exactly; 1-6-9 values (a wider range) travel as float32.
  const inner = meanReducer({ bits: format === "float16" ? 16 : 32 });
  return gradScale(inner, {
    blocks: residualBlocks(prior),
    mode: mode as "global" | "per-block",
    format,
    growthFactor: 2 ** (1 / config.growthInterval),
    backoffCooldownSteps: config.backoffCooldown,
  });
}

/**
 * Trains the tiny prior once per mode and records per-block underflow, scales and losses.
 *
 * @param overrides Changes to {@linkcode DEFAULTS}.
 * @returns The run folder, the per-step rows and one summary row per mode and block.
 * @example
 * ```ts
 * import { run } from "./grad_scaling_fp16.ts";
 * const { summary } = await run({ steps: 3, layers: 1, write: false });
 * console.log(summary.length); // 3 modes × 3 blocks (embed, block0, head)
 * ```
 */
export async function run(overrides: Partial<GradScalingConfig> = {}): Promise<{
  dir: string;
  rows: Record<string, string | number | boolean | null>[];
  summary: Record<string, string | number>[];
}> {
  await ensureBackend(); // the backend chosen by the caller, else the default
  const config = { ...DEFAULTS, ...overrides };
  for (const mode of config.modes) {
    if (!(MODES as readonly string[]).includes(mode)) {
      throw new RangeError(`unknown mode "${mode}": expected ${MODES.join(", ")}`);
    }
  }
  formatByName(config.format as FloatFormatName); // a RangeError for an unknown format
  const data = tinyData(config);
  const probe = createPrior(tinyPriorConfig(config));
  const blocks = [...new Set(residualBlocks(probe))];
  const labels = Object.fromEntries(
    config.modes.map((mode) => [mode, reducerOf(mode, config, probe).label]),
  );
  probe.dispose();
  const log = await RunLog.create({
    experiment: "grad_scaling_fp16",
    tag: config.tag,
    config: {
      ...config,
      model: tinyPriorConfig(config),
      blocks,
      reducers: labels,
    },
    write: config.write,
    root: config.root,
    printEvery: 50,
    totalSteps: config.steps,
  });
  const runs = new Map<string, Record<string, string | number | boolean | null>[]>();
  for (const mode of config.modes) {
    console.log(`[grad_scaling_fp16] ${mode}: ${labels[mode]}, ${config.workers} workers`);
    runs.set(
      mode,
      await trainTinyPrior(config, data, {
        steps: config.steps,
        reducer: (prior) => reducerOf(mode, config, prior),
        log,
        tags: { mode },
      }),
    );
  }
  await log.flush();

  const steps = config.steps;
  const half = Math.floor(steps / 2);
  const last = Math.floor(steps * 0.9);
  const lossOf = (mode: string) => runs.get(mode)?.map((r) => Number(r.loss)) ?? null;
  const reference = lossOf("fp32");
  const refLoss = reference ? meanOf(reference, last, steps) : NaN;
  const summary = config.modes.flatMap((mode) => {
    const rows = runs.get(mode)!;
    const finalLoss = meanOf(lossOf(mode)!, last, steps);
    const column = (name: string) => rows.map((r) => Number(r[name] ?? NaN));
    return blocks.map((block) => {
      const key = block.replace(/[^A-Za-z0-9_]+/g, "_"); // gradScale's metric key of a block
      const underflow = column(`grad_underflow_${key}`);
      return {
        mode,
        block,
        // Mean over the second half of training, after the scales have had time to move.
        underflow_second_half: mode === "fp32" ? 0 : meanOf(underflow, half, steps),
        underflow_first_step: mode === "fp32" ? 0 : underflow[0],
        log2_scale_final: mode === "fp32" ? NaN : column(`grad_scale_log2_${key}`)[steps - 1],
        skipped_steps: Number(rows.at(-1)?.skipped_steps ?? 0),
        bytes_sent_per_step: median(column("bytes_sent")),
        final_loss: finalLoss,
        final_gap_vs_fp32: (finalLoss - refLoss) / refLoss,
      };
    });
  });
  if (log.dir) await writeCsv(`${log.dir}/summary.csv`, summary);
  console.table(summary);
  if (log.dir) console.log(`[grad_scaling_fp16] wrote ${log.dir}`);
  return { dir: log.dir, rows: log.rows, summary };
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<GradScalingConfig, Awaited<ReturnType<typeof run>>> = {
  name: "grad_scaling_fp16",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
