/**
 * Data for dalle-lab: captioned shapes with held-out compositions (their caption grammar and pure
 * scene scoring; the judge that reads them is lib/judge), near-miss captions (one attribute, the
 * relation or the order changed: hard negatives for the reranker), Fashion-MNIST, any image
 * folder, PNG IO and grids, a seeded batch iterator, and the cache folder (`defaultCacheDir`).
 *
 * Every loader returns images as an `ImageBatch` (bytes, NHWC) with one caption per image;
 * `batches` turns any of them into float tensors in [0, 1]. Nothing is downloaded.
 *
 * @example
 * ```ts
 * import { batches, makeShapes } from "./mod.ts";
 * import { ensureBackend } from "../backend/mod.ts";
 * await ensureBackend();
 * const train = await makeShapes({ count: 64, seed: 0, split: "train" });
 * for (const { images, captions } of batches(train, { batchSize: 16, seed: 0 })) {
 *   console.log(images.shape, captions[0]); // [16, 32, 32, 3] "a red circle left of …"
 * }
 * ```
 *
 * @module
 */
export {
  type CaptionedImages,
  concatImages,
  imageAt,
  type ImageBatch,
  imageBatch,
  imagesToTensor,
  padImages,
  resizeImages,
  selectImages,
  tensorToImages,
  toRgb,
  toRgb32,
} from "./image_batch.ts";
export {
  type AttributeAgreement,
  attributeAgreement,
  type AttributeMatches,
  attributeMatches,
  canonicalScene,
  captionFor,
  type CaptionMeaning,
  type CaptionObject,
  type CaptionOptions,
  type Colour,
  COLOURS,
  isZeroShotPair,
  parseCaption,
  type Relation,
  RELATIONS,
  type Scene,
  sceneMatches,
  type Shape,
  type ShapeObject,
  SHAPES,
  type Size,
  SIZES,
  ZERO_SHOT_PAIRS,
} from "./captions.ts";
export {
  drawNearMiss,
  drawNearMisses,
  NEAR_MISS_KINDS,
  type NearMiss,
  nearMisses,
  type NearMissKind,
  type NearMissOptions,
} from "./near_miss.ts";
export { nearMissScene, type Twinned, type TwinOptions, withNearMissTwins } from "./twins.ts";
export { distinctShapesCaptions } from "./distinct_captions.ts";
export {
  BACKGROUND_HEX,
  COLOUR_HEX,
  makeShapes,
  PALETTE_MIN_CHANNEL,
  renderScenes,
  SHAPES_GENERATOR_VERSION,
  SHAPES_SPLITS,
  type ShapesDataset,
  type ShapesOptions,
  type ShapesSplit,
  shapesSvg,
} from "./shapes.ts";
export {
  FASHION_CAPTION_NOUNS,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_DIR,
  FASHION_MNIST_ENV,
  FASHION_MNIST_FILES,
  fashionCaption,
  type FashionMnist,
  type FashionMnistOptions,
  type IdxArray,
  loadFashionMnist,
  parseIdx,
} from "./fashion_mnist.ts";
export {
  FASHION_PHRASINGS,
  type FashionFolderManifest,
  type FashionFolderOptions,
  fashionLabelOf,
  fashionPhrase,
  writeFashionFolder,
} from "./fashion_folder.ts";
export {
  IMAGE_EXTENSIONS,
  type ImageFolder,
  type ImageFolderOptions,
  loadImageFolder,
} from "./image_folder.ts";
export { type FolderSplit, isHeldOut, splitByFile, type SplitOptions } from "./split.ts";
export {
  decodePng,
  encodePng,
  type GridOptions,
  imageGrid,
  type ImageLike,
  loadPng,
  savePng,
  wrapLabel,
} from "./image_io.ts";
export {
  type Batch,
  type BatchAtOptions,
  batches,
  batchIndicesAt,
  type BatchOptions,
  epochOrders,
} from "./batches.ts";
export { defaultCacheDir } from "./_cache.ts";
export {
  makeTokenDataset,
  TINY_TOKENS,
  type TokenBatch,
  tokenBatchAt,
  type TokenBatchOptions,
  type TokenDataset,
  type TokenSpec,
} from "./tokens.ts";
export { type RandomSource } from "../io/mod.ts";
