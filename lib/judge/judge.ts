/**
 * The shapes judge as an object: `read` runs its network once over a batch of images and returns
 * the scenes it sees; `createShapesJudge` loads its cached weights or trains them once.
 *
 * What a caller does with the scenes (does each show its caption, which attributes are right, how
 * accurate the judge is) is pure functions in score.ts, so one read serves every score.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBackend, tf } from "../backend/mod.ts";
import { loadWeights, saveWeights } from "../nn/mod.ts";
import { readFileOrNull } from "../io/mod.ts";
import {
  type Colour,
  COLOURS,
  defaultCacheDir,
  type ImageBatch,
  imagesToTensor,
  type Scene,
  type Shape,
  SHAPES,
  SHAPES_GENERATOR_VERSION,
  type Size,
  SIZES,
} from "../data/mod.ts";
import { judgeInput } from "./_input.ts";
import {
  DEFAULT_JUDGE_CONFIG,
  type Head,
  HEAD_NAMES,
  JUDGE_VERSION,
  type JudgeConfig,
  JudgeNet,
} from "./_net.ts";
import { trainJudgeNet } from "./_train.ts";

export { DEFAULT_JUDGE_CONFIG, JUDGE_VERSION, type JudgeConfig } from "./_net.ts";

/** Images per forward pass: bounds the activations a large batch holds at once. */
const CHUNK = 256;

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
   * or null). The network runs once per image (in chunks of 256); score what it read with
   * `agreement`, `captionAgreement` or `judgeAccuracy`.
   *
   * @param images 32×32 RGB images (bytes or a `[n, 32, 32, 3]` tensor in [0, 1], not disposed).
   * @returns One scene per image.
   * @throws {RangeError | TypeError} Images of another size, rank, dtype or value range, checked
   *   before any is read (`the judge reads 32×32×3 images, got 28×28×1`).
   * @example
   * ```ts
   * import { agreement, createShapesJudge, judgeAccuracy } from "./mod.ts";
   * import { makeShapes } from "../data/mod.ts";
   * const judge = await createShapesJudge();
   * const set = await makeShapes({ count: 4, split: "test", seed: 9, cache: false });
   * const read = judge.read(set.images);
   * console.log(read[0]); // { objects: [...], relation: ... }
   * console.log(agreement(set.captions, read), judgeAccuracy(set.attributes, read).scenes);
   * judge.dispose();
   * ```
   */
  read(images: ImageBatch | tf.Tensor): Scene[] {
    const batch = judgeInput(images);
    const scenes: Scene[] = [];
    for (let start = 0; start < batch.count; start += CHUNK) {
      const indices = Array.from(
        { length: Math.min(CHUNK, batch.count - start) },
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

  /** Frees the weights. */
  dispose(): void {
    this.#net.dispose();
  }
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

/**
 * Where the judge's weights shipped with the toolkit lie (lib/judge/weights/; default config
 * only). When JUDGE_VERSION or the shapes generator changes, retrain
 * (`createShapesJudge({ retrain: true })`) and copy the cache file there: a test fails until then.
 *
 * @param config The judge's configuration.
 * @returns The file's path, or null for a config other than the default (or a non-file URL).
 * @example
 * ```ts
 * import { shippedWeightsPath } from "./mod.ts";
 * console.log(shippedWeightsPath()?.endsWith(".safetensors")); // true
 * ```
 */
export function shippedWeightsPath(config: JudgeConfig = DEFAULT_JUDGE_CONFIG): string | null {
  if (JSON.stringify(config) !== JSON.stringify(DEFAULT_JUDGE_CONFIG)) return null;
  const url = new URL(`./weights/judge_v${JUDGE_VERSION}.safetensors`, import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : null;
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
 * The shapes judge: loads the cached weights, else the weights shipped with the toolkit (so every
 * clone measures with the same instrument), else trains them once (1–3 minutes) and caches them.
 * A weights file records the configuration and the shapes generator version it was trained for;
 * one that does not match is passed over.
 *
 * @param options See `JudgeOptions`.
 * @returns A ready judge (dispose it when done).
 * @example
 * ```ts
 * import { createShapesJudge } from "./mod.ts";
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
  // The cache first (a judge retrained here), then the weights shipped with the toolkit, so every
  // clone measures with the same instrument unless it retrains on purpose.
  const candidates = options.retrain ? [] : [path, shippedWeightsPath(config)].filter(
    (p): p is string => p !== null,
  );
  for (const candidate of candidates) {
    if ((await readFileOrNull(candidate)) === null) continue;
    const net = new JudgeNet(config);
    // Unreadable or stale weights are passed over (or retrained over), and the message says why.
    try {
      const metadata = await loadWeights(candidate, net);
      const stale = Object.entries(wanted).find(([k, v]) => metadata[k] !== v);
      if (!stale) return new ShapesJudge(net, config);
      onProgress(`judge: ${candidate} was trained with another ${stale[0]}; not used`);
    } catch (err) {
      onProgress(`judge: ${candidate} cannot be read (${(err as Error).message}); not used`);
    }
    net.dispose();
  }
  const net = await trainJudgeNet(config, onProgress);
  await saveWeights(path, net, wanted);
  return new ShapesJudge(net, config);
}
