/**
 * An automatic judge for the shapes world: a small CNN that reads a 32×32 scene back into its
 * attributes, so samples can be checked against their captions without a person looking.
 *
 * - `createShapesJudge()` loads the cached or shipped judge (or trains it once); `judge.read(images)` runs
 *   the network once and returns one `Scene` per image.
 * - Scoring is pure functions over what was read, so one read serves every score: `agreement`
 *   (does each image show its caption), `captionAgreement` (per-attribute rates), and
 *   `judgeAccuracy` (against scenes whose attributes are known).
 *
 * Images carry no caption order, so the judge names objects in canonical order: slot 1 is the
 * left (or top) object, slot 2 the right (or bottom) one, and the relation is "left of" or
 * "above" (`canonicalScene` in lib/data).
 *
 * It must read compositions it never saw: it trains on "train"-split scenes only, so the
 * held-out colour–shape pairs of the zero-shot split are new to it too. A network whose shape
 * head can see colour learns "green is never a triangle" from such data (nothing in training
 * contradicts it), so the two factors are kept apart by construction:
 * - a shape path, a CNN over the colour-blind "ink" map 1 − min(R, G, B) (every palette colour
 *   has the same smallest channel, see `COLOUR_HEX`), predicts object count, layout (side by
 *   side or stacked), and per slot shape and size;
 * - a colour path, a per-pixel classifier (1×1 convs: it cannot see shape), averages its colour
 *   logits over each slot's half of the image, weighted by ink (whole image for one object).
 *
 * It also reads images a generative model draws: training adds pixel noise and blurs half the
 * images. Trained once (about 100 s of CPU on one wasm thread; 1–3 minutes of wall time on a
 * busy 2-core machine) and cached as safetensors under `data/cache/judge_v<version>.safetensors`;
 * later calls load the file (0.1 s).
 *
 * Beyond the shapes world, `frechetDistance` measures how far a set of generated images' features
 * lies from real ones' (FID, when the features are a classifier's penultimate activations).
 *
 * @example
 * ```ts
 * import { agreement, captionAgreement, createShapesJudge, judgeAccuracy } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * const judge = await createShapesJudge();
 * const set = await makeShapes({ count: 200, split: "zero-shot", seed: 9, cache: false });
 * const read = judge.read(set.images); // the only forward pass
 * console.log(judgeAccuracy(set.attributes, read).attributes); // ≈ 0.99
 * console.log(agreement(set.captions, read).filter(Boolean).length); // ≈ 200
 * console.log(captionAgreement(set.captions, read).colour); // ≈ 1
 * judge.dispose();
 * ```
 *
 * @module
 */
export {
  createShapesJudge,
  DEFAULT_JUDGE_CONFIG,
  JUDGE_VERSION,
  type JudgeConfig,
  type JudgeOptions,
  ShapesJudge,
  shippedWeightsPath,
} from "./judge.ts";
export {
  agreement,
  captionAgreement,
  type CaptionLike,
  type JudgeAccuracy,
  judgeAccuracy,
} from "./score.ts";
export {
  type FeatureSet,
  fitGaussian,
  type FittedGaussian,
  frechetDistance,
  symmetricEigen,
} from "./frechet.ts";
export {
  createFashionClassifier,
  DEFAULT_FASHION_CLASSIFIER_CONFIG,
  FASHION_CLASSIFIER_VERSION,
  FashionClassifier,
  type FashionClassifierConfig,
  type FashionClassifierOptions,
  type FashionReading,
  shippedFashionWeightsPath,
} from "./fashion.ts";
