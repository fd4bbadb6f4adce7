/**
 * A seeded, shuffling batch iterator over any captioned dataset of lib/data.
 *
 * Ownership: the iterator owns the tensors it yields. A batch's `images` tensor stays valid until
 * the loop asks for the next batch, and is disposed then (or when the loop ends, `break` and
 * exceptions included). So a plain `for (const batch of batches(...))` never leaks; a consumer
 * that wants to keep a batch beyond its iteration must `tf.clone` it (and dispose the clone).
 *
 * @module
 */
import type { tf } from "../backend/mod.ts";
import { Mulberry32, Rng } from "../io/mod.ts";
import { type CaptionedImages, imagesToTensor } from "./image_batch.ts";

/** Options for `batches`. */
export interface BatchOptions {
  /** Images per batch. */
  batchSize: number;
  /** Seed of the shuffle; the same seed gives the same order. @default 0 */
  seed?: number;
  /** Passes over the data (each reshuffled). @default 1 */
  epochs?: number;
  /** Shuffle at all (false: dataset order every epoch). @default true */
  shuffle?: boolean;
  /** Leave out each epoch's last batch when it is smaller than `batchSize`. @default false */
  dropLast?: boolean;
}

/** One batch: images as floats in [0, 1], NHWC, and what describes them. */
export interface Batch {
  /** `[n, height, width, channels]` float32 in [0, 1]; disposed when the iterator advances. */
  images: tf.Tensor4D;
  /** `captions[k]` describes image k. */
  captions: string[];
  /** Indices of the images in the dataset. */
  indices: number[];
  /** 0-based epoch. */
  epoch: number;
  /** 0-based batch number within the epoch. */
  step: number;
}

/**
 * The order images are visited in: one shuffled permutation per epoch (Fisher–Yates).
 *
 * @param count Dataset size.
 * @param options `seed`, `epochs`, `shuffle` as for `batches`.
 * @returns One index list per epoch.
 * @example
 * ```ts
 * import { epochOrders } from "./batches.ts";
 * console.log(epochOrders(4, { seed: 1, epochs: 2 }).map((o) => o.slice().sort().join())); // ["0,1,2,3", "0,1,2,3"]
 * ```
 */
export function epochOrders(
  count: number,
  options: { seed?: number; epochs?: number; shuffle?: boolean } = {},
): number[][] {
  const { seed = 0, epochs = 1, shuffle = true } = options;
  const rng = Mulberry32.data(seed);
  return Array.from({ length: epochs }, () => {
    const order = Array.from({ length: count }, (_, i) => i);
    if (!shuffle) return order;
    for (let i = count - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  });
}

/**
 * Yields shuffled batches of a dataset as float tensors; see the module note on ownership.
 * Start a backend first (`await ensureBackend()`), as any lib entry point does.
 *
 * @param dataset Anything with `images` (an `ImageBatch`) and `captions`.
 * @param options See `BatchOptions`.
 * @returns A generator of `{ images, captions, indices, epoch, step }`.
 * @example
 * ```ts
 * import { batches } from "./batches.ts";
 * import { makeShapes } from "./shapes.ts";
 * import { ensureBackend } from "../backend/mod.ts";
 * await ensureBackend();
 * const set = await makeShapes({ count: 10, cache: false });
 * for (const batch of batches(set, { batchSize: 4, seed: 0 })) {
 *   console.log(batch.images.shape, batch.captions.length); // [4, 32, 32, 3] 4 … then [2, 32, 32, 3] 2
 * }
 * ```
 */
export function* batches(dataset: CaptionedImages, options: BatchOptions): Generator<Batch> {
  const { batchSize, epochs = 1, dropLast = false } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isInteger(epochs) || epochs < 0) {
    throw new RangeError(`epochs must be a non-negative integer, got ${epochs}`);
  }
  const { images, captions } = dataset;
  if (captions.length !== images.count) {
    throw new RangeError(`dataset has ${images.count} images but ${captions.length} captions`);
  }
  const orders = epochOrders(images.count, options);
  let current: tf.Tensor | null = null;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = orders[epoch];
      for (let start = 0, step = 0; start < order.length; start += batchSize, step++) {
        const indices = order.slice(start, start + batchSize);
        if (dropLast && indices.length < batchSize) break;
        current?.dispose();
        current = imagesToTensor(images, indices);
        yield {
          images: current as tf.Tensor4D,
          captions: indices.map((i) => captions[i]),
          indices,
          epoch,
          step,
        };
      }
    }
  } finally {
    current?.dispose();
  }
}

/** Options of {@link batchIndicesAt}. */
export interface BatchAtOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Seed of the epochs' shuffles. @default 0 */
  seed?: number;
}

let lastEpoch: { key: string; order: Int32Array } | null = null;

/**
 * The dataset indices of training step `step`: epochs of ⌊count / batchSize⌋ full batches, each
 * epoch a permutation drawn from its own seeded stream. A pure function of (count, batchSize,
 * seed, step), so a resumed run draws the batches an uninterrupted one would.
 *
 * @param count Examples in the dataset.
 * @param options `batchSize` and `seed`.
 * @param step The training step.
 * @returns `batchSize` indices.
 * @example
 * ```ts
 * import { batchIndicesAt } from "./batches.ts";
 * const a = batchIndicesAt(10, { batchSize: 4, seed: 1 }, 0);
 * const b = batchIndicesAt(10, { batchSize: 4, seed: 1 }, 1);
 * console.log(a.length, new Set([...a, ...b]).size); // 4 8: one epoch never repeats an example
 * ```
 */
export function batchIndicesAt(count: number, options: BatchAtOptions, step: number): number[] {
  const { batchSize, seed = 0 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > count) {
    throw new RangeError(`batchSize must be an integer in [1, ${count}], got ${batchSize}`);
  }
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`step must be an integer ≥ 0, got ${step}`);
  }
  const perEpoch = Math.floor(count / batchSize);
  const epoch = Math.floor(step / perEpoch);
  const key = `${count}/${seed}/${epoch}`;
  if (lastEpoch?.key !== key) {
    const rng = Rng.stream("data/epoch", seed, epoch);
    const order = Int32Array.from({ length: count }, (_, i) => i);
    for (let i = count - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    lastEpoch = { key, order };
  }
  const start = (step % perEpoch) * batchSize;
  return Array.from(lastEpoch.order.subarray(start, start + batchSize));
}
