/**
 * The contrastive reranker (paper §2.6, CLIP-style): a conv net on pixels and a small causal
 * transformer over caption ids, each followed by a linear projection into a shared space where
 * embeddings are L2-normalised, so the product of a caption's and an image's embedding is their
 * cosine similarity; and a learned log logit scale (init ln(1/0.07), clamped at ln 100 when used)
 * that sharpens the training softmax. DALL-E draws many samples per caption and keeps those this
 * model ranks highest.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Linear, Module, seedStream } from "../nn/mod.ts";
import { checkImages, checkTextIds } from "./_checks.ts";
import { ImageEncoder } from "./_image_encoder.ts";
import { TextEncoder } from "./_text_encoder.ts";
import {
  type RerankerConfig,
  type ResolvedRerankerConfig,
  resolveRerankerConfig,
} from "./config.ts";
import { infoNceTerms, nearMissTerms } from "./loss.ts";

/** What {@link Reranker.rerank} returns: the best candidates first. */
export interface Reranked {
  /** Indices into the candidates, best first. */
  indices: number[];
  /** Their cosine similarities to the caption, in the same order (descending). */
  scores: number[];
}

/** Whether inputs are checked (shape, dtype, value range, ids); the trainer's task skips it. */
export interface EncodeOptions {
  /**
   * Whether to check the inputs' shapes.
   * @default true
   */
  check?: boolean;
}

/** What {@link Reranker.lossTerms} takes besides the pairs. */
export interface LossOptions extends EncodeOptions {
  /**
   * Each pair's K near-miss captions (int32 (B, K, textLen)), extra caption-side negatives of
   * its image, and the weight of their term.
   * @default none: the symmetric InfoNCE loss alone
   */
  nearMisses?: { ids: tf.Tensor3D; weight: number };
}

/** What {@link Reranker.lossParts} returns: (B,) tensors. */
export interface LossParts {
  /** The training loss per pair: `infoNce` + weight × `nearMiss`. */
  total: tf.Tensor1D;
  /** The symmetric InfoNCE term per pair. */
  infoNce: tf.Tensor1D;
  /** Each image's cross-entropy over the batch's captions and its near misses; null without. */
  nearMiss: tf.Tensor1D | null;
}

/** Rows of length 1 / ‖x‖ (a zero row stays zero rather than turning NaN). */
function l2Normalise(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => x.mul(tf.rsqrt(x.square().sum(1, true).add(1e-12))) as tf.Tensor2D);
}

/**
 * The reranker (see the module docs). Build it with {@link createReranker}.
 *
 * @example
 * ```ts
 * import { createReranker } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const model = createReranker({ textLen: 6, textVocab: 40, imageChannels: [8, 8], imageSize: 8 });
 * const ids = tf.tensor2d([[1, 2, 3, 39, 38, 38]], [1, 6], "int32"); // pad 38, eot 39
 * const images = tf.randomUniform([5, 8, 8, 3]) as tf.Tensor4D;
 * const { indices, scores } = model.rerank(ids, images, 2);
 * console.log(indices.length, scores[0] >= scores[1]); // 2 true
 * tf.dispose([ids, images]); model.dispose();
 * ```
 */
export class Reranker extends Module {
  /** The resolved configuration. */
  readonly config: ResolvedRerankerConfig;
  /** The learned log logit scale (a scalar); see {@link scale} for the value applied. */
  readonly logitScale: tf.Variable;
  /**
   * The text encoder: the network's internal layout, reachable for tests and inspection but
   * not a stable API (its type stays private).
   * @ignore
   */
  readonly text: TextEncoder;
  /**
   * The image encoder: the network's internal layout, reachable for tests and inspection but
   * not a stable API (its type stays private).
   * @ignore
   */
  readonly image: ImageEncoder;
  /** Maps the text encoder's features into the shared embedding space. */
  readonly textProjection: Linear;
  /** Maps the image encoder's features into the shared embedding space. */
  readonly imageProjection: Linear;

  /**
   * Builds the reranker with fresh weights from the config's seed.
   * @param config See {@link RerankerConfig}.
   */
  constructor(config: RerankerConfig) {
    super();
    this.config = resolveRerankerConfig(config);
    const c = this.config;
    const seeds = seedStream(c.seed);
    this.logitScale = this.param("logitScale", tf.scalar(c.logitScaleInit));
    this.text = this.module("text", new TextEncoder(c, seeds));
    this.image = this.module("image", new ImageEncoder(c, seeds));
    // No biases: CLIP's projections are plain matrices (a bias would shift every embedding alike).
    this.textProjection = this.module(
      "textProjection",
      new Linear(c.textWidth, c.embedDim, { bias: false, seed: seeds() }),
    );
    this.imageProjection = this.module(
      "imageProjection",
      new Linear(this.image.features, c.embedDim, { bias: false, seed: seeds() }),
    );
  }

  /**
   * The logit scale applied: exp(min(logitScale, logitScaleMax)), at most 100 by default.
   *
   * @returns The scale.
   */
  scale(): number {
    return Math.exp(Math.min(this.logitScale.dataSync()[0], this.config.logitScaleMax));
  }

  /**
   * L2-normalised image embeddings.
   *
   * @param images float32 (B, S, S, 3) in [0, 1].
   * @param options See {@link EncodeOptions}.
   * @returns (B, embedDim), rows of unit length (caller disposes).
   * @throws {TypeError | RangeError} Images of another size or channel count, not float32, or
   *   with values outside [0, 1].
   */
  encodeImages(images: tf.Tensor4D, options: EncodeOptions = {}): tf.Tensor2D {
    if (options.check ?? true) checkImages(images, this.config.imageSize);
    return tf.tidy(() =>
      l2Normalise(this.imageProjection.apply(this.image.apply(images)) as tf.Tensor2D)
    );
  }

  /**
   * L2-normalised caption embeddings, read at each caption's last non-pad token.
   *
   * @param ids int32 (B, textLen), ids in [0, textVocab), pads only after the caption.
   * @param options See {@link EncodeOptions}.
   * @returns (B, embedDim), rows of unit length (caller disposes).
   * @throws {TypeError | RangeError} Another dtype or shape, an id outside the vocabulary, or a
   *   row of nothing but pads.
   */
  encodeText(ids: tf.Tensor2D, options: EncodeOptions = {}): tf.Tensor2D {
    if (options.check ?? true) checkTextIds(ids, this.config);
    return tf.tidy(() =>
      l2Normalise(this.textProjection.apply(this.text.apply(ids)) as tf.Tensor2D)
    );
  }

  /**
   * Cosine similarity of every caption with every image (no logit scale: the scale only
   * sharpens training's softmax and does not change any ranking).
   *
   * @param textIds int32 (T, textLen).
   * @param images float32 (N, S, S, 3) in [0, 1].
   * @returns (T, N) similarities in [−1, 1] (caller disposes).
   */
  score(textIds: tf.Tensor2D, images: tf.Tensor4D): tf.Tensor2D {
    const text = this.encodeText(textIds);
    try {
      const image = this.encodeImages(images);
      try {
        return tf.matMul(text, image, false, true);
      } finally {
        image.dispose();
      }
    } finally {
      text.dispose();
    }
  }

  /**
   * The `k` candidates most similar to a caption, best first (ties: lower index first).
   *
   * @param captionIds One caption: `textLen` ids, as an array or a (1, textLen) tensor.
   * @param candidates float32 (N, S, S, 3) in [0, 1] (e.g. the prior's samples for the caption).
   * @param k How many to keep, 1 ≤ k ≤ N.
   * @returns Their indices and cosine similarities.
   * @throws {RangeError} A k outside [1, N], or more than one caption.
   */
  rerank(captionIds: Int32Array | tf.Tensor2D, candidates: tf.Tensor4D, k: number): Reranked {
    const n = candidates.shape?.[0];
    if (!Number.isInteger(k) || k < 1 || (Number.isInteger(n) && k > n)) {
      throw new RangeError(`rerank: k must be an integer in [1, ${n}] (the candidates), got ${k}`);
    }
    const ids = captionIds instanceof tf.Tensor
      ? captionIds
      : tf.tensor2d(captionIds, [1, captionIds.length], "int32");
    try {
      if (ids.rank === 2 && ids.shape[0] !== 1) {
        throw new RangeError(`rerank takes one caption, got ${ids.shape[0]} rows`);
      }
      const sims = this.score(ids, candidates);
      const values = Array.from(sims.dataSync());
      sims.dispose();
      const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
      const indices = order.slice(0, k);
      return { indices, scores: indices.map((i) => values[i]) };
    } finally {
      if (ids !== captionIds) ids.dispose();
    }
  }

  /**
   * Each pair's training loss: its symmetric InfoNCE term over the batch (see `loss.ts`), plus,
   * given near misses, `weight` × its image's cross-entropy over the batch's captions and its own
   * near misses (`nearMissTerms`); pair i is caption row i with image i.
   *
   * @param ids int32 (B, textLen).
   * @param images float32 (B, S, S, 3) in [0, 1].
   * @param options See {@link LossOptions}.
   * @returns (B,) nats (caller disposes).
   * @throws {RangeError} Captions, images and near misses that are not one per pair.
   */
  lossTerms(ids: tf.Tensor2D, images: tf.Tensor4D, options: LossOptions = {}): tf.Tensor1D {
    return tf.tidy(() => this.lossParts(ids, images, options).total);
  }

  /**
   * {@link lossTerms} and its parts, from one forward pass (the trainer logs the near-miss part).
   *
   * @param ids int32 (B, textLen).
   * @param images float32 (B, S, S, 3) in [0, 1].
   * @param options See {@link LossOptions}.
   * @returns (B,) tensors: `total` = `infoNce` + weight × `nearMiss`; `nearMiss` null without
   *   near misses or at weight 0 (caller disposes all).
   * @throws {RangeError} Captions, images and near misses that are not one per pair.
   */
  lossParts(ids: tf.Tensor2D, images: tf.Tensor4D, options: LossOptions = {}): LossParts {
    const B = ids.shape[0];
    if (B !== images.shape[0]) {
      throw new RangeError(
        `reranker: ${B} captions but ${images.shape[0]} images; pairs need one each`,
      );
    }
    const near = options.nearMisses;
    const weight = near?.weight ?? 0;
    if (near && !(weight >= 0 && Number.isFinite(weight))) {
      throw new RangeError(`the near-miss weight must be a finite number ≥ 0, got ${weight}`);
    }
    if (near && (near.ids.rank !== 3 || near.ids.shape[0] !== B)) {
      throw new RangeError(
        `reranker: near misses must be (B, K, textLen) ids with B = ${B}, got [${near.ids.shape}]`,
      );
    }
    const [total, infoNce, nearMiss] = tf.tidy(() => {
      const text = this.encodeText(ids, options);
      const image = this.encodeImages(images, options);
      const scale = this.logitScale as tf.Scalar;
      const max = this.config.logitScaleMax;
      const pairs = infoNceTerms(text, image, scale, max);
      if (!near || weight === 0) return [pairs.clone(), pairs];
      const [, K, T] = near.ids.shape;
      const nearEmb = this.encodeText(near.ids.reshape([B * K, T]) as tf.Tensor2D, options)
        .reshape([B, K, this.config.embedDim]) as tf.Tensor3D;
      const terms = nearMissTerms(text, image, nearEmb, scale, max);
      return [pairs.add(terms.mul(weight)), pairs, terms];
    }) as tf.Tensor1D[];
    return { total, infoNce, nearMiss: nearMiss ?? null };
  }
}

/**
 * Builds a reranker with fresh weights.
 *
 * @param config See {@link RerankerConfig}: `textLen` and `textVocab` are required (take them
 *   from the tokenizer), the rest has CPU-sized defaults.
 * @returns The model (caller disposes).
 * @example
 * ```ts
 * import { createReranker } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const model = createReranker({ textLen: 24, textVocab: 300 });
 * console.log(model.config.embedDim, model.scale().toFixed(2)); // 64 "14.29"
 * model.dispose();
 * ```
 */
export function createReranker(config: RerankerConfig): Reranker {
  return new Reranker(config);
}
