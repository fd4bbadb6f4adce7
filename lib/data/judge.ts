/**
 * An automatic judge for the shapes world: a small CNN that reads a 32×32 scene back into its
 * attributes, and checks whether an image shows what a caption says.
 *
 * Images carry no caption order, so the judge names objects in canonical order: slot 1 is the
 * left (or top) object, slot 2 the right (or bottom) one, and the relation is "left of" or
 * "above" (`canonicalScene`).
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
 * @module
 */
import { join } from "node:path";
import { ensureBackend, tf } from "../backend/mod.ts";
import {
  AdamW,
  Conv2d,
  cosine,
  Linear,
  loadWeights,
  Module,
  Rng,
  saveWeights,
  seedStream,
  valueAndGrads,
} from "../nn/mod.ts";
import { defaultCacheDir, readFileOrNull } from "./_cache.ts";
import {
  type AttributeAgreement,
  attributeAgreement,
  canonicalScene,
  type Colour,
  COLOURS,
  parseCaption,
  type Scene,
  sceneMatches,
  type Shape,
  SHAPES,
  type Size,
  SIZES,
} from "./captions.ts";
import { imageAt, type ImageBatch, imagesToTensor } from "./image_batch.ts";
import { judgeInput } from "./_judge_input.ts";
import { makeShapes, PALETTE_MIN_CHANNEL, SHAPES_GENERATOR_VERSION } from "./shapes.ts";
import { batches } from "./batches.ts";

/** Bumped when the judge's architecture or training changes; part of the weights file name. */
export const JUDGE_VERSION = 1;

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
const SHAPE_HEADS = {
  count: 2, // one object, two objects
  layout: 2, // "left of" (side by side), "above" (stacked)
  shape1: SHAPES.length,
  size1: SIZES.length,
  shape2: SHAPES.length,
  size2: SIZES.length,
} as const;
type ShapeHead = keyof typeof SHAPE_HEADS;
const SHAPE_HEAD_NAMES = Object.keys(SHAPE_HEADS) as ShapeHead[];
type Head = ShapeHead | "colour1" | "colour2";
const HEAD_NAMES: Head[] = [...SHAPE_HEAD_NAMES, "colour1", "colour2"];
const HEAD_CLASSES: Record<Head, number> = {
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
class JudgeNet extends Module {
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
function labelsOf(scenes: readonly Scene[]): Record<Head | "region", Int32Array> {
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

/**
 * Per-attribute accuracy of the judge on scenes with known attributes: the rates of
 * `attributeAgreement` (a scene names every size, so `size` is over all objects; `relation` is 1
 * when no scene has two objects).
 */
export interface JudgeAccuracy extends Omit<AttributeAgreement, "pairs"> {
  /** Images scored. */
  images: number;
}

/**
 * A trained judge. Create it with `createShapesJudge()`; `dispose()` frees its weights.
 */
export class ShapesJudge {
  #net: JudgeNet;
  /** The configuration it was trained with. */
  readonly config: JudgeConfig;

  /** Use `createShapesJudge`; this wraps an already trained network. */
  constructor(net: JudgeNet, config: JudgeConfig) {
    this.#net = net;
    this.config = config;
  }

  /**
   * Reads scenes from images, in canonical order (slot 1 left/top; relation "left of", "above"
   * or null).
   *
   * @param images 32×32 RGB images (bytes or a `[n, 32, 32, 3]` tensor in [0, 1], not disposed).
   * @returns One scene per image.
   * @throws {RangeError | TypeError} Images of another size, rank, dtype or value range, checked
   *   before any is read (`the judge reads 32×32×3 images, got 28×28×1`).
   * @example
   * ```ts
   * import { createShapesJudge } from "./judge.ts";
   * import { makeShapes } from "./shapes.ts";
   * const judge = await createShapesJudge();
   * const set = await makeShapes({ count: 4, split: "test", seed: 9, cache: false });
   * console.log(judge.predict(set.images)[0]); // { objects: [...], relation: ... }
   * judge.dispose();
   * ```
   */
  predict(images: ImageBatch | tf.Tensor): Scene[] {
    const batch = judgeInput(images);
    const scenes: Scene[] = [];
    const chunk = 256;
    for (let start = 0; start < batch.count; start += chunk) {
      const indices = Array.from(
        { length: Math.min(chunk, batch.count - start) },
        (_, k) => start + k,
      );
      const argmax = tf.tidy(() => {
        const x = imagesToTensor(batch, indices);
        const logits = this.#net.apply(x);
        return HEAD_NAMES.map((h) => logits[h].argMax(1));
      });
      const classes = Object.fromEntries(
        HEAD_NAMES.map((h, k) => [h, argmax[k].dataSync() as Int32Array]),
      ) as Record<Head, Int32Array>;
      tf.dispose(argmax);
      for (let k = 0; k < indices.length; k++) {
        const object = (slot: 1 | 2) => ({
          colour: COLOURS[classes[`colour${slot}`][k]] as Colour,
          shape: SHAPES[classes[`shape${slot}`][k]] as Shape,
          size: SIZES[classes[`size${slot}`][k]] as Size,
        });
        scenes.push(
          classes.count[k] === 0 ? { objects: [object(1)], relation: null } : {
            objects: [object(1), object(2)],
            relation: classes.layout[k] === 0 ? "left of" : "above",
          },
        );
      }
    }
    return scenes;
  }

  /**
   * Whether an image shows what a caption says: colours and shapes, the relation when there
   * are two objects, and sizes where the caption names them.
   *
   * @param caption A caption of the shapes grammar (others throw a SyntaxError).
   * @param image One 32×32 RGB image (a batch's first image is used).
   * @returns true when every attribute the caption names is what the judge sees.
   * @example
   * ```ts
   * import { createShapesJudge } from "./judge.ts";
   * import { renderScenes } from "./shapes.ts";
   * const judge = await createShapesJudge();
   * const image = await renderScenes([{ objects: [{ colour: "red", shape: "star", size: "large" }], relation: null }]);
   * console.log(judge.agrees("a red star", image), judge.agrees("a blue star", image)); // true false
   * judge.dispose();
   * ```
   */
  agrees(caption: string, image: ImageBatch | tf.Tensor): boolean {
    const meaning = parseCaption(caption);
    const batch = judgeInput(image);
    if (batch.count < 1) throw new RangeError("agrees needs an image, got an empty batch");
    return sceneMatches(meaning, this.predict(imageAt(batch, 0))[0]);
  }

  /**
   * `agrees` for many caption–image pairs at once (one forward pass per 256 images).
   *
   * @param captions One caption per image.
   * @param images The images.
   * @returns `result[i]`: does image i show caption i.
   * @example
   * ```ts
   * import { createShapesJudge } from "./judge.ts";
   * import { makeShapes } from "./shapes.ts";
   * const judge = await createShapesJudge();
   * const set = await makeShapes({ count: 8, split: "test", seed: 9, cache: false });
   * console.log(judge.agreesAll(set.captions, set.images)); // mostly true
   * judge.dispose();
   * ```
   */
  agreesAll(captions: readonly string[], images: ImageBatch | tf.Tensor): boolean[] {
    const meanings = captions.map(parseCaption);
    const batch = pairedImages("agreesAll", captions.length, images);
    const scenes = this.predict(batch);
    return meanings.map((m, i) => sceneMatches(m, scenes[i]));
  }

  /**
   * Per-attribute agreement of caption–image pairs (`attributeAgreement` over what the judge
   * sees): colour, shape, size, count and relation rates beside the whole-scene one.
   *
   * @param captions One caption per image.
   * @param images The images.
   * @returns The rates; `scenes` equals the mean of `agreesAll`.
   * @example
   * ```ts
   * import { createShapesJudge } from "./judge.ts";
   * import { makeShapes } from "./shapes.ts";
   * const judge = await createShapesJudge();
   * const set = await makeShapes({ count: 8, split: "test", seed: 9, cache: false });
   * console.log(judge.attributeAgreement(set.captions, set.images).colour); // ≈ 1
   * judge.dispose();
   * ```
   */
  attributeAgreement(
    captions: readonly string[],
    images: ImageBatch | tf.Tensor,
  ): AttributeAgreement {
    const meanings = captions.map(parseCaption);
    return attributeAgreement(
      meanings,
      this.predict(pairedImages("attributeAgreement", captions.length, images)),
    );
  }

  /**
   * Scores the judge against scenes whose attributes are known.
   *
   * @param images The rendered scenes.
   * @param scenes What they show (any object order).
   * @returns Per-attribute and per-scene accuracy.
   * @example
   * ```ts
   * import { createShapesJudge } from "./judge.ts";
   * import { makeShapes } from "./shapes.ts";
   * const judge = await createShapesJudge();
   * const set = await makeShapes({ count: 200, split: "zero-shot", seed: 9, cache: false });
   * console.log(judge.accuracy(set.images, set.attributes).attributes); // ≈ 0.99
   * judge.dispose();
   * ```
   */
  accuracy(images: ImageBatch | tf.Tensor, scenes: readonly Scene[]): JudgeAccuracy {
    // A scene is a caption that names every size, so the caption matcher scores it.
    const batch = pairedImages("accuracy", scenes.length, images, "scenes");
    const { pairs, ...rates } = attributeAgreement(scenes, this.predict(batch));
    return {
      ...rates,
      images: pairs,
      relation: Number.isNaN(rates.relation) ? 1 : rates.relation,
    };
  }

  /** Frees the weights. */
  dispose(): void {
    this.#net.dispose();
  }
}

/** The images of caption–image pairs, checked to be one per caption before any is judged. */
function pairedImages(
  method: string,
  pairs: number,
  images: ImageBatch | tf.Tensor,
  what = "captions",
): ImageBatch {
  const batch = judgeInput(images);
  if (batch.count !== pairs) {
    throw new RangeError(`${method} got ${pairs} ${what} for ${batch.count} images`);
  }
  return batch;
}

/** Options for `createShapesJudge`. */
export interface JudgeOptions {
  /** Folder of the cached weights. @default "<repo>/data/cache" */
  cacheDir?: string;
  /** Train even when cached weights exist (and overwrite them). @default false */
  retrain?: boolean;
  /** Overrides of `DEFAULT_JUDGE_CONFIG` (a different config is cached under its own name). */
  config?: Partial<JudgeConfig>;
  /** Progress messages while training. @default console.log */
  onProgress?: (message: string) => void;
}

function weightsPath(cacheDir: string, config: JudgeConfig): string {
  const isDefault = JSON.stringify(config) === JSON.stringify(DEFAULT_JUDGE_CONFIG);
  const suffix = isDefault ? "" : `_${hashConfig(config)}`;
  return join(cacheDir, `judge_v${JUDGE_VERSION}${suffix}.safetensors`);
}

function hashConfig(config: JudgeConfig): string {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(config)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * The shapes judge: loads the cached weights, or trains them once (1–3 minutes) and caches
 * them. The weights file records the configuration and the shapes generator version it was
 * trained for; a mismatch retrains.
 *
 * @param options See `JudgeOptions`.
 * @returns A ready judge (dispose it when done).
 * @example
 * ```ts
 * import { createShapesJudge } from "./judge.ts";
 * const judge = await createShapesJudge();
 * judge.dispose();
 * ```
 */
export async function createShapesJudge(options: JudgeOptions = {}): Promise<ShapesJudge> {
  await ensureBackend();
  const config: JudgeConfig = { ...DEFAULT_JUDGE_CONFIG, ...options.config };
  const path = weightsPath(options.cacheDir ?? defaultCacheDir(), config);
  const wanted = {
    judge_version: String(JUDGE_VERSION),
    shapes_generator_version: String(SHAPES_GENERATOR_VERSION),
    config: JSON.stringify(config),
  };
  if (!options.retrain && (await readFileOrNull(path)) !== null) {
    const net = new JudgeNet(config);
    try {
      const metadata = await loadWeights(path, net);
      if (Object.entries(wanted).every(([k, v]) => metadata[k] === v)) {
        return new ShapesJudge(net, config);
      }
    } catch {
      // unreadable or mismatched weights: fall through and retrain over them
    }
    net.dispose();
  }
  const net = await trainJudgeNet(config, options.onProgress ?? console.log);
  await saveWeights(path, net, wanted);
  return new ShapesJudge(net, config);
}

/** 3×3 binomial blur kernel ([1, 2, 1]ᵀ[1, 2, 1] / 16) per channel, `[3, 3, 3, 1]`. */
function binomialKernel(): tf.Tensor4D {
  const taps = [1, 2, 1];
  const values: number[] = [];
  for (const a of taps) for (const b of taps) for (let c = 0; c < 3; c++) values.push((a * b) / 16);
  return tf.tensor4d(values, [3, 3, 3, 1]);
}

/**
 * Training-time degradations, so images from a generative model (noisy, blurry) read as well as
 * clean renders: a random `blurFraction` of the images is blurred, then Gaussian noise is added.
 */
function degrade(images: tf.Tensor4D, config: JudgeConfig, rng: Rng): tf.Tensor4D {
  const [b, h, w] = images.shape;
  // Edge padding (not zeros): a zero border would look like ink around a white image.
  const padded = tf.mirrorPad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], "symmetric");
  const binomial = tf.depthwiseConv2d(padded, binomialKernel(), 1, "valid");
  const downUp = tf.image.resizeBilinear(tf.avgPool(images, 2, 2, "valid") as tf.Tensor4D, [h, w]);
  const choice = Array.from({ length: b }, () => {
    const u = rng.next();
    return u < config.blurFraction / 2 ? 1 : u < config.blurFraction ? 2 : 0;
  });
  const pick = (k: number) => tf.tensor4d(choice.map((c) => (c === k ? 1 : 0)), [b, 1, 1, 1]);
  let out = images.mul(pick(0)).add(binomial.mul(pick(1))).add(downUp.mul(pick(2)));
  if (config.noiseStd > 0) {
    out = out.add(tf.randomNormal([b, h, w, 3], 0, config.noiseStd, "float32", rng.nextSeed()));
  }
  return out.clipByValue(0, 1) as tf.Tensor4D;
}

async function trainJudgeNet(
  config: JudgeConfig,
  onProgress: (message: string) => void,
): Promise<JudgeNet> {
  const started = performance.now();
  const data = await makeShapes({
    count: config.trainCount,
    seed: config.trainSeed,
    split: "train",
  });
  const labels = labelsOf(data.attributes);
  const net = new JudgeNet(config);
  const params = net.parameters();
  const optimiser = new AdamW({ lr: config.lr, weightDecay: config.weightDecay });
  const augmentRng = new Rng(config.seed + 1);
  const lr = cosine(config.lr, config.lr * 0.02, config.steps);
  const epochs = Math.ceil((config.steps * config.batchSize) / config.trainCount);
  let step = 0, lossSum = 0, lossCount = 0;
  onProgress(
    `judge: training on ${config.trainCount} train-split scenes for ${config.steps} steps`,
  );
  for (
    const batch of batches(data, {
      batchSize: config.batchSize,
      seed: config.seed,
      epochs,
      dropLast: true,
    })
  ) {
    if (step >= config.steps) break;
    // Heads that do not apply (label -1, e.g. slot 2 of a lone object) get zero weight; the
    // colour path reads the true regions, as it will read the predicted ones.
    const targets = tf.tidy(() =>
      Object.fromEntries(HEAD_NAMES.map((h) => {
        const ids = Int32Array.from(batch.indices, (i) => labels[h][i]);
        const valid = Float32Array.from(ids, (id) => (id >= 0 ? 1 : 0));
        const oneHot = tf.oneHot(
          tf.tensor1d(ids.map((id) => Math.max(0, id)), "int32"),
          HEAD_CLASSES[h],
        );
        return [h, { oneHot: oneHot.cast("float32"), valid: tf.tensor1d(valid) }];
      }))
    ) as Record<Head, { oneHot: tf.Tensor2D; valid: tf.Tensor1D }>;
    const regions = tf.tensor1d(Int32Array.from(batch.indices, (i) => labels.region[i]), "int32");
    const noisy = tf.tidy(() => degrade(batch.images, config, augmentRng));
    const { loss, grads } = valueAndGrads(params, () => {
      const logits = net.apply(noisy, regions);
      const terms = HEAD_NAMES.map((h) => {
        const { oneHot, valid } = targets[h];
        const nll = tf.losses.softmaxCrossEntropy(oneHot, logits[h], valid, 0, tf.Reduction.NONE);
        return nll.sum().div(valid.sum().maximum(1));
      });
      return tf.addN(terms) as tf.Scalar;
    });
    optimiser.step(params, grads, lr.at(step));
    lossSum += (await loss.data())[0];
    lossCount++;
    tf.dispose([loss, ...grads, noisy, regions]);
    tf.dispose(Object.values(targets).flatMap((t) => [t.oneHot, t.valid]));
    step++;
    if (step % 250 === 0 || step === config.steps) {
      const seconds = (performance.now() - started) / 1000;
      onProgress(
        `judge: step ${step}/${config.steps} loss ${(lossSum / lossCount).toFixed(4)} ` +
          `(${seconds.toFixed(0)} s)`,
      );
      lossSum = 0;
      lossCount = 0;
    }
  }
  optimiser.dispose();
  return net;
}
