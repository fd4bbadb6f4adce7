/**
 * The one training loop every model uses (dVAE, prior, judge, reranker): a model describes itself
 * as a {@link TrainSpec} (its gradient task, `batchAt(step)`, how to split a batch and what to log)
 * and {@link train} does the rest the same way for all: the sharded step over any number of
 * workers and any gradient reducer (`parallel.ts`, `reduce.ts`), AdamW with an EMA of the weights,
 * clipping, skipping non-finite steps (and stopping after too many in a row), a metrics row per
 * step, and checkpoints from which a killed run resumes exactly.
 *
 * **Exact resume.** A step's batch and randomness are pure functions of the run's seed and the
 * step (`batchAt(step)`, {@link stepSeed}), schedules are functions of the step, and a checkpoint
 * holds the weights, AdamW's moments and step count, the EMA, the reducers' state (e.g.
 * PowerSGD's error feedback) and the trainer's counters. So a run killed at any point and resumed
 * from its last checkpoint computes the same steps as one that was never stopped: bitwise, on one
 * backend and one worker count. The metrics file is flushed before each checkpoint is written
 * (both atomically), and a resumed log drops rows past the checkpoint (lib/log's
 * `RunLog.resume`), so it never repeats a step.
 *
 * @module
 */
import {
  canTrace,
  compileByDefault,
  defaultWorkers,
  ensureBackend,
  tf,
  TracedFunction,
} from "../backend/mod.ts";
import { exists, streamSeed } from "../io/mod.ts";
import type { MetricsRow, RunLog } from "../log/mod.ts";
import type { Module } from "./module.ts";
import { AdamW, type AdamWOptions, checkAdamWOptions, clipScale, globalNorm } from "./optim.ts";
import { type PoolTimeouts, ShardedStep, type TaskValues } from "./parallel.ts";
import type { ReducerSpec } from "./reduce.ts";
import { constant, type Schedule, warmupCosine } from "./schedule.ts";
import { decodeSafetensors, loadCheckpoint, saveCheckpoint } from "./safetensors.ts";

/** What a model tells the trainer about itself. */
export interface TrainSpec<Batch, Shard = unknown> {
  /** What is trained, for messages and checkpoints (e.g. "dvae"). */
  name: string;
  /** The model, trained in place. */
  model: Module;
  /** URL of its gradient task module (see `parallel.ts`). */
  taskUrl: string;
  /** The model's config: workers build replicas from it; a checkpoint must match it. */
  config: unknown;
  /** The batch of `step`: a pure function of the run's seed and the step. */
  batchAt(step: number): Batch | Promise<Batch>;
  /** Splits a batch into `count` shards (structured-cloneable). */
  split(batch: Batch, count: number): Shard[];
  /** What a batch is counted in for the rate column `<unit>_per_sec` (e.g. "images", "tokens"). */
  unit: string;
  /** A batch's size in {@link unit}s. */
  size(batch: Batch): number;
  /** The task's options at `step` (schedule values). @default none */
  stepOptions?(step: number): object;
  /**
   * The model's metrics of a step from its shards' values (the trainer adds `step`, `lr`,
   * `grad_norm`, `skipped`, `skipped_steps`, `bytes_sent`, `<unit>_per_sec`, `step_ms`). A
   * non-finite `loss` skips the update.
   */
  metrics(values: TaskValues[], step: number, totals: Record<string, number>): MetricsRow;
  /** Frees a batch that `batchAt` made. @default nothing */
  release?(batch: Batch): void;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Total steps of the run (a resumed run continues up to this). */
  steps: number;
  /** Seed of the run: batches and step randomness derive from it. @default 0 */
  seed?: number;
  /** Step size, a number or a schedule over steps. */
  lr: number | Schedule;
  /** AdamW's other settings (β1, β2, ε, weight decay, EMA decay). @default AdamW's */
  adamw?: Omit<AdamWOptions, "lr">;
  /** Clip the global gradient norm to this. @default Infinity (norms are still checked) */
  clipNorm?: number;
  /** Stop the run after this many consecutive skipped steps. @default 20 */
  maxConsecutiveSkips?: number;
  /** Processes computing each step's shards. @default defaultWorkers() */
  workers?: number;
  /** How shards combine their gradients. @default meanReducer() */
  reducer?: ReducerSpec;
  /** Time limits of the workers. @default PoolTimeouts' defaults */
  timeouts?: PoolTimeouts;
  /** Where rows go (and where the checkpoint lives when it writes). @default none */
  log?: RunLog;
  /** Checkpoint file. @default `<log.dir>/checkpoint.safetensors` when the log writes, else none */
  checkpointPath?: string;
  /** Steps between checkpoints (0: only after the last). @default 0 */
  checkpointEvery?: number;
  /** Continue from the checkpoint when it exists. @default false */
  resume?: boolean;
  /** Stored in the checkpoint's config beside the model's. @default {} */
  runConfig?: Record<string, unknown>;
  /**
   * Run each step's forward and backward pass as one TensorFlow call, traced at the first two
   * steps (tasks written as lib/nn's {@link TraceableTask}), and AdamW's update and the norm as
   * one call each. Asked for (`true`) on a backend that cannot trace, the steps run eagerly and
   * the trainer says so once; `false` runs them eagerly.
   * @default true where the backend can trace (the tensorflow backend), unless $DALLE_LAB_COMPILE
   *   says otherwise (lib/backend's `compileByDefault`)
   */
  compile?: boolean;
  /** Called with each row. */
  onStep?(row: MetricsRow): void | Promise<void>;
}

/**
 * What a model's own trainer (`trainPrior`, `trainReranker`, …) takes besides its data: the shared
 * trainer's options, with a linear warm-up then cosine step size and AdamW's settings spelled out.
 * Each model states its defaults ({@link ModelDefaults}) in its trainer's docs.
 */
export interface ModelTrainOptions extends Omit<TrainOptions, "lr" | "adamw"> {
  /** Peak step size. @default the model's */
  lr?: number;
  /** Linear warm-up steps. @default round(steps / 20) */
  warmupSteps?: number;
  /** Step size at the end of the cosine decay. @default lr / 10 */
  finalLr?: number;
  /** AdamW's β1. @default the model's */
  beta1?: number;
  /** AdamW's β2. @default the model's */
  beta2?: number;
  /** AdamW's ε. @default the model's */
  eps?: number;
  /** Decoupled weight decay (weights and embedding tables; not gains or biases). @default the model's */
  weightDecay?: number;
  /** Decay of an EMA of the weights; unset: no EMA. @default none */
  emaDecay?: number;
}

/** A model's defaults for {@link ModelTrainOptions}. */
export interface ModelDefaults {
  /** Learning rate. */
  lr: number;
  /** Adam β1. */
  beta1: number;
  /** Adam β2. */
  beta2: number;
  /** Adam ε. */
  eps: number;
  /** Decoupled weight decay. */
  weightDecay: number;
  /** Global gradient norm to clip to. */
  clipNorm: number;
}

/**
 * The shared trainer's options from a model trainer's, with the model's defaults filled in: the
 * step size warms up linearly, then decays by a cosine to `finalLr` at the last step.
 *
 * @param options The model trainer's options.
 * @param defaults The model's defaults.
 * @returns Options for {@link train} (the schedule's label goes into `runConfig`).
 * @throws {RangeError} A peak `lr` that is not a finite number > 0, a `finalLr` that is not a
 *   finite number ≥ 0, or another AdamW setting out of range ({@link checkAdamWOptions}), before
 *   any work: the warm-up starts at 0, so a bad peak would only show once training runs.
 * @example
 * ```ts
 * import { trainOptionsOf } from "./trainer.ts";
 * const o = trainOptionsOf({ steps: 100 }, {
 *   lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1, clipNorm: Infinity,
 * });
 * console.log(typeof o.lr === "number" ? o.lr : o.lr.at(5)); // 0.001 (warm-up ends at step 5)
 * ```
 */
export function trainOptionsOf(options: ModelTrainOptions, defaults: ModelDefaults): TrainOptions {
  const { lr, warmupSteps, finalLr, beta1, beta2, eps, weightDecay, emaDecay, ...rest } = options;
  const peak = lr ?? defaults.lr;
  const adamw = {
    beta1: beta1 ?? defaults.beta1,
    beta2: beta2 ?? defaults.beta2,
    eps: eps ?? defaults.eps,
    weightDecay: weightDecay ?? defaults.weightDecay,
    emaDecay,
  };
  checkAdamWOptions({ lr: peak, ...adamw });
  if (finalLr !== undefined && !(finalLr >= 0 && Number.isFinite(finalLr))) {
    throw new RangeError(`finalLr must be a finite number ≥ 0, got ${finalLr}`);
  }
  const schedule = warmupCosine(
    peak,
    warmupSteps ?? Math.round(options.steps / 20),
    Math.max(1, options.steps),
    finalLr ?? peak / 10,
  );
  return {
    ...rest,
    lr: schedule,
    clipNorm: options.clipNorm ?? defaults.clipNorm,
    adamw,
    runConfig: { ...options.runConfig, schedule: schedule.label },
  };
}

/** What {@link train} hands back. */
export interface TrainResult {
  /** Every row of the run (a resumed run's earlier rows included when its log holds them). */
  rows: MetricsRow[];
  /** The step this call started from (0, or the checkpoint's). */
  startStep: number;
  /** Steps whose update was skipped, over the whole run. */
  skippedSteps: number;
  /** The optimiser (with the EMA weights). */
  optimizer: AdamW;
  /** Whether its steps ran as TensorFlow calls (`compile` on a backend that can trace). */
  compiled: boolean;
  /** Runs `fn` with the EMA weights swapped into the model (the plain weights without an EMA). */
  withEma<T>(fn: () => T | Promise<T>): Promise<T>;
  /** Frees the optimiser (not the model). */
  dispose(): void;
}

/** A run stopped by too many consecutive non-finite steps. */
export class NonFiniteError extends Error {
  /** The step at which the run stopped. */
  readonly step: number;
  /** The first parameter with a non-finite gradient, or null. */
  readonly parameter: string | null;

  /**
   * Says which step and parameter went non-finite.
   * @param message The message.
   * @param step The step.
   * @param parameter The parameter.
   */
  constructor(message: string, step: number, parameter: string | null) {
    super(message);
    this.name = "NonFiniteError";
    this.step = step;
    this.parameter = parameter;
  }
}

/**
 * The seed of step `step` of a run seeded `seed`: the same whether or not the run was resumed.
 *
 * @param seed The run's seed.
 * @param step The step.
 * @returns An unsigned 32-bit seed.
 * @example
 * ```ts
 * import { stepSeed } from "./trainer.ts";
 * console.log(stepSeed(0, 5) === stepSeed(0, 5), stepSeed(0, 5) !== stepSeed(0, 6)); // true true
 * ```
 */
export function stepSeed(seed: number, step: number): number {
  return streamSeed("trainer/step", seed, step);
}

/**
 * The step a checkpoint was written at, without loading it into a model.
 *
 * @param path The checkpoint.
 * @returns Its step.
 */
export async function checkpointStep(path: string): Promise<number> {
  const { metadata } = decodeSafetensors(await Deno.readFile(path), path);
  return Number(metadata.step ?? 0);
}

/**
 * Whether a metrics column holds a time (`<unit>_per_sec`, `step_ms`): those differ between runs
 * that compute the same.
 *
 * @param column The column's name.
 * @returns Whether it is a timing column.
 * @example
 * ```ts
 * import { isTimingColumn } from "./trainer.ts";
 * console.log(isTimingColumn("tokens_per_sec"), isTimingColumn("loss")); // true false
 * ```
 */
export function isTimingColumn(column: string): boolean {
  return /_per_sec$/.test(column) || column === "step_ms";
}

function firstDifference(a: unknown, b: unknown, path = ""): string | null {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return JSON.stringify(a) === JSON.stringify(b)
      ? null
      : `${path || "config"} is ${JSON.stringify(a)} there, ${JSON.stringify(b)} here`;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      path ? `${path}.${k}` : k,
    );
    if (d) return d;
  }
  return null;
}

/**
 * Trains a model described by a {@link TrainSpec} (see the module docs).
 *
 * @param spec The model's side.
 * @param options See {@link TrainOptions}.
 * @returns Rows, counters and the optimiser (call `dispose()` when done).
 * @throws {RangeError} Before any work: a step size that is negative or not finite at some step
 *   of the run, or 0 at every step; an AdamW setting out of range ({@link checkAdamWOptions});
 *   other options out of range.
 * @throws {NonFiniteError} After `maxConsecutiveSkips` skipped steps in a row.
 * @throws {WorkerFailure} When a gradient worker fails (the last checkpoint stays valid).
 */
export async function train<Batch, Shard>(
  spec: TrainSpec<Batch, Shard>,
  options: TrainOptions,
): Promise<TrainResult> {
  await ensureBackend();
  const { steps } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`steps must be an integer ≥ 0, got ${steps}`);
  }
  const seed = options.seed ?? 0;
  if (typeof options.lr === "number") checkAdamWOptions({ lr: options.lr });
  const lr = typeof options.lr === "number" ? constant(options.lr) : options.lr;
  const clipNorm = options.clipNorm ?? Infinity;
  const maxSkips = options.maxConsecutiveSkips ?? 20;
  const workers = options.workers ?? defaultWorkers();
  const every = options.checkpointEvery ?? 0;
  for (const [name, value] of Object.entries({ maxConsecutiveSkips: maxSkips, workers })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }
  if (!Number.isInteger(every) || every < 0) {
    throw new RangeError(`checkpointEvery must be an integer ≥ 0, got ${every}`);
  }
  if (!(clipNorm > 0)) throw new RangeError(`clipNorm must be positive, got ${clipNorm}`);
  const log = options.log;
  const checkpointPath = options.checkpointPath ??
    (log?.dir ? `${log.dir}/checkpoint.safetensors` : undefined);
  const compile = options.compile ?? compileByDefault();
  // The trainer hands AdamW each step's own step size; its default is the run's peak.
  const peak = checkLrSchedule(lr, steps);
  const optimizer = new AdamW({
    ...options.adamw,
    lr: peak > 0 ? peak : undefined,
    compile,
  });
  // Compiled, the norm's two ops per parameter are one call too.
  const tracedNorm = compile ? new TracedFunction("global_norm", (g) => [globalNorm(g)]) : null;
  const normOf = tracedNorm ? (g: tf.Tensor[]) => tracedNorm.call(g)[0] as tf.Scalar : globalNorm;
  const params = spec.model.parameters();
  const named = spec.model.namedParameters();
  let startStep = 0, skippedSteps = 0, consecutiveSkips = 0;
  let restored: Record<string, Float32Array> | null = null;

  try {
    if (options.resume && checkpointPath && await exists(checkpointPath)) {
      // Weights first: a checkpoint of another shape is a CheckpointMismatchError naming each
      // tensor and both shapes; then what the shapes do not show (heads, masks, schedules…).
      const state = await loadCheckpoint(checkpointPath, { model: spec.model, optimizer });
      // The init seed does not matter to a model whose weights all come from the checkpoint.
      const withoutSeed = (c: unknown) =>
        c && typeof c === "object" ? { ...c as Record<string, unknown>, seed: undefined } : c;
      const difference = firstDifference(
        withoutSeed((state.config as { model?: unknown })?.model),
        withoutSeed(spec.config),
        "model",
      );
      if (difference) {
        throw new RangeError(
          `${checkpointPath} was written for another ${spec.name}: ${difference}`,
        );
      }
      const counters = state.trainer as
        | { skippedSteps?: number; consecutiveSkips?: number; shards?: number }
        | null;
      if (counters?.shards !== undefined && counters.shards !== workers) {
        throw new RangeError(
          `${checkpointPath} was written by a run with ${counters.shards} workers; resume it ` +
            `with --workers=${counters.shards} (exact resume needs the same shards)`,
        );
      }
      startStep = state.step;
      skippedSteps = counters?.skippedSteps ?? 0;
      consecutiveSkips = counters?.consecutiveSkips ?? 0;
      restored = state.extra;
    }
  } catch (err) {
    optimizer.dispose();
    throw err;
  }
  const stale = log?.rows.find((r) => typeof r.step === "number" && r.step >= startStep);
  if (stale) {
    optimizer.dispose();
    throw new RangeError(
      `the log already holds step ${stale.step} but training starts at step ${startStep}: ` +
        `resume the log from the checkpoint's step (RunLog.resume)`,
    );
  }

  let sharded: ShardedStep;
  try {
    sharded = await ShardedStep.start(spec.model, {
      ...options.timeouts,
      taskUrl: spec.taskUrl,
      config: spec.config,
      shards: workers,
      reducer: options.reducer,
      compile,
    });
    if (compile && !canTrace()) {
      console.warn(
        `${spec.name}: compile was asked for, but the ${tf.getBackend()} backend cannot trace ` +
          "(it needs the tensorflow backend built by .ci/tensorflow): every step runs eagerly",
      );
    }
    if (restored) await sharded.restore(restored);
  } catch (err) {
    optimizer.dispose();
    throw err;
  }
  const checkpoint = async (step: number) => {
    if (!checkpointPath) return;
    await log?.flush(); // rows first: a kill between the two leaves rows past the checkpoint
    await saveCheckpoint(checkpointPath, {
      model: spec.model,
      optimizer,
      step,
      config: { name: spec.name, model: spec.config, ...options.runConfig },
      extra: await sharded.state(),
      trainer: { skippedSteps, consecutiveSkips, shards: workers, reducer: sharded.reducer, seed },
    });
  };

  const rows: MetricsRow[] = [];
  try {
    for (let step = startStep; step < steps; step++) {
      const started = performance.now();
      const batch = await spec.batchAt(step);
      let result;
      try {
        const shards = spec.split(batch, workers);
        result = await sharded.run(shards, spec.stepOptions?.(step) ?? {}, stepSeed(seed, step));
      } finally {
        spec.release?.(batch);
      }
      const { grads } = result;
      const modelRow = spec.metrics(result.values, step, result.totals);
      const clip = clipScale(grads, clipNorm, normOf);
      const loss = Number(modelRow.loss);
      const why = !Number.isFinite(loss)
        ? `loss ${loss}`
        : !clip.finite
        ? "non-finite gradients"
        : result.skip;
      const lrNow = lr.at(step);
      if (why === undefined) {
        optimizer.step(params, grads, lrNow, clip.scale);
        consecutiveSkips = 0;
      } else {
        skippedSteps++;
        consecutiveSkips++;
      }
      if (consecutiveSkips >= maxSkips) {
        const parameter = firstNonFinite(named, grads);
        tf.dispose(grads);
        await log?.flush();
        throw new NonFiniteError(
          `${spec.name}: ${consecutiveSkips} consecutive steps skipped, the last at step ` +
            `${step} (${why}); first non-finite gradient: ` +
            `${parameter === null ? "none" : `"${parameter}"`}`,
          step,
          parameter,
        );
      }
      tf.dispose(grads);
      const seconds = (performance.now() - started) / 1000;
      const row: MetricsRow = {
        step,
        ...modelRow,
        lr: lrNow,
        grad_norm: clip.norm,
        skipped: why !== undefined,
        skipped_steps: skippedSteps,
        ...result.metrics,
        bytes_sent: result.bytesSent,
        [`${spec.unit}_per_sec`]: spec.size(batch) / seconds,
        step_ms: seconds * 1000,
      };
      rows.push(row);
      log?.log(row);
      await options.onStep?.(row);
      if (every > 0 && (step + 1) % every === 0 && step + 1 < steps) await checkpoint(step + 1);
    }
    if (steps > startStep) await checkpoint(steps);
    await log?.flush();
  } catch (err) {
    optimizer.dispose();
    throw err;
  } finally {
    sharded.close();
    tracedNorm?.dispose();
  }
  return {
    rows: log ? log.rows : rows,
    startStep,
    skippedSteps,
    optimizer,
    compiled: compile && canTrace(),
    withEma: (fn) => optimizer.withEma(params, fn),
    dispose: () => optimizer.dispose(),
  };
}

/**
 * Throws unless `lr` is a usable step size at every step of a run of `steps`, and returns its
 * largest value. Schedules are pure functions of the step, so all of them are read up front
 * (microseconds each): a sign error anywhere, such as a negative peak that a warm-up hides at
 * step 0, is an error before the first step rather than a run that ascends the loss.
 */
function checkLrSchedule(lr: Schedule, steps: number): number {
  let peak = 0;
  for (let step = 0; step < steps; step++) {
    const value = lr.at(step);
    if (!(value >= 0 && Number.isFinite(value))) {
      throw new RangeError(
        `lr must be a finite number ≥ 0 at every step, got ${value} at step ${step} ` +
          `(${lr.label})`,
      );
    }
    peak = Math.max(peak, value);
  }
  if (steps > 0 && peak === 0) {
    throw new RangeError(`lr must be > 0 at some step, got 0 at all ${steps} (${lr.label})`);
  }
  return peak;
}

/** The name of the first parameter whose gradient holds a NaN or ∞, or null. */
function firstNonFinite(named: [string, tf.Variable][], grads: tf.Tensor[]): string | null {
  for (let i = 0; i < grads.length; i++) {
    const finite = tf.tidy(() => tf.all(tf.isFinite(grads[i])).dataSync()[0]);
    if (!finite) return named[i][0];
  }
  return null;
}
