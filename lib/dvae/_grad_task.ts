/**
 * The dVAE's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of the objective,
 * computed through this module in the trainer's process (shard 0) and in every gradient worker.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import {
  type ShardContext,
  shardSeed,
  type TaskGradients,
  traceableGradients,
  type TraceableTask,
} from "../nn/mod.ts";
import { createDvae, type Dvae, type DvaeConfig } from "./model.ts";
import { dequantize, dvaeObjective, gumbelUniform } from "./objective.ts";

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
 * The step as a {@link TraceableTask}: inputs [images (dequantised when asked), the Gumbel noise's
 * uniform draws, the shard's share of the batch, β, τ, and the marginal-KL and information
 * weights], and values `parts` (loss, elb_bits_per_dim, recon_nll, kl, marginal_kl, weighted the
 * same way, so shards add up) and `tokens` (the shard's argmax tokens).
 */
export const traceable: TraceableTask<Dvae, ImageShard, DvaeStepOptions> = {
  name: "dvae",
  inputs(model, shard, options) {
    const images = tf.tidy(() => {
      const raw = tf.tensor4d(shard.images, shard.shape);
      return options.dequantize ? dequantize(raw, shardSeed(options.seed, 1 << 20)) : raw;
    });
    const g = model.gridSize;
    return [
      images,
      gumbelUniform([shard.shape[0], g, g, model.config.vocabSize], options.seed),
      ...[
        shard.shape[0] / options.totals.images,
        options.beta,
        options.tau,
        options.marginalKlWeight,
        options.infoWeight,
      ].map((x) => tf.scalar(x)),
    ];
  },
  // Switches, not values: a weight of 0 leaves its term out of the ops.
  key: (_, o) => `${o.straightThrough} ${o.marginalKlWeight !== 0} ${o.infoWeight !== 0}`,
  loss(model, [images, uniform, weight, beta, tau, marginalKlWeight, infoWeight], options) {
    const out = dvaeObjective(model, images as tf.Tensor4D, {
      beta: beta as tf.Scalar,
      tau: tau as tf.Scalar,
      gumbelUniform: uniform,
      straightThrough: options.straightThrough,
      marginalKlWeight: options.marginalKlWeight === 0 ? 0 : marginalKlWeight as tf.Scalar,
      infoWeight: options.infoWeight === 0 ? 0 : infoWeight as tf.Scalar,
    });
    const parts = tf.stack([out.loss, out.elbBitsPerDim, out.reconNll, out.kl, out.marginalKl])
      .mul(weight);
    return { loss: out.loss.mul(weight) as tf.Scalar, values: [parts, out.logits.argMax(-1)] };
  },
  read(_loss, [parts, tokens]) {
    return {
      parts: parts.dataSync() as Float32Array,
      tokens: tokens.dataSync() as Int32Array,
    };
  },
};

/** One shard's gradients and values (see {@link traceable}). */
export function gradients(
  model: Dvae,
  params: tf.Variable[],
  shard: ImageShard,
  options: DvaeStepOptions & ShardContext,
): TaskGradients {
  return traceableGradients(traceable, model, params, shard, options);
}
