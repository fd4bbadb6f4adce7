/**
 * DALL-E's transformer prior (paper §2.2, App. B): one autoregressive stream of caption BPE
 * tokens then dVAE image tokens; the paper's sparse-mask layer schedule (column layers on
 * transposed image states); the weighted text/image loss; AdamW training with the paper's
 * settings; and batched, KV-cached sampling with temperature, top-k, top-p and priming.
 *
 * @example
 * ```ts
 * import { createPrior } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * const { tokens } = await prior.sample({ text: new Int32Array([5, 6, 30, 30]), count: 2 });
 * console.log(tokens.length); // 8
 * prior.dispose();
 * ```
 *
 * @module
 */
export {
  type LossWeights,
  PRIOR_LAYER_MASKS,
  type PriorConfig,
  type PriorLayerMask,
  type ResolvedPriorConfig,
  resolvePriorConfig,
} from "./config.ts";
export {
  createPrior,
  type ForwardOptions,
  type LossOptions,
  Prior,
  type PriorLogits,
  type PriorLoss,
} from "./model.ts";
export { KvCache, type KvCacheMode } from "./kv_cache.ts";
export type { LayerKv } from "../nn/mod.ts";
export { type PickOptions, pickTokens, type SampleOptions, type SampleResult } from "./sample.ts";
export { type PriorBatch, type PriorBatches, trainPrior, type TrainPriorOptions } from "./train.ts";
export { loadPrior, savePrior } from "./io.ts";
export { type HeldOutLoss, heldOutLoss } from "./evaluate.ts";
export { residualBlockOf, residualBlocks } from "./blocks.ts";
