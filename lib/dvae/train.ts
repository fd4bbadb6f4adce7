/**
 * The dVAE training loop: AdamW with an EMA of the weights, β/τ/step-size schedules, one metrics row
 * per step (to a lib/log `RunLog`), non-finite steps skipped and counted, checkpoints and resume.
 *
 * @module
 */
import { defaultWorkers, ensureBackend, tf } from "../backend/mod.ts";
import { RunLog } from "../log/mod.ts";
import type { MetricsRow } from "../log/mod.ts";
import {
  AdamW,
  clipScale,
  constant,
  GradientWorkers,
  loadCheckpoint,
  meanGradients,
  readWeights,
  Rng,
  saveCheckpoint,
  type Schedule,
  shardSizes,
} from "../nn/mod.ts";
import { codebookUsage } from "./codebook.ts";
import type { Dvae } from "./model.ts";
import { dequantize } from "./objective.ts";
import {
  type ImageShard,
  shardGradients,
  type ShardOptions,
  type ShardResult,
} from "./_grad_task.ts";
import { paperDvaeSchedules } from "./schedules.ts";

/**
 * Training images: a tensor holding the whole set `(N, S, S, C)` in [0, 1] (the trainer draws
 * seeded random batches of `batchSize`), or an iterable / async iterable of batches, each a tensor
 * or an object with an `images` tensor, such as lib/data's `batches(...)`. Yielded tensors stay the
 * iterator's (lib/data disposes each when it advances); a finished iterable is started again.
 */
export type DvaeData =
  | tf.Tensor4D
  | Iterable<tf.Tensor4D | { images: tf.Tensor4D }>
  | AsyncIterable<tf.Tensor4D | { images: tf.Tensor4D }>;

/** Options of {@link trainDvae}. */
export interface TrainDvaeOptions {
  /** Total optimiser steps of the run (a resumed run continues up to this). */
  steps: number;
  /** Images per step when `data` is a tensor (with iterables the batches decide). @default 32 */
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
  maxGradNorm?: number;
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
   * and the others in Deno Workers, then averaged (each wasm backend uses one core, so 2 on a
   * 2-core machine nearly doubles images/s). Shards draw their own Gumbel noise and compute the
   * marginal KL over their own cells, so runs with different worker counts differ slightly.
   * @default defaultWorkers(): 1 on tensorflow, one per core on wasm
   */
  workers?: number;
  /** Train on dequantised pixels (see `dequantize`): the bound then ignores exact repeats. @default false */
  dequantize?: boolean;
  /** Seed of batch draws and Gumbel noise (each step derives its own from it). @default 0 */
  seed?: number;
  /** Log a metrics row every this many steps. @default 1 */
  logEvery?: number;
  /** Where rows go; a quiet in-memory log when omitted. */
  log?: RunLog;
  /** Print a progress line every this many steps (only for the log made here). @default 50 */
  printEvery?: number;
  /** Checkpoint file; written every `checkpointEvery` steps and at the end. */
  checkpointPath?: string;
  /** Steps between checkpoints (0: only at the end). @default 0 */
  checkpointEvery?: number;
  /** Resume from `checkpointPath` when the file exists. @default false */
  resume?: boolean;
  /** Called with each logged row (e.g. to update a live plot). */
  onLog?: (row: MetricsRow) => void;
}

/** What {@link trainDvae} hands back. */
export interface DvaeTrainResult {
  /** The logged rows (also in `log`). */
  rows: MetricsRow[];
  /** The log the rows went to. */
  log: RunLog;
  /** Steps whose loss or gradients were not finite (no update was made). */
  skippedSteps: number;
  /** The step the run started from (0, or the checkpoint's). */
  startStep: number;
  /** The optimiser, with the EMA weights (caller disposes via `dispose`). */
  optimizer: AdamW;
  /** Runs `fn` with the EMA weights swapped into the model. */
  withEma<T>(fn: () => T | Promise<T>): Promise<T>;
  /** Frees the optimiser state (not the model). */
  dispose(): void;
}

function asSchedule(value: number | Schedule | undefined, fallback: Schedule): Schedule {
  if (value === undefined) return fallback;
  return typeof value === "number" ? constant(value) : value;
}

/** A per-step seed source, the same for a step whether or not the run was resumed. */
function stepRng(seed: number, step: number): Rng {
  return new Rng((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0);
}

/** Pulls batches out of any {@link DvaeData}. */
class BatchSource {
  #iterator: Iterator<unknown> | AsyncIterator<unknown> | null = null;

  constructor(
    readonly data: DvaeData,
    readonly batchSize: number,
  ) {}

  /** The batch for `step`; `owned` says whether the caller must dispose it. */
  async next(rng: Rng): Promise<{ images: tf.Tensor4D; owned: boolean }> {
    if (this.data instanceof tf.Tensor) {
      const n = this.data.shape[0];
      if (this.batchSize >= n) return { images: this.data, owned: false };
      const indices = Array.from({ length: this.batchSize }, () => rng.int(n));
      const images = tf.tidy(() => tf.gather(this.data as tf.Tensor4D, indices));
      return { images, owned: true };
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      this.#iterator ??= Symbol.asyncIterator in this.data
        ? (this.data as AsyncIterable<unknown>)[Symbol.asyncIterator]()
        : (this.data as Iterable<unknown>)[Symbol.iterator]();
      const item = await this.#iterator.next();
      if (!item.done) {
        const value = item.value as tf.Tensor4D | { images: tf.Tensor4D };
        const images = value instanceof tf.Tensor ? value : value.images;
        if (!(images instanceof tf.Tensor) || images.rank !== 4) {
          throw new TypeError("dVAE data must yield (B, S, S, C) tensors or { images } batches");
        }
        return { images, owned: false };
      }
      this.#iterator = null; // an epoch ended: start the iterable again
    }
    throw new RangeError("dVAE data yielded no batches (an exhausted iterator cannot restart)");
  }

  async close(): Promise<void> {
    await this.#iterator?.return?.();
    this.#iterator = null;
  }
}

/**
 * Trains a dVAE: each step draws a batch, computes loss = NLL + β·KL with the Gumbel-softmax
 * relaxation at temperature τ (plus the optional marginal-KL and information terms), and takes an
 * AdamW step (with an EMA of the weights); it logs step, loss, elb_bits_per_dim, recon_nll, kl,
 * marginal_kl, beta, tau, lr, marginal_kl_weight, info_weight, codebook_perplexity,
 * codes_used_frac, images_per_sec and skipped_steps. `elb_bits_per_dim` is the relaxed bound on
 * the training batch with β = 1 (nats → bits per pixel dimension); `recon_nll` is nats per pixel
 * dimension, `kl` and `marginal_kl` nats per grid cell; codebook figures are of the batch's
 * argmax tokens.
 *
 * @param model The dVAE (trained in place).
 * @param data Training images, see {@link DvaeData}.
 * @param options See {@link TrainDvaeOptions}.
 * @returns Rows, skipped-step count and the optimiser (call `dispose()` when done).
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
  await ensureBackend();
  const { steps } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
  }
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const paper = paperDvaeSchedules(Math.max(1, steps));
  const beta = asSchedule(options.beta, paper.beta);
  const tau = asSchedule(options.tau, paper.tau);
  const lr = asSchedule(options.lr, paper.lr);
  const marginalKlWeight = asSchedule(options.marginalKlWeight, constant(0));
  const infoWeight = asSchedule(options.infoWeight, constant(0));
  const seed = options.seed ?? 0;
  const workers = options.workers ?? defaultWorkers();
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  }
  const logEvery = options.logEvery ?? 1;
  const maxGradNorm = options.maxGradNorm ?? Infinity;
  const emaDecay = options.emaDecay ?? Math.max(0, Math.min(0.999, 1 - 10 / Math.max(1, steps)));
  const optimizer = new AdamW({
    lr: lr.at(0),
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: options.weightDecay ?? 1e-4,
    emaDecay,
  });
  const log = options.log ??
    await RunLog.create({
      experiment: "dvae",
      write: false,
      printEvery: options.printEvery ?? 50,
      totalSteps: steps,
    });
  const params = model.parameters();
  const runConfig = {
    model: model.config,
    train: {
      steps,
      batchSize,
      beta: beta.label,
      tau: tau.label,
      lr: lr.label,
      marginalKlWeight: marginalKlWeight.label,
      infoWeight: infoWeight.label,
      weightDecay: optimizer.weightDecay,
      emaDecay,
      maxGradNorm: String(maxGradNorm),
      straightThrough: options.straightThrough ?? false,
      dequantize: options.dequantize ?? false,
      workers,
      seed,
    },
  };

  let startStep = 0;
  if (options.resume && options.checkpointPath && await exists(options.checkpointPath)) {
    startStep = (await loadCheckpoint(options.checkpointPath, { model, optimizer })).step;
  }
  const checkpoint = async (step: number) => {
    if (options.checkpointPath) {
      await saveCheckpoint(options.checkpointPath, { model, optimizer, step, config: runConfig });
    }
  };

  const source = new BatchSource(data, batchSize);
  let skippedSteps = 0;
  const pool = workers > 1
    ? await GradientWorkers.start(workers - 1, {
      taskUrl: new URL("./_grad_task.ts", import.meta.url).href,
      config: model.config,
      backend: await ensureBackend(),
    })
    : null;
  try {
    for (let step = startStep; step < steps; step++) {
      const started = performance.now();
      const rng = stepRng(seed, step);
      const drawn = await source.next(rng);
      const dequantSeed = rng.nextSeed();
      const images = options.dequantize ? dequantize(drawn.images, dequantSeed) : drawn.images;
      const betaNow = beta.at(step);
      const tauNow = tau.at(step);
      const lrNow = lr.at(step);
      const marginalKlWeightNow = marginalKlWeight.at(step);
      const infoWeightNow = infoWeight.at(step);
      const noiseSeed = rng.nextSeed();
      const shardOptions = {
        beta: betaNow,
        tau: tauNow,
        seed: noiseSeed,
        straightThrough: options.straightThrough ?? false,
        marginalKlWeight: marginalKlWeightNow,
        infoWeight: infoWeightNow,
      };
      const { grads, parts, tokens } = pool
        ? await parallelGradients(model, params, images, shardOptions, pool)
        : shardGradients(model, params, images, shardOptions);
      const clip = clipScale(grads, maxGradNorm);
      const [lossValue, elb, recon, kl, marginalKl] = parts;
      const finite = clip.finite && Number.isFinite(lossValue);
      if (finite) optimizer.step(params, grads, lrNow, clip.scale);
      else skippedSteps++;
      tf.dispose(grads);
      if (drawn.owned) drawn.images.dispose();
      if (options.dequantize) images.dispose();
      const batchImages = images.shape[0];
      if (step % logEvery === 0 || step === steps - 1) {
        const usage = codebookUsage(tokens, model.config.vocabSize);
        const row: MetricsRow = {
          step,
          loss: lossValue,
          elb_bits_per_dim: elb,
          recon_nll: recon,
          kl,
          marginal_kl: marginalKl,
          beta: betaNow,
          tau: tauNow,
          lr: lrNow,
          marginal_kl_weight: marginalKlWeightNow,
          info_weight: infoWeightNow,
          codebook_perplexity: usage.perplexity,
          codes_used_frac: usage.usedFraction,
          images_per_sec: batchImages / ((performance.now() - started) / 1000),
          skipped_steps: skippedSteps,
        };
        log.log(row);
        options.onLog?.(row);
      }
      if (options.checkpointEvery && (step + 1) % options.checkpointEvery === 0) {
        await checkpoint(step + 1);
      }
    }
  } finally {
    pool?.close();
    await source.close();
  }
  if (steps > startStep) await checkpoint(steps);
  await log.flush();

  return {
    rows: log.rows,
    log,
    skippedSteps,
    startStep,
    optimizer,
    withEma: (fn) => optimizer.withEma(params, fn),
    dispose: () => optimizer.dispose(),
  };
}

/** One step's gradients over shards: the first here, the rest in the pool, size-weighted means. */
async function parallelGradients(
  model: Dvae,
  params: tf.Variable[],
  images: tf.Tensor4D,
  options: ShardOptions,
  pool: GradientWorkers,
): Promise<{ grads: tf.Tensor[]; parts: Float32Array; tokens: Int32Array }> {
  const sizes = shardSizes(images.shape[0], pool.size + 1);
  const shards = tf.split(images, sizes, 0) as tf.Tensor4D[];
  const weights = readWeights(params);
  const remote = shards.slice(1).map((shard, i) => {
    const batch: ImageShard = { images: shard.dataSync() as Float32Array, shape: shard.shape };
    return pool.gradients(i, weights, batch, { ...options, seed: options.seed + i + 1 });
  });
  let local: ShardResult;
  try {
    local = shardGradients(model, params, shards[0], options);
  } finally {
    tf.dispose(shards); // the remote requests hold copies
  }
  const replies = await Promise.all(remote).catch((err) => {
    tf.dispose(local.grads);
    throw err;
  });
  const grads = meanGradients(params, local.grads, replies.map((r) => r.grads), sizes);
  tf.dispose(local.grads);
  const n = images.shape[0];
  const shardParts = [local.parts, ...replies.map((r) => r.values.parts as Float32Array)];
  const parts = new Float32Array(local.parts.length);
  shardParts.forEach((p, i) => p.forEach((v, k) => (parts[k] += (v * sizes[i]) / n)));
  const shardTokens = [local.tokens, ...replies.map((r) => r.values.tokens as Int32Array)];
  const tokens = new Int32Array(shardTokens.reduce((t, a) => t + a.length, 0));
  shardTokens.reduce((offset, a) => (tokens.set(a, offset), offset + a.length), 0);
  return { grads, parts, tokens };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
