/**
 * The reranker's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of its share
 * of the batch's symmetric InfoNCE loss. A shard's similarity matrix holds only its own pairs, so
 * with more than one worker the negatives are shard-local (each caption competes with B/workers
 * images, not B), as in CLIP runs that do not gather embeddings across devices.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type ShardContext, type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import type { ResolvedRerankerConfig } from "./config.ts";
import { createReranker, type Reranker } from "./model.ts";

/** A shard: `rows` pairs of images (row-major, [0, 1]) and caption ids. */
export interface RerankShard {
  images: Float32Array;
  ids: Int32Array;
  rows: number;
  textLen: number;
  imageSize: number;
}

/** Targets of a shard: its pairs. */
export function targets(shard: RerankShard): Record<string, number> {
  return { pairs: shard.rows };
}

/** The replica. */
export function createModel(config: ResolvedRerankerConfig): Reranker {
  return createReranker(config);
}

/**
 * One shard's gradients of (Σ its pairs' InfoNCE terms) / (the batch's pairs); `parts`: that
 * share of the loss and the logit scale applied.
 */
export function gradients(
  model: Reranker,
  params: tf.Variable[],
  shard: RerankShard,
  options: ShardContext,
): TaskGradients {
  const { rows, textLen, imageSize: S } = shard;
  const ids = tf.tensor2d(shard.ids, [rows, textLen], "int32");
  const images = tf.tensor4d(shard.images, [rows, S, S, 3]);
  try {
    // The trainer checked the data once (ids, pixel range); every step would re-read it.
    const { loss, grads } = valueAndGrads(
      params,
      () =>
        tf.tidy(() =>
          model.lossTerms(ids, images, { check: false }).sum().div(
            options.totals.pairs,
          ) as tf.Scalar
        ),
    );
    const parts = new Float32Array([loss.dataSync()[0], model.scale()]);
    loss.dispose();
    return { grads, values: { parts } };
  } finally {
    tf.dispose([ids, images]);
  }
}
