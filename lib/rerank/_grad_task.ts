/**
 * The reranker's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of its share
 * of the batch's symmetric InfoNCE loss (plus the weighted near-miss term, when asked). A shard's similarity matrix holds only its own pairs, so
 * with more than one worker the negatives are shard-local (each caption competes with B/workers
 * images, not B), as in CLIP runs that do not gather embeddings across devices.
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
 * The step as a {@link TraceableTask}: inputs [caption ids, images, the batch's pairs, and with
 * near misses their ids], and `parts`: the shard's share of the loss, the logit scale applied, and
 * its share of the unweighted near-miss term (0 without near misses).
 */
export const traceable: TraceableTask<Reranker, RerankShard, unknown> = {
  name: "reranker",
  inputs(_model, shard, options) {
    const { rows, textLen, imageSize: S, nearMisses: K } = shard;
    return [
      tf.tensor2d(shard.ids, [rows, textLen], "int32"),
      tf.tensor4d(shard.images, [rows, S, S, 3]),
      tf.scalar(options.totals.pairs),
      ...(shard.nearMissIds && K > 0
        ? [tf.tensor3d(shard.nearMissIds, [rows, K, textLen], "int32")]
        : []),
    ];
  },
  key: (shard) => `near-miss weight ${shard.nearMissWeight}`,
  loss(model, [ids, images, pairs, nearIds], _options, shard) {
    // The trainer checked the data once (ids, pixel range); every step would re-read it.
    const parts = model.lossParts(ids as tf.Tensor2D, images as tf.Tensor4D, {
      check: false,
      nearMisses: nearIds
        ? { ids: nearIds as tf.Tensor3D, weight: shard.nearMissWeight }
        : undefined,
    });
    const nearMiss = parts.nearMiss ? parts.nearMiss.sum().div(pairs) : tf.scalar(0);
    return { loss: parts.total.sum().div(pairs) as tf.Scalar, values: [nearMiss] };
  },
  read(loss, [nearMiss], model) {
    return { parts: new Float32Array([loss.dataSync()[0], model.scale(), nearMiss.dataSync()[0]]) };
  },
};

/** One shard's gradients of (Σ its pairs' loss terms) / (the batch's pairs) (see {@link traceable}). */
export function gradients(
  model: Reranker,
  params: tf.Variable[],
  shard: RerankShard,
  options: ShardContext,
): TaskGradients {
  return traceableGradients(traceable, model, params, shard, options);
}
