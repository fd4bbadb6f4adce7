/**
 * The prior's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of the weighted
 * text + image cross-entropy, computed the same way here (`shardGradients`) and in a gradient
 * worker (`createModel` + `gradients`, loaded by URL there).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import type { PriorConfig } from "./config.ts";
import { createPrior, type Prior } from "./model.ts";

/** A shard of a batch: `rows` captions and their images, as token ids. */
export interface TokenShard {
  text: Int32Array;
  image: Int32Array;
  rows: number;
}

/** Gradients (in `params` order) and [loss, text loss, image loss] of one shard. */
export function shardGradients(
  prior: Prior,
  params: tf.Variable[],
  shard: TokenShard,
  seed: number,
): { grads: tf.Tensor[]; parts: Float32Array } {
  const { textLen: T, imageGrid: n } = prior.config;
  const text = tf.tensor2d(shard.text, [shard.rows, T], "int32");
  const image = tf.tensor2d(shard.image, [shard.rows, n * n], "int32");
  let parts: tf.Scalar[] = [];
  try {
    const { loss, grads } = valueAndGrads(params, () => {
      const out = prior.loss(text, image, { training: true, seed });
      parts = [tf.keep(out.textLoss), tf.keep(out.imageLoss)]; // the tape frees the rest
      return out.loss;
    });
    const values = new Float32Array([loss, ...parts].map((t) => t.dataSync()[0]));
    tf.dispose(loss);
    return { grads, parts: values };
  } finally {
    tf.dispose([text, image, ...parts]);
  }
}

/** Worker side: the replica. */
export function createModel(config: PriorConfig): Prior {
  return createPrior(config);
}

/** Worker side: one shard's gradients and loss parts. */
export function gradients(
  prior: Prior,
  params: tf.Variable[],
  shard: TokenShard,
  options: { seed: number },
): TaskGradients {
  const { grads, parts } = shardGradients(prior, params, shard, options.seed);
  return { grads, values: { parts } };
}
