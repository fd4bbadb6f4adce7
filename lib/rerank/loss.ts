/**
 * CLIP's contrastive objective (paper §2.6; Radford et al. 2021): over a batch of B matching
 * (caption, image) pairs, the B×B matrix of scaled cosine similarities is read both ways, each
 * caption picking its image among the batch's images and each image its caption among the
 * captions, and the two cross-entropies are averaged (the symmetric InfoNCE loss). Its value for
 * embeddings that say nothing is ln B; it approaches 0 as each pair's similarity rises above the
 * rest.
 *
 * The scale multiplying the similarities is learned as a log (so it stays positive) and clamped
 * at `maxLogScale` (ln 100) wherever it is used: above the clamp the loss no longer depends on it
 * and its gradient is 0, so training cannot sharpen the softmax further.
 *
 * Optionally (NegCLIP, Yuksekgonul et al. 2023), each image also picks its caption among the
 * batch's captions plus K near misses of its own caption (`nearMissTerms`), a term the trainer
 * adds with a weight (0 by default: CLIP's loss alone).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { LOGIT_SCALE_MAX } from "./config.ts";

/**
 * The logit scale actually applied: exp(min(logScale, maxLogScale)).
 *
 * @param logScale The learned log scale (a scalar tensor or a number).
 * @param maxLogScale The clamp. @default ln 100
 * @returns A scalar tensor (caller disposes; gradients flow to `logScale` below the clamp).
 * @example
 * ```ts
 * import { clampedScale } from "./loss.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const s = clampedScale(7);
 * console.log(s.dataSync()[0]); // ≈ 100: e^7 ≈ 1097 is clamped
 * s.dispose();
 * ```
 */
export function clampedScale(
  logScale: tf.Scalar | number,
  maxLogScale = LOGIT_SCALE_MAX,
): tf.Scalar {
  return tf.tidy(() => {
    const log = typeof logScale === "number" ? tf.scalar(logScale) : logScale;
    return tf.exp(tf.minimum(log, maxLogScale)) as tf.Scalar;
  });
}

/**
 * Each pair's symmetric InfoNCE term: half of (−log p(image i | caption i) over the batch's
 * images + −log p(caption i | image i) over its captions). Their mean is {@link infoNce}; a
 * gradient shard sums its own terms and divides by the whole batch's pair count.
 *
 * @param textEmb (B, D) caption embeddings (L2-normalised, so products are cosines).
 * @param imageEmb (B, D) image embeddings, row i matching caption i.
 * @param logScale The learned log logit scale.
 * @param maxLogScale The clamp on it. @default ln 100
 * @returns (B,) per-pair losses in nats (caller disposes).
 * @throws {RangeError} Embeddings of different shapes, or not 2-D.
 * @example
 * ```ts
 * import { infoNceTerms } from "./loss.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const e = tf.eye(3);
 * const terms = infoNceTerms(e, e, Math.log(100));
 * console.log(terms.shape); // [3], each ≈ 2e−43
 * tf.dispose([e, terms]);
 * ```
 */
export function infoNceTerms(
  textEmb: tf.Tensor2D,
  imageEmb: tf.Tensor2D,
  logScale: tf.Scalar | number,
  maxLogScale = LOGIT_SCALE_MAX,
): tf.Tensor1D {
  if (
    textEmb.rank !== 2 || imageEmb.rank !== 2 ||
    textEmb.shape.some((d, i) => d !== imageEmb.shape[i])
  ) {
    throw new RangeError(
      `infoNce needs text and image embeddings of the same (B, D) shape, got ` +
        `[${textEmb.shape}] and [${imageEmb.shape}]`,
    );
  }
  return tf.tidy(() => {
    const B = textEmb.shape[0];
    const logits = tf.matMul(textEmb, imageEmb, false, true).mul(
      clampedScale(logScale, maxLogScale),
    );
    const diagonal = tf.eye(B);
    // −log softmax at the diagonal, along rows (caption → images) and columns (image → captions).
    const ownLogit = logits.mul(diagonal).sum(1);
    const textToImage = tf.logSumExp(logits, 1).sub(ownLogit);
    const imageToText = tf.logSumExp(logits, 0).sub(ownLogit);
    return textToImage.add(imageToText).mul(0.5) as tf.Tensor1D;
  });
}

/**
 * The symmetric InfoNCE loss of a batch of matching pairs (mean of {@link infoNceTerms}).
 *
 * @param textEmb (B, D) caption embeddings, L2-normalised.
 * @param imageEmb (B, D) image embeddings, L2-normalised, row i matching caption i.
 * @param logScale The learned log logit scale (clamped at `maxLogScale` here).
 * @param maxLogScale The clamp. @default ln 100
 * @returns The loss in nats, a scalar tensor (caller disposes): ln B for constant embeddings.
 * @example
 * ```ts
 * import { infoNce } from "./loss.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const same = tf.ones([4, 2]).div(Math.SQRT2) as tf.Tensor2D;
 * const loss = infoNce(same, same, Math.log(1 / 0.07));
 * console.log(loss.dataSync()[0], Math.log(4)); // 1.386… 1.386…
 * tf.dispose([same, loss]);
 * ```
 */
export function infoNce(
  textEmb: tf.Tensor2D,
  imageEmb: tf.Tensor2D,
  logScale: tf.Scalar | number,
  maxLogScale = LOGIT_SCALE_MAX,
): tf.Scalar {
  return tf.tidy(() => infoNceTerms(textEmb, imageEmb, logScale, maxLogScale).mean() as tf.Scalar);
}

/**
 * Each image's cross-entropy of picking its own caption among the batch's captions and its own
 * near misses (NegCLIP's hard negatives: its caption with one attribute, the relation or the
 * order changed): −log p(caption i | image i) over B + K captions. Batch negatives almost always
 * differ in colour; near misses differ in nothing but shape, size or order, so this term is what
 * makes the text side read them. For embeddings that say nothing its value is ln(B + K).
 *
 * @param textEmb (B, D) caption embeddings, L2-normalised.
 * @param imageEmb (B, D) image embeddings, row i matching caption i.
 * @param nearMissEmb (B, K, D) embeddings of each image's K near-miss captions.
 * @param logScale The learned log logit scale.
 * @param maxLogScale The clamp on it. @default ln 100
 * @returns (B,) per-image losses in nats (caller disposes).
 * @throws {RangeError} Shapes that do not agree.
 * @example
 * ```ts
 * import { nearMissTerms } from "./loss.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const same = tf.ones([4, 2]).div(Math.SQRT2) as tf.Tensor2D;
 * const near = tf.ones([4, 3, 2]).div(Math.SQRT2) as tf.Tensor3D;
 * const terms = nearMissTerms(same, same, near, 0);
 * console.log(terms.dataSync()[0], Math.log(4 + 3)); // 1.945… 1.945…
 * tf.dispose([same, near, terms]);
 * ```
 */
export function nearMissTerms(
  textEmb: tf.Tensor2D,
  imageEmb: tf.Tensor2D,
  nearMissEmb: tf.Tensor3D,
  logScale: tf.Scalar | number,
  maxLogScale = LOGIT_SCALE_MAX,
): tf.Tensor1D {
  const [B, D] = textEmb.shape;
  if (
    textEmb.rank !== 2 || imageEmb.rank !== 2 || nearMissEmb.rank !== 3 ||
    imageEmb.shape[0] !== B || imageEmb.shape[1] !== D || nearMissEmb.shape[0] !== B ||
    nearMissEmb.shape[2] !== D
  ) {
    throw new RangeError(
      `nearMissTerms needs text and image embeddings (B, D) and near misses (B, K, D), got ` +
        `[${textEmb.shape}], [${imageEmb.shape}] and [${nearMissEmb.shape}]`,
    );
  }
  return tf.tidy(() => {
    const scale = clampedScale(logScale, maxLogScale);
    // Row i: image i against every caption of the batch, then against its own near misses.
    const batch = tf.matMul(imageEmb, textEmb, false, true).mul(scale);
    const near = nearMissEmb.mul(imageEmb.expandDims(1)).sum(2).mul(scale);
    const own = batch.mul(tf.eye(B)).sum(1);
    return tf.logSumExp(tf.concat([batch, near], 1), 1).sub(own) as tf.Tensor1D;
  });
}
