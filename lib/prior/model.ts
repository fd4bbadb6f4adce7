/**
 * The transformer prior of DALL-E (paper §2.2, App. B): one decoder-only transformer over the
 * caption's BPE tokens followed by the image's dVAE tokens, as one autoregressive stream.
 *
 * Stream layout (T = textLen, n = imageGrid, L = T + n²):
 * ```
 *   position   0 … T−1                 T … T + n² − 1
 *   input      text tokens (or pads)   image tokens in raster order (a = r·n + c)
 *   embedding  token or pad[t], + text position[t]      image token + row[r] + column[c]
 *   output     position i predicts the token at i + 1: text targets 1 … T−1, image targets 0 … n²−1
 * ```
 * Text position 0 is never a target (nothing precedes it), exactly as in the torch peer.
 * Where a caption has ended, position t gets its own learned pad embedding instead of a token
 * embedding (the paper found this better than masking for out-of-distribution captions).
 * Pad positions are text targets by default (`countPadTargets`): predicting the first pad is
 * predicting the end of the caption, and the text loss is normalised by the targets it counts.
 *
 * Attention: pre-LN blocks; each layer adds the additive bias of its mask kind (lib/masks).
 * Column layers, in the full forward pass, gather the stream into transposed image order, attend
 * with the block-diagonal `columnTransposedMask`, and gather back (paper App. B.1); a test checks
 * this equals the plain `columnMask`. The cached (sampling) path uses the plain column mask row of
 * the query's raster position instead, which is the same attention (and what a cache in raster
 * order can index).
 *
 * @module
 */
import { tf, TracedFunction } from "../backend/mod.ts";
import {
  causalMask,
  columnMask,
  columnTransposedMask,
  convMask,
  maskTensor,
  rowMask,
  transposeImagePermutation,
} from "../masks/mod.ts";
import {
  Embedding,
  type KvCacheMode,
  type LayerKv,
  LayerNorm,
  Linear,
  Module,
  seedStream,
  tidyObject,
  TransformerBlock,
} from "../nn/mod.ts";
import {
  type PriorConfig,
  type PriorLayerMask,
  type ResolvedPriorConfig,
  resolvePriorConfig,
} from "./config.ts";
import { KvCache } from "./kv_cache.ts";
import { checkTokenIds, checkTokenShape } from "./_check.ts";
import { type SampleOptions, samplePrior, type SampleResult } from "./sample.ts";

/** Options of a full forward pass. */
export interface ForwardOptions {
  /** Apply dropout (when the config's rate is > 0). @default false */
  training?: boolean;
  /** Seed of the dropout masks of this pass. @default 0 */
  seed?: number;
  /**
   * The pass's dropout multipliers, drawn beforehand ({@link Prior.dropoutMultipliers}) instead of
   * from `seed` during the pass (the same values for the same seed). @default drawn from `seed`
   */
  dropoutMultipliers?: tf.Tensor[];
}

/**
 * Options of {@link Prior.loss}: a forward pass's, and the counts to divide by. With `totals`, each
 * part is this batch's sum over its targets divided by the given count (the whole batch's, when
 * this is one shard of it), so the shards' losses add up to the batch's exactly.
 */
export interface LossOptions extends ForwardOptions {
  /** Targets to divide by per part. @default this batch's own: its mean */
  totals?: { text: number | tf.Scalar; image: number | tf.Scalar };
}

/** Next-token logits of a full forward pass. */
export interface PriorLogits {
  /** (B, T − 1, textVocab): position t predicts text token t + 1. */
  textLogits: tf.Tensor3D;
  /** (B, n², imageVocab): entry a predicts image token a. */
  imageLogits: tf.Tensor3D;
}

/** The loss and its parts, as scalars (natural-log units). */
export interface PriorLoss {
  /** weights.text · textLoss + weights.image · imageLoss. */
  loss: tf.Scalar;
  /** Mean cross-entropy per text target. */
  textLoss: tf.Scalar;
  /** Mean cross-entropy per image target (÷ ln 2 for bits per image token). */
  imageLoss: tf.Scalar;
}

function maskOf(kind: PriorLayerMask, T: number, n: number, kernel: number): Uint8Array {
  switch (kind) {
    case "row":
      return rowMask(T, n);
    case "column":
      return columnMask(T, n);
    case "conv":
      return convMask(T, n, kernel);
    case "dense":
      return causalMask(T, n);
    default: {
      const unknown: never = kind;
      throw new TypeError(`unknown layer mask kind ${unknown}`);
    }
  }
}

/**
 * The prior: embeddings, masked pre-LN blocks, a final LayerNorm and two output heads (text and
 * image vocabularies). Create it with {@link createPrior}.
 *
 * @example
 * ```ts
 * import { createPrior } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * const text = tf.tensor2d([[1, 2, 30, 30]], [1, 4], "int32"); // 30 = pad (textVocab − 2)
 * const image = tf.tensor2d([[3, 1, 4, 1]], [1, 4], "int32");
 * const { loss } = prior.loss(text, image);
 * console.log(loss.dataSync()[0] > 0); // true
 * tf.dispose([text, image, loss]); prior.dispose();
 * ```
 */
export class Prior extends Module {
  /** The resolved configuration. */
  readonly config: ResolvedPriorConfig;
  /** L = T + n². */
  readonly streamLength: number;
  /** Text token embeddings (textVocab, dModel). */
  readonly textEmbedding: Embedding;
  /** Learned text position embeddings (T, dModel). */
  readonly textPosition: tf.Variable;
  /** Per-position embeddings that replace a padding token's, so each pad slot is distinct (T, dModel). */
  readonly padEmbedding: tf.Variable;
  /** Image token embeddings (imageVocab, dModel). */
  readonly imageEmbedding: Embedding;
  /** Learned row embeddings of the image grid (n, dModel), added per row. */
  readonly rowPosition: tf.Variable;
  /** Learned column embeddings of the image grid (n, dModel), added per column. */
  readonly columnPosition: tf.Variable;
  /**
   * The transformer blocks, one per layer: the network's internal layout, reachable for tests and inspection but
   * not a stable API (its type stays private).
   * @ignore
   */
  readonly blocks: TransformerBlock[];
  /** The final layer norm before the heads. */
  readonly lnFinal: LayerNorm;
  /** Projects to text-token logits. */
  readonly textHead: Linear;
  /** Projects to image-token logits. */
  readonly imageHead: Linear;
  /** Per layer: bias of the full pass (transposed order for transposed column layers). */
  #fullBias: tf.Tensor2D[] = [];
  /** Per layer: gather permutation of the full pass, or null. */
  #fullPerm: (tf.Tensor1D | null)[] = [];
  /** Per layer: bias in raster order, whose rows the cached path slices. */
  #cacheBias: tf.Tensor2D[] = [];
  /** The traced one-position step of "compiled" caches (see {@link extend}). */
  #sampleStep: TracedFunction | null = null;
  #owned: tf.Tensor[] = [];

  /**
   * Builds the prior with fresh weights from the config's seed.
   * @param config See {@link PriorConfig}.
   */
  constructor(config: PriorConfig) {
    super();
    const cfg = resolvePriorConfig(config);
    if (cfg.textLen < 2) {
      throw new RangeError(`prior config textLen must be ≥ 2 (a text target), got ${cfg.textLen}`);
    }
    this.config = cfg;
    const { textLen: T, imageGrid: n, dModel: d } = cfg;
    this.streamLength = T + n * n;
    const seeds = seedStream(cfg.seed);
    const table = (shape: number[]) => tf.randomNormal(shape, 0, 0.02, "float32", seeds());
    this.textEmbedding = this.module(
      "textEmbedding",
      new Embedding(cfg.textVocab, d, { seed: seeds() }),
    );
    this.textPosition = this.param("textPosition", table([T, d]));
    this.padEmbedding = this.param("padEmbedding", table([T, d]));
    this.imageEmbedding = this.module(
      "imageEmbedding",
      new Embedding(cfg.imageVocab, d, { seed: seeds() }),
    );
    this.rowPosition = this.param("rowPosition", table([n, d]));
    this.columnPosition = this.param("columnPosition", table([n, d]));
    this.blocks = [];
    for (let l = 0; l < cfg.layers; l++) {
      this.blocks.push(
        this.module(
          `blocks.${l}`,
          new TransformerBlock(d, cfg.heads, cfg.mlpRatio, seeds, cfg.layers),
        ),
      );
    }
    this.lnFinal = this.module("lnFinal", new LayerNorm(d));
    this.textHead = this.module(
      "textHead",
      new Linear(d, cfg.textVocab, { seed: seeds(), std: 0.02 }),
    );
    this.imageHead = this.module(
      "imageHead",
      new Linear(d, cfg.imageVocab, { seed: seeds(), std: 0.02 }),
    );
    this.#buildMasks();
  }

  /** One bias tensor per distinct mask, shared by the layers that use it. */
  #buildMasks(): void {
    const { textLen: T, imageGrid: n, convKernel, columnAttention } = this.config;
    const biases = new Map<string, tf.Tensor2D>();
    const bias = (key: string, build: () => Uint8Array) => {
      let t = biases.get(key);
      if (!t) {
        t = maskTensor(build());
        biases.set(key, t);
        this.#owned.push(t);
      }
      return t;
    };
    let perm: tf.Tensor1D | null = null;
    for (const kind of this.config.masks) {
      const plain = bias(kind, () => maskOf(kind, T, n, convKernel));
      this.#cacheBias.push(plain);
      if (kind === "column" && columnAttention === "transposed") {
        if (!perm) {
          perm = tf.tensor1d(transposeImagePermutation(T, n), "int32");
          this.#owned.push(perm);
        }
        this.#fullBias.push(bias("column-transposed", () => columnTransposedMask(T, n)));
        this.#fullPerm.push(perm);
      } else {
        this.#fullBias.push(plain);
        this.#fullPerm.push(null);
      }
    }
  }

  /**
   * Text embeddings: the token's embedding, or position t's pad embedding where the token is
   * the pad id, plus position t's embedding.
   *
   * @param text int32 (B, T), ids in [0, textVocab).
   * @returns (B, T, dModel).
   */
  embedText(text: tf.Tensor2D): tf.Tensor3D {
    this.#checkText(text, -1);
    return this.#embedText(text);
  }

  #embedText(text: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const isPad = text.equal(this.config.padId).cast("float32").expandDims(-1); // (B, T, 1)
      const tokens = this.textEmbedding.apply(text); // (B, T, d)
      const mixed = tokens.mul(tf.sub(1, isPad)).add(isPad.mul(this.padEmbedding));
      return mixed.add(this.textPosition) as tf.Tensor3D;
    });
  }

  /**
   * Image embeddings: the token's embedding plus its row's and its column's embedding.
   *
   * @param image int32 (B, k), ids in [0, imageVocab): image tokens at raster indices
   *   start … start + k − 1.
   * @param start Raster index of the first token. @default 0
   * @returns (B, k, dModel).
   */
  embedImage(image: tf.Tensor2D, start = 0): tf.Tensor3D {
    this.#checkImage(image, -1, -1, start);
    return this.#embedImage(image, start);
  }

  /** Text ids of shape (B, T) (B = −1: any) in [0, textVocab). */
  #checkText(text: tf.Tensor2D, batch: number): void {
    checkTokenShape("text", text, [batch, this.config.textLen]);
    checkTokenIds("text", text, this.config.textVocab);
  }

  /** Image ids of shape (B, k) (−1: any) at raster indices start … start + k − 1 of [0, n²). */
  #checkImage(image: tf.Tensor2D, batch: number, k: number, start: number): void {
    const cells = this.config.imageGrid ** 2;
    checkTokenShape("image", image, [batch, k]);
    const last = start + image.shape[1] - 1;
    if (!Number.isInteger(start) || start < 0 || last >= cells) {
      throw new RangeError(
        `prior: image tokens must cover raster indices within [0, ${cells}), got ${start} … ${last}`,
      );
    }
    checkTokenIds("image", image, this.config.imageVocab, start);
  }

  #embedImage(image: tf.Tensor2D, start: number): tf.Tensor3D {
    const n = this.config.imageGrid;
    const k = image.shape[1];
    return tf.tidy(() => {
      const d = this.config.dModel;
      const grid = this.rowPosition.expandDims(1).add(this.columnPosition.expandDims(0)); // (n, n, d)
      const positions = grid.reshape([n * n, d]).slice([start, 0], [k, d]); // (k, d)
      return this.imageEmbedding.apply(image).add(positions) as tf.Tensor3D;
    });
  }

  /**
   * Next-token logits over the whole stream (teacher forcing).
   *
   * @param text int32 (B, T), ids in [0, textVocab).
   * @param image int32 (B, n²), raster order, ids in [0, imageVocab).
   * @param options Dropout switch and seed.
   * @returns Text and image logits (caller disposes).
   * @throws {TypeError} Ids that are not int32 tensors.
   * @throws {RangeError} Other shapes, or an id outside its vocabulary (`prior: image token id
   *   9000 at batch row 3, position 17 is outside [0, 8192)`).
   */
  forward(text: tf.Tensor2D, image: tf.Tensor2D, options: ForwardOptions = {}): PriorLogits {
    const { textLen: T, imageGrid: n, dModel: d, dropout } = this.config;
    this.#checkText(text, -1);
    this.#checkImage(image, text.shape[0], n * n, 0);
    return tidyObject(() => {
      const B = text.shape[0];
      let x = tf.concat([this.#embedText(text), this.#embedImage(image, 0)], 1); // (B, L, d)
      const useDropout = (options.training ?? false) && dropout > 0;
      const seeds = seedStream(options.seed ?? 0);
      const given = options.dropoutMultipliers;
      this.blocks.forEach((block, l) => {
        const drop: [number, number, number] | [tf.Tensor, tf.Tensor] | null = !useDropout
          ? null
          : given
          ? [given[2 * l], given[2 * l + 1]]
          : [dropout, seeds(), seeds()];
        x = block.full(x, this.#fullBias[l], this.#fullPerm[l], drop);
      });
      x = this.lnFinal.apply(x) as tf.Tensor3D;
      const textLogits = this.textHead.apply(x.slice([0, 0, 0], [B, T - 1, d])); // (B, T−1, VT)
      const imageLogits = this.imageHead.apply(x.slice([0, T - 1, 0], [B, n * n, d])); // (B, n², VI)
      return { textLogits, imageLogits } as PriorLogits;
    });
  }

  /**
   * The dropout multipliers a training pass over `batch` streams draws from `seed` (two per block,
   * (B, L, d) each, as tf.dropout makes them: ⌊u + keep⌋ / keep), for passing in as
   * `dropoutMultipliers`; none without dropout.
   *
   * @param batch Streams in the pass.
   * @param seed The pass's seed.
   * @returns 2 × layers tensors, or [] (caller disposes).
   */
  dropoutMultipliers(batch: number, seed: number): tf.Tensor[] {
    const { dropout, dModel: d } = this.config;
    if (!(dropout > 0)) return [];
    const seeds = seedStream(seed);
    const keep = 1 - dropout;
    const shape = [batch, this.streamLength, d];
    return this.blocks.flatMap(() =>
      [seeds(), seeds()].map((s) =>
        tf.tidy(() => tf.floor(tf.randomUniform(shape, 0, 1, "float32", s).add(keep)).div(keep))
      )
    );
  }

  /**
   * The training loss: cross-entropy of next-token prediction, text and image parts each
   * averaged over their own targets (or divided by `options.totals`), weighted by `lossWeights`
   * (1/8 text, 7/8 image).
   *
   * @param text int32 (B, T), ids in [0, textVocab).
   * @param image int32 (B, n²), ids in [0, imageVocab).
   * @param options Dropout switch and seed, and the target counts (see {@link LossOptions}).
   * @returns `{ loss, textLoss, imageLoss }` scalars (caller disposes).
   * @throws {TypeError | RangeError} As {@link forward}, before any work.
   */
  loss(text: tf.Tensor2D, image: tf.Tensor2D, options: LossOptions = {}): PriorLoss {
    const { textLen: T, textVocab, imageVocab, padId, countPadTargets, lossWeights } = this.config;
    return tidyObject((): PriorLoss => {
      const { textLogits, imageLogits } = this.forward(text, image, options);
      const B = text.shape[0];
      const nll = (logits: tf.Tensor3D, targets: tf.Tensor2D, vocab: number) =>
        tf.logSoftmax(logits).mul(tf.oneHot(targets, vocab)).sum(-1).neg(); // (B, targets)
      const textTargets = text.slice([0, 1], [B, T - 1]); // (B, T − 1)
      const textNll = nll(textLogits, textTargets, textVocab);
      const counted = countPadTargets ? null : textTargets.notEqual(padId).cast("float32");
      const textSum = counted ? textNll.mul(counted).sum() : textNll.sum();
      const textCount = options.totals?.text ??
        (counted ? tf.maximum(counted.sum(), 1) : B * (T - 1));
      const textLoss = textSum.div(textCount) as tf.Scalar;
      const imageNll = nll(imageLogits, image, imageVocab);
      const imageLoss =
        (options.totals ? imageNll.sum().div(options.totals.image) : imageNll.mean()) as tf.Scalar;
      const loss = textLoss.mul(lossWeights.text).add(imageLoss.mul(lossWeights.image));
      return { loss, textLoss, imageLoss } as PriorLoss;
    });
  }

  /**
   * An empty key/value cache for `batch` streams.
   *
   * @param batch Streams.
   * @param mode Storage layout (see {@link KvCache}). @default "concat"
   * @returns The cache (caller disposes).
   */
  emptyCache(batch: number, mode: KvCacheMode = "concat"): KvCache {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new RangeError(`cache batch must be a positive integer, got ${batch}`);
    }
    const { heads, dModel } = this.config;
    const size = mode === "concat" ? 0 : this.streamLength; // "compiled" is preallocated
    const layers = this.blocks.map(() => ({
      k: tf.zeros([batch, heads, size, dModel / heads]) as tf.Tensor4D,
      v: tf.zeros([batch, heads, size, dModel / heads]) as tf.Tensor4D,
    }));
    return new KvCache(batch, mode, layers);
  }

  /**
   * Feeds new positions through the model against a cache and returns the logits of the image
   * token that comes next. The first call must feed the whole caption (and any prime tokens);
   * later calls feed image tokens. The cache's tensors are replaced and its length advanced.
   *
   * @param cache The streams so far (from {@link emptyCache}).
   * @param tokens `{ text?: int32 (B, T), image?: int32 (B, k) }`: text only on the first call.
   * @returns Logits (B, imageVocab) of the next image token (caller disposes).
   * @throws {TypeError | RangeError} As {@link forward}; also a caption fed to a non-empty cache
   *   or tokens that would fill the stream.
   */
  extend(cache: KvCache, tokens: { text?: tf.Tensor2D; image?: tf.Tensor2D }): tf.Tensor2D {
    const { textLen: T, dModel: d } = this.config;
    const start = cache.length;
    for (const [name, t] of [["text", tokens.text], ["image", tokens.image]] as const) {
      if (t !== undefined) checkTokenShape(name, t, [-1, name === "text" ? T : -1]);
    }
    if ((start === 0) !== (tokens.text !== undefined)) {
      throw new RangeError(
        start === 0
          ? "the first extend of a cache must feed the caption (tokens.text)"
          : `text can only be fed to an empty cache; this one holds ${start} positions`,
      );
    }
    const fed = (tokens.text ? T : 0) + (tokens.image?.shape[1] ?? 0);
    if (fed === 0) throw new RangeError("extend needs at least one token");
    if (start + fed >= this.streamLength) {
      throw new RangeError(
        `extend would fill the stream to ${start + fed} of ${this.streamLength} positions, ` +
          `leaving no image token to predict`,
      );
    }
    for (const t of [tokens.text, tokens.image]) {
      if (t && t.shape[0] !== cache.batch) {
        throw new RangeError(
          `prior: tokens must have ${cache.batch} rows (the cache's), got ${t.shape[0]}`,
        );
      }
    }
    const imageStart = Math.max(0, start - T);
    if (tokens.text) this.#checkText(tokens.text, cache.batch);
    if (tokens.image) this.#checkImage(tokens.image, cache.batch, -1, imageStart);
    if (cache.mode === "compiled" && !tokens.text && fed === 1) {
      return this.#compiledStep(cache, tokens.image!);
    }
    const { logits, layers } = tidyObject(() => {
      const parts: tf.Tensor3D[] = [];
      if (tokens.text) parts.push(this.#embedText(tokens.text));
      if (tokens.image) parts.push(this.#embedImage(tokens.image, imageStart));
      let x = parts.length === 1 ? parts[0] : tf.concat(parts, 1); // (B, fed, d)
      // A "compiled" cache takes its caption (or several tokens) the concat way, over its
      // written prefix, then pads back to L: attending the unwritten keys costs the prefill 3×.
      const grows = cache.mode !== "preallocated";
      const keys = grows ? start + fed : this.streamLength;
      const L = this.streamLength;
      const rows = new Map<tf.Tensor2D, tf.Tensor2D>(); // one slice per distinct mask
      const layers: LayerKv[] = [];
      this.blocks.forEach((block, l) => {
        const full = this.#cacheBias[l];
        let bias = rows.get(full);
        if (!bias) {
          bias = full.slice([start, 0], [fed, keys]);
          rows.set(full, bias);
        }
        const held = cache.layers[l];
        const past = cache.mode !== "compiled" ? held : {
          k: held.k.slice([0, 0, 0, 0], [-1, -1, start, -1]) as tf.Tensor4D,
          v: held.v.slice([0, 0, 0, 0], [-1, -1, start, -1]) as tf.Tensor4D,
        };
        const step = block.cached(x, bias, past, start, grows ? "concat" : "preallocated");
        const padded = (t: tf.Tensor4D) =>
          t.pad([[0, 0], [0, 0], [0, L - start - fed], [0, 0]]) as tf.Tensor4D;
        layers.push(
          cache.mode !== "compiled" ? step.kv : { k: padded(step.kv.k), v: padded(step.kv.v) },
        );
        x = step.out;
      });
      const last = x.slice([0, fed - 1, 0], [cache.batch, 1, d]).reshape([cache.batch, d]);
      return { logits: this.imageHead.apply(this.lnFinal.apply(last)) as tf.Tensor2D, layers };
    });
    for (const old of cache.layers) tf.dispose([old.k, old.v]);
    cache.layers = layers;
    cache.length = start + fed;
    return logits;
  }

  /**
   * One image position through a "compiled" cache: one TensorFlow call (traced at its first two
   * positions) whose inputs are the token, the position and the cache, so the same graph serves
   * every position; the values are the "preallocated" layout's.
   */
  #compiledStep(cache: KvCache, image: tf.Tensor2D): tf.Tensor2D {
    // XLA pays here: one small graph run at every position (about a second to compile, once).
    this.#sampleStep ??= new TracedFunction(
      "prior_sample_step",
      ([token, position, ...kv]) => this.#positionStep(token, position, kv),
      { xla: true },
    );
    const position = tf.scalar(cache.length, "int32");
    const [logits, ...kv] = this.#sampleStep.call([
      image,
      position,
      ...cache.layers.flatMap(({ k, v }) => [k, v]),
    ]);
    position.dispose();
    for (const old of cache.layers) tf.dispose([old.k, old.v]);
    cache.layers = cache.layers.map((_, l) => ({
      k: kv[2 * l] as tf.Tensor4D,
      v: kv[2 * l + 1] as tf.Tensor4D,
    }));
    cache.length += 1;
    return logits as tf.Tensor2D;
  }

  /** {@link extend} of one image token at a stream position given as a tensor: [logits, ...kv]. */
  #positionStep(token: tf.Tensor, position: tf.Tensor, kv: tf.Tensor[]): tf.Tensor[] {
    const { textLen: T, imageGrid: n, dModel: d } = this.config;
    const B = token.shape[0];
    const at = position.reshape([1]);
    const grid = this.rowPosition.expandDims(1).add(this.columnPosition.expandDims(0));
    const cell = tf.gather(grid.reshape([n * n, d]), at.sub(tf.scalar(T, "int32"))); // (1, d)
    let x = this.imageEmbedding.apply(token).add(cell) as tf.Tensor3D; // (B, 1, d)
    const mask = tf.oneHot(at, this.streamLength).reshape([1, 1, this.streamLength, 1])
      .cast("float32") as tf.Tensor4D;
    const out: tf.Tensor[] = [];
    this.blocks.forEach((block, l) => {
      const bias = tf.gather(this.#cacheBias[l], at) as tf.Tensor2D; // (1, L)
      const past = { k: kv[2 * l] as tf.Tensor4D, v: kv[2 * l + 1] as tf.Tensor4D };
      const step = block.cached(x, bias, past, mask, "compiled");
      out.push(step.kv.k, step.kv.v);
      x = step.out;
    });
    const logits = this.imageHead.apply(this.lnFinal.apply(x.reshape([B, d])));
    return [logits, ...out];
  }

  /**
   * Samples image tokens for captions with the key/value cache; see {@link samplePrior}.
   *
   * @param options Captions, count, temperature, topK, topP, seed, prime.
   * @returns The tokens and timings.
   */
  sample(options: SampleOptions): Promise<SampleResult> {
    return samplePrior(this, options);
  }

  /** Frees the weights and the mask tensors. */
  override dispose(): void {
    super.dispose();
    this.#sampleStep?.dispose();
    this.#sampleStep = null;
    tf.dispose(this.#owned);
    this.#owned = [];
    this.#fullBias = [];
    this.#cacheBias = [];
    this.#fullPerm = [];
  }
}

/**
 * Builds a prior from its configuration (see {@link PriorConfig} for every field and default).
 *
 * @param config Sizes and options.
 * @returns The model (caller disposes).
 * @example
 * ```ts
 * import { createPrior } from "./mod.ts";
 * import { paramCount } from "../nn/mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 32, textVocab: 1024, imageGrid: 8, imageVocab: 512, dModel: 256, layers: 4, heads: 8,
 * });
 * console.log(prior.config.masks.join(" "), paramCount(prior)); // "row column row conv" …
 * prior.dispose();
 * ```
 */
export function createPrior(config: PriorConfig): Prior {
  return new Prior(config);
}
