/**
 * Held-out evaluation of a dVAE: the true ELB (codes sampled exactly from q, not relaxed), the
 * reconstruction error through the argmax tokens, and codebook usage over the whole set.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Rng } from "../io/mod.ts";
import { codebookUsage } from "./codebook.ts";
import type { Dvae } from "./model.ts";
import { dequantize, dvaeObjective } from "./objective.ts";

/** Held-out figures of a dVAE. */
export interface DvaeEvaluation {
  /** −ELB (β = 1) with one exact categorical sample of the codes per image, bits per pixel dimension. */
  elbBitsPerDim: number;
  /** Reconstruction NLL of that bound, nats per pixel dimension. */
  reconNll: number;
  /** KL(q ‖ uniform), nats per grid cell. */
  kl: number;
  /** Mean squared error of decode(encode(x)) against x, pixels in [0, 1]. */
  mse: number;
  /** Perplexity of the argmax tokens over the whole set. */
  perplexity: number;
  /** Fraction of the codebook the argmax tokens use. */
  usedFraction: number;
  /** Images evaluated. */
  images: number;
}

/** Images to evaluate: one tensor, or batches (tensors or `{ images }`, e.g. lib/data's `batches`). */
export type DvaeEvalData =
  | tf.Tensor4D
  | Iterable<tf.Tensor4D | { images: tf.Tensor4D }>;

/**
 * Evaluates a dVAE on held-out images (use `run.withEma(() => evaluateDvae(...))` for EMA weights).
 *
 * @param model The dVAE.
 * @param data Images in [0, 1], see {@link DvaeEvalData}; batches yielded are not disposed here.
 * @param options `batchSize` when `data` is one tensor @default 100; `seed` of the code samples
 *   @default 0; `dequantize` the pixels for the bound (as trained with `dequantize`) @default false.
 * @returns The figures, averaged over images.
 * @example
 * ```ts
 * import { createDvae, evaluateDvae } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
 * const x = tf.randomUniform([4, 8, 8, 3], 0, 1, "float32", 2) as tf.Tensor4D;
 * const figures = evaluateDvae(dvae, x);
 * console.log(figures.elbBitsPerDim, figures.mse, figures.perplexity);
 * x.dispose(); dvae.dispose();
 * ```
 */
export function evaluateDvae(
  model: Dvae,
  data: DvaeEvalData,
  options: { batchSize?: number; seed?: number; dequantize?: boolean } = {},
): DvaeEvaluation {
  const batchSize = options.batchSize ?? 100;
  const rng = new Rng(options.seed ?? 0);
  let count = 0;
  let elbSum = 0, nllSum = 0, klSum = 0, mseSum = 0;
  const tokens: number[] = [];
  const one = (images: tf.Tensor4D) => {
    const n = images.shape[0];
    const [elb, nll, kl, mse] = tf.tidy(() => {
      const seed = rng.nextSeed();
      const input = options.dequantize ? dequantize(images, seed + 1) : images;
      const out = dvaeObjective(model, input, { beta: 1, seed, hard: true });
      const ids = out.logits.argMax(-1) as tf.Tensor3D;
      for (const id of ids.dataSync()) tokens.push(id);
      const err = tf.squaredDifference(model.decode(ids), images).mean();
      return tf.stack([out.elbBitsPerDim, out.reconNll, out.kl, err]).dataSync();
    });
    elbSum += elb * n;
    nllSum += nll * n;
    klSum += kl * n;
    mseSum += mse * n;
    count += n;
  };
  if (data instanceof tf.Tensor) {
    for (let start = 0; start < data.shape[0]; start += batchSize) {
      const size = Math.min(batchSize, data.shape[0] - start);
      const batch = data.slice([start, 0, 0, 0], [size, -1, -1, -1]);
      one(batch);
      batch.dispose();
    }
  } else {
    for (const item of data) one(item instanceof tf.Tensor ? item : item.images);
  }
  if (count === 0) throw new RangeError("evaluateDvae got no images");
  const usage = codebookUsage(tokens, model.config.vocabSize);
  return {
    elbBitsPerDim: elbSum / count,
    reconNll: nllSum / count,
    kl: klSum / count,
    mse: mseSum / count,
    perplexity: usage.perplexity,
    usedFraction: usage.usedFraction,
    images: count,
  };
}
