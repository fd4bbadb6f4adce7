/**
 * The dVAE's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of the objective,
 * computed through this module in the trainer's process (shard 0) and in every gradient worker.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type ShardContext, shardSeed, type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import { createDvae, type Dvae, type DvaeConfig } from "./model.ts";
import { dequantize, dvaeObjective } from "./objective.ts";

/** What one step's objective needs besides the images (schedule values and switches). */
export interface DvaeStepOptions {
  beta: number;
  tau: number;
  straightThrough: boolean;
  marginalKlWeight: number;
  infoWeight: number;
  dequantize: boolean;
}

/** A shard as the task receives it: images `(b, S, S, C)` row-major. */
export interface ImageShard {
  images: Float32Array;
  shape: [number, number, number, number];
}

/** Targets of a shard: its images (the objective is a mean over images). */
export function targets(shard: ImageShard): Record<string, number> {
  return { images: shard.shape[0] };
}

/** The replica. */
export function createModel(config: DvaeConfig): Dvae {
  return createDvae(config);
}

/**
 * One shard's gradients, weighted by its share of the batch's images, and its values: `parts`
 * (loss, elb_bits_per_dim, recon_nll, kl, marginal_kl, weighted the same way, so shards add up)
 * and `tokens` (the shard's argmax tokens).
 */
export function gradients(
  model: Dvae,
  params: tf.Variable[],
  shard: ImageShard,
  options: DvaeStepOptions & ShardContext,
): TaskGradients {
  const weight = shard.shape[0] / options.totals.images;
  const images = tf.tidy(() => {
    const raw = tf.tensor4d(shard.images, shard.shape);
    return options.dequantize ? dequantize(raw, shardSeed(options.seed, 1 << 20)) : raw;
  });
  let parts: tf.Tensor | null = null;
  let tokens: tf.Tensor | null = null;
  try {
    const { loss, grads } = valueAndGrads(params, () => {
      const out = dvaeObjective(model, images, { ...options, seed: options.seed });
      // Side outputs survive the gradient tape's tidy for one read-back after the step.
      parts = tf.keep(
        tf.stack([out.loss, out.elbBitsPerDim, out.reconNll, out.kl, out.marginalKl]).mul(weight),
      );
      tokens = tf.keep(out.logits.argMax(-1));
      return out.loss.mul(weight) as tf.Scalar;
    });
    loss.dispose();
    const values = {
      parts: (parts as unknown as tf.Tensor).dataSync() as Float32Array,
      tokens: (tokens as unknown as tf.Tensor).dataSync() as Int32Array,
    };
    return { grads, values };
  } finally {
    tf.dispose([images, ...(parts ? [parts] : []), ...(tokens ? [tokens] : [])]);
  }
}
