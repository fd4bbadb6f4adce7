/**
 * The Fashion-MNIST classifier's gradient task (see lib/nn's `parallel.ts`): one shard's
 * gradients of the mean cross-entropy over the batch.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type ShardContext, type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import { type FashionClassifierConfig, FashionNet } from "./_fashion_net.ts";

/** A shard: images `(count, 32, 32, 3)` row-major in [0, 1], and their classes. */
export interface FashionShard {
  images: Float32Array;
  count: number;
  labels: Int32Array;
}

/** Targets: the shard's images (the loss is a mean over the whole batch). */
export function targets(shard: FashionShard): Record<string, number> {
  return { images: shard.count };
}

/** The replica. */
export function createModel(config: FashionClassifierConfig): FashionNet {
  return new FashionNet(config);
}

/** One shard's gradients of its share of the batch's loss; `loss` its share of the loss. */
export function gradients(
  net: FashionNet,
  params: tf.Variable[],
  shard: FashionShard,
  options: ShardContext,
): TaskGradients {
  const images = tf.tensor4d(shard.images, [shard.count, 32, 32, 3]);
  const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(shard.labels, "int32"), 10).cast("float32"));
  try {
    const { loss, grads } = valueAndGrads(params, () => {
      const nll = tf.losses.softmaxCrossEntropy(
        oneHot,
        net.apply(images).logits,
        undefined,
        0,
        tf.Reduction.NONE,
      );
      return nll.sum().div(Math.max(1, options.totals.images)) as tf.Scalar;
    });
    const value = loss.dataSync() as Float32Array;
    loss.dispose();
    return { grads, values: { loss: value } };
  } finally {
    tf.dispose([images, oneHot]);
  }
}
