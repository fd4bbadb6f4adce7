/**
 * The prior's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of the weighted
 * text + image cross-entropy, computed through this module in the trainer's process (shard 0) and
 * in every gradient worker.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import {
  type ShardContext,
  type TaskGradients,
  traceableGradients,
  type TraceableTask,
} from "../nn/mod.ts";
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
 * The step as a {@link TraceableTask}: inputs [text, image, text total, image total, ...dropout
 * multipliers], and `parts`, the shard's shares of [loss, text loss, image loss] (so the shards'
 * parts add up to the batch's).
 */
export const traceable: TraceableTask<Prior, TokenShard, unknown> = {
  name: "prior",
  inputs(prior, shard, options) {
    // A batch of nothing but pads has no text target: its text part is 0, not 0/0.
    return [
      tf.tensor2d(shard.text, [shard.rows, shard.textLen], "int32"),
      tf.tensor2d(shard.image, [shard.rows, shard.imageTokens], "int32"),
      tf.scalar(Math.max(1, options.totals.text)),
      tf.scalar(options.totals.image),
      ...prior.dropoutMultipliers(shard.rows, options.seed),
    ];
  },
  loss(prior, [text, image, textTotal, imageTotal, ...dropoutMultipliers]) {
    // Dropout is on when the config says so: its multipliers come in with the inputs.
    const out = prior.loss(text as tf.Tensor2D, image as tf.Tensor2D, {
      training: true,
      totals: { text: textTotal as tf.Scalar, image: imageTotal as tf.Scalar },
      dropoutMultipliers,
    });
    return { loss: out.loss, values: [out.textLoss, out.imageLoss] };
  },
  read(loss, [textLoss, imageLoss]) {
    return { parts: new Float32Array([loss, textLoss, imageLoss].map((t) => t.dataSync()[0])) };
  },
};

/** One shard's gradients of its share of the batch's loss (see {@link traceable}). */
export function gradients(
  prior: Prior,
  params: tf.Variable[],
  shard: TokenShard,
  options: ShardContext,
): TaskGradients {
  return traceableGradients(traceable, prior, params, shard, options);
}
