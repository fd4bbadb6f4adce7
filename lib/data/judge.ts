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
import { cosine, loadWeights, saveWeights, shardSizes, train, type TrainSpec } from "../nn/mod.ts";
import { defaultCacheDir } from "./_cache.ts";
import { readFileOrNull } from "../io/mod.ts";
import {
  type AttributeAgreement,
  attributeAgreement,
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
import { makeShapes, SHAPES_GENERATOR_VERSION } from "./shapes.ts";
import { batchIndicesAt } from "./batches.ts";
import {
  DEFAULT_JUDGE_CONFIG,
  type Head,
  HEAD_NAMES,
  JUDGE_VERSION,
  type JudgeConfig,
  JudgeNet,
  labelsOf,
} from "./_judge_net.ts";
import type { JudgeShard, JudgeStepOptions } from "./_judge_task.ts";

export { DEFAULT_JUDGE_CONFIG, JUDGE_VERSION, type JudgeConfig } from "./_judge_net.ts";

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
  const onProgress = options.onProgress ?? console.log;
  if (!options.retrain && (await readFileOrNull(path)) !== null) {
    const net = new JudgeNet(config);
    // Unreadable or stale weights are retrained over, and the retraining says why.
    try {
      const metadata = await loadWeights(path, net);
      const stale = Object.entries(wanted).find(([k, v]) => metadata[k] !== v);
      if (!stale) return new ShapesJudge(net, config);
      onProgress(`judge: ${path} was trained with another ${stale[0]}; retraining`);
    } catch (err) {
      onProgress(`judge: ${path} cannot be read (${(err as Error).message}); retraining`);
    }
    net.dispose();
  }
  const net = await trainJudgeNet(config, onProgress);
  await saveWeights(path, net, wanted);
  return new ShapesJudge(net, config);
}

/**
 * Trains the judge's network through lib/nn's trainer (one process): seeded batches of
 * train-split scenes, degraded in the task, AdamW with a cosine step size.
 */
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
  onProgress(
    `judge: training on ${config.trainCount} train-split scenes for ${config.steps} steps`,
  );
  const spec: TrainSpec<number[], JudgeShard> = {
    name: "judge",
    model: net,
    taskUrl: new URL("./_judge_task.ts", import.meta.url).href,
    config,
    batchAt: (step) =>
      batchIndicesAt(config.trainCount, { batchSize: config.batchSize, seed: config.seed }, step),
    split(indices, count) {
      let start = 0;
      return shardSizes(indices.length, count).map((size) => {
        const part = indices.slice(start, start + size);
        start += size;
        const images = imagesToTensor(data.images, part);
        const shard: JudgeShard = {
          images: images.dataSync() as Float32Array,
          count: size,
          labels: Object.fromEntries(
            HEAD_NAMES.map((h) => [h, Int32Array.from(part, (i) => labels[h][i])]),
          ),
          regions: Int32Array.from(part, (i) => labels.region[i]),
        };
        images.dispose();
        return shard;
      });
    },
    unit: "images",
    size: (indices) => indices.length,
    stepOptions: (): JudgeStepOptions => ({
      blurFraction: config.blurFraction,
      noiseStd: config.noiseStd,
    }),
    metrics: (values) => ({ loss: values.reduce((sum, v) => sum + v.loss[0], 0) }),
  };
  let lossSum = 0, lossCount = 0;
  const run = await train(spec, {
    steps: config.steps,
    seed: config.seed,
    lr: cosine(config.lr, config.lr * 0.02, config.steps),
    adamw: { weightDecay: config.weightDecay },
    workers: 1,
    onStep(row) {
      lossSum += row.loss as number;
      lossCount++;
      const step = (row.step as number) + 1;
      if (step % 250 === 0 || step === config.steps) {
        const seconds = (performance.now() - started) / 1000;
        onProgress(
          `judge: step ${step}/${config.steps} loss ${(lossSum / lossCount).toFixed(4)} ` +
            `(${seconds.toFixed(0)} s)`,
        );
        lossSum = 0;
        lossCount = 0;
      }
    },
  });
  run.dispose();
  return net;
}
