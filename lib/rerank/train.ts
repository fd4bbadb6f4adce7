/**
 * Training the reranker through lib/nn's one trainer (`train`): batches of train-split pairs
 * drawn by `batchIndicesAt` (a pure function of the seed and the step, so a resumed run sees the
 * same batches), AdamW with CLIP's settings, linear warm-up then cosine decay of the step size,
 * any number of workers, checkpoints and exact resume.
 *
 * With `workers > 1` each worker's contrastive negatives are its own shard's pairs (see
 * `_grad_task.ts`): the loss is then not the one-process loss, and results depend on the count.
 *
 * With `nearMissWeight` > 0 each image's own near misses (drawn once by `rerankData`) join its
 * negatives too (NegCLIP): they travel with the image, so they are the same on any worker count.
 *
 * @module
 */
import { batchIndicesAt } from "../data/mod.ts";
import {
  type ModelDefaults,
  type ModelTrainOptions,
  shardSizes,
  train,
  trainOptionsOf,
  type TrainResult,
  type TrainSpec,
} from "../nn/mod.ts";
import { defaultWorkers, ensureBackend } from "../backend/mod.ts";
import type { RerankShard } from "./_grad_task.ts";
import { assertTrainable, type RerankData } from "./data.ts";
import type { Reranker } from "./model.ts";

/** One training batch: pairs `indices` of the data, as the task's arrays. */
export interface RerankBatch {
  /** Rows of the data in this batch (what the trainer saw). */
  indices: number[];
  /** (B, S, S, 3) pixels in [0, 1], row-major. */
  images: Float32Array;
  /** (B, textLen) ids, row-major. */
  ids: Int32Array;
  /** (B, K, textLen) ids of each pair's near misses; null at near-miss weight 0. */
  nearMissIds: Int32Array | null;
}

/**
 * Options of {@link trainReranker}: the shared ones ({@link ModelTrainOptions}) with CLIP's
 * defaults where it gives one (lr 1e-3, β1 0.9, β2 0.98, ε 1e-6, weight decay 0.1, no clipping),
 * and the reranker's own. With `workers` > 1 each shard's negatives are its own pairs.
 */
export interface TrainRerankerOptions extends ModelTrainOptions {
  /** Pairs per step (each pair's negatives are the batch's other pairs). @default 128 */
  batchSize?: number;
  /** Called with every batch before its step (e.g. to inspect what the trainer saw). @default none */
  onBatch?: (batch: RerankBatch, step: number) => void;
  /**
   * Weight of the near-miss term (NegCLIP's hard negatives; see lib/rerank's `nearMissTerms`):
   * each image also picks its caption among the batch's captions and the data's K near misses of
   * it (`rerankData({ nearMisses: K })`), and that cross-entropy × this weight joins each pair's
   * loss. 0 trains on CLIP's loss alone and ignores the data's near misses.
   * @default 0
   */
  nearMissWeight?: number;
  /**
   * Rows come in groups of this many consecutive rows that always share a batch and a worker
   * (lib/data's `withNearMissTwins` puts each scene's near-miss twin after it: 2), so each
   * caption meets its twin's image as a negative, and each image its twin's caption. The batch
   * size and the data's count must be multiples of it.
   * @default 1
   */
  groupSize?: number;
}

/** CLIP's settings where it gives one. */
const RERANK_DEFAULTS: ModelDefaults = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-6,
  weightDecay: 0.1,
  clipNorm: Infinity,
};

/** Throws unless the data fits the model (ids, vocabulary, image size). */
function checkDataFits(model: Reranker, data: RerankData): void {
  const c = model.config;
  if (data.textLen !== c.textLen || data.textVocab !== c.textVocab || data.padId !== c.padId) {
    throw new RangeError(
      `the data's captions (textLen ${data.textLen}, vocabulary ${data.textVocab}, pad ` +
        `${data.padId}) do not fit the reranker (textLen ${c.textLen}, vocabulary ` +
        `${c.textVocab}, pad ${c.padId}): build it from the same tokenizer and textLen`,
    );
  }
  const { height, width, channels } = data.images;
  if (height !== c.imageSize || width !== c.imageSize || channels !== 3) {
    throw new RangeError(
      `the data's images are ${height}×${width}×${channels}, the reranker takes ` +
        `${c.imageSize}×${c.imageSize}×3`,
    );
  }
  for (let i = 0; i < data.ids.length; i++) {
    if (data.ids[i] < 0 || data.ids[i] >= c.textVocab) {
      throw new RangeError(
        `the data's caption ${Math.floor(i / c.textLen)} holds id ${data.ids[i]}, outside ` +
          `[0, ${c.textVocab})`,
      );
    }
  }
}

/**
 * Trains the reranker on train-split pairs. Rows: `step, loss` (symmetric InfoNCE, nats; ln of
 * the shard's pair count at chance; plus the weighted near-miss term when `nearMissWeight` > 0),
 * `logit_scale` (the scale applied), `near_miss_loss` (only when `nearMissWeight` > 0: the
 * unweighted near-miss term, ln(B + K) at chance), then the trainer's `lr, grad_norm, skipped,
 * skipped_steps, bytes_sent, pairs_per_sec, step_ms`. The run's config records
 * `nearMissWeight` and `nearMisses` (K used; 0 at weight 0).
 *
 * @param model The reranker (trained in place).
 * @param data From {@link rerankData}: must be the "train" split with no held-out composition.
 * @param options Steps, batch size, step size schedule, AdamW settings, workers, logging,
 *   checkpoints.
 * @returns The trainer's result: rows, counters, the optimiser (call `dispose()` when done).
 * @throws {RangeError} Data of another split or holding a held-out pair (before any work), data
 *   that does not fit the model, a batch too small for the workers, a near-miss weight that is
 *   negative or that the data has no near misses for.
 * @example
 * ```ts
 * import { createReranker, rerankData, trainReranker } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * import { BpeTokenizer } from "../tokenizer/mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const set = await makeShapes({ count: 32, seed: 0, split: "train", cache: false });
 * const tokenizer = BpeTokenizer.train(set.captions, { vocabSize: 300 });
 * const data = rerankData({ ...set, tokenizer });
 * const model = createReranker({ textLen: data.textLen, textVocab: tokenizer.vocabSize });
 * const run = await trainReranker(model, data, { steps: 2, batchSize: 16, workers: 1 });
 * console.log(run.rows.length); // 2
 * run.dispose(); model.dispose();
 * ```
 */
export async function trainReranker(
  model: Reranker,
  data: RerankData,
  options: TrainRerankerOptions,
): Promise<TrainResult> {
  assertTrainable(data);
  checkDataFits(model, data);
  const steps = options.steps;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`steps must be an integer ≥ 0, got ${steps}`);
  }
  const batchSize = options.batchSize ?? 128;
  await ensureBackend(); // defaultWorkers() depends on the backend in use
  const workers = options.workers ?? defaultWorkers();
  const count = data.images.count;
  if (!Number.isInteger(batchSize) || batchSize > count || batchSize < 2 * workers) {
    throw new RangeError(
      `batchSize must be an integer in [${2 * workers}, ${count}] (at least 2 pairs per worker, ` +
        `at most the data's ${count}), got ${batchSize}`,
    );
  }
  const nearMissWeight = options.nearMissWeight ?? 0;
  if (!(nearMissWeight >= 0 && Number.isFinite(nearMissWeight))) {
    throw new RangeError(`nearMissWeight must be a finite number ≥ 0, got ${nearMissWeight}`);
  }
  const K = nearMissWeight > 0 ? data.nearMisses : 0;
  if (nearMissWeight > 0 && (K === 0 || data.nearMissIds === null)) {
    throw new RangeError(
      `nearMissWeight ${nearMissWeight} needs near misses in the data: build it with ` +
        `rerankData({ ..., nearMisses: K })`,
    );
  }
  const groupSize = options.groupSize ?? 1;
  if (
    !Number.isInteger(groupSize) || groupSize < 1 || batchSize % groupSize !== 0 ||
    count % groupSize !== 0 || batchSize / groupSize < 2 * workers
  ) {
    throw new RangeError(
      `groupSize must be a positive integer that divides the batch size (${batchSize}) and the ` +
        `data's count (${count}), leaving at least 2 groups per worker, got ${groupSize}`,
    );
  }
  const seed = options.seed ?? 0;
  const { textLen: T, imageSize: S } = model.config;
  const pixels = S * S * 3;
  const spec: TrainSpec<RerankBatch, RerankShard> = {
    name: "reranker",
    model,
    taskUrl: new URL("./_grad_task.ts", import.meta.url).href,
    config: model.config,
    batchAt(step) {
      const groups = batchIndicesAt(
        count / groupSize,
        { batchSize: batchSize / groupSize, seed },
        step,
      );
      const indices = groups.flatMap((g) =>
        Array.from({ length: groupSize }, (_, k) => g * groupSize + k)
      );
      const images = new Float32Array(batchSize * pixels);
      const ids = new Int32Array(batchSize * T);
      const nearMissIds = K > 0 ? new Int32Array(batchSize * K * T) : null;
      indices.forEach((index, k) => {
        const bytes = data.images.data.subarray(index * pixels, (index + 1) * pixels);
        for (let i = 0; i < pixels; i++) images[k * pixels + i] = bytes[i] / 255;
        ids.set(data.ids.subarray(index * T, (index + 1) * T), k * T);
        const near = data.nearMissIds?.subarray(index * K * T, (index + 1) * K * T);
        if (nearMissIds && near) nearMissIds.set(near, k * K * T);
      });
      const batch = { indices, images, ids, nearMissIds };
      options.onBatch?.(batch, step);
      return batch;
    },
    split(batch, shards) {
      let start = 0;
      // Whole groups per shard: a twin is a negative only beside its original.
      return shardSizes(batch.indices.length / groupSize, shards).map((groupRows) => {
        const rows = groupRows * groupSize;
        const shard: RerankShard = {
          images: batch.images.slice(start * pixels, (start + rows) * pixels),
          ids: batch.ids.slice(start * T, (start + rows) * T),
          rows,
          textLen: T,
          imageSize: S,
          nearMissIds: batch.nearMissIds?.slice(start * K * T, (start + rows) * K * T) ?? null,
          nearMisses: K,
          nearMissWeight,
        };
        start += rows;
        return shard;
      });
    },
    unit: "pairs",
    size: (batch) => batch.indices.length,
    metrics(values) {
      const row: Record<string, number> = {
        loss: values.reduce((sum, v) => sum + v.parts[0], 0),
        logit_scale: values[0].parts[1],
      };
      // Only runs that train on near misses have the column, so other runs' rows stay as they were.
      if (K > 0) row.near_miss_loss = values.reduce((sum, v) => sum + v.parts[2], 0);
      return row;
    },
  };
  const {
    batchSize: _batchSize,
    onBatch: _onBatch,
    nearMissWeight: _nearMissWeight,
    groupSize: _groupSize,
    ...shared
  } = options;
  const trainOptions = trainOptionsOf({ ...shared, workers }, RERANK_DEFAULTS);
  return await train(spec, {
    ...trainOptions,
    runConfig: {
      ...trainOptions.runConfig,
      batchSize,
      nearMissWeight,
      nearMisses: K,
      groupSize,
    },
  });
}
