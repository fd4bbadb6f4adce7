/**
 * How well the reranker retrieves: for each caption of a held-out set, is its own image ranked
 * first among a pool of images (itself and `pool − 1` images of other captions)? Chance is
 * 1 / pool. Reported with a 95% Wilson interval.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Rng, wilsonInterval } from "../io/mod.ts";
import type { ImageBatch } from "../data/mod.ts";
import type { Reranker } from "./model.ts";

/** Options of {@link retrievalAccuracy}. */
export interface RetrievalOptions {
  /** Images each caption is ranked among, its own included. @default 32 */
  pool?: number;
  /** Seed of the distractor draws. @default 0 */
  seed?: number;
  /**
   * Images that may not be a distractor for caption i (e.g. ones the caption also describes). An
   * image with the same caption ids as i's is never one.
   * @default none besides those
   */
  excluded?: (caption: number, image: number) => boolean;
  /** Images encoded per pass (bounds memory). @default 256 */
  chunk?: number;
}

/** What {@link retrievalAccuracy} measures. */
export interface RetrievalResult {
  /** Captions whose own image scored above all its distractors. */
  correct: number;
  /** Captions ranked. */
  total: number;
  /** correct / total. */
  accuracy: number;
  /** 95% Wilson interval of the accuracy. */
  low: number;
  /** Upper end of the interval. */
  high: number;
  /** Pool size, and chance = 1 / pool. */
  pool: number;
  /** Accuracy by chance, 1/pool. */
  chance: number;
  /** Each caption's rank of its own image in its pool (0: first). */
  ranks: Int32Array;
}

/** Embeddings of all images (bytes → [0, 1]) in chunks, as one (N, D) array. */
function embedImages(model: Reranker, images: ImageBatch, chunk: number): Float32Array[] {
  const out: Float32Array[] = [];
  const pixels = images.height * images.width * images.channels;
  for (let start = 0; start < images.count; start += chunk) {
    const n = Math.min(chunk, images.count - start);
    const values = Float32Array.from(
      images.data.subarray(start * pixels, (start + n) * pixels),
      (b) => b / 255,
    );
    const emb = tf.tidy(() =>
      model.encodeImages(tf.tensor4d(values, [n, images.height, images.width, images.channels]))
    );
    const flat = emb.dataSync() as Float32Array;
    const D = emb.shape[1];
    emb.dispose();
    for (let i = 0; i < n; i++) out.push(flat.slice(i * D, (i + 1) * D));
  }
  return out;
}

function embedTexts(model: Reranker, ids: Int32Array, chunk: number): Float32Array[] {
  const T = model.config.textLen;
  const rows = ids.length / T;
  const out: Float32Array[] = [];
  for (let start = 0; start < rows; start += chunk) {
    const n = Math.min(chunk, rows - start);
    const emb = tf.tidy(() =>
      model.encodeText(tf.tensor2d(ids.subarray(start * T, (start + n) * T), [n, T], "int32"))
    );
    const flat = emb.dataSync() as Float32Array;
    const D = emb.shape[1];
    emb.dispose();
    for (let i = 0; i < n; i++) out.push(flat.slice(i * D, (i + 1) * D));
  }
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Retrieval accuracy of a held-out set (see the module docs): caption i against its image i and
 * `pool − 1` distractors drawn without replacement from the other images, leaving out those with
 * the same caption ids and those `excluded(i, j)` names. A tie with a distractor counts as a miss.
 *
 * @param model The reranker.
 * @param data `ids` (N, textLen) and `images` (N, S, S, 3) bytes, row i matching image i.
 * @param options See {@link RetrievalOptions}.
 * @returns Counts, accuracy, its interval and each caption's rank.
 * @throws {RangeError} A set too small for the pool, or a caption without enough distractors.
 * @example
 * ```ts
 * import { createReranker, rerankData, retrievalAccuracy } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * import { BpeTokenizer } from "../tokenizer/mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const set = await makeShapes({ count: 40, seed: 1, split: "test", cache: false });
 * const tokenizer = BpeTokenizer.train(set.captions, { vocabSize: 300 });
 * const data = rerankData({ ...set, tokenizer });
 * const model = createReranker({ textLen: data.textLen, textVocab: tokenizer.vocabSize });
 * const r = retrievalAccuracy(model, data, { pool: 8 });
 * console.log(r.total, r.chance); // 40 0.125
 * model.dispose();
 * ```
 */
export function retrievalAccuracy(
  model: Reranker,
  data: { ids: Int32Array; images: ImageBatch },
  options: RetrievalOptions = {},
): RetrievalResult {
  const pool = options.pool ?? 32;
  const chunk = options.chunk ?? 256;
  const N = data.images.count;
  const T = model.config.textLen;
  if (data.ids.length !== N * T) {
    throw new RangeError(
      `retrievalAccuracy needs ${N} caption rows of ${T} ids (one per image), got ` +
        `${data.ids.length} ids`,
    );
  }
  if (!Number.isInteger(pool) || pool < 2 || pool > N) {
    throw new RangeError(`pool must be an integer in [2, ${N}] (the set's images), got ${pool}`);
  }
  const text = embedTexts(model, data.ids, chunk);
  const image = embedImages(model, data.images, chunk);
  const sameCaption = (i: number, j: number) => {
    for (let t = 0; t < T; t++) if (data.ids[i * T + t] !== data.ids[j * T + t]) return false;
    return true;
  };
  const rng = new Rng(options.seed ?? 0);
  const ranks = new Int32Array(N);
  let correct = 0;
  for (let i = 0; i < N; i++) {
    const candidates: number[] = [];
    for (let j = 0; j < N; j++) {
      if (j !== i && !sameCaption(i, j) && !(options.excluded?.(i, j) ?? false)) {
        candidates.push(j);
      }
    }
    if (candidates.length < pool - 1) {
      throw new RangeError(
        `caption ${i} has ${candidates.length} possible distractors, fewer than pool − 1 = ` +
          `${pool - 1}: use a larger set or a smaller pool`,
      );
    }
    // A partial Fisher–Yates shuffle: the first pool − 1 entries are a uniform draw.
    for (let k = 0; k < pool - 1; k++) {
      const r = k + rng.int(candidates.length - k);
      [candidates[k], candidates[r]] = [candidates[r], candidates[k]];
    }
    const own = dot(text[i], image[i]);
    let rank = 0;
    for (let k = 0; k < pool - 1; k++) if (dot(text[i], image[candidates[k]]) >= own) rank++;
    ranks[i] = rank;
    if (rank === 0) correct++;
  }
  const [low, high] = wilsonInterval(correct, N);
  return { correct, total: N, accuracy: correct / N, low, high, pool, chance: 1 / pool, ranks };
}
