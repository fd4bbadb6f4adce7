/**
 * The text → image pipeline above the pieces: a BPE tokenizer, a dVAE, the transformer prior and
 * the contrastive reranker as one `Pipeline` that generates the k best of n images for a caption
 * or completes an image from its top rows, saved and loaded with a versioned manifest; the glue
 * between the stages; and judged generation for the reranking curve (paper Figure 9c).
 *
 * @example
 * ```ts
 * import { Pipeline } from "./mod.ts";
 * try {
 *   const pipeline = await Pipeline.load("data/cache/pipeline_shapes");
 *   const { images, scores } = await pipeline.generate("a red circle", { n: 8, k: 2, seed: 1 });
 *   console.log(images.shape, scores);
 *   images.dispose();
 *   pipeline.dispose();
 * } catch (e) { console.log((e as Error).message); } // no pipeline saved yet
 * ```
 *
 * @module
 */
export { type Generated, type GenerateOptions, Pipeline } from "./pipeline.ts";
export {
  configDifference,
  type Manifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type ManifestPart,
  type PartSizes,
  partsMismatch,
  PipelineManifestError,
} from "./manifest.ts";
export {
  type CaptionEncoder,
  captionRows,
  type ImageCodec,
  imageTokens,
  tokensToImages,
} from "./codec.ts";
export {
  bestOfFirst,
  type Interval,
  interval95,
  judgeCandidates,
  type JudgeCandidatesOptions,
  type JudgedCaption,
  keptAttributes,
  rerankCurve,
  type RerankPoint,
  type SceneReader,
} from "./evaluate.ts";
