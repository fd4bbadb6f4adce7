/**
 * Shared pieces of the PowerSGD and gradient-scaling experiments: a small structured token
 * dataset split into per-worker shards, the model interface the experiments train (with the tiny
 * prior as the default model), and a simulated data-parallel training loop.
 *
 * The loop: each of W workers computes the gradients of its own batch (from its own shard) with
 * lib/nn's `valueAndGrads`; a `Reducer` turns the W gradient lists into one (a plain mean, PowerSGD,
 * or 16-bit emulation with gradient scales) and may ask to skip the update; AdamW applies it.
 *
 * @module
 */
import { tf } from "../lib/backend/mod.ts";
import { AdamW, Rng, valueAndGrads } from "../lib/nn/mod.ts";
import { createPrior } from "../lib/prior/mod.ts";
import type { PowerSGD } from "../lib/powersgd/mod.ts";

/** Sizes of the token streams: caption tokens then an image-token grid. */
export interface TokenSpec {
  /** Caption positions. */
  textLen: number;
  /** Caption vocabulary (the last two ids are pad and end, as lib/tokenizer lays them out). */
  textVocab: number;
  /** Side of the image-token grid. */
  imageGrid: number;
  /** Image-token vocabulary. */
  imageVocab: number;
}

/** The default stream: 6 caption tokens, a 4×4 grid of image tokens, vocabularies of 32. */
export const TINY_TOKENS: TokenSpec = { textLen: 6, textVocab: 32, imageGrid: 4, imageVocab: 32 };

/** A token dataset: N examples, row-major. */
export interface TokenDataset {
  spec: TokenSpec;
  /** (N, textLen) caption ids. */
  text: Int32Array;
  /** (N, imageGrid²) image ids. */
  image: Int32Array;
  /** N. */
  count: number;
}

/** One batch of token streams. */
export interface TokenBatch {
  /** int32 (B, textLen). */
  text: tf.Tensor2D;
  /** int32 (B, imageGrid²). */
  image: tf.Tensor2D;
}

// 3×3 stencils of the four "shapes" the captions name.
const STENCILS = [
  [0, 1, 0, 1, 1, 1, 0, 1, 0], // plus
  [1, 1, 1, 1, 0, 1, 1, 1, 1], // ring
  [1, 0, 0, 0, 1, 0, 0, 0, 1], // diagonal
  [1, 1, 1, 0, 0, 0, 1, 1, 1], // bars
];
const COLOURS = 6;

/**
 * Random but structured token streams: the caption names a colour, a shape and an offset
 * ("colour shape dx dy pad …"); the image grid holds that shape's 3×3 stencil in that colour's
 * token at that offset, background token 0 elsewhere, and a random noise token in 10% of cells.
 * A model can learn the image from the caption, so losses fall well below ln(vocab).
 *
 * @param count Examples.
 * @param seed Seed of the draws.
 * @param spec Stream sizes. @default TINY_TOKENS
 * @returns The dataset.
 * @example
 * ```ts
 * import { makeTokenDataset } from "./_data_parallel.ts";
 * const data = makeTokenDataset(256, 0);
 * console.log(data.count, data.text.length, data.image.length); // 256 1536 4096
 * ```
 */
export function makeTokenDataset(
  count: number,
  seed: number,
  spec: TokenSpec = TINY_TOKENS,
): TokenDataset {
  const { textLen, textVocab, imageGrid: n, imageVocab } = spec;
  const offsets = n - 2; // positions of a 3×3 stencil along one side
  if (textLen < 5 || textVocab < 3 + COLOURS + STENCILS.length + 2 * offsets) {
    throw new RangeError(`token spec too small for captions: ${JSON.stringify(spec)}`);
  }
  if (n < 3 || imageVocab < COLOURS + 2) {
    throw new RangeError(`token spec too small for images: ${JSON.stringify(spec)}`);
  }
  const rng = new Rng(seed);
  const pad = textVocab - 2;
  const text = new Int32Array(count * textLen).fill(pad);
  const image = new Int32Array(count * n * n);
  for (let e = 0; e < count; e++) {
    const colour = rng.int(COLOURS);
    const shape = rng.int(STENCILS.length);
    const [dx, dy] = [rng.int(offsets), rng.int(offsets)];
    const caption = [
      1 + colour,
      1 + COLOURS + shape,
      1 + COLOURS + STENCILS.length + dx,
      1 + COLOURS + STENCILS.length + offsets + dy,
    ];
    text.set(caption, e * textLen);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const [sx, sy] = [x - dx, y - dy];
        const inside = sx >= 0 && sx < 3 && sy >= 0 && sy < 3 && STENCILS[shape][sy * 3 + sx];
        let token = inside ? 1 + colour : 0;
        if (rng.next() < 0.1) token = 1 + COLOURS + rng.int(imageVocab - 1 - COLOURS);
        image[e * n * n + y * n + x] = token;
      }
    }
  }
  return { spec, text, image, count };
}

/**
 * Endless batches from one worker's shard (examples w, w + W, w + 2W, …), reshuffled each epoch.
 * The same arguments give the same batches, so runs that differ only in their reducer see the
 * same data.
 *
 * @param data The dataset.
 * @param worker This worker's index w.
 * @param workers Number of workers W.
 * @param batchSize Examples per batch.
 * @param seed Seed of the shuffles.
 * @returns A generator of batches (the caller disposes each batch's tensors).
 * @example
 * ```ts
 * import { makeTokenDataset, shardBatches } from "./_data_parallel.ts";
 * const it = shardBatches(makeTokenDataset(64, 0), 1, 4, 8, 0);
 * const { text, image } = it.next().value!;
 * console.log(text.shape, image.shape); // [8, 6] [8, 16]
 * text.dispose(); image.dispose();
 * ```
 */
export function* shardBatches(
  data: TokenDataset,
  worker: number,
  workers: number,
  batchSize: number,
  seed: number,
): Generator<TokenBatch> {
  const shard: number[] = [];
  for (let i = worker; i < data.count; i += workers) shard.push(i);
  if (shard.length < batchSize) {
    throw new RangeError(
      `worker ${worker}'s shard has ${shard.length} examples < batch ${batchSize}`,
    );
  }
  const rng = new Rng(seed * 1009 + worker);
  const { textLen: T, imageGrid: n } = data.spec;
  let order: number[] = [];
  while (true) {
    if (order.length < batchSize) order = rng.shuffle([...shard]);
    const picked = order.splice(0, batchSize);
    const text = new Int32Array(batchSize * T);
    const image = new Int32Array(batchSize * n * n);
    picked.forEach((e, b) => {
      text.set(data.text.subarray(e * T, (e + 1) * T), b * T);
      image.set(data.image.subarray(e * n * n, (e + 1) * n * n), b * n * n);
    });
    yield {
      text: tf.tensor2d(text, [batchSize, T], "int32"),
      image: tf.tensor2d(image, [batchSize, n * n], "int32"),
    };
  }
}

/** What the experiments need of a model; any builder returning this can be swapped in. */
export interface TrainableModel {
  /** Short description for config.json. */
  description: string;
  /** Trainable parameters. */
  params: tf.Variable[];
  /** Their names, same order. */
  names: string[];
  /** The residual block a parameter belongs to (gradient scaling keeps one scale per block). */
  blockOf(name: string): string;
  /** Mean loss of a batch (natural-log units). */
  loss(batch: TokenBatch): tf.Scalar;
  /** Frees the weights. */
  dispose(): void;
}

/** Sizes of the tiny prior the experiments train by default. */
export interface TinyPriorOptions {
  /** @default 64 */
  dModel: number;
  /** @default 2 */
  layers: number;
  /** @default 4 */
  heads: number;
  /** Seed of the initial weights. @default 0 */
  seed: number;
}

/**
 * Flags every tiny-prior experiment here shares: its data, model, optimiser and run folder.
 * Each experiment spreads these into its own defaults and adds its question's flags.
 */
export const TINY_RUN_DEFAULTS = {
  /** Examples in the dataset (split into W shards). */
  examples: 4096,
  /** AdamW step size. */
  lr: 3e-3,
  /** Width of the tiny prior. */
  dModel: 64,
  /** Transformer layers of the tiny prior. */
  layers: 2,
  /** Attention heads. */
  heads: 4,
  /** Seed of weights, data and shuffles (the same for every run). */
  seed: 0,
  /** Folder that holds the runs of all experiments. */
  root: "data/runs",
  /** Write the run folder (false: keep rows in memory). */
  write: true,
};

/**
 * The tiny prior over {@linkcode TINY_TOKENS} that a config with TINY_RUN_DEFAULTS' model flags names.
 *
 * @param c The model flags.
 * @returns A fresh model.
 * @example
 * ```ts
 * import { TINY_RUN_DEFAULTS, tinyPriorOf } from "./_data_parallel.ts";
 * const model = tinyPriorOf({ ...TINY_RUN_DEFAULTS, layers: 1 });
 * model.dispose();
 * ```
 */
export function tinyPriorOf(
  c: { dModel: number; layers: number; heads: number; seed: number },
): TrainableModel {
  return tinyPrior(TINY_TOKENS, {
    dModel: c.dModel,
    layers: c.layers,
    heads: c.heads,
    seed: c.seed,
  });
}

/**
 * The tiny transformer prior (lib/prior) on a token spec, as a {@linkcode TrainableModel}.
 * Blocks: "embed" (token and position tables), "block0" … (one per transformer layer: its two
 * LayerNorms, attention and MLP), "head" (final LayerNorm and output heads).
 *
 * @param spec Stream sizes.
 * @param options Width, depth, heads, seed.
 * @returns The model.
 * @example
 * ```ts
 * import { TINY_TOKENS, tinyPrior } from "./_data_parallel.ts";
 * const model = tinyPrior(TINY_TOKENS, { dModel: 32, layers: 2, heads: 2, seed: 0 });
 * console.log(new Set(model.names.map((n) => model.blockOf(n)))); // embed block0 block1 head
 * model.dispose();
 * ```
 */
export function tinyPrior(spec: TokenSpec, options: TinyPriorOptions): TrainableModel {
  const prior = createPrior({ ...spec, ...options, masks: "dense" });
  const named = prior.namedParameters();
  return {
    description: `lib/prior ${JSON.stringify({ ...spec, ...options, masks: "dense" })}`,
    params: named.map(([, p]) => p),
    names: named.map(([name]) => name),
    blockOf(name: string): string {
      const layer = /^blocks\.(\d+)\./.exec(name);
      if (layer) return `block${layer[1]}`;
      return /^(lnFinal|textHead|imageHead)\./.test(name) ? "head" : "embed";
    },
    loss: (batch) => prior.loss(batch.text, batch.image).loss,
    dispose: () => prior.dispose(),
  };
}

/** What a reducer returns: one gradient per parameter, and whether to skip the update. */
export interface Reduced {
  /** Gradients for the optimizer (the loop disposes them). */
  grads: tf.Tensor[];
  /** Do not apply this update (non-finite 16-bit gradients). @default false */
  skip?: boolean;
  /** Extra per-step metrics to log. */
  metrics?: Record<string, number>;
}

/** Turns each worker's gradients (workerGrads[w][i], not to be disposed) into one list. */
export type Reducer = (workerGrads: tf.Tensor[][]) => Reduced;

/**
 * The exact all-reduce: the mean over workers.
 *
 * @returns A reducer.
 * @example
 * ```ts
 * import { meanReducer } from "./_data_parallel.ts";
 * const reduce = meanReducer();
 * ```
 */
export function meanReducer(): Reducer {
  return (workerGrads) => ({
    grads: tf.tidy(() =>
      workerGrads[0].map((_, i) => tf.addN(workerGrads.map((g) => g[i])).div(workerGrads.length))
    ),
  });
}

/**
 * PowerSGD as a reducer; logs the cumulative saved fraction and compression ratio.
 *
 * @param psgd The compressor (the caller disposes it).
 * @returns A reducer.
 * @example
 * ```ts
 * import { PowerSGD } from "../lib/powersgd/mod.ts";
 * import { powerSgdReducer } from "./_data_parallel.ts";
 * const reduce = powerSgdReducer(new PowerSGD({ rank: 4, workers: 4 }));
 * ```
 */
export function powerSgdReducer(psgd: PowerSGD): Reducer {
  return (workerGrads) => {
    const grads = psgd.step(workerGrads);
    const stats = psgd.stats();
    return {
      grads,
      metrics: { saved_fraction: stats.savedFraction, compression_ratio: stats.ratio },
    };
  };
}

/** Options of {@linkcode trainDataParallel}. */
export interface TrainOptions {
  model: TrainableModel;
  data: TokenDataset;
  workers: number;
  /** Examples per worker per step. */
  batchSize: number;
  steps: number;
  /** AdamW step size. */
  lr: number;
  /** Seed of the shard shuffles. */
  seed: number;
  reduce: Reducer;
  /** Multiplies the loss before differentiation and divides the gradients after reducing. @default 1 */
  lossMultiplier?: number;
  /** Called after every step with its metrics. */
  onStep(row: StepMetrics): void;
}

/** Metrics of one step. */
export interface StepMetrics {
  step: number;
  /** Mean over workers of their batch losses (nats). */
  loss: number;
  /** Wall time of the step in ms. */
  stepMs: number;
  /** Whether the update was skipped. */
  skipped: boolean;
  /** The reducer's metrics. */
  metrics: Record<string, number>;
  /** The reduced gradients (valid only during the call). */
  grads: tf.Tensor[];
}

/**
 * Simulated data-parallel training: W workers, each on its own shard; gradients combined by the
 * reducer; AdamW (β2 0.96, weight decay 4.5e-2, as the paper's prior) updates the model.
 *
 * @param options See {@linkcode TrainOptions}.
 * @returns The per-step mean losses.
 * @example
 * ```ts
 * import { makeTokenDataset, meanReducer, TINY_TOKENS, tinyPrior, trainDataParallel } from "./_data_parallel.ts";
 * const model = tinyPrior(TINY_TOKENS, { dModel: 32, layers: 1, heads: 2, seed: 0 });
 * const losses = trainDataParallel({
 *   model, data: makeTokenDataset(128, 0), workers: 2, batchSize: 8, steps: 3, lr: 1e-3, seed: 0,
 *   reduce: meanReducer(), onStep: () => {},
 * });
 * model.dispose();
 * ```
 */
export function trainDataParallel(options: TrainOptions): number[] {
  const { model, data, workers, batchSize, steps, lr, seed, reduce, onStep } = options;
  const multiplier = options.lossMultiplier ?? 1;
  const streams = Array.from(
    { length: workers },
    (_, w) => shardBatches(data, w, workers, batchSize, seed),
  );
  const optimizer = new AdamW({ lr, beta2: 0.96, weightDecay: 4.5e-2 });
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const start = performance.now();
    const workerGrads: tf.Tensor[][] = [];
    let lossSum = 0;
    for (const stream of streams) {
      const batch = stream.next().value as TokenBatch;
      const { loss, grads } = valueAndGrads(
        model.params,
        () => multiplier === 1 ? model.loss(batch) : model.loss(batch).mul(multiplier),
      );
      lossSum += loss.dataSync()[0] / multiplier;
      workerGrads.push(grads);
      tf.dispose([loss, batch.text, batch.image]);
    }
    const reduced = reduce(workerGrads);
    tf.dispose(workerGrads.flat());
    const grads = multiplier === 1
      ? reduced.grads
      : tf.tidy(() => reduced.grads.map((g) => g.div(multiplier)));
    if (grads !== reduced.grads) tf.dispose(reduced.grads);
    const skipped = reduced.skip ?? false;
    if (!skipped) optimizer.step(model.params, grads);
    const loss = lossSum / workers;
    losses.push(loss);
    onStep({
      step,
      loss,
      stepMs: performance.now() - start,
      skipped,
      metrics: reduced.metrics ?? {},
      grads,
    });
    tf.dispose(grads);
  }
  optimizer.dispose();
  return losses;
}

/**
 * Mean of `values[from..to)` (indices clamped), NaN when empty.
 *
 * @param values The series.
 * @param from First index.
 * @param to One past the last index.
 * @returns The mean.
 * @example
 * ```ts
 * import { meanOf } from "./_data_parallel.ts";
 * console.log(meanOf([1, 2, 3, 4], 1, 3)); // 2.5
 * ```
 */
export function meanOf(values: number[], from: number, to: number): number {
  const slice = values.slice(Math.max(0, from), Math.min(values.length, to));
  return slice.length === 0 ? NaN : slice.reduce((a, b) => a + b, 0) / slice.length;
}
