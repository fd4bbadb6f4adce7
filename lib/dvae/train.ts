/**
 * Training the dVAE: the paper's β/τ/step-size schedules and AdamW with an EMA of the weights,
 * through lib/nn's one trainer (`train`): any number of workers, any gradient reducer, non-finite
 * steps skipped and counted, checkpoints and exact resume.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { checkOptionKeys, concatInt32, Rng } from "../io/mod.ts";
import { RunLog } from "../log/mod.ts";
import type { MetricsRow } from "../log/mod.ts";
import {
  checkAdamWOptions,
  constant,
  type PoolTimeouts,
  type ReducerSpec,
  type Schedule,
  shardSizes,
  train,
  type TrainResult,
  type TrainSpec,
} from "../nn/mod.ts";
import { codebookUsage } from "./codebook.ts";
import type { Dvae } from "./model.ts";
import type { DvaeStepOptions, ImageShard } from "./_grad_task.ts";
import { paperDvaeSchedules } from "./schedules.ts";

/**
 * Training images: a tensor holding the whole set `(N, S, S, C)` in [0, 1] (step s draws a batch
 * of `batchSize` with a generator seeded by the run's seed and s), or a function giving the batch
 * of a step (a new tensor the trainer frees), such as `(step) => imagesToTensor(images,
 * batchIndicesAt(...))` with lib/data. Either way a resumed run sees the same batches.
 */
export type DvaeData =
  | tf.Tensor4D
  | ((step: number) => tf.Tensor4D | Promise<tf.Tensor4D>);

/** Options of {@link trainDvae}. */
export interface TrainDvaeOptions {
  /** Total optimiser steps of the run (a resumed run continues up to this). */
  steps: number;
  /**
   * Images per step when `data` is a tensor: at most its image count.
   * @default 32, or every image when the data holds fewer
   */
  batchSize?: number;
  /** KL weight β, a number or a schedule. @default the paper's, scaled: cosine 0 → 6.6 over steps·5000/3e6 */
  beta?: number | Schedule;
  /** Gumbel-softmax temperature τ. @default the paper's, scaled: cosine 1 → 1/16 over steps·150000/3e6 */
  tau?: number | Schedule;
  /** AdamW step size. @default the paper's, scaled: cosine 1e-4 → 1.25e-6 over steps·1.2e6/3e6 */
  lr?: number | Schedule;
  /** Decoupled weight decay (the paper's). @default 1e-4 */
  weightDecay?: number;
  /**
   * Decay of the EMA of the weights. The paper's 0.999 would, in a short run, still hold much of
   * the initial weights (0.999^2000 ≈ 14%), so the default is min(0.999, 1 − 10/steps).
   * @default min(0.999, 1 − 10/steps)
   */
  emaDecay?: number;
  /** Clip the global gradient norm to this. @default Infinity (no clipping; norms are still checked) */
  clipNorm?: number;
  /**
   * Weight of KL(q̄ ‖ uniform), the batch's average posterior against the uniform prior (see
   * `dvaeObjective`'s `marginalKlWeight`; not in the paper), a number or a schedule. @default 0
   */
  marginalKlWeight?: number | Schedule;
  /**
   * Weight of the mutual-information bonus (see `dvaeObjective`'s `infoWeight`; not in the paper),
   * a number or a schedule. @default 0
   */
  infoWeight?: number | Schedule;
  /** Straight-through one-hot samples instead of soft ones. @default false */
  straightThrough?: boolean;
  /**
   * Processes computing gradients: the batch is split into this many shards, one computed here
   * and the others in Deno Workers. Shards draw their own Gumbel noise and compute the marginal
   * KL over their own cells, so runs with different worker counts differ slightly.
   * @default defaultWorkers(): 1 on tensorflow, one per core on wasm
   */
  workers?: number;
  /** How the shards' gradients combine (lib/nn `meanReducer`, lib/powersgd `powerSgd`…). @default mean */
  reducer?: ReducerSpec;
  /** Run each step as TensorFlow calls (lib/nn's `train`). @default true where the backend can trace */
  compile?: boolean;
  /** Train on dequantised pixels (see `dequantize`): the bound then ignores exact repeats. @default false */
  dequantize?: boolean;
  /** Seed of batch draws and Gumbel noise (each step derives its own from it). @default 0 */
  seed?: number;
  /** Where rows go; an in-memory log with a progress line every 50 steps when omitted. */
  log?: RunLog;
  /** Checkpoint file. @default `<log.dir>/checkpoint.safetensors` when the log writes */
  checkpointPath?: string;
  /** Steps between checkpoints (0: only at the end). @default 0 */
  checkpointEvery?: number;
  /** Resume from the checkpoint when the file exists. @default false */
  resume?: boolean;
  /** Stop after this many consecutive skipped steps. @default 20 */
  maxConsecutiveSkips?: number;
  /** Time limits of the gradient workers. */
  timeouts?: PoolTimeouts;
  /** Called with each row (e.g. to update a live plot). */
  onStep?: (row: MetricsRow) => void | Promise<void>;
}

/** Every key of {@link TrainDvaeOptions}: a key not listed here is an error (a misspelt `bta`). */
const TRAIN_DVAE_KEYS: Record<keyof TrainDvaeOptions, true> = {
  steps: true,
  batchSize: true,
  beta: true,
  tau: true,
  lr: true,
  weightDecay: true,
  emaDecay: true,
  clipNorm: true,
  marginalKlWeight: true,
  infoWeight: true,
  straightThrough: true,
  workers: true,
  reducer: true,
  compile: true,
  dequantize: true,
  seed: true,
  log: true,
  checkpointPath: true,
  checkpointEvery: true,
  resume: true,
  maxConsecutiveSkips: true,
  timeouts: true,
  onStep: true,
};

/** What {@link trainDvae} hands back: the trainer's result and the log the rows went to. */
export interface DvaeTrainResult extends TrainResult {
  /** The log the rows went to. */
  log: RunLog;
}

function asSchedule(value: number | Schedule | undefined, fallback: Schedule): Schedule {
  if (value === undefined) return fallback;
  return typeof value === "number" ? constant(value) : value;
}

/** The batch of `step` from a tensor dataset: `batchSize` images drawn with replacement. */
function drawBatch(data: tf.Tensor4D, batchSize: number, seed: number, step: number): tf.Tensor4D {
  const n = data.shape[0];
  if (batchSize >= n) return data.clone();
  const rng = Rng.stream("dvae/batch", seed, step);
  const indices = Array.from({ length: batchSize }, () => rng.int(n));
  return tf.tidy(() => tf.gather(data, indices));
}

/** Images the model cannot take are an error before any step (and any file) is made. */
function checkImages(model: Dvae, images: tf.Tensor, what: string): void {
  const { imageSize: size, channels } = model.config;
  const [, h, w, c] = images.shape;
  if (images.rank !== 4 || h !== size || w !== size || c !== channels) {
    throw new RangeError(
      `dVAE ${what}: expected images (N, ${size}, ${size}, ${channels}), got (${images.shape})`,
    );
  }
  if (images.dtype !== "float32") {
    throw new TypeError(`dVAE ${what}: expected float32 images in [0, 1], got ${images.dtype}`);
  }
}

/** Splits a batch into image shards (what the task receives, here and in workers). */
function splitImages(images: tf.Tensor4D, count: number): ImageShard[] {
  const values = images.dataSync() as Float32Array;
  const [b, h, w, c] = images.shape;
  const per = h * w * c;
  let start = 0;
  return shardSizes(b, count).map((size) => {
    const shard: ImageShard = {
      images: values.slice(start * per, (start + size) * per),
      shape: [size, h, w, c],
    };
    start += size;
    return shard;
  });
}

/**
 * Trains a dVAE: each step draws a batch, computes loss = NLL + β·KL with the Gumbel-softmax
 * relaxation at temperature τ (plus the optional marginal-KL and information terms), and takes an
 * AdamW step (with an EMA of the weights); it logs step, loss, elb_bits_per_dim, recon_nll, kl,
 * marginal_kl, beta, tau, lr, marginal_kl_weight, info_weight, codebook_perplexity,
 * codes_used_frac, and the trainer's lr, grad_norm, skipped, skipped_steps, bytes_sent,
 * images_per_sec and step_ms. `elb_bits_per_dim` is the relaxed bound on
 * the training batch with β = 1 (nats → bits per pixel dimension); `recon_nll` is nats per pixel
 * dimension, `kl` and `marginal_kl` nats per grid cell; codebook figures are of the batch's
 * argmax tokens.
 *
 * @param model The dVAE (trained in place).
 * @param data Training images, see {@link DvaeData}.
 * @param options See {@link TrainDvaeOptions}.
 * @returns Rows, skipped-step count and the optimiser (call `dispose()` when done).
 * @throws {TypeError} Before any work: an option key it does not know (a misspelt `bta` would
 *   otherwise train with the default β), or data that is not float32.
 * @throws {RangeError} Before any work: images of the wrong shape, a `batchSize` larger than the
 *   data's image count, a step size ≤ 0 or not finite, an AdamW setting out of range
 *   (`weightDecay` < 0, `emaDecay` outside [0, 1)).
 * @example
 * ```ts
 * import { createDvae, trainDvae } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
 * const images = tf.randomUniform([8, 8, 8, 3], 0, 1, "float32", 0) as tf.Tensor4D;
 * const run = await trainDvae(dvae, images, { steps: 5, lr: 1e-3, beta: 1, tau: 1 });
 * console.log(run.rows.at(-1)?.loss);
 * run.dispose(); images.dispose(); dvae.dispose();
 * ```
 */
export async function trainDvae(
  model: Dvae,
  data: DvaeData,
  options: TrainDvaeOptions,
): Promise<DvaeTrainResult> {
  checkOptionKeys("trainDvae", options, Object.keys(TRAIN_DVAE_KEYS));
  const { steps } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
  }
  if (data instanceof tf.Tensor) checkImages(model, data, "data");
  const count = data instanceof tf.Tensor ? data.shape[0] : Infinity;
  if (count === 0) throw new RangeError("dVAE data: expected at least one image, got none");
  const batchSize = options.batchSize ?? Math.min(32, count);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (batchSize > count) {
    // The whole set would be used instead, under the batch size asked for in the run's config.
    throw new RangeError(
      `trainDvae: batch size ${batchSize} > ${count} images in the data; pass batchSize ≤ ${count}`,
    );
  }
  const paper = paperDvaeSchedules(Math.max(1, steps));
  const beta = asSchedule(options.beta, paper.beta);
  const tau = asSchedule(options.tau, paper.tau);
  const lr = asSchedule(options.lr, paper.lr);
  const marginalKlWeight = asSchedule(options.marginalKlWeight, constant(0));
  const infoWeight = asSchedule(options.infoWeight, constant(0));
  const seed = options.seed ?? 0;
  const emaDecay = options.emaDecay ?? Math.max(0, Math.min(0.999, 1 - 10 / Math.max(1, steps)));
  const weightDecay = options.weightDecay ?? 1e-4;
  // The trainer checks these too, but only after this function has made its log.
  checkAdamWOptions({
    lr: typeof options.lr === "number" ? options.lr : undefined,
    weightDecay,
    emaDecay,
  });
  const straightThrough = options.straightThrough ?? false;
  const dequantize = options.dequantize ?? false;
  const log = options.log ??
    await RunLog.create({
      experiment: "dvae",
      write: false,
      printEvery: 50,
      totalSteps: steps,
    });

  const spec: TrainSpec<tf.Tensor4D, ImageShard> = {
    name: "dVAE",
    model,
    taskUrl: new URL("./_grad_task.ts", import.meta.url).href,
    config: model.config,
    async batchAt(step) {
      if (data instanceof tf.Tensor) return drawBatch(data, batchSize, seed, step);
      const images = await data(step);
      if (!(images instanceof tf.Tensor)) {
        throw new TypeError(`dVAE data for step ${step} is not a tensor`);
      }
      checkImages(model, images, `data for step ${step}`);
      return images;
    },
    split: splitImages,
    unit: "images",
    size: (images) => images.shape[0],
    release: (images) => images.dispose(),
    stepOptions: (step): DvaeStepOptions => ({
      beta: beta.at(step),
      tau: tau.at(step),
      marginalKlWeight: marginalKlWeight.at(step),
      infoWeight: infoWeight.at(step),
      straightThrough,
      dequantize,
    }),
    metrics(values, step) {
      const parts = new Float32Array(5);
      for (const v of values) (v.parts as Float32Array).forEach((x, k) => (parts[k] += x));
      const tokens = concatInt32(values.map((v) => v.tokens as Int32Array));
      const usage = codebookUsage(tokens, model.config.vocabSize);
      const [loss, elb, recon, kl, marginalKl] = parts;
      return {
        loss,
        elb_bits_per_dim: elb,
        recon_nll: recon,
        kl,
        marginal_kl: marginalKl,
        beta: beta.at(step),
        tau: tau.at(step),
        marginal_kl_weight: marginalKlWeight.at(step),
        info_weight: infoWeight.at(step),
        codebook_perplexity: usage.perplexity,
        codes_used_frac: usage.usedFraction,
      };
    },
  };
  const result = await train(spec, {
    steps,
    seed,
    lr,
    adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, emaDecay },
    clipNorm: options.clipNorm,
    maxConsecutiveSkips: options.maxConsecutiveSkips,
    workers: options.workers,
    reducer: options.reducer,
    compile: options.compile,
    timeouts: options.timeouts,
    log,
    checkpointPath: options.checkpointPath,
    checkpointEvery: options.checkpointEvery,
    resume: options.resume,
    runConfig: {
      train: {
        steps,
        batchSize,
        beta: beta.label,
        tau: tau.label,
        lr: lr.label,
        marginalKlWeight: marginalKlWeight.label,
        infoWeight: infoWeight.label,
        weightDecay,
        emaDecay,
        clipNorm: String(options.clipNorm ?? Infinity),
        straightThrough,
        dequantize,
        seed,
      },
    },
    onStep: options.onStep,
  });
  return { ...result, log };
}
