/**
 * How the toolkit trains a pipeline's reranker so that it reads the whole caption and the
 * pipeline's own decoded draws: NegCLIP's near-miss captions as extra text-side negatives,
 * near-miss twins (a scene rendered from one of its near-miss captions, in the same batch) as
 * image-side negatives, half the training images passed through the pipeline's dVAE (the images
 * it ranks are decoded), and a stride-1 convolution before each halving of the image encoder.
 * Each was measured in experiments/rerank_train.ts (data/figures/RESULTS.md § rerank_train);
 * {@link BATCH_NEGATIVES_ONLY} is CLIP's plain recipe, kept for comparison.
 *
 * @module
 */
import { type ShapesDataset, withNearMissTwins } from "../data/mod.ts";
import { type RerankData, rerankData, type RerankTokenizer } from "../rerank/mod.ts";
import type { ImageCodec } from "./codec.ts";
import { throughCodec } from "./through_codec.ts";

/** The parts of a reranker's training that this module adds to lib/rerank's defaults. */
export interface RerankerRecipe {
  /** Near-miss captions per training image (text-side negatives). */
  nearMisses: number;
  /** Weight of their loss term (0: CLIP's loss alone). */
  nearMissWeight: number;
  /** Near-miss twins in every batch (image-side negatives; half the batch is twins). */
  twins: boolean;
  /** Share of training images replaced by their dVAE reconstruction, in [0, 1]. */
  throughDvae: number;
  /** Stride-1 convolutions before each halving of the image encoder. */
  imageStageDepth: number;
}

/** The recipe the toolkit trains with (experiments/rerank_train.ts, prior_shapes.ts, the demo). */
export const RERANKER_RECIPE: Readonly<RerankerRecipe> = Object.freeze({
  nearMisses: 5,
  nearMissWeight: 1,
  twins: true,
  throughDvae: 0.5,
  imageStageDepth: 1,
});

/** CLIP's recipe: batch negatives only, rendered images, the 3-layer image encoder. */
export const BATCH_NEGATIVES_ONLY: Readonly<RerankerRecipe> = Object.freeze({
  nearMisses: 0,
  nearMissWeight: 0,
  twins: false,
  throughDvae: 0,
  imageStageDepth: 0,
});

/** What {@link rerankerTrainingData} returns. */
export interface RerankerTrainingData {
  /** The pairs (with near misses when the recipe trains on them). */
  data: RerankData;
  /** trainReranker's `groupSize`: 2 with twins (each scene beside its twin), else 1. */
  groupSize: number;
}

/**
 * The training pairs of a recipe: the scenes (and their twins), some passed through the dVAE,
 * tokenized, with near-miss captions drawn when they are trained on.
 *
 * @param train Train-split scenes.
 * @param tokenizer The pipeline's tokenizer.
 * @param codec The pipeline's dVAE (needed when `throughDvae` > 0).
 * @param recipe The recipe.
 * @param o Seeds (`seed`: which images go through the dVAE; `nearMissSeed`: near misses and
 *   twins) and the caption length (default: the longest caption's).
 * @returns The data and the group size to train with.
 * @throws {RangeError} A recipe out of range (weight without near misses, a share outside
 *   [0, 1]) or `throughDvae` without a codec.
 * @example
 * ```ts
 * import { BATCH_NEGATIVES_ONLY, rerankerTrainingData } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * import { BpeTokenizer } from "../tokenizer/mod.ts";
 * const train = await makeShapes({ count: 8, seed: 0, split: "train", cache: false });
 * const tokenizer = BpeTokenizer.train(train.captions, { vocabSize: 300 });
 * const recipe = { ...BATCH_NEGATIVES_ONLY, twins: true };
 * const { data, groupSize } = await rerankerTrainingData(train, tokenizer, null, recipe, {});
 * console.log(data.images.count, groupSize); // 16 2
 * ```
 */
export async function rerankerTrainingData(
  train: ShapesDataset,
  tokenizer: RerankTokenizer,
  codec: ImageCodec | null,
  recipe: RerankerRecipe,
  o: { seed?: number; nearMissSeed?: number; textLen?: number },
): Promise<RerankerTrainingData> {
  checkRecipe(recipe);
  if (recipe.throughDvae > 0 && codec === null) {
    throw new RangeError(`throughDvae ${recipe.throughDvae} needs the pipeline's dVAE`);
  }
  const pairs = recipe.twins
    ? await withNearMissTwins(train, { seed: o.nearMissSeed ?? 0 })
    : train;
  const images = codec && recipe.throughDvae > 0
    ? throughCodec(codec, pairs.images, { fraction: recipe.throughDvae, seed: o.seed ?? 0 }).images
    : pairs.images;
  const data = rerankData({
    images,
    captions: pairs.captions,
    attributes: pairs.attributes,
    split: pairs.split,
    tokenizer,
    textLen: o.textLen,
    // Drawn only when they are trained on: a weight-0 run's data stays CLIP's.
    nearMisses: recipe.nearMissWeight > 0 ? recipe.nearMisses : 0,
    nearMissSeed: o.nearMissSeed ?? 0,
  });
  return { data, groupSize: recipe.twins ? 2 : 1 };
}

/**
 * Throws unless a recipe is usable.
 *
 * @param recipe The recipe.
 * @param name How messages name a field (e.g. as the flag that set it). @default the field
 * @throws {RangeError} The first field out of range, named.
 */
export function checkRecipe(
  recipe: RerankerRecipe,
  name: (field: keyof RerankerRecipe) => string = (field) => field,
): void {
  const { nearMisses, nearMissWeight, throughDvae, imageStageDepth } = recipe;
  if (!Number.isInteger(nearMisses) || nearMisses < 0) {
    throw new RangeError(`${name("nearMisses")} must be an integer ≥ 0, got ${nearMisses}`);
  }
  if (!(nearMissWeight >= 0 && Number.isFinite(nearMissWeight))) {
    throw new RangeError(
      `${name("nearMissWeight")} must be a finite number ≥ 0, got ${nearMissWeight}`,
    );
  }
  if (nearMissWeight > 0 && nearMisses === 0) {
    throw new RangeError(
      `${name("nearMissWeight")} ${nearMissWeight} trains on near misses: give ` +
        `${name("nearMisses")} ≥ 1`,
    );
  }
  if (!(throughDvae >= 0 && throughDvae <= 1)) {
    throw new RangeError(`${name("throughDvae")} must be a share in [0, 1], got ${throughDvae}`);
  }
  if (!Number.isInteger(imageStageDepth) || imageStageDepth < 0) {
    throw new RangeError(
      `${name("imageStageDepth")} must be an integer ≥ 0, got ${imageStageDepth}`,
    );
  }
  if (typeof recipe.twins !== "boolean") {
    throw new RangeError(`${name("twins")} must be true or false, got ${recipe.twins}`);
  }
}
