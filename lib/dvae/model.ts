/**
 * The discrete VAE of DALL-E's stage one, after the official `dall_e` encoder and decoder, scaled
 * down and configurable: a residual conv encoder that turns an image into a grid of logits over a
 * K-entry codebook, and a residual conv decoder that turns a grid of (relaxed) one-hot codes back
 * into per-pixel distribution parameters.
 *
 * The default configuration is exactly the benchmark model of `shared/peers/torch_dvae.py`:
 * 32×32 RGB, widths 64·(1, 2, 4), one block per group, 512 codes on an 8×8 grid.
 *
 * Images are NHWC in [0, 1]; conv kernels are HWIO (lib/nn's `Conv2d`).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Conv2d, Module, seedStream } from "../nn/mod.ts";
import { mapPixels, unmapPixels } from "./objective.ts";
import { checkImages, checkTokens } from "./_checks.ts";

/** How the decoder models pixels. */
export type Reconstruction = "logit-laplace" | "mse";

/** Hyperparameters of a dVAE; every field has a default (the benchmark model). */
export interface DvaeConfig {
  /** Side of the square input images, in pixels. @default 32 */
  imageSize: number;
  /** Colour channels of the images (1 grey, 3 RGB). @default 3 */
  channels: number;
  /** Width of the first group; group g has width hidden·2^g. Must be a multiple of 4. @default 64 */
  hidden: number;
  /** Number of groups; the grid side is imageSize / 2^(groups − 1). @default 3 */
  groups: number;
  /** Residual blocks per group. @default 1 */
  blocksPerGroup: number;
  /** Codebook size K. @default 512 */
  vocabSize: number;
  /** Pixel likelihood: logit-Laplace (μ and ln b per channel) or a fixed-σ Gaussian ("mse"). @default "logit-laplace" */
  reconstruction: Reconstruction;
  /** Width of the decoder's first 1×1 conv (the official code's n_init). @default 128 */
  decoderInitWidth: number;
  /** Seed of the initial weights. @default 0 */
  seed: number;
}

/** The default configuration: the PyTorch peer's benchmark model. */
export const DVAE_DEFAULTS: Readonly<DvaeConfig> = Object.freeze({
  imageSize: 32,
  channels: 3,
  hidden: 64,
  groups: 3,
  blocksPerGroup: 1,
  vocabSize: 512,
  reconstruction: "logit-laplace",
  decoderInitWidth: 128,
  seed: 0,
});

/**
 * A bottleneck residual block: out = skip(x) + postGain · res(x), where res is ReLU→conv four times
 * at width nOut/4 and skip is a 1×1 conv when the widths differ (identity otherwise).
 */
class ResBlock extends Module {
  readonly skip: Conv2d | null;
  readonly convs: Conv2d[];

  constructor(
    nIn: number,
    nOut: number,
    kernels: readonly number[],
    readonly postGain: number,
    nextSeed: () => number,
  ) {
    super();
    const mid = nOut / 4;
    this.skip = nIn === nOut
      ? null
      : this.module("skip", new Conv2d(nIn, nOut, 1, { seed: nextSeed() }));
    const widths = [nIn, mid, mid, mid, nOut];
    this.convs = kernels.map((k, i) =>
      this.module(`conv${i + 1}`, new Conv2d(widths[i], widths[i + 1], k, { seed: nextSeed() }))
    );
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      // ReLU before each conv = ReLU on the input, then each conv but the last fused with the
      // ReLU that precedes the next one (one XNNPACK call instead of conv, add, relu).
      let h = tf.relu(x);
      this.convs.forEach((conv, i) => {
        h = convBias(conv, h, { relu: i < this.convs.length - 1 });
      });
      const skip = this.skip ? convBias(this.skip, x) : x;
      return skip.add(h.mul(this.postGain));
    });
  }
}

/** A stride-1 "same" conv with its bias (and optionally the next layer's ReLU) in one fused call. */
function convBias(conv: Conv2d, x: tf.Tensor4D, options: { relu?: boolean } = {}): tf.Tensor4D {
  return tf.fused.conv2d({
    x,
    filter: conv.weight as tf.Tensor4D,
    bias: conv.bias!,
    strides: 1,
    pad: "same",
    activation: options.relu ? "relu" : "linear",
  });
}

/** Image (B, S, S, C) in mapped pixel space → logits (B, g, g, K). */
class Encoder extends Module {
  readonly input: Conv2d;
  readonly blocks: ResBlock[][];
  readonly output: Conv2d;

  constructor(c: DvaeConfig, nextSeed: () => number) {
    super();
    const postGain = 1 / (c.groups * c.blocksPerGroup) ** 2;
    this.input = this.module("input", new Conv2d(c.channels, c.hidden, 7, { seed: nextSeed() }));
    let width = c.hidden;
    this.blocks = [];
    for (let g = 0; g < c.groups; g++) {
      const out = c.hidden * 2 ** g;
      const group: ResBlock[] = [];
      for (let b = 0; b < c.blocksPerGroup; b++) {
        group.push(
          this.module(
            `group${g + 1}.block${b + 1}`,
            new ResBlock(width, out, [3, 3, 3, 1], postGain, nextSeed),
          ),
        );
        width = out;
      }
      this.blocks.push(group);
    }
    this.output = this.module("output", new Conv2d(width, c.vocabSize, 1, { seed: nextSeed() }));
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = convBias(this.input, x); // (B, S, S, hidden)
      this.blocks.forEach((group, g) => {
        for (const block of group) h = block.apply(h);
        if (g < this.blocks.length - 1) h = tf.maxPool(h, 2, 2, "valid"); // side halves
      });
      return convBias(this.output, tf.relu(h)); // (B, g, g, K)
    });
  }
}

/** Codes (B, g, g, K) → distribution parameters (B, S, S, 2C or C). */
class Decoder extends Module {
  readonly input: Conv2d;
  readonly blocks: ResBlock[][];
  readonly output: Conv2d;

  constructor(c: DvaeConfig, nextSeed: () => number) {
    super();
    const postGain = 1 / (c.groups * c.blocksPerGroup) ** 2;
    this.input = this.module(
      "input",
      new Conv2d(c.vocabSize, c.decoderInitWidth, 1, { seed: nextSeed() }),
    );
    let width = c.decoderInitWidth;
    this.blocks = [];
    for (let g = 0; g < c.groups; g++) {
      const out = c.hidden * 2 ** (c.groups - 1 - g);
      const group: ResBlock[] = [];
      for (let b = 0; b < c.blocksPerGroup; b++) {
        group.push(
          this.module(
            `group${g + 1}.block${b + 1}`,
            new ResBlock(width, out, [1, 3, 3, 3], postGain, nextSeed),
          ),
        );
        width = out;
      }
      this.blocks.push(group);
    }
    const outChannels = c.reconstruction === "logit-laplace" ? 2 * c.channels : c.channels;
    this.output = this.module("output", new Conv2d(width, outChannels, 1, { seed: nextSeed() }));
  }

  apply(z: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = convBias(this.input, z); // (B, g, g, decoderInitWidth)
      this.blocks.forEach((group, g) => {
        for (const block of group) h = block.apply(h);
        if (g < this.blocks.length - 1) {
          const [, height, width] = h.shape;
          h = tf.image.resizeNearestNeighbor(h, [2 * height, 2 * width]); // side doubles
        }
      });
      return convBias(this.output, tf.relu(h));
    });
  }
}

/**
 * A discrete VAE: `encoder` maps images to code logits, `decoder` maps (relaxed) codes to pixel
 * distribution parameters; `encode`/`decode` are the token interface the prior uses.
 *
 * @example
 * ```ts
 * import { createDvae } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
 * const images = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
 * const tokens = dvae.encode(images); // int32 (2, 4, 4)
 * const back = dvae.decode(tokens); // (2, 8, 8, 3) in [0, 1]
 * tf.dispose([images, tokens, back]); dvae.dispose();
 * ```
 */
export class Dvae extends Module {
  /** The complete configuration the model was built with. */
  readonly config: Readonly<DvaeConfig>;
  /**
   * The encoder, image → logits (B, g, g, K): the network's internal layout, reachable for tests and inspection but
   * not a stable API (its type stays private).
   * @ignore
   */
  readonly encoder: Encoder;
  /**
   * The decoder, codes → distribution parameters: the network's internal layout, reachable for tests and inspection but
   * not a stable API (its type stays private).
   * @ignore
   */
  readonly decoder: Decoder;

  /**
   * Builds the encoder and decoder with fresh weights from the config's seed.
   * @param config A complete configuration (use {@link createDvae} for defaults and checks).
   */
  constructor(config: DvaeConfig) {
    super();
    this.config = Object.freeze({ ...config });
    const nextSeed = seedStream(config.seed);
    this.encoder = this.module("encoder", new Encoder(config, nextSeed));
    this.decoder = this.module("decoder", new Decoder(config, nextSeed));
  }

  /** Side of the token grid: imageSize / 2^(groups − 1). */
  get gridSize(): number {
    return this.config.imageSize / 2 ** (this.config.groups - 1);
  }

  /** Pixel dimensions per grid cell (C·S²/g²), the factor that puts the KL on a per-pixel scale. */
  get dimsPerCell(): number {
    return (this.config.channels * this.config.imageSize ** 2) / this.gridSize ** 2;
  }

  /**
   * Code logits of images.
   *
   * @param images `(B, S, S, C)` float32 in [0, 1] (mapped into [ε, 1 − ε] here, as the official
   *   code).
   * @returns `(B, g, g, K)` logits.
   * @throws {RangeError} Another size or channel count (`dVAE expects images of 32×32×3, got
   *   28×28×1`), another rank, no images, or values outside [0, 1].
   * @throws {TypeError} Not a float32 tensor.
   */
  logits(images: tf.Tensor4D): tf.Tensor4D {
    checkImages(images, this.config);
    return tf.tidy(() => this.encoder.apply(mapPixels(images) as tf.Tensor4D));
  }

  /**
   * Decoder output for a grid of (relaxed or one-hot) codes.
   *
   * @param codes `(B, g, g, K)`, each cell a distribution over the codebook.
   * @returns `(B, S, S, 2C)` (μ then ln b, logit-Laplace) or `(B, S, S, C)` (sigmoid⁻¹ of the mean, "mse").
   */
  decodeCodes(codes: tf.Tensor4D): tf.Tensor4D {
    const [, g1, g2, k] = codes.shape;
    if (
      codes.rank !== 4 || g1 !== this.gridSize || g2 !== this.gridSize ||
      k !== this.config.vocabSize
    ) {
      throw new RangeError(
        `codes must be (B, ${this.gridSize}, ${this.gridSize}, ${this.config.vocabSize}), got [${codes.shape}]`,
      );
    }
    return this.decoder.apply(codes);
  }

  /**
   * Images as tokens: the argmax of the encoder logits at each grid cell (no Gumbel noise).
   *
   * @param images `(B, S, S, C)` in [0, 1].
   * @returns int32 `(B, g, g)`.
   */
  encode(images: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => this.logits(images).argMax(-1) as tf.Tensor3D);
  }

  /**
   * Tokens as images: one-hot codes through the decoder, the mean pixel through the sigmoid and
   * `unmapPixels`.
   *
   * @param tokens int32 `(B, g, g)`, each in [0, K).
   * @returns `(B, S, S, C)` in [0, 1].
   * @throws {RangeError} Another grid, or an id outside [0, K) (named with its row and cell).
   * @throws {TypeError} Tokens that are not int32.
   */
  decode(tokens: tf.Tensor3D): tf.Tensor4D {
    checkTokens(tokens, this.gridSize, this.config.vocabSize);
    return tf.tidy(() => {
      const codes = tf.oneHot(tokens, this.config.vocabSize) // (B, g, g, K)
        .toFloat() as tf.Tensor4D;
      return this.meanImage(this.decodeCodes(codes));
    });
  }

  /**
   * The mean image of a decoder output, in [0, 1].
   *
   * @param output What {@link decodeCodes} returned.
   * @returns `(B, S, S, C)`.
   */
  meanImage(output: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const c = this.config.channels;
      const mu = output.shape[3] === c ? output : output.slice([0, 0, 0, 0], [-1, -1, -1, c]);
      return unmapPixels(tf.sigmoid(mu)) as tf.Tensor4D;
    });
  }

  /**
   * decode(encode(images)): the deterministic reconstruction through the tokens.
   *
   * @param images `(B, S, S, C)` in [0, 1].
   * @returns `(B, S, S, C)` in [0, 1].
   */
  reconstruct(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.decode(this.encode(images)));
  }

  /**
   * Sets the decoder's output biases from data, so that before training the decoder already
   * predicts each channel's average pixel (and, for logit-Laplace, a matching scale). Without it
   * the first updates are spent fixing one global error (e.g. a white background predicted grey),
   * and that shared gradient pushes every grid cell towards the same code. Not in the paper; the
   * weights keep their paper initialisation.
   *
   * @param images A sample `(N, S, S, C)` in [0, 1].
   * @example
   * ```ts
   * import { createDvae } from "./mod.ts";
   * import { tf } from "../backend/mod.ts";
   * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
   * const white = tf.ones([4, 8, 8, 3]) as tf.Tensor4D;
   * dvae.initOutputBias(white); // μ bias = logit(0.9) ≈ 2.2
   * white.dispose(); dvae.dispose();
   * ```
   */
  initOutputBias(images: tf.Tensor4D): void {
    checkImages(images, this.config);
    const bias = this.decoder.output.bias!;
    tf.tidy(() => {
      const c = this.config.channels;
      const y = mapPixels(images);
      const logitY = tf.log(y).sub(tf.log1p(y.neg())); // (N, S, S, C)
      const mu = logitY.mean([0, 1, 2]); // (C)
      if (this.config.reconstruction === "mse") {
        bias.assign(mu);
      } else {
        const logB = logitY.sub(mu).abs().mean([0, 1, 2]).add(1e-3).log(); // (C)
        bias.assign(tf.concat([mu, logB]).reshape([2 * c]));
      }
    });
  }
}

/**
 * Builds a dVAE from a partial configuration, checking that the shapes work out.
 *
 * @param config Overrides of {@link DVAE_DEFAULTS}.
 * @returns The model (the caller disposes it).
 * @example
 * ```ts
 * import { createDvae } from "./mod.ts";
 * const dvae = createDvae(); // the benchmark model: 32×32×3 → 8×8 tokens of 512
 * console.log(dvae.gridSize); // 8
 * dvae.dispose();
 * ```
 */
export function createDvae(config: Partial<DvaeConfig> = {}): Dvae {
  const c: DvaeConfig = { ...DVAE_DEFAULTS, ...config };
  for (
    const key of [
      "imageSize",
      "channels",
      "hidden",
      "groups",
      "blocksPerGroup",
      "vocabSize",
    ] as const
  ) {
    if (!Number.isInteger(c[key]) || c[key] < 1) {
      throw new RangeError(`dVAE ${key} must be a positive integer, got ${c[key]}`);
    }
  }
  if (c.hidden % 4 !== 0) {
    throw new RangeError(`dVAE hidden must be a multiple of 4 (bottleneck n/4), got ${c.hidden}`);
  }
  const shrink = 2 ** (c.groups - 1);
  if (c.imageSize % shrink !== 0) {
    throw new RangeError(
      `dVAE imageSize ${c.imageSize} must be divisible by 2^(groups − 1) = ${shrink}`,
    );
  }
  if (c.reconstruction !== "logit-laplace" && c.reconstruction !== "mse") {
    throw new TypeError(
      `dVAE reconstruction must be "logit-laplace" or "mse", got "${c.reconstruction}"`,
    );
  }
  return new Dvae(c);
}
