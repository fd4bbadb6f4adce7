/**
 * The judge's network (a colour-blind shape path and a shape-blind colour path, see mod.ts),
 * its configuration, its heads and the labels it learns from scenes.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Conv2d, Linear, Module, seedStream } from "../nn/mod.ts";
import {
  canonicalScene,
  COLOURS,
  PALETTE_MIN_CHANNEL,
  type Scene,
  SHAPES,
  SIZES,
} from "../data/mod.ts";

/** Bumped when the judge's architecture or training changes; part of the weights file name. */
export const JUDGE_VERSION = 2;

/** How the judge is built and trained. */
export interface JudgeConfig {
  /** Training scenes ("train" split). @default 12000 */
  trainCount: number;
  /** Seed of the training scenes (a stream no experiment uses). @default 7001 */
  trainSeed: number;
  /** Optimiser steps. @default 1000 */
  steps: number;
  /** Images per step. @default 64 */
  batchSize: number;
  /** Peak learning rate (cosine decay to 2% of it). @default 0.003 */
  lr: number;
  /** AdamW weight decay. @default 0.0001 */
  weightDecay: number;
  /**
   * Channels of the shape path's convs: a 4×4 stride-2 stem, then 3×3 stride-2 convs, so n
   * widths leave a (32 / 2ⁿ)² grid. @default [16, 32, 64]
   */
  widths: number[];
  /** Width of the shape path's fully connected layer. @default 128 */
  hidden: number;
  /** Hidden width of the per-pixel colour classifier. @default 16 */
  colourHidden: number;
  /** Std of Gaussian pixel noise added in training, so generated images read well. @default 0.03 */
  noiseStd: number;
  /**
   * Fraction of training images that are blurred (half by a 3×3 binomial filter, half by 2×
   * downsampling and bilinear upsampling), so blurry reconstructions read well. @default 0.5
   */
  blurFraction: number;
  /** Seed of the initial weights, the batch order and the noise. @default 0 */
  seed: number;
}

/** The defaults of `JudgeConfig`. */
export const DEFAULT_JUDGE_CONFIG: Readonly<JudgeConfig> = {
  trainCount: 12000,
  trainSeed: 7001,
  steps: 1000,
  batchSize: 64,
  lr: 3e-3,
  weightDecay: 1e-4,
  widths: [16, 32, 64],
  hidden: 128,
  colourHidden: 16,
  noiseStd: 0.03,
  blurFraction: 0.5,
  seed: 0,
};

/** Heads of the shape path and their class counts; slot 1 is left/top, slot 2 right/bottom. */
export const SHAPE_HEADS = {
  count: 2, // one object, two objects
  layout: 2, // "left of" (side by side), "above" (stacked)
  shape1: SHAPES.length,
  size1: SIZES.length,
  shape2: SHAPES.length,
  size2: SIZES.length,
} as const;
export type ShapeHead = keyof typeof SHAPE_HEADS;
export const SHAPE_HEAD_NAMES = Object.keys(SHAPE_HEADS) as ShapeHead[];
export type Head = ShapeHead | "colour1" | "colour2";
export const HEAD_NAMES: Head[] = [...SHAPE_HEAD_NAMES, "colour1", "colour2"];
export const HEAD_CLASSES: Record<Head, number> = {
  ...SHAPE_HEADS,
  colour1: COLOURS.length,
  colour2: COLOURS.length,
};

/** 1 − min(R, G, B), rescaled so a palette colour's interior is 1 and the background 0. */
const INK_SCALE = 1 - PALETTE_MIN_CHANNEL / 255;

/**
 * Where each slot's colour is read, by region code: 0 one object (whole image), 1 side by side
 * (left | right half), 2 stacked (top | bottom half). Returns `[2, 3, 16, 16]`: slot, code, y, x
 * on the colour path's 16×16 grid.
 */
function regionMasks(): tf.Tensor4D {
  const n = 16;
  const masks = new Float32Array(2 * 3 * n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const at = (slot: number, code: number) => ((slot * 3 + code) * n + y) * n + x;
      masks[at(0, 0)] = 1;
      masks[at(0, 1)] = x < n / 2 ? 1 : 0;
      masks[at(1, 1)] = x < n / 2 ? 0 : 1;
      masks[at(0, 2)] = y < n / 2 ? 1 : 0;
      masks[at(1, 2)] = y < n / 2 ? 0 : 1;
    }
  }
  return tf.tensor4d(masks, [2, 3, n, n]);
}

/** The two paths (see the module note). */
export class JudgeNet extends Module {
  convs: Conv2d[];
  fc: Linear;
  heads: Record<ShapeHead, Linear>;
  pixel1: Conv2d;
  pixel2: Conv2d;
  #masks = regionMasks();

  constructor(config: JudgeConfig) {
    super();
    const nextSeed = seedStream(config.seed);
    let channels = 1;
    this.convs = config.widths.map((width, i) => {
      const kernel = i === 0 ? 4 : 3;
      const conv = new Conv2d(channels, width, kernel, {
        stride: 2,
        seed: nextSeed(),
        std: Math.sqrt(2 / (kernel * kernel * channels)), // He init: ReLU follows
      });
      channels = width;
      return this.module(`conv${i + 1}`, conv);
    });
    const side = 32 / 2 ** config.widths.length;
    this.fc = this.module(
      "fc",
      new Linear(side * side * channels, config.hidden, {
        seed: nextSeed(),
        std: Math.sqrt(2 / (side * side * channels)),
      }),
    );
    this.heads = Object.fromEntries(
      SHAPE_HEAD_NAMES.map((name) => [
        name,
        this.module(
          `head_${name}`,
          new Linear(config.hidden, SHAPE_HEADS[name], { seed: nextSeed() }),
        ),
      ]),
    ) as Record<ShapeHead, Linear>;
    this.pixel1 = this.module(
      "pixel1",
      new Conv2d(3, config.colourHidden, 1, { seed: nextSeed(), std: Math.sqrt(2 / 3) }),
    );
    this.pixel2 = this.module(
      "pixel2",
      new Conv2d(config.colourHidden, COLOURS.length, 1, { seed: nextSeed() }),
    );
  }

  /**
   * @param x `(B, 32, 32, 3)` in [0, 1].
   * @param regions Region code per image (see `regionMasks`), int32 `(B)`; null: use the
   *   predicted count and layout.
   * @returns Logits per head, `(B, classes)`.
   */
  apply(x: tf.Tensor4D, regions: tf.Tensor1D | null = null): Record<Head, tf.Tensor2D> {
    return tf.tidy(() => {
      const [b] = x.shape;
      const ink = tf.sub(1, x.min(3, true)).div(INK_SCALE).clipByValue(0, 1) as tf.Tensor4D; // (B, 32, 32, 1)
      let h = ink.sub(0.5) as tf.Tensor4D;
      for (const conv of this.convs) h = tf.relu(conv.apply(h));
      const features = tf.relu(this.fc.apply(h.reshape([b, -1]))); // (B, hidden)
      const out = Object.fromEntries(
        SHAPE_HEAD_NAMES.map((name) => [name, this.heads[name].apply(features) as tf.Tensor2D]),
      ) as Record<Head, tf.Tensor2D>;

      const codes = regions ?? tf.tidy(() => {
        const two = out.count.argMax(1); // 0 one object, 1 two
        const layout = out.layout.argMax(1).add(tf.scalar(1, "int32"));
        return two.mul(layout) as tf.Tensor1D; // 0, or 1 + layout
      });
      // Colour is read at 16×16: averaging 2×2 pixels mixes a colour with white at most, which
      // keeps its hue, and quarters the cost.
      const small = tf.avgPool(x, 2, 2, "valid"); // (B, 16, 16, 3)
      const pixelLogits = this.pixel2.apply(tf.relu(this.pixel1.apply(small.sub(0.5)))); // (B, 16, 16, C)
      const inkMap = tf.avgPool(ink, 2, 2, "valid").reshape([b, 16, 16]);
      for (const slot of [0, 1]) {
        const region = tf.gather(this.#masks.gather(slot), codes); // (B, 16, 16)
        const weight = inkMap.mul(region);
        const pooled = pixelLogits.mul(weight.expandDims(3)).sum([1, 2]); // (B, C)
        const total = weight.sum([1, 2]).expandDims(1).maximum(1e-3); // (B, 1)
        out[slot === 0 ? "colour1" : "colour2"] = pooled.div(total) as tf.Tensor2D;
      }
      return out;
    });
  }

  override dispose(): void {
    this.#masks.dispose();
    super.dispose();
  }
}

/**
 * Class index per head for each scene (canonical order; -1 where a head does not apply), and
 * the region code the colour path reads (0 one object, 1 side by side, 2 stacked).
 */
export function labelsOf(scenes: readonly Scene[]): Record<Head | "region", Int32Array> {
  const out = Object.fromEntries(
    [...HEAD_NAMES, "region"].map((h) => [h, new Int32Array(scenes.length).fill(-1)]),
  ) as Record<Head | "region", Int32Array>;
  scenes.forEach((raw, i) => {
    const scene = canonicalScene(raw);
    out.count[i] = scene.objects.length - 1;
    scene.objects.forEach((o, k) => {
      out[k === 0 ? "colour1" : "colour2"][i] = COLOURS.indexOf(o.colour);
      out[k === 0 ? "shape1" : "shape2"][i] = SHAPES.indexOf(o.shape);
      out[k === 0 ? "size1" : "size2"][i] = SIZES.indexOf(o.size);
    });
    if (scene.relation !== null) out.layout[i] = scene.relation === "left of" ? 0 : 1;
    out.region[i] = scene.relation === null ? 0 : scene.relation === "left of" ? 1 : 2;
  });
  return out;
}
