/**
 * A classifier for Fashion-MNIST, the judge of the real-image benchmark: it reads 32×32 RGB images
 * (lib/data's `toRgb32` of the data set, or what a pipeline trained on it draws) into one of the
 * ten classes, and gives the penultimate features the Fréchet distance compares. Trained once
 * through lib/nn's trainer on the 60,000 training images (a minute or two on our 2-core machine),
 * shipped in lib/judge/weights/ so every clone measures with the same instrument.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBackend, tf } from "../backend/mod.ts";
import {
  batchIndicesAt,
  defaultCacheDir,
  type ImageBatch,
  imagesToTensor,
  loadFashionMnist,
  toRgb32,
} from "../data/mod.ts";
import { readFileOrNull } from "../io/mod.ts";
import { cosine, loadWeights, saveWeights, shardSlices, train } from "../nn/mod.ts";
import {
  DEFAULT_FASHION_CLASSIFIER_CONFIG,
  FASHION_CLASSIFIER_VERSION,
  type FashionClassifierConfig,
  FashionNet,
} from "./_fashion_net.ts";
import type { FashionShard } from "./_fashion_task.ts";

export {
  DEFAULT_FASHION_CLASSIFIER_CONFIG,
  FASHION_CLASSIFIER_VERSION,
  type FashionClassifierConfig,
} from "./_fashion_net.ts";
import { lossProgress } from "./_progress.ts";

/** Images per forward pass. */
const CHUNK = 256;

/** What {@link FashionClassifier.read} returns. */
export interface FashionReading {
  /** The class of each image, 0…9 (lib/data's `FASHION_MNIST_CLASSES`). */
  labels: Int32Array;
  /** The feature layer's activations, `count × dim` row-major. */
  features: Float32Array;
  /** Images read. */
  count: number;
  /** Features per image. */
  dim: number;
}

/** A trained classifier; `dispose()` frees its weights. */
export class FashionClassifier {
  #net: FashionNet;
  /** The configuration it was trained with. */
  readonly config: FashionClassifierConfig;

  /** Use {@link createFashionClassifier}; this wraps a trained network. */
  constructor(net: FashionNet, config: FashionClassifierConfig) {
    this.#net = net;
    this.config = config;
  }

  /**
   * Classifies images and returns their features.
   *
   * @param images 32×32×3 bytes, or a `(n, 32, 32, 3)` float32 tensor in [0, 1] (not disposed).
   * @returns Classes and features, in the images' order.
   * @throws {RangeError} Images of another shape, or none.
   */
  read(images: ImageBatch | tf.Tensor): FashionReading {
    const count = images instanceof tf.Tensor ? images.shape[0] : images.count;
    const [h, w, c] = images instanceof tf.Tensor
      ? images.shape.slice(1)
      : [images.height, images.width, images.channels];
    if (h !== 32 || w !== 32 || c !== 3 || !count) {
      throw new RangeError(
        `the Fashion-MNIST classifier reads 32×32×3 images (toRgb32), got ${count ?? 0} of ` +
          `${h}×${w}×${c}`,
      );
    }
    const dim = this.config.features;
    const labels = new Int32Array(count), features = new Float32Array(count * dim);
    for (let start = 0; start < count; start += CHUNK) {
      const n = Math.min(CHUNK, count - start);
      const [classes, feats] = tf.tidy(() => {
        const x = images instanceof tf.Tensor
          ? images.slice(start, n) as tf.Tensor4D
          : imagesToTensor(images, Array.from({ length: n }, (_, k) => start + k));
        const out = this.#net.apply(x);
        return [out.logits.argMax(1), out.features];
      });
      labels.set(classes.dataSync() as Int32Array, start);
      features.set(feats.dataSync() as Float32Array, start * dim);
      tf.dispose([classes, feats]);
    }
    return { labels, features, count, dim };
  }

  /** Frees the weights. */
  dispose(): void {
    this.#net.dispose();
  }
}

/** Options of {@link createFashionClassifier}. */
export interface FashionClassifierOptions {
  /** Folder of the cached weights. @default "<repo>/data/cache" */
  cacheDir?: string;
  /** Train even when weights exist (and cache the new ones). @default false */
  retrain?: boolean;
  /** Progress while training. @default console.log */
  onProgress?: (message: string) => void;
}

/**
 * Where the classifier's shipped weights lie (lib/judge/weights/).
 *
 * @returns The file's path, or null for a non-file URL.
 */
export function shippedFashionWeightsPath(): string | null {
  const url = new URL(
    `./weights/fashion_v${FASHION_CLASSIFIER_VERSION}.safetensors`,
    import.meta.url,
  );
  return url.protocol === "file:" ? fileURLToPath(url) : null;
}

/**
 * The Fashion-MNIST classifier: the cached weights, else the shipped ones, else trained once and
 * cached (see the module note). A file trained with another configuration or version is passed
 * over, saying why.
 *
 * @param options See {@link FashionClassifierOptions}.
 * @returns A ready classifier (dispose it when done).
 * @example
 * ```ts ignore
 * import { createFashionClassifier } from "./mod.ts";
 * import { loadFashionMnist, toRgb32 } from "../data/mod.ts";
 * const classifier = await createFashionClassifier();
 * const test = await loadFashionMnist({ split: "test", limit: 100 });
 * const { labels } = classifier.read(toRgb32(test.images));
 * console.log(labels.filter((l, i) => l === test.labels[i]).length); // ≈ 90
 * classifier.dispose();
 * ```
 */
export async function createFashionClassifier(
  options: FashionClassifierOptions = {},
): Promise<FashionClassifier> {
  await ensureBackend();
  const config = { ...DEFAULT_FASHION_CLASSIFIER_CONFIG };
  const cached = join(
    options.cacheDir ?? defaultCacheDir(),
    `fashion_v${FASHION_CLASSIFIER_VERSION}.safetensors`,
  );
  const wanted = { version: String(FASHION_CLASSIFIER_VERSION), config: JSON.stringify(config) };
  const onProgress = options.onProgress ?? console.log;
  const candidates = options.retrain ? [] : [cached, shippedFashionWeightsPath()];
  for (const candidate of candidates) {
    if (candidate === null || (await readFileOrNull(candidate)) === null) continue;
    const net = new FashionNet(config);
    try {
      const metadata = await loadWeights(candidate, net);
      const stale = Object.entries(wanted).find(([k, v]) => metadata[k] !== v);
      if (!stale) return new FashionClassifier(net, config);
      onProgress(`fashion classifier: ${candidate} has another ${stale[0]}; not used`);
    } catch (err) {
      onProgress(`fashion classifier: ${candidate} cannot be read (${(err as Error).message})`);
    }
    net.dispose();
  }
  const net = await trainFashionNet(config, onProgress);
  await saveWeights(cached, net, wanted);
  return new FashionClassifier(net, config);
}

/** Trains a fresh network on the 60,000 training images (one process, seeded batches). */
async function trainFashionNet(
  config: FashionClassifierConfig,
  onProgress: (message: string) => void,
): Promise<FashionNet> {
  // Its clock starts here, so the seconds in its lines count the data's making too.
  const onStep = lossProgress("fashion classifier", config.steps, 200, onProgress);
  const data = await loadFashionMnist({ split: "train" });
  const images = toRgb32(data.images);
  const net = new FashionNet(config);
  onProgress(`fashion classifier: training on ${images.count} images for ${config.steps} steps`);
  const run = await train<number[], FashionShard>({
    name: "fashion_classifier",
    model: net,
    taskUrl: new URL("./_fashion_task.ts", import.meta.url).href,
    config,
    batchAt: (step) =>
      batchIndicesAt(images.count, { batchSize: config.batchSize, seed: config.seed }, step),
    split: (indices, count) =>
      shardSlices(indices, count).map((part) => {
        const x = imagesToTensor(images, part);
        const shard = {
          images: x.dataSync() as Float32Array,
          count: part.length,
          labels: Int32Array.from(part, (i) => data.labels[i]),
        };
        x.dispose();
        return shard;
      }),
    unit: "images",
    size: (indices) => indices.length,
    stepOptions: () => ({}),
    metrics: (values) => ({ loss: values.reduce((sum, v) => sum + v.loss[0], 0) }),
  }, {
    steps: config.steps,
    seed: config.seed,
    lr: cosine(config.lr, config.lr * 0.02, config.steps),
    adamw: { weightDecay: config.weightDecay },
    workers: 1,
    onStep,
  });
  run.dispose();
  return net;
}
