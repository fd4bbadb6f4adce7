/**
 * The dVAE's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of the objective,
 * computed the same way in this process (`shardGradients`) and in a gradient worker
 * (`createModel` + `gradients`, loaded by URL there).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import { createDvae, type Dvae, type DvaeConfig } from "./model.ts";
import { dvaeObjective } from "./objective.ts";

/** What one shard's objective needs besides the images. */
export interface ShardOptions {
  beta: number;
  tau: number;
  seed: number;
  straightThrough: boolean;
  marginalKlWeight: number;
  infoWeight: number;
}

/** One shard's gradients (in `params` order) and figures. */
export interface ShardResult {
  grads: tf.Tensor[];
  /** loss, elb_bits_per_dim, recon_nll, kl, marginal_kl of the shard. */
  parts: Float32Array;
  /** The shard's argmax tokens, flattened. */
  tokens: Int32Array;
}

/** A shard as a worker receives it. */
export interface ImageShard {
  images: Float32Array;
  shape: [number, number, number, number];
}

/** Gradients of the dVAE objective on one shard (the caller disposes `grads`). */
export function shardGradients(
  model: Dvae,
  params: tf.Variable[],
  images: tf.Tensor4D,
  options: ShardOptions,
): ShardResult {
  let parts: tf.Tensor | null = null;
  let tokens: tf.Tensor | null = null;
  const { loss, grads } = valueAndGrads(params, () => {
    const out = dvaeObjective(model, images, options);
    // Side outputs survive the gradient tape's tidy for one read-back after the step.
    parts = tf.keep(
      tf.stack([out.loss, out.elbBitsPerDim, out.reconNll, out.kl, out.marginalKl]),
    );
    tokens = tf.keep(out.logits.argMax(-1));
    return out.loss;
  });
  const partValues = (parts as unknown as tf.Tensor).dataSync() as Float32Array;
  const tokenValues = (tokens as unknown as tf.Tensor).dataSync() as Int32Array;
  tf.dispose([loss, parts!, tokens!]);
  return { grads, parts: partValues, tokens: tokenValues };
}

/** Worker side: the replica. */
export function createModel(config: DvaeConfig): Dvae {
  return createDvae(config);
}

/** Worker side: one shard's gradients, parts and tokens. */
export function gradients(
  model: Dvae,
  params: tf.Variable[],
  batch: ImageShard,
  options: ShardOptions,
): TaskGradients {
  const images = tf.tensor4d(batch.images, batch.shape);
  try {
    const result = shardGradients(model, params, images, options);
    return { grads: result.grads, values: { parts: result.parts, tokens: result.tokens } };
  } finally {
    images.dispose();
  }
}
