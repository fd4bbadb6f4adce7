/**
 * The Fashion-MNIST classifier's network: three stride-2 convolutions over 32×32 images (the
 * toolkit's padded Fashion-MNIST, see lib/data's `toRgb32`), a fully connected layer whose
 * activations are the features the Fréchet distance reads, and a 10-way head.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Conv2d, Linear, Module, seedStream } from "../nn/mod.ts";

/** Bumped when the classifier's architecture or training changes; part of its weights' name. */
export const FASHION_CLASSIFIER_VERSION = 1;

/** How the classifier is built and trained. */
export interface FashionClassifierConfig {
  /** Optimiser steps over the 60,000 training images (5 epochs). @default 2400 */
  steps: number;
  /** Images per step. @default 128 */
  batchSize: number;
  /** Peak learning rate (cosine decay to 2% of it). @default 0.003 */
  lr: number;
  /** AdamW weight decay. @default 0.0001 */
  weightDecay: number;
  /** Channels of the three stride-2 convolutions. @default [32, 64, 128] */
  widths: number[];
  /** Width of the feature layer (the Fréchet distance's features). @default 128 */
  features: number;
  /** Seed of the initial weights and the batch order. @default 0 */
  seed: number;
}

/** The defaults of {@link FashionClassifierConfig}. */
export const DEFAULT_FASHION_CLASSIFIER_CONFIG: Readonly<FashionClassifierConfig> = {
  steps: 2400,
  batchSize: 128,
  lr: 3e-3,
  weightDecay: 1e-4,
  widths: [32, 64, 128],
  features: 128,
  seed: 0,
};

/** The network (see the module note). */
export class FashionNet extends Module {
  convs: Conv2d[];
  fc: Linear;
  head: Linear;

  constructor(config: FashionClassifierConfig) {
    super();
    const nextSeed = seedStream(config.seed);
    let channels = 3;
    this.convs = config.widths.map((width, i) => {
      const conv = new Conv2d(channels, width, 3, {
        stride: 2,
        seed: nextSeed(),
        std: Math.sqrt(2 / (9 * channels)), // He init: ReLU follows
      });
      channels = width;
      return this.module(`conv${i + 1}`, conv);
    });
    const inputs = (32 / 2 ** config.widths.length) ** 2 * channels;
    this.fc = this.module(
      "fc",
      new Linear(inputs, config.features, { seed: nextSeed(), std: Math.sqrt(2 / inputs) }),
    );
    this.head = this.module("head", new Linear(config.features, 10, { seed: nextSeed() }));
  }

  /**
   * @param x `(B, 32, 32, 3)` in [0, 1].
   * @returns The features `(B, features)` (after the ReLU) and the class logits `(B, 10)`.
   */
  apply(x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D } {
    return tf.tidy(() => {
      let h = x.sub(0.5) as tf.Tensor4D;
      for (const conv of this.convs) h = tf.relu(conv.apply(h));
      const features = tf.relu(this.fc.apply(h.reshape([x.shape[0], -1]))) as tf.Tensor2D;
      return { features, logits: this.head.apply(features) as tf.Tensor2D };
    });
  }
}
