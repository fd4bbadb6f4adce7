/**
 * A gradient task for the trainer's tests: least squares of a linear model over rows, where some
 * rows are padding (`mask` 0) and count as no target. A shard's loss is its masked sum of squared
 * errors divided by the whole batch's count of real rows, so shards add up to the batch exactly.
 *
 * @module
 */
import { tf } from "../../backend/mod.ts";
import { Linear } from "../module.ts";
import { type ShardContext, type TaskGradients, valueAndGrads } from "../mod.ts";

/** Rows of a batch or shard: inputs (rows × 3), targets, and 1 for real rows, 0 for padding. */
export interface Rows {
  x: Float32Array;
  y: Float32Array;
  mask: Float32Array;
}

/** The model: y ≈ x·w + b. */
export function createModel(config: { seed: number }): Linear {
  return new Linear(3, 1, { seed: config.seed });
}

/** Real rows of a shard. */
export function targets(shard: Rows): Record<string, number> {
  return { rows: shard.mask.reduce((a, b) => a + b, 0) };
}

/** The shard's share of the batch's mean squared error, and its gradients. */
export function gradients(
  model: Linear,
  params: tf.Variable[],
  shard: Rows,
  options: ShardContext,
): TaskGradients {
  const n = shard.y.length;
  const [x, y, mask] = [
    tf.tensor2d(shard.x, [n, 3]),
    tf.tensor2d(shard.y, [n, 1]),
    tf.tensor2d(shard.mask, [n, 1]),
  ];
  try {
    const { loss, grads } = valueAndGrads(
      params,
      () =>
        model.apply(x).sub(y).square().mul(mask).sum().div(
          Math.max(1, options.totals.rows),
        ) as tf.Scalar,
    );
    const value = loss.dataSync() as Float32Array;
    loss.dispose();
    return { grads, values: { loss: value } };
  } finally {
    tf.dispose([x, y, mask]);
  }
}
