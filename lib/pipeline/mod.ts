/**
 * The text → image pipeline above the pieces: a BPE tokenizer, a dVAE, the transformer prior and
 * the contrastive reranker as one `Pipeline` that generates the k best of n images for a caption
 * or completes an image from its top rows, saved and loaded with a versioned manifest that
 * records each part's hash and never names a file outside the folder; the glue between the
 * stages; and judged generation for the reranking curve (paper Figure 9c).
 *
 * @example
 * ```ts
 * import { Pipeline } from "./mod.ts";
 * try {
 *   const pipeline = await Pipeline.load(); // the reference pipeline shipped with the toolkit
 *   const { images, scores } = await pipeline.generate("a red circle", { n: 8, k: 2, seed: 1 });
 *   console.log(images.shape, scores);
 *   images.dispose();
 *   pipeline.dispose();
 * } catch (e) { console.log((e as Error).message); }
 * ```
 *
 * @module
 */
export { type Generated, type GenerateOptions, Pipeline } from "./pipeline.ts";
export {
  configDifference,
  isPlainPartName,
  type Manifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type ManifestPart,
  PART_ROLES,
  type PartRole,
  type PartSizes,
  partsMismatch,
  PipelineManifestError,
  UNHASHED_MANIFEST_VERSION,
} from "./manifest.ts";
export { type PipelineLoadOptions, readManifest, sha256Hex, verifyParts } from "./integrity.ts";
export {
  type CaptionEncoder,
  captionRows,
  type ImageCodec,
  imageTokens,
  tokensToImages,
} from "./codec.ts";
export { type PriorBatchAt, priorBatches, type PriorBatchOptions } from "./prior_batches.ts";
export { drawGrid, type DrawGridOptions, drawLabel, type DrawRow } from "./draw_grid.ts";
export {
  BATCH_NEGATIVES_ONLY,
  checkRecipe,
  RERANKER_RECIPE,
  type RerankerRecipe,
  type RerankerTrainingData,
  rerankerTrainingData,
} from "./reranker_recipe.ts";
export {
  throughCodec,
  type ThroughCodecOptions,
  type ThroughCodecResult,
} from "./through_codec.ts";
export {
  readReferenceRecord,
  REFERENCE_CHECK,
  REFERENCE_DIR,
  referenceCheck,
  referenceCheckCaptions,
  type ReferenceCheckConfig,
  type ReferenceCheckResult,
  type ReferenceFigure,
  type ReferenceRecord,
  type ReferenceStage,
} from "./reference.ts";
export {
  bestOfFirst,
  judgeCandidates,
  type JudgeCandidatesOptions,
  type JudgedCaption,
  keptAttributes,
  rerankCurve,
  type RerankPoint,
  type SceneReader,
} from "./evaluate.ts";
