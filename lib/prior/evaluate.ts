/**
 * Evaluating a trained prior on held-out data: its loss per target, the figure the paper reports
 * for the prior (image bits per token) and the caption loss beside it.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { Prior } from "./model.ts";

/** What {@link heldOutLoss} returns. */
export interface HeldOutLoss {
  /** Mean image cross-entropy over every image token, in bits. */
  imageBitsPerToken: number;
  /** Mean text cross-entropy over the text targets the prior trains on, in nats. */
  textLossNats: number;
  /** Examples evaluated. */
  examples: number;
}

/**
 * The prior's mean loss per target over a set: summed over every batch and divided by the set's
 * target counts, so batches of different sizes or padding weigh exactly by their targets. No
 * dropout.
 *
 * @param prior The model.
 * @param text Caption ids, (N, textLen) row-major.
 * @param image Image tokens, (N, n²) row-major.
 * @param batchSize Examples per forward pass. @default 64
 * @returns The mean losses.
 * @example
 * ```ts
 * import { createPrior, heldOutLoss } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * const loss = heldOutLoss(prior, new Int32Array([5, 6, 30, 30]), new Int32Array([1, 2, 3, 4]));
 * console.log(loss.examples, loss.imageBitsPerToken > 0); // 1 true
 * prior.dispose();
 * ```
 */
export function heldOutLoss(
  prior: Prior,
  text: Int32Array,
  image: Int32Array,
  batchSize = 64,
): HeldOutLoss {
  const { textLen: T, imageGrid: n, padId, countPadTargets } = prior.config;
  const per = n * n;
  const count = text.length / T;
  if (!Number.isInteger(count) || count < 1 || image.length !== count * per) {
    throw new RangeError(
      `heldOutLoss needs N·${T} text ids and N·${per} image ids, got ${text.length} and ${image.length}`,
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  let textSum = 0, imageSum = 0, textTargets = 0;
  for (let start = 0; start < count; start += batchSize) {
    const B = Math.min(batchSize, count - start);
    const rows = text.subarray(start * T, (start + B) * T);
    for (let r = 0; r < B; r++) {
      for (let t = 1; t < T; t++) {
        if (countPadTargets || rows[r * T + t] !== padId) textTargets++;
      }
    }
    const [textSumB, imageSumB] = tf.tidy(() => {
      const textT = tf.tensor2d(rows, [B, T], "int32");
      const imageT = tf.tensor2d(image.subarray(start * per, (start + B) * per), [B, per], "int32");
      // Totals of 1: the parts come back as sums over the batch's targets.
      const { textLoss, imageLoss } = prior.loss(textT, imageT, { totals: { text: 1, image: 1 } });
      return [textLoss.dataSync()[0], imageLoss.dataSync()[0]];
    });
    textSum += textSumB;
    imageSum += imageSumB;
  }
  return {
    imageBitsPerToken: imageSum / (count * per) / Math.LN2,
    textLossNats: textTargets === 0 ? NaN : textSum / textTargets,
    examples: count,
  };
}
