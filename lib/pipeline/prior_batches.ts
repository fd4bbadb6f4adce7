/**
 * The prior's training batches, as stage two of the paper builds them: captions through the BPE
 * tokenizer (with BPE dropout), images through the dVAE's tokens, drawn epoch by epoch by a seeded
 * order, so that a step's batch is a pure function of the step and a resumed run sees the same
 * batches.
 *
 * @module
 */
import { batchIndicesAt } from "../data/mod.ts";
import type { PriorBatch } from "../prior/mod.ts";
import type { BpeTokenizer } from "../tokenizer/mod.ts";

/** Options of {@link priorBatches}. */
export interface PriorBatchOptions {
  /** Captions per batch. */
  batchSize: number;
  /** Caption positions of the prior. */
  textLen: number;
  /** Seed of the scene order. @default 0 */
  seed?: number;
  /** BPE dropout rate (seeded by the step). @default 0 */
  bpeDropout?: number;
  /**
   * A caption whose dropped-out encoding overflows `textLen`: encoded again without dropout
   * ("undropped"), or cut after its last whole token ("cut"). @default "undropped"
   */
  bpeTooLong?: "cut" | "undropped";
}

/** `batchAt(step)`, with counts of the captions BPE dropout made too long. */
export type PriorBatchAt = ((step: number) => PriorBatch) & {
  /** Captions cut to fit (with `bpeTooLong: "cut"`). */
  truncated: number;
  /** Captions encoded again without dropout (with `bpeTooLong: "undropped"`). */
  undropped: number;
};

/**
 * The prior's batch of each step: scenes drawn epoch by epoch (lib/data's `batchIndicesAt`), their
 * captions encoded with BPE dropout seeded by the step, and their image tokens. The caller reports
 * the counts of captions dropout made too long.
 *
 * @param scenes The training captions (a data set's `captions`).
 * @param tokens Their image tokens, (N, n²) row-major (the dVAE's `encode`, flattened).
 * @param tokenizer The BPE tokenizer.
 * @param options Batch size, text length, seed, BPE dropout, what to do with overflows.
 * @returns `batchAt(step)`, for `trainPrior`.
 * @throws {RangeError} Tokens that are not a whole number of rows per caption.
 * @example
 * ```ts
 * import { priorBatches } from "./mod.ts";
 * import { BpeTokenizer } from "../tokenizer/mod.ts";
 * const captions = ["a red circle", "a blue square", "a small green star", "a red cross"];
 * const tokenizer = BpeTokenizer.train(captions, { vocabSize: 270, allowSmaller: true });
 * const tokens = new Int32Array(4 * 4).map((_, i) => i % 7); // 2×2 image tokens per scene
 * const batchAt = priorBatches({ captions }, tokens, tokenizer, { batchSize: 2, textLen: 8 });
 * console.log(batchAt(0).text.length, batchAt(0).image.length); // 16 8
 * ```
 */
export function priorBatches(
  scenes: { readonly captions: readonly string[] },
  tokens: Int32Array,
  tokenizer: BpeTokenizer,
  options: PriorBatchOptions,
): PriorBatchAt {
  const { captions } = scenes;
  const per = tokens.length / captions.length;
  if (!Number.isInteger(per) || per < 1) {
    throw new RangeError(
      `priorBatches: ${tokens.length} image tokens are not a whole row for each of ` +
        `${captions.length} captions`,
    );
  }
  const seed = options.seed ?? 0;
  const batchAt = (step: number) => {
    const index = batchIndicesAt(captions.length, { batchSize: options.batchSize, seed }, step);
    const { ids, undropped } = tokenizer.encodeBatch(index.map((i) => captions[i]), {
      textLen: options.textLen,
      dropout: options.bpeDropout ?? 0,
      seed: step,
      tooLong: options.bpeTooLong ?? "undropped",
      onTruncate: (cut) => (batchAt.truncated += cut.length),
    });
    batchAt.undropped += undropped.length;
    const image = new Int32Array(options.batchSize * per);
    index.forEach((i, b) => image.set(tokens.subarray(i * per, (i + 1) * per), b * per));
    return { text: ids, image };
  };
  batchAt.truncated = 0;
  batchAt.undropped = 0;
  return batchAt;
}
