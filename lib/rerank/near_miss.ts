/**
 * Near-miss accuracy: does the reranker read the whole caption? For each image, its true caption
 * against a near miss of each kind (lib/data's `drawNearMiss`: one object's colour, shape or
 * named size changed, the relation flipped, or the two objects swapped); per kind, the fraction
 * of images whose true caption scores higher, with a 95% Wilson interval. Chance is 50%: random
 * batch negatives almost always differ in colour, so retrieval accuracy can be high while shape
 * or order sits here at chance.
 *
 * The evaluation takes any scorer of captions against images ({@link NearMissScorer}), so a stub
 * that reads the scene (the positive control, ~100%) or ignores an attribute (the negative
 * control, ~50%) runs through the same code as a trained reranker ({@link rerankerScorer}).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import {
  drawNearMiss,
  type ImageBatch,
  NEAR_MISS_KINDS,
  type NearMissKind,
  type Scene,
} from "../data/mod.ts";
import { Rng, wilsonInterval } from "../io/mod.ts";
import type { RerankTokenizer } from "./data.ts";
import type { Reranker } from "./model.ts";

/**
 * Scores of captions against some of the evaluated images: entry `c * rows.length + j` is the
 * score of `captions[c]` with image `rows[j]` (row-major, captions × images); higher = better.
 */
export type NearMissScorer = (
  captions: readonly string[],
  rows: readonly number[],
) => ArrayLike<number>;

/** Options of {@link nearMissAccuracy}. */
export interface NearMissEvalOptions {
  /** Which kinds to measure, in this order. @default all of `NEAR_MISS_KINDS` */
  kinds?: readonly NearMissKind[];
  /** Seed of the near-miss draws and of the coin that settles ties. @default 0 */
  seed?: number;
  /**
   * Only near misses without a held-out colour–shape pair (then a zero-shot caption has none).
   * @default false
   */
  avoidZeroShot?: boolean;
  /** Images per scorer call (bounds memory). @default 64 */
  chunk?: number;
}

/** One kind's result. */
export interface NearMissResult {
  /** What the near misses changed. */
  kind: NearMissKind;
  /** Images that have a near miss of this kind (the count the rate rests on). */
  images: number;
  /** Images without one (one-object captions for relation and swap, no named size). */
  without: number;
  /** Images whose true caption outscored its near miss (ties settled by a fair coin). */
  correct: number;
  /** Images where both scored the same (a scorer blind to the change ties every time). */
  ties: number;
  /** correct / images (NaN without images): 0.5 is chance. */
  accuracy: number;
  /** Lower end of the 95% Wilson interval (NaN without images). */
  low: number;
  /** Upper end of the interval. */
  high: number;
}

/**
 * A scorer from a trained reranker: cosine similarity of each caption's embedding (ids from the
 * tokenizer, cut to the model's `textLen`) with each image's.
 *
 * @param model The reranker.
 * @param tokenizer The tokenizer its captions were encoded with.
 * @param images The evaluated images: a float32 (N, S, S, 3) tensor in [0, 1] (not disposed
 *   here), or bytes (lib/data's `ImageBatch`).
 * @returns A {@link NearMissScorer}; each call disposes what it made.
 * @throws {RangeError} (when called) a caption longer than the model's `textLen`: cut, it would
 *   lose its end-of-text token and be read somewhere else.
 * @example
 * ```ts
 * import { createReranker, nearMissAccuracy, rerankerScorer } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * import { BpeTokenizer } from "../tokenizer/mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const set = await makeShapes({ count: 32, seed: 1, split: "test", cache: false });
 * const tokenizer = BpeTokenizer.train(set.captions, { vocabSize: 300 });
 * const model = createReranker({ textLen: 48, textVocab: tokenizer.vocabSize }); // room to spare
 * const scorer = rerankerScorer(model, tokenizer, set.images);
 * const results = nearMissAccuracy(scorer, { captions: set.captions, scenes: set.attributes });
 * console.log(results.map((r) => r.kind)); // ["colour", "shape", "size", "relation", "swap"]
 * model.dispose();
 * ```
 */
export function rerankerScorer(
  model: Reranker,
  tokenizer: RerankTokenizer,
  images: tf.Tensor4D | ImageBatch,
): NearMissScorer {
  const T = model.config.textLen;
  return (captions, rows) => {
    const long = captions.findIndex((c) => tokenizer.encode(c).length + 1 > T);
    if (long >= 0) {
      throw new RangeError(
        `"${captions[long]}" needs more than the reranker's ${T} ids with <|eot|>: cut, it ` +
          `would lose its end-of-text token and be read elsewhere`,
      );
    }
    const { ids } = tokenizer.encodeBatch(captions, { textLen: T, appendEot: true });
    return tf.tidy(() => {
      const text = tf.tensor2d(ids, [captions.length, T], "int32");
      return model.score(text, imageRows(images, rows)).dataSync();
    });
  };
}

/** The given rows of the images as a float32 tensor in [0, 1] (inside the caller's tidy). */
function imageRows(images: tf.Tensor4D | ImageBatch, rows: readonly number[]): tf.Tensor4D {
  if (images instanceof tf.Tensor) return tf.gather(images, Array.from(rows));
  const { height, width, channels } = images;
  const pixels = height * width * channels;
  const values = new Float32Array(rows.length * pixels);
  rows.forEach((row, k) => {
    const bytes = images.data.subarray(row * pixels, (row + 1) * pixels);
    for (let i = 0; i < pixels; i++) values[k * pixels + i] = bytes[i] / 255;
  });
  return tf.tensor4d(values, [rows.length, height, width, channels]);
}

/**
 * Near-miss accuracy per kind (see the module docs). Image i's near miss of kind k is drawn from
 * its own stream (`seed`, i, k), so it does not depend on the set's size or the kinds asked.
 * The true caption must score strictly higher; a tie counts as correct on a fair coin's toss (also
 * seeded), so a scorer that cannot see a change sits at 50%, not 0%.
 *
 * @param scorer Scores captions against images (a stub, or {@link rerankerScorer}).
 * @param data Each image's true caption and scene (captions must be true of their scenes).
 * @param options See {@link NearMissEvalOptions}.
 * @returns One result per kind, in the order asked.
 * @throws {RangeError} Captions and scenes of different counts, a caption false of its scene,
 *   a scorer that returns the wrong number of scores or a non-finite one, a bad chunk.
 * @throws {TypeError} An unknown kind.
 * @example
 * ```ts
 * import { nearMissAccuracy } from "./mod.ts";
 * import { parseCaption, type Scene, sceneMatches } from "../data/mod.ts";
 * const scenes: Scene[] = [{ objects: [{ colour: "red", shape: "star", size: "small" }], relation: null }];
 * // The positive control: a scorer that reads the scene.
 * const oracle = (captions: readonly string[], rows: readonly number[]) =>
 *   captions.flatMap((c) => rows.map((r) => Number(sceneMatches(parseCaption(c), scenes[r]))));
 * const [colour] = nearMissAccuracy(oracle, { captions: ["a red star"], scenes }, { kinds: ["colour"] });
 * console.log(colour.correct, colour.images); // 1 1
 * ```
 */
export function nearMissAccuracy(
  scorer: NearMissScorer,
  data: { captions: readonly string[]; scenes: readonly Scene[] },
  options: NearMissEvalOptions = {},
): NearMissResult[] {
  const { captions, scenes } = data;
  if (captions.length !== scenes.length) {
    throw new RangeError(
      `nearMissAccuracy needs one scene per caption: ${captions.length} captions, ` +
        `${scenes.length} scenes`,
    );
  }
  const kinds = options.kinds ?? NEAR_MISS_KINDS;
  for (const kind of kinds) {
    if (!NEAR_MISS_KINDS.includes(kind)) {
      throw new TypeError(`unknown near-miss kind ${kind}; kinds: ${NEAR_MISS_KINDS.join(", ")}`);
    }
  }
  const chunk = options.chunk ?? 64;
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new RangeError(`chunk must be an integer ≥ 1, got ${chunk}`);
  }
  const seed = options.seed ?? 0;
  const tally = kinds.map(() => ({ images: 0, correct: 0, ties: 0 }));
  for (let start = 0; start < captions.length; start += chunk) {
    const rows = Array.from(
      { length: Math.min(chunk, captions.length - start) },
      (_, j) => start + j,
    );
    // Each distinct caption of the chunk is scored once against the chunk's images.
    const texts: string[] = [];
    const index = new Map<string, number>();
    const slot = (text: string) => {
      if (!index.has(text)) index.set(text, texts.push(text) - 1);
      return index.get(text)!;
    };
    const pairs = rows.map((i) => ({
      own: slot(captions[i]),
      near: kinds.map((kind) => {
        const k = NEAR_MISS_KINDS.indexOf(kind);
        const rng = Rng.stream("rerank/near-miss-eval", seed, i, k);
        const miss = drawNearMiss(captions[i], scenes[i], kind, rng, {
          avoidZeroShot: options.avoidZeroShot,
        });
        return miss === null ? null : slot(miss.caption);
      }),
    }));
    const scores = scorer(texts, rows);
    if (scores.length !== texts.length * rows.length) {
      throw new RangeError(
        `the scorer returned ${scores.length} scores for ${texts.length} captions × ` +
          `${rows.length} images`,
      );
    }
    const at = (c: number, j: number) => {
      const s = scores[c * rows.length + j];
      if (!Number.isFinite(s)) {
        throw new RangeError(`the scorer gave "${texts[c]}" with image ${rows[j]} the score ${s}`);
      }
      return s;
    };
    pairs.forEach(({ own, near }, j) => {
      near.forEach((miss, n) => {
        if (miss === null) return;
        const t = tally[n], diff = at(own, j) - at(miss, j);
        t.images++;
        if (diff > 0) t.correct++;
        else if (diff === 0) {
          t.ties++;
          const k = NEAR_MISS_KINDS.indexOf(kinds[n]);
          if (Rng.stream("rerank/near-miss-tie", seed, rows[j], k).next() < 0.5) t.correct++;
        }
      });
    });
  }
  return kinds.map((kind, n) => {
    const { images, correct, ties } = tally[n];
    const [low, high] = images > 0 ? wilsonInterval(correct, images) : [NaN, NaN];
    return {
      kind,
      images,
      without: captions.length - images,
      correct,
      ties,
      accuracy: images > 0 ? correct / images : NaN,
      low,
      high,
    };
  });
}
