/**
 * The paper's contrastive reranker (§2.6, CLIP-style): an image encoder (a small conv net on
 * pixels) and a text encoder (a small causal transformer over BPE ids, read at the end-of-text
 * token), projected into a shared space and L2-normalised; a learned logit scale (init
 * ln(1/0.07), clamped at ln 100); the symmetric InfoNCE loss; training through lib/nn's trainer
 * on train-split captions only, optionally with near-miss captions as hard negatives (NegCLIP);
 * `score` and `rerank` for the prior's samples; retrieval accuracy; near-miss accuracy per kind
 * (does it read shape, size and order, not just colour?); save and load.
 *
 * @example
 * ```ts
 * import { createReranker, rerankData, retrievalAccuracy, trainReranker } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * import { BpeTokenizer } from "../tokenizer/mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const train = await makeShapes({ count: 256, seed: 0, split: "train" });
 * const tokenizer = BpeTokenizer.train(train.captions, { vocabSize: 343 }); // all they reach
 * const data = rerankData({ ...train, tokenizer });
 * const model = createReranker({ textLen: data.textLen, textVocab: tokenizer.vocabSize });
 * const run = await trainReranker(model, data, { steps: 20, batchSize: 64 });
 * const test = await makeShapes({ count: 64, seed: 1, split: "test" });
 * const testData = rerankData({ ...test, tokenizer, textLen: data.textLen });
 * console.log(retrievalAccuracy(model, testData, { pool: 32 }).accuracy); // chance is 1/32
 * run.dispose(); model.dispose();
 * ```
 *
 * @module
 */
export {
  LOGIT_SCALE_INIT,
  LOGIT_SCALE_MAX,
  type RerankerConfig,
  type ResolvedRerankerConfig,
  resolveRerankerConfig,
} from "./config.ts";
export {
  createReranker,
  type EncodeOptions,
  type LossOptions,
  type LossParts,
  type Reranked,
  Reranker,
} from "./model.ts";
export { clampedScale, infoNce, infoNceTerms, nearMissTerms } from "./loss.ts";
export {
  assertTrainable,
  type CaptionGrammar,
  type HeldOutRow,
  heldOutRows,
  type RerankData,
  rerankData,
  type RerankDataOptions,
  type RerankTokenizer,
} from "./data.ts";
export { type RerankBatch, trainReranker, type TrainRerankerOptions } from "./train.ts";
export { retrievalAccuracy, type RetrievalOptions, type RetrievalResult } from "./evaluate.ts";
export {
  nearMissAccuracy,
  type NearMissEvalOptions,
  type NearMissResult,
  type NearMissScorer,
  rerankerScorer,
} from "./near_miss.ts";
export { loadReranker, saveReranker } from "./io.ts";
