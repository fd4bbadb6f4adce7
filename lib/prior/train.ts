/**
 * Training the prior: AdamW with the paper's settings (App. B.2: β1 0.9, β2 0.96, ε 1e-8, weight
 * decay 4.5e-2, gradient norm clipped at 4), linear warm-up then cosine decay of the step size,
 * one metrics row per step, and checkpoints.
 *
 * @module
 */
import { defaultWorkers, ensureBackend, tf } from "../backend/mod.ts";
import type { MetricsRow, RunLog } from "../log/mod.ts";
import {
  AdamW,
  clipScale,
  GradientWorkers,
  meanGradients,
  readWeights,
  saveCheckpoint,
  shardSizes,
  warmupCosine,
} from "../nn/mod.ts";
import type { Prior } from "./model.ts";
import { shardGradients, type TokenShard } from "./_grad_task.ts";

/** One training batch: B captions and their images, as token ids. */
export interface PriorBatch {
  /** Caption ids, (B, textLen) row-major. */
  text: Int32Array;
  /** Image ids, (B, n²) row-major, raster order. */
  image: Int32Array;
}

/** Options of {@link trainPrior}; the defaults are the paper's (App. B.2) where it gives one. */
export interface TrainPriorOptions {
  /** Updates to take. */
  steps: number;
  /** Peak step size. @default 4.5e-4 (paper) */
  lr?: number;
  /** Linear warm-up steps. @default round(steps / 20) */
  warmupSteps?: number;
  /** Step size at the end of the cosine decay. @default lr / 10 */
  finalLr?: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.96 (paper) */
  beta2?: number;
  /** @default 1e-8 */
  eps?: number;
  /** Decoupled weight decay of weights and embedding tables (not gains or biases). @default 4.5e-2 (paper) */
  weightDecay?: number;
  /** Largest global gradient norm. @default 4 (paper) */
  clipNorm?: number;
  /** Seed of the dropout masks (step s uses seed + s). @default 0 */
  seed?: number;
  /** An optimiser to continue with (caller-owned); a fresh AdamW is made and freed otherwise. */
  optimizer?: AdamW;
  /** Step number of the first update (for resumed runs). @default 0 */
  startStep?: number;
  /** Where each metrics row goes besides the returned rows. @default none */
  log?: RunLog;
  /** Called after every step with its row. @default none */
  onStep?: (row: MetricsRow) => void | Promise<void>;
  /** Checkpoint file (weights, optimiser state, step, config). @default none */
  checkpointPath?: string;
  /** Write the checkpoint every this many steps, and after the last. @default 0 (last only) */
  checkpointEvery?: number;
  /** Stored in the checkpoint's config beside the prior's. @default {} */
  runConfig?: Record<string, unknown>;
  /**
   * Processes computing each step's gradients: the batch's rows are split into this many shards,
   * one computed here and the others in Deno Workers (one wasm backend, so one core, each), then
   * averaged by rows. Dropout masks differ per shard, so with dropout the worker count changes
   * the numbers. @default defaultWorkers(): 1 on tensorflow, one per core on wasm
   */
  workers?: number;
}

/** A source of batches: a list (cycled) or a function of the step. */
export type PriorBatches = PriorBatch[] | ((step: number) => PriorBatch | Promise<PriorBatch>);

/**
 * Trains the prior for a number of steps and returns the metrics table's rows:
 * `step, loss, text_loss_nats, image_loss_nats, image_bits_per_token, lr, grad_norm,
 * tokens_per_sec, skipped` (skipped: the gradients were not finite and the update was not taken).
 *
 * @param prior The model (trained in place).
 * @param batches Training batches.
 * @param options Steps, step size schedule, AdamW settings, clipping, logging, checkpoints.
 * @returns The rows, one per step.
 * @example
 * ```ts
 * import { createPrior, trainPrior } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * const batch = { text: new Int32Array([5, 6, 30, 30]), image: new Int32Array([1, 2, 3, 4]) };
 * const rows = await trainPrior(prior, [batch], { steps: 3, lr: 1e-2 });
 * console.log(rows.length, Number(rows[2].loss) < Number(rows[0].loss)); // 3 true
 * prior.dispose();
 * ```
 */
export async function trainPrior(
  prior: Prior,
  batches: PriorBatches,
  options: TrainPriorOptions,
): Promise<MetricsRow[]> {
  const { textLen: T, imageGrid: n } = prior.config;
  const steps = options.steps;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`steps must be an integer ≥ 0, got ${steps}`);
  }
  if (Array.isArray(batches) && batches.length === 0) {
    throw new RangeError("batches must hold at least one batch");
  }
  const lr = options.lr ?? 4.5e-4;
  const startStep = options.startStep ?? 0;
  const warmup = options.warmupSteps ?? Math.round(steps / 20);
  const schedule = warmupCosine(lr, warmup, startStep + steps, options.finalLr ?? lr / 10);
  const clipNorm = options.clipNorm ?? 4;
  const optimizer = options.optimizer ?? new AdamW({
    lr,
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.96,
    eps: options.eps ?? 1e-8,
    weightDecay: options.weightDecay ?? 4.5e-2,
  });
  const params = prior.parameters();
  const rows: MetricsRow[] = [];
  const seed = options.seed ?? 0;
  await ensureBackend();
  const workers = options.workers ?? defaultWorkers();
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  }
  const pool = workers > 1
    ? await GradientWorkers.start(workers - 1, {
      taskUrl: new URL("./_grad_task.ts", import.meta.url).href,
      config: prior.config,
      backend: await ensureBackend(),
    })
    : null;
  try {
    for (let step = startStep; step < startStep + steps; step++) {
      const started = performance.now();
      const batch = Array.isArray(batches) ? batches[step % batches.length] : await batches(step);
      const B = batch.text.length / T;
      if (!Number.isInteger(B) || B < 1 || batch.image.length !== B * n * n) {
        throw new RangeError(
          `batch must hold B·${T} text ids and B·${n * n} image ids, got ${batch.text.length} ` +
            `and ${batch.image.length}`,
        );
      }
      const stepSeed = seed + step;
      const { grads, parts } = pool
        ? await parallelGradients(prior, params, batch, B, stepSeed, pool)
        : shardGradients(prior, params, { ...batch, rows: B }, stepSeed);
      const clipped = clipScale(grads, clipNorm);
      const stepLr = schedule.at(step);
      if (clipped.finite) optimizer.step(params, grads, stepLr, clipped.scale);
      const [lossValue, textLoss, imageLoss] = parts;
      tf.dispose(grads);
      const seconds = (performance.now() - started) / 1000;
      const row: MetricsRow = {
        step,
        loss: lossValue,
        text_loss_nats: textLoss,
        image_loss_nats: imageLoss,
        image_bits_per_token: imageLoss / Math.LN2,
        lr: stepLr,
        grad_norm: clipped.norm,
        tokens_per_sec: (B * prior.streamLength) / seconds,
        skipped: !clipped.finite,
      };
      rows.push(row);
      options.log?.log(row);
      await options.onStep?.(row);
      const last = step === startStep + steps - 1;
      const every = options.checkpointEvery ?? 0;
      if (options.checkpointPath && (last || (every > 0 && (step + 1) % every === 0))) {
        await saveCheckpoint(options.checkpointPath, {
          model: prior,
          optimizer,
          step: step + 1,
          config: { prior: prior.config, ...(options.runConfig ?? {}) },
        });
      }
    }
  } finally {
    pool?.close();
    if (!options.optimizer) optimizer.dispose();
  }
  return rows;
}

/** One step's gradients over row shards: the first here, the rest in the pool, row-weighted. */
async function parallelGradients(
  prior: Prior,
  params: tf.Variable[],
  batch: PriorBatch,
  rows: number,
  seed: number,
  pool: GradientWorkers,
): Promise<{ grads: tf.Tensor[]; parts: Float32Array }> {
  const { textLen: T, imageGrid: n } = prior.config;
  const sizes = shardSizes(rows, pool.size + 1);
  const shards: TokenShard[] = [];
  let start = 0;
  for (const size of sizes) {
    shards.push({
      text: batch.text.slice(start * T, (start + size) * T),
      image: batch.image.slice(start * n * n, (start + size) * n * n),
      rows: size,
    });
    start += size;
  }
  const weights = readWeights(params);
  // Dropout seeds far apart per shard, so shards never share masks.
  const remote = shards.slice(1).map((shard, i) =>
    pool.gradients(i, weights, shard, { seed: seed + (i + 1) * 1_000_003 })
  );
  const local = shardGradients(prior, params, shards[0], seed);
  const replies = await Promise.all(remote).catch((err) => {
    tf.dispose(local.grads);
    throw err;
  });
  const grads = meanGradients(params, local.grads, replies.map((r) => r.grads), sizes);
  tf.dispose(local.grads);
  const parts = new Float32Array(local.parts.length);
  [local.parts, ...replies.map((r) => r.values.parts as Float32Array)].forEach((p, i) =>
    p.forEach((v, k) => (parts[k] += (v * sizes[i]) / rows))
  );
  return { grads, parts };
}
