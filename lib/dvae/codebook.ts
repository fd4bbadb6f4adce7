/**
 * How much of the codebook a dVAE uses: the perplexity of the code frequencies (the effective
 * number of codes) and the fraction of codes that occur at all.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** Codebook usage of a set of tokens. */
export interface CodebookUsage {
  /** exp(entropy of the code frequencies), in [1, min(K, number of tokens)]. */
  perplexity: number;
  /** Codes that occur at least once, over K. */
  usedFraction: number;
}

/**
 * Codebook usage of tokens: perplexity = exp(−Σ p_k ln p_k) over code frequencies p, and the
 * fraction of the K codes that occur.
 *
 * @param tokens Token ids (a tensor of any shape, or an array), each in [0, vocabSize).
 * @param vocabSize K.
 * @returns `{ perplexity, usedFraction }`.
 * @example
 * ```ts
 * import { codebookUsage } from "./codebook.ts";
 * // two codes used equally out of 4: perplexity 2, half the codebook used
 * console.log(codebookUsage([0, 1, 0, 1], 4)); // { perplexity: 2, usedFraction: 0.5 }
 * ```
 */
export function codebookUsage(
  tokens: tf.Tensor | ArrayLike<number>,
  vocabSize: number,
): CodebookUsage {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new RangeError(`vocabSize must be a positive integer, got ${vocabSize}`);
  }
  const ids = tokens instanceof tf.Tensor ? tokens.dataSync() : tokens;
  if (ids.length === 0) throw new RangeError("codebookUsage needs at least one token");
  const counts = new Float64Array(vocabSize);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`token ${id} at ${i} is outside [0, ${vocabSize})`);
    }
    counts[id]++;
  }
  let entropy = 0;
  let used = 0;
  for (const n of counts) {
    if (n === 0) continue;
    used++;
    const p = n / ids.length;
    entropy -= p * Math.log(p);
  }
  return { perplexity: Math.exp(entropy), usedFraction: used / vocabSize };
}
