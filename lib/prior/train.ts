/**
 * Training the prior: AdamW with the paper's settings (App. B.2: β1 0.9, β2 0.96, ε 1e-8, weight
 * decay 4.5e-2, gradient norm clipped at 4), linear warm-up then cosine decay of the step size,
 * through lib/nn's one trainer (`train`): any number of workers, any gradient reducer, non-finite
 * steps skipped and counted, checkpoints and exact resume.
 *
 * @module
 */
import {
  type ModelDefaults,
  type ModelTrainOptions,
  shardSizes,
  train,
  trainOptionsOf,
  type TrainResult,
  type TrainSpec,
} from "../nn/mod.ts";
import type { Prior } from "./model.ts";
import type { TokenShard } from "./_grad_task.ts";

/** One training batch: B captions and their images, as token ids. */
export interface PriorBatch {
  /** Caption ids, (B, textLen) row-major. */
  text: Int32Array;
  /** Image ids, (B, n²) row-major, raster order. */
  image: Int32Array;
}

/**
 * Options of {@link trainPrior}: the shared ones ({@link ModelTrainOptions}), with the paper's
 * defaults (App. B.2): lr 4.5e-4, β1 0.9, β2 0.96, ε 1e-8, weight decay 4.5e-2, gradient norm
 * clipped at 4. With `workers` > 1 the batch's rows are split into shards combined exactly (each
 * shard's loss is divided by the whole batch's target counts); dropout masks differ per shard, so
 * with dropout the worker count changes the numbers.
 */
export type TrainPriorOptions = ModelTrainOptions;

/** The paper's settings for the prior (App. B.2). */
const PRIOR_DEFAULTS: ModelDefaults = {
  lr: 4.5e-4,
  beta1: 0.9,
  beta2: 0.96,
  eps: 1e-8,
  weightDecay: 4.5e-2,
  clipNorm: 4,
};

/** A source of batches: a list (cycled) or a function of the step. */
export type PriorBatches = PriorBatch[] | ((step: number) => PriorBatch | Promise<PriorBatch>);

/**
 * Trains the prior. Rows: `step, loss, text_loss_nats, image_loss_nats, image_bits_per_token`,
 * then the trainer's `lr, grad_norm, skipped, skipped_steps, bytes_sent, tokens_per_sec, step_ms`
 * (skipped: the loss or gradients were not finite and the update was not taken).
 *
 * @param prior The model (trained in place).
 * @param batches Training batches: a list (step s takes batch s mod length) or a function of
 *   the step; either way a resumed run sees the same batches.
 * @param options Steps, step size schedule, AdamW settings, clipping, workers, logging, checkpoints.
 * @returns The trainer's result: rows, counters, the optimiser (call `dispose()` when done).
 * @example
 * ```ts
 * import { createPrior, trainPrior } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * const batch = { text: new Int32Array([5, 6, 30, 30]), image: new Int32Array([1, 2, 3, 4]) };
 * const run = await trainPrior(prior, [batch], { steps: 3, lr: 1e-2 });
 * console.log(run.rows.length, Number(run.rows[2].loss) < Number(run.rows[0].loss)); // 3 true
 * run.dispose(); prior.dispose();
 * ```
 */
export async function trainPrior(
  prior: Prior,
  batches: PriorBatches,
  options: TrainPriorOptions,
): Promise<TrainResult> {
  const { textLen: T, imageGrid: n, padId, countPadTargets } = prior.config;
  const steps = options.steps;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`steps must be an integer ≥ 0, got ${steps}`);
  }
  if (Array.isArray(batches) && batches.length === 0) {
    throw new RangeError("batches must hold at least one batch");
  }
  const rowsOf = (batch: PriorBatch) => batch.text.length / T;
  const spec: TrainSpec<PriorBatch, TokenShard> = {
    name: "prior",
    model: prior,
    taskUrl: new URL("./_grad_task.ts", import.meta.url).href,
    config: prior.config,
    async batchAt(step) {
      const batch = Array.isArray(batches) ? batches[step % batches.length] : await batches(step);
      const B = rowsOf(batch);
      if (!Number.isInteger(B) || B < 1 || batch.image.length !== B * n * n) {
        throw new RangeError(
          `batch must hold B·${T} text ids and B·${n * n} image ids, got ${batch.text.length} ` +
            `and ${batch.image.length}`,
        );
      }
      return batch;
    },
    split(batch, count) {
      let start = 0;
      return shardSizes(rowsOf(batch), count).map((rows) => {
        const shard: TokenShard = {
          text: batch.text.slice(start * T, (start + rows) * T),
          image: batch.image.slice(start * n * n, (start + rows) * n * n),
          rows,
          textLen: T,
          imageTokens: n * n,
          padId,
          countPadTargets,
        };
        start += rows;
        return shard;
      });
    },
    unit: "tokens",
    size: (batch) => rowsOf(batch) * prior.streamLength,
    metrics(values) {
      const [loss, textLoss, imageLoss] = [0, 1, 2].map((k) =>
        values.reduce((sum, v) => sum + v.parts[k], 0)
      );
      return {
        loss,
        text_loss_nats: textLoss,
        image_loss_nats: imageLoss,
        image_bits_per_token: imageLoss / Math.LN2,
      };
    },
  };
  return await train(spec, trainOptionsOf(options, PRIOR_DEFAULTS));
}
