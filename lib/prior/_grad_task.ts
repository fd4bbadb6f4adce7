/**
 * The prior's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of the weighted
 * text + image cross-entropy, computed through this module in the trainer's process (shard 0) and
 * in every gradient worker.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type ShardContext, type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import type { PriorConfig } from "./config.ts";
import { createPrior, type Prior } from "./model.ts";

/** A shard of a batch: `rows` captions and their images, as token ids. */
export interface TokenShard {
  text: Int32Array;
  image: Int32Array;
  rows: number;
  /** The config's text length, image grid side, pad id and whether pads are targets. */
  textLen: number;
  imageTokens: number;
  padId: number;
  countPadTargets: boolean;
}

/** Targets of a shard: its text targets (pads left out unless counted) and image tokens. */
export function targets(shard: TokenShard): Record<string, number> {
  const T = shard.textLen;
  let text = 0;
  for (let r = 0; r < shard.rows; r++) {
    for (let t = 1; t < T; t++) {
      if (shard.countPadTargets || shard.text[r * T + t] !== shard.padId) text++;
    }
  }
  return { text, image: shard.rows * shard.imageTokens };
}

/** The replica. */
export function createModel(config: PriorConfig): Prior {
  return createPrior(config);
}

/**
 * One shard's gradients of its share of the batch's loss, and `parts`: its shares of [loss, text
 * loss, image loss] (so the shards' parts add up to the batch's).
 */
export function gradients(
  prior: Prior,
  params: tf.Variable[],
  shard: TokenShard,
  options: ShardContext,
): TaskGradients {
  const text = tf.tensor2d(shard.text, [shard.rows, shard.textLen], "int32");
  const image = tf.tensor2d(shard.image, [shard.rows, shard.imageTokens], "int32");
  // A batch of nothing but pads has no text target: its text part is 0, not 0/0.
  const totals = { text: Math.max(1, options.totals.text), image: options.totals.image };
  let parts: tf.Scalar[] = [];
  try {
    const { loss, grads } = valueAndGrads(params, () => {
      const out = prior.loss(text, image, { training: true, seed: options.seed, totals });
      parts = [tf.keep(out.textLoss), tf.keep(out.imageLoss)]; // the tape frees the rest
      return out.loss;
    });
    const values = new Float32Array([loss, ...parts].map((t) => t.dataSync()[0]));
    tf.dispose(loss);
    return { grads, values: { parts: values } };
  } finally {
    tf.dispose([text, image, ...parts]);
  }
}
