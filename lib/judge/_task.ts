/**
 * The judge's gradient task (see lib/nn's `parallel.ts`): one shard's gradients of the judge's
 * loss, the sum over heads of the cross-entropy over the images a head applies to, on degraded
 * images (blur and noise, so generated images read as well as clean renders).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Rng } from "../io/mod.ts";
import { type ShardContext, type TaskGradients, valueAndGrads } from "../nn/mod.ts";
import { HEAD_CLASSES, HEAD_NAMES, type JudgeConfig, JudgeNet } from "./_net.ts";

/** A shard: images `(count, 32, 32, 3)` row-major, the class per head (−1: n/a), regions. */
export interface JudgeShard {
  images: Float32Array;
  count: number;
  labels: Record<string, Int32Array>;
  regions: Int32Array;
}

/** The step's augmentation settings. */
export interface JudgeStepOptions {
  blurFraction: number;
  noiseStd: number;
}

/** Targets per head: the images the head applies to. */
export function targets(shard: JudgeShard): Record<string, number> {
  return Object.fromEntries(
    HEAD_NAMES.map((h) => [h, shard.labels[h].reduce((n, id) => n + (id >= 0 ? 1 : 0), 0)]),
  );
}

/** The replica. */
export function createModel(config: JudgeConfig): JudgeNet {
  return new JudgeNet(config);
}

/** 3×3 binomial blur kernel ([1, 2, 1]ᵀ[1, 2, 1] / 16) per channel, `[3, 3, 3, 1]`. */
function binomialKernel(): tf.Tensor4D {
  const taps = [1, 2, 1];
  const values: number[] = [];
  for (const a of taps) for (const b of taps) for (let c = 0; c < 3; c++) values.push((a * b) / 16);
  return tf.tensor4d(values, [3, 3, 3, 1]);
}

/**
 * Training-time degradations, so images from a generative model (noisy, blurry) read as well as
 * clean renders: a random `blurFraction` of the images is blurred, then Gaussian noise is added.
 */
function degrade(images: tf.Tensor4D, options: JudgeStepOptions, rng: Rng): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w] = images.shape;
    // Edge padding (not zeros): a zero border would look like ink around a white image.
    const padded = tf.mirrorPad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], "symmetric");
    const binomial = tf.depthwiseConv2d(padded, binomialKernel(), 1, "valid");
    const downUp = tf.image.resizeBilinear(
      tf.avgPool(images, 2, 2, "valid") as tf.Tensor4D,
      [h, w],
    );
    const choice = Array.from({ length: b }, () => {
      const u = rng.next();
      return u < options.blurFraction / 2 ? 1 : u < options.blurFraction ? 2 : 0;
    });
    const pick = (k: number) => tf.tensor4d(choice.map((c) => (c === k ? 1 : 0)), [b, 1, 1, 1]);
    let out = images.mul(pick(0)).add(binomial.mul(pick(1))).add(downUp.mul(pick(2)));
    if (options.noiseStd > 0) {
      // A seed of 0 would make tf draw unseeded noise.
      const seed = 1 + rng.int(0x7ffffffe);
      out = out.add(tf.randomNormal([b, h, w, 3], 0, options.noiseStd, "float32", seed));
    }
    return out.clipByValue(0, 1) as tf.Tensor4D;
  });
}

/** One shard's gradients of its share of the batch's loss; `loss` its share of the loss. */
export function gradients(
  net: JudgeNet,
  params: tf.Variable[],
  shard: JudgeShard,
  options: JudgeStepOptions & ShardContext,
): TaskGradients {
  const raw = tf.tensor4d(shard.images, [shard.count, 32, 32, 3]);
  const images = degrade(raw, options, new Rng(options.seed));
  const regions = tf.tensor1d(shard.regions, "int32");
  // Heads that do not apply (label −1, e.g. slot 2 of a lone object) get zero weight; the colour
  // path reads the true regions, as it will read the predicted ones.
  const heads = tf.tidy(() =>
    HEAD_NAMES.map((h) => {
      const ids = shard.labels[h];
      const oneHot = tf.oneHot(
        tf.tensor1d(ids.map((id) => Math.max(0, id)), "int32"),
        HEAD_CLASSES[h],
      );
      const valid = tf.tensor1d(Float32Array.from(ids, (id) => (id >= 0 ? 1 : 0)));
      return { h, oneHot: oneHot.cast("float32") as tf.Tensor2D, valid };
    })
  );
  try {
    const { loss, grads } = valueAndGrads(params, () => {
      const logits = net.apply(images, regions);
      const terms = heads.map(({ h, oneHot, valid }) => {
        const nll = tf.losses.softmaxCrossEntropy(oneHot, logits[h], valid, 0, tf.Reduction.NONE);
        return nll.sum().div(Math.max(1, options.totals[h]));
      });
      return tf.addN(terms) as tf.Scalar;
    });
    const value = loss.dataSync() as Float32Array;
    loss.dispose();
    return { grads, values: { loss: value } };
  } finally {
    tf.dispose([raw, images, regions, ...heads.flatMap((x) => [x.oneHot, x.valid])]);
  }
}
