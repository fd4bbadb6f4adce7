/**
 * The dVAE's training objective: the evidence lower bound (ELB) with a β-weighted KL term, pixels
 * modelled by a logit-Laplace distribution (or a fixed-σ Gaussian), and the Gumbel-softmax
 * relaxation that lets gradients reach the encoder through the discrete codes.
 *
 * The likelihoods are densities of the ε-mapped pixels y = (1 − 2ε)x + ε on (0, 1), so the ELB
 * here, like the paper's, is a bound on a continuous density: it can be negative, and in bits per
 * dimension it is not a code length. (The density of x itself would add −ln(1 − 2ε) ≈ 0.223 nats
 * per dimension.)
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { Dvae } from "./model.ts";
import { checkImages } from "./_checks.ts";

/** The paper's ε: pixels are mapped into [ε, 1 − ε] so their logits stay finite. */
export const PIXEL_EPS = 0.1;

/** The σ of the Gaussian used by `reconstruction: "mse"`, in mapped pixel units. */
export const MSE_STD = 0.1;

/**
 * Maps pixels from [0, 1] into [ε, 1 − ε]: x ↦ (1 − 2ε)x + ε.
 *
 * @param x Pixels in [0, 1].
 * @param eps ε. @default 0.1
 * @returns The mapped pixels (a new tensor).
 * @example
 * ```ts
 * import { mapPixels } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * const y = mapPixels(tf.tensor1d([0, 0.5, 1])); // [0.1, 0.5, 0.9]
 * y.dispose();
 * ```
 */
export function mapPixels<T extends tf.Tensor>(x: T, eps = PIXEL_EPS): T {
  return tf.tidy(() => x.mul(1 - 2 * eps).add(eps)) as T;
}

/**
 * The inverse of {@link mapPixels}, clamped to [0, 1].
 *
 * @param y Mapped pixels.
 * @param eps ε. @default 0.1
 * @returns Pixels in [0, 1].
 * @example
 * ```ts
 * import { unmapPixels } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * const x = unmapPixels(tf.tensor1d([0.05, 0.5, 0.9])); // [0, 0.5, 1]
 * x.dispose();
 * ```
 */
export function unmapPixels<T extends tf.Tensor>(y: T, eps = PIXEL_EPS): T {
  return tf.tidy(() => y.sub(eps).div(1 - 2 * eps).clipByValue(0, 1)) as T;
}

/**
 * Uniform dequantisation of 8-bit pixels: x ↦ (round(255·x) + u)/256 with u ~ U[0, 1), seeded.
 * A density fitted to exactly repeated values (Fashion-MNIST's black background) is unbounded;
 * on dequantised pixels the continuous bound also bounds the discrete likelihood (plus 8 bits/dim).
 *
 * @param images Pixels in [0, 1] that were bytes.
 * @param seed Seed of the noise.
 * @returns Pixels in [0, 1), a new tensor.
 * @example
 * ```ts
 * import { dequantize } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * const y = dequantize(tf.tensor1d([0, 1]), 1); // in [0, 1/256) and [255/256, 1)
 * y.dispose();
 * ```
 */
export function dequantize<T extends tf.Tensor>(images: T, seed: number): T {
  return tf.tidy(() =>
    images.mul(255).round().add(tf.randomUniform(images.shape, 0, 1, "float32", seed)).div(256)
  ) as T;
}

/**
 * Negative log-density of the logit-Laplace distribution, elementwise:
 * −ln p(y | μ, b) = |logit(y) − μ| / b + ln b + ln 2 + ln(y(1 − y)), for y in (0, 1).
 *
 * @param y Mapped pixels in (0, 1).
 * @param mu Location μ in logit space (same shape).
 * @param logB ln b, the log-scale (same shape).
 * @returns NLL in nats, elementwise.
 * @example
 * ```ts
 * import { logitLaplaceNll } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * // y = 0.5, μ = 0, b = 1: 0 + 0 + ln 2 + ln 0.25 = −0.6931
 * const nll = logitLaplaceNll(tf.scalar(0.5), tf.scalar(0), tf.scalar(0));
 * nll.dispose();
 * ```
 */
export function logitLaplaceNll(y: tf.Tensor, mu: tf.Tensor, logB: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const logitY = tf.log(y).sub(tf.log1p(y.neg()));
    const logJacobian = tf.log(y.mul(tf.sub(1, y))); // constant in the parameters
    return logitY.sub(mu).abs().mul(tf.exp(logB.neg())).add(logB).add(Math.LN2).add(logJacobian);
  });
}

/**
 * Negative log-density of a Gaussian with fixed σ, elementwise: (y − m)²/(2σ²) + ln σ + ½ ln 2π.
 *
 * @param y Mapped pixels.
 * @param mean The mean (same shape).
 * @param std σ. @default MSE_STD (0.1)
 * @returns NLL in nats, elementwise.
 * @example
 * ```ts
 * import { gaussianNll } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * const nll = gaussianNll(tf.scalar(0.5), tf.scalar(0.5), 1); // ½ ln 2π = 0.9189
 * nll.dispose();
 * ```
 */
export function gaussianNll(y: tf.Tensor, mean: tf.Tensor, std = MSE_STD): tf.Tensor {
  return tf.tidy(() =>
    tf.squaredDifference(y, mean).div(2 * std * std).add(
      Math.log(std) + 0.5 * Math.log(2 * Math.PI),
    )
  );
}

/**
 * KL(q ‖ uniform over K) at each grid cell, from the encoder logits: Σ_k q_k (ln q_k + ln K).
 * 0 for uniform logits, ln K for a one-hot q.
 *
 * @param logits `(..., K)`.
 * @returns `(...)`, nats per cell.
 * @example
 * ```ts
 * import { klToUniform } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * const kl = klToUniform(tf.zeros([2, 4, 4, 16])); // all 0
 * kl.dispose();
 * ```
 */
export function klToUniform(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1];
    const logQ = tf.logSoftmax(logits);
    return tf.exp(logQ).mul(logQ.add(Math.log(k))).sum(-1);
  });
}

/**
 * KL(q̄ ‖ uniform over K) of the average posterior q̄ = mean of softmax(logits) over every cell:
 * ln K − H(q̄). 0 when the codebook is used evenly, ln K when every cell puts all mass on one code.
 *
 * @param logits `(..., K)`.
 * @returns A scalar, nats.
 * @example
 * ```ts
 * import { marginalKlToUniform } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * // Two cells, each certain of a different code out of 2: q̄ is uniform, so 0.
 * const kl = marginalKlToUniform(tf.tensor2d([[50, -50], [-50, 50]]));
 * kl.dispose();
 * ```
 */
export function marginalKlToUniform(logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1];
    const qBar = tf.softmax(logits.reshape([-1, k])).mean(0);
    return qBar.mul(qBar.add(1e-12).log().add(Math.log(k))).sum() as tf.Scalar;
  });
}

/**
 * Standard Gumbel noise −ln(−ln u), seeded (u is kept inside [1e−7, 1 − 1e−7] so it stays finite).
 *
 * @param shape Noise shape.
 * @param seed Seed for tf.randomUniform.
 * @param uniform The uniform draws, made beforehand ({@link gumbelUniform}). @default drawn here
 * @returns The noise.
 * @example
 * ```ts
 * import { gumbelNoise } from "./objective.ts";
 * const g = gumbelNoise([4, 8], 7);
 * g.dispose();
 * ```
 */
export function gumbelNoise(shape: number[], seed: number, uniform?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const u = uniform ?? gumbelUniform(shape, seed);
    return tf.log(tf.log(u).neg()).neg();
  });
}

/**
 * The uniform draws behind {@link gumbelNoise}, for passing in beforehand (a traced step takes
 * its noise as an input): u ~ U[1e−7, 1 − 1e−7), seeded.
 *
 * @param shape Noise shape.
 * @param seed Seed for tf.randomUniform.
 * @returns The draws (caller disposes).
 */
export function gumbelUniform(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, 1e-7, 1 - 1e-7, "float32", seed);
}

/** Stops gradients: identity forward, zero backward. */
const stopGradient = tf.customGrad(
  ((x: tf.Tensor) => ({
    value: x.clone(),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0],
);

/**
 * Gumbel-softmax relaxation of a categorical sample: softmax((logits + g)/τ) over the last axis.
 * With `straightThrough` the forward pass is the one-hot argmax and the backward pass the soft
 * sample's gradient; the paper uses the soft sample in both.
 *
 * @param logits `(..., K)`.
 * @param tau Temperature τ > 0 (a number, or a scalar a traced step feeds); as τ → 0 the rows
 *   approach one-hot.
 * @param options `seed` for the noise @default 0; `straightThrough` @default false; `uniform`,
 *   the noise's draws made beforehand ({@link gumbelUniform}) @default drawn from `seed`.
 * @returns `(..., K)`, each row summing to 1.
 * @example
 * ```ts
 * import { gumbelSoftmax } from "./objective.ts";
 * import { tf } from "../backend/mod.ts";
 * const z = gumbelSoftmax(tf.zeros([3, 5]), 1, { seed: 1 }); // rows sum to 1
 * z.dispose();
 * ```
 */
export function gumbelSoftmax(
  logits: tf.Tensor,
  tau: number | tf.Scalar,
  options: { seed?: number; straightThrough?: boolean; uniform?: tf.Tensor } = {},
): tf.Tensor {
  if (typeof tau === "number" && (!(tau > 0) || !Number.isFinite(tau))) {
    throw new RangeError(`Gumbel-softmax temperature must be a positive number, got ${tau}`);
  }
  return tf.tidy(() => {
    const noisy = logits.add(gumbelNoise(logits.shape, options.seed ?? 0, options.uniform));
    const soft = tf.softmax(noisy.div(tau));
    if (!options.straightThrough) return soft;
    const k = logits.shape[logits.rank - 1];
    const hard = tf.oneHot(noisy.argMax(-1), k).toFloat();
    return soft.add(stopGradient(hard.sub(soft)) as tf.Tensor);
  });
}

/** The parts of the dVAE objective for one batch (scalar tensors the caller disposes). */
export interface DvaeObjective {
  /** recon + β·KL/dimsPerCell: what is minimised, nats per pixel dimension. */
  loss: tf.Scalar;
  /** Reconstruction NLL, nats per pixel dimension. */
  reconNll: tf.Scalar;
  /** KL(q ‖ uniform), nats per grid cell (at most ln K). */
  kl: tf.Scalar;
  /** −ELB with β = 1 in bits per pixel dimension (a continuous-density bound). */
  elbBitsPerDim: tf.Scalar;
  /**
   * KL(q̄ ‖ uniform) of the batch's average posterior q̄ (over images and cells), nats per cell.
   * The per-cell KL splits as E[KL(q ‖ u)] = I(x; z) + KL(q̄ ‖ u): this is the part that says how
   * unevenly the codebook is used, without the information the codes carry.
   */
  marginalKl: tf.Scalar;
  /** The encoder logits `(B, g, g, K)`. */
  logits: tf.Tensor4D;
}

/** Options of {@link dvaeObjective}. */
export interface DvaeObjectiveOptions {
  /** KL weight β (a number, or a scalar a traced step feeds). @default 1 */
  beta?: number | tf.Scalar;
  /** Gumbel-softmax temperature τ (a number, or a scalar). @default 1 */
  tau?: number | tf.Scalar;
  /** Seed of the Gumbel noise. @default 0 */
  seed?: number;
  /** The Gumbel noise's uniform draws, made beforehand ({@link gumbelUniform}). @default from `seed` */
  gumbelUniform?: tf.Tensor;

  /** Straight-through one-hot samples in the forward pass. @default false */
  straightThrough?: boolean;
  /** Exact categorical samples (one-hot argmax of logits + Gumbel noise): the true ELB. @default false */
  hard?: boolean;
  /**
   * Weight of `marginalKl` added to the loss (per pixel dimension, like the KL). Not in the paper:
   * it penalises uneven codebook use but not information, where β·KL penalises both (the same idea
   * as wav2vec 2.0's codebook diversity loss). @default 0
   */
  marginalKlWeight?: number | tf.Scalar;
  /**
   * Weight λ of a mutual-information bonus: λ·I(x; z) per pixel dimension is subtracted from the
   * loss, with I = E[KL(q ‖ u)] − KL(q̄ ‖ u) estimated on the batch. Not in the paper: the marginal
   * KL alone is also 0 when every cell's q is uniform (codes that carry nothing, which is where
   * mostly-blank images go first); the bonus makes confident, evenly used codes the easy start.
   * @default 0
   */
  infoWeight?: number | tf.Scalar;
}

/**
 * The dVAE objective on a batch: NLL of the mapped pixels under the decoder given relaxed codes,
 * plus β·KL(q ‖ uniform), both per pixel dimension as the paper normalises it.
 *
 * @param model The dVAE.
 * @param images `(B, S, S, C)` float32 in [0, 1].
 * @param options See {@link DvaeObjectiveOptions}.
 * @returns The loss and its parts (caller disposes).
 * @throws {RangeError} Images of another size or channel count (`dVAE expects images of
 *   32×32×3, got 28×28×1`), values outside [0, 1] (NaN passes: it makes a non-finite loss, which
 *   trainers skip and count), negative or non-finite weights.
 * @throws {TypeError} Images that are not float32.
 * @example
 * ```ts
 * import { createDvae, dvaeObjective } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
 * const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 3) as tf.Tensor4D;
 * const out = dvaeObjective(dvae, x, { beta: 6.6, tau: 1, seed: 1 });
 * console.log(out.elbBitsPerDim.dataSync()[0]);
 * tf.dispose([x, out.loss, out.reconNll, out.kl, out.marginalKl, out.elbBitsPerDim, out.logits]);
 * dvae.dispose();
 * ```
 */
export function dvaeObjective(
  model: Dvae,
  images: tf.Tensor4D,
  options: DvaeObjectiveOptions = {},
): DvaeObjective {
  const beta = options.beta ?? 1;
  const tau = options.tau ?? 1;
  const seed = options.seed ?? 0;
  const marginalKlWeight = options.marginalKlWeight ?? 0;
  const infoWeight = options.infoWeight ?? 0;
  for (const [name, value] of Object.entries({ beta, marginalKlWeight, infoWeight })) {
    if (typeof value === "number" && (!Number.isFinite(value) || value < 0)) {
      throw new RangeError(`dVAE objective: ${name} must be a finite number ≥ 0, got ${value}`);
    }
  }
  // NaN pixels pass here (everything else is checked as by `logits`): in training they make a
  // non-finite loss, which a trainer's guard skips, counts and stops on, like any other.
  checkImages(images, model.config, { allowNaN: true });
  return tf.tidy(() => {
    const logits = model.encoder.apply(mapPixels(images)); // (B, g, g, K)
    let codes: tf.Tensor;
    const uniform = options.gumbelUniform;
    if (options.hard) {
      const noisy = logits.add(gumbelNoise(logits.shape, seed, uniform));
      codes = tf.oneHot(noisy.argMax(-1), model.config.vocabSize).toFloat();
    } else {
      codes = gumbelSoftmax(logits, tau, {
        seed,
        straightThrough: options.straightThrough,
        uniform,
      });
    }
    const output = model.decodeCodes(codes as tf.Tensor4D); // (B, S, S, 2C | C)
    const reconNll = reconstructionNll(model, images, output).mean() as tf.Scalar;
    const kl = klToUniform(logits).mean() as tf.Scalar;
    const marginalKl = marginalKlToUniform(logits);
    const klPerDim = kl.div(model.dimsPerCell);
    let loss = reconNll.add(klPerDim.mul(beta)) as tf.Scalar;
    if (marginalKlWeight !== 0) {
      loss = loss.add(marginalKl.div(model.dimsPerCell).mul(marginalKlWeight));
    }
    if (infoWeight !== 0) {
      const information = kl.sub(marginalKl).div(model.dimsPerCell);
      loss = loss.sub(information.mul(infoWeight));
    }
    const elbBitsPerDim = reconNll.add(klPerDim).div(Math.LN2) as tf.Scalar;
    return { loss, reconNll, kl, marginalKl, elbBitsPerDim, logits };
  });
}

/**
 * Elementwise reconstruction NLL of images under a decoder output.
 *
 * @param model The dVAE (for its channels and likelihood).
 * @param images `(B, S, S, C)` in [0, 1].
 * @param output Decoder output `(B, S, S, 2C | C)`.
 * @returns `(B, S, S, C)` nats.
 * @example
 * ```ts
 * import { createDvae, reconstructionNll } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
 * const x = tf.fill([1, 8, 8, 3], 0.5) as tf.Tensor4D;
 * const nll = reconstructionNll(dvae, x, tf.zeros([1, 8, 8, 6]) as tf.Tensor4D); // ln 2 + ln ¼ each
 * tf.dispose([x, nll]); dvae.dispose();
 * ```
 */
export function reconstructionNll(
  model: Dvae,
  images: tf.Tensor4D,
  output: tf.Tensor4D,
): tf.Tensor4D {
  const { imageSize: size, channels: c, reconstruction } = model.config;
  const outC = reconstruction === "logit-laplace" ? 2 * c : c;
  const [b] = images.shape;
  const fits = (t: tf.Tensor, channels: number) =>
    t.rank === 4 && t.shape[0] === b && t.shape[1] === size && t.shape[2] === size &&
    t.shape[3] === channels;
  if (!fits(images, c) || !fits(output, outC)) {
    throw new RangeError(
      `reconstructionNll expects images (B, ${size}, ${size}, ${c}) and decoder output ` +
        `(B, ${size}, ${size}, ${outC}), got [${images.shape}] and [${output.shape}]`,
    );
  }
  return tf.tidy(() => {
    const y = mapPixels(images);
    switch (model.config.reconstruction) {
      case "logit-laplace": {
        const mu = output.slice([0, 0, 0, 0], [-1, -1, -1, c]);
        const logB = output.slice([0, 0, 0, c], [-1, -1, -1, c]);
        return logitLaplaceNll(y, mu, logB) as tf.Tensor4D;
      }
      case "mse":
        return gaussianNll(y, tf.sigmoid(output)) as tf.Tensor4D;
    }
  });
}
