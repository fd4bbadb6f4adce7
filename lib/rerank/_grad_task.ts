/**
 * The reranker's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of its share
 * of the batch's symmetric InfoNCE loss (plus the weighted near-miss term, when asked). A shard's similarity matrix holds only its own pairs, so
 * with more than one worker the negatives are shard-local (each caption competes with B/workers
 * images, not B), as in CLIP runs that do not gather embeddings across devices.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type ShardContext, type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import type { ResolvedRerankerConfig } from "./config.ts";
import { createReranker, type Reranker } from "./model.ts";

/**
 * A shard: `rows` pairs of images (row-major, [0, 1]) and caption ids, and with a near-miss
 * weight above 0, each pair's `nearMisses` near-miss ids (rows × K × textLen).
 */
export interface RerankShard {
  images: Float32Array;
  ids: Int32Array;
  rows: number;
  textLen: number;
  imageSize: number;
  nearMissIds: Int32Array | null;
  nearMisses: number;
  nearMissWeight: number;
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
 * One shard's gradients of (Σ its pairs' loss terms) / (the batch's pairs); `parts`: that share
 * of the loss, the logit scale applied, and that share of the unweighted near-miss term (0
 * without near misses).
 */
export function gradients(
  model: Reranker,
  params: tf.Variable[],
  shard: RerankShard,
  options: ShardContext,
): TaskGradients {
  const { rows, textLen, imageSize: S, nearMisses: K } = shard;
  const ids = tf.tensor2d(shard.ids, [rows, textLen], "int32");
  const images = tf.tensor4d(shard.images, [rows, S, S, 3]);
  const nearIds = shard.nearMissIds && K > 0
    ? tf.tensor3d(shard.nearMissIds, [rows, K, textLen], "int32")
    : null;
  try {
    let nearMiss = 0;
    // The trainer checked the data once (ids, pixel range); every step would re-read it.
    const { loss, grads } = valueAndGrads(
      params,
      () =>
        tf.tidy(() => {
          const parts = model.lossParts(ids, images, {
            check: false,
            nearMisses: nearIds ? { ids: nearIds, weight: shard.nearMissWeight } : undefined,
          });
          if (parts.nearMiss) {
            nearMiss = parts.nearMiss.sum().dataSync()[0] / options.totals.pairs;
          }
          return parts.total.sum().div(options.totals.pairs) as tf.Scalar;
        }),
    );
    const parts = new Float32Array([loss.dataSync()[0], model.scale(), nearMiss]);
    loss.dispose();
    return { grads, values: { parts } };
  } finally {
    tf.dispose([ids, images, ...(nearIds ? [nearIds] : [])]);
  }
}
