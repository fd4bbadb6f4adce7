/**
 * One sharded training step, the same for one process and for many: a batch is split into shards,
 * shard 0 is computed in this process and shards 1… in Deno Workers (each with its own backend
 * and a replica of the model whose weights are overwritten from here every step, so replicas never
 * drift), all through the same task module; the shards' gradients are combined by a reducer
 * (`reduce.ts`), which with one shard and the mean reducer is the plain gradient.
 *
 * What a shard computes is a **task** ({@link GradientTask}): a module, named by URL, exporting
 * `createModel(config)`, `targets(shard)` (its loss targets per term) and
 * `gradients(model, params, shard, options)`. Each shard's loss is its sum over its targets
 * divided by the whole batch's count of them, so the shards' gradients add up to the batch's
 * gradient exactly, however unevenly padding falls. Shards, options and returned values must
 * survive `structuredClone` (numbers, strings, typed arrays).
 *
 * Failures never hang a step: a worker that dies, throws, sends a malformed message or does not
 * answer within its time limit ends the step with a {@link WorkerFailure} naming the worker and
 * what happened, and the pool is closed.
 *
 * @module
 */
import { ensureBackend, tf } from "../backend/mod.ts";
import { streamSeed } from "../io/mod.ts";
import type { Module } from "./module.ts";
import {
  type GradientTask,
  GradientWorkers,
  type PoolTimeouts,
  type ShardContext,
  type TaskValues,
} from "./_pool.ts";
import {
  type Coordinator,
  loadReducer,
  meanReducer,
  type Payload,
  type ReducerSpec,
  type ShardReducer,
} from "./reduce.ts";

export {
  type GradientReply,
  type GradientRequest,
  type GradientTask,
  GradientWorkers,
  type PoolSetup,
  type PoolTimeouts,
  type RemotePayload,
  type ShardContext,
  type TaskGradients,
  type TaskValues,
  WorkerFailure,
  type WorkerFailureReason,
} from "./_pool.ts";

/** Options of {@link ShardedStep.start}. */
export interface ShardedStepOptions extends PoolTimeouts {
  /** The task module's URL. */
  taskUrl: string;
  /** The model's config (each worker builds its replica from it). */
  config: unknown;
  /** Shards per step (1: everything in this process). */
  shards: number;
  /** How shards combine their gradients. @default meanReducer() */
  reducer?: ReducerSpec;
  /** Run each shard's traceable task as one TensorFlow call (see `traced_task.ts`). @default false */
  compile?: boolean;
}

/** What one step hands back. */
export interface ShardedResult {
  /** The combined gradients in parameter order (new tensors; the caller disposes them). */
  grads: tf.Tensor[];
  /** Each shard's task values, shard order. */
  values: TaskValues[];
  /** Why the reducer says the update must be skipped, or undefined. */
  skip?: string;
  /** The reducer's metrics. */
  metrics: Record<string, number>;
  /** Bytes each shard sent on average this step (the payloads' byte length). */
  bytesSent: number;
  /** Values each shard sent on average this step. */
  elementsSent: number;
  /** The batch's targets per loss term. */
  totals: Record<string, number>;
}

/**
 * A derived seed for shard `shard` of a step, so no two shards share dropout masks or noise.
 *
 * @param stepSeed The step's seed.
 * @param shard The shard.
 * @returns An unsigned 32-bit seed.
 * @example
 * ```ts
 * import { shardSeed } from "./parallel.ts";
 * console.log(shardSeed(7, 0) === 7, shardSeed(7, 1) !== 7); // true true
 * ```
 */
export function shardSeed(stepSeed: number, shard: number): number {
  return shard === 0 ? stepSeed >>> 0 : streamSeed("trainer/shard", stepSeed, shard);
}

/**
 * The sharded step of a model (see the module docs).
 *
 * @example
 * ```ts
 * import { ShardedStep } from "./parallel.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const taskUrl = new URL("./testdata/faulty_task.ts", import.meta.url).href;
 * const task = await import(taskUrl);
 * const model = task.createModel({});
 * const step = await ShardedStep.start(model, { taskUrl, config: {}, shards: 1 });
 * const { grads } = await step.run([new Float32Array([1, 2])], { mode: "ok" }, 0);
 * console.log(Array.from(grads[0].dataSync())); // [1, 2]
 * tf.dispose(grads); step.close(); model.dispose();
 * ```
 */
export class ShardedStep {
  readonly #model: Module;
  readonly #params: tf.Variable[];
  readonly #task: GradientTask;
  readonly #local: ShardReducer;
  readonly #coordinator: Coordinator;
  readonly #pool: GradientWorkers | null;
  /** Shards per step. */
  readonly shards: number;
  /** The reducer's label. */
  readonly reducer: string;
  /** Whether shards run their traceable task as one TensorFlow call. */
  readonly compile: boolean;
  /** The 32-bit mean reducer: with one shard, the gradients stay where they are. */
  readonly #plainMean: boolean;

  private constructor(
    model: Module,
    task: GradientTask,
    local: ShardReducer,
    coordinator: Coordinator,
    pool: GradientWorkers | null,
    shards: number,
    spec: ReducerSpec,
    compile: boolean,
  ) {
    this.#model = model;
    this.#params = model.parameters();
    this.#task = task;
    this.#local = local;
    this.#coordinator = coordinator;
    this.#pool = pool;
    this.shards = shards;
    this.reducer = spec.label;
    this.compile = compile;
    const mean = meanReducer();
    this.#plainMean = spec.url === mean.url && spec.label === mean.label;
  }

  /**
   * Loads the task and reducer and starts `shards − 1` workers on the backend in use.
   *
   * @param model The model trained in place (shard 0 computes on it).
   * @param options See {@link ShardedStepOptions}.
   * @returns The step, ready.
   */
  static async start(model: Module, options: ShardedStepOptions): Promise<ShardedStep> {
    const { shards } = options;
    if (!Number.isInteger(shards) || shards < 1) {
      throw new RangeError(`workers must be a positive integer, got ${shards}`);
    }
    const spec = options.reducer ?? meanReducer();
    const task = await import(options.taskUrl) as Partial<GradientTask>;
    for (const name of ["createModel", "targets", "gradients"] as const) {
      if (typeof task[name] !== "function") {
        throw new TypeError(`${options.taskUrl} is not a gradient task: it has no ${name}()`);
      }
    }
    const named = model.namedParameters();
    const context = { shapes: named.map(([, p]) => p.shape), names: named.map(([n]) => n), shards };
    const module = await loadReducer(spec);
    const local = await module.createShardReducer(spec.config, { ...context, shard: 0 });
    const coordinator = await module.createCoordinator(spec.config, { ...context, shard: -1 });
    let pool: GradientWorkers | null = null;
    if (shards > 1) {
      try {
        pool = await GradientWorkers.start(shards - 1, {
          ...options,
          backend: await ensureBackend(),
          reducer: spec,
          context,
        });
      } catch (err) {
        local.dispose();
        coordinator.dispose();
        throw err;
      }
    }
    return new ShardedStep(
      model,
      task as GradientTask,
      local,
      coordinator,
      pool,
      shards,
      spec,
      options.compile ?? false,
    );
  }

  /**
   * One step: every shard's gradients, combined by the reducer.
   *
   * @param shards The batch's shards (as many as {@link shards}).
   * @param options The task's options for this step (each shard gets them with its
   *   {@link ShardContext}).
   * @param seed The step's seed (shard s gets {@link shardSeed}(seed, s)).
   * @returns The combined gradients and what else the step produced.
   * @throws {WorkerFailure} When a worker fails; the pool is then closed.
   */
  async run(shards: unknown[], options: object, seed: number): Promise<ShardedResult> {
    if (shards.length !== this.shards) {
      throw new RangeError(`expected ${this.shards} shards, got ${shards.length}`);
    }
    const counts = shards.map((s) => this.#task.targets(s));
    const totals: Record<string, number> = {};
    for (const c of counts) {
      for (const [k, v] of Object.entries(c)) totals[k] = (totals[k] ?? 0) + v;
    }
    const shardOptions = (s: number): ShardContext =>
      ({
        ...options,
        seed: shardSeed(seed, s),
        shard: s,
        shards: this.shards,
        totals,
        compile: this.compile,
      }) as ShardContext;
    const info = this.#coordinator.info();
    const weights = this.#pool ? this.#params.map((p) => p.dataSync() as Float32Array) : [];
    const remote = this.#pool
      ? shards.slice(1).map((s, i) => this.#pool!.step(i, weights, s, shardOptions(i + 1), info))
      : [];
    let sent = 0, elements = 0;
    const count = (payloads: Payload[]) => {
      for (const p of payloads) {
        for (const a of p) {
          sent += a.byteLength;
          elements += a.length;
        }
      }
    };
    try {
      const local = this.#task.gradients(this.#model, this.#params, shards[0], shardOptions(0));
      if (this.shards === 1 && this.#plainMean) {
        // One shard's mean is its own gradient: the same values without leaving the device.
        const bytes = local.grads.reduce((n, g) => n + 4 * g.size, 0);
        return {
          grads: local.grads,
          values: [local.values],
          metrics: {},
          bytesSent: bytes,
          elementsSent: bytes / 4,
          totals,
        };
      }
      let first: Payload;
      try {
        first = this.#local.begin(local.grads, info);
      } finally {
        tf.dispose(local.grads);
      }
      const replies = await Promise.all(remote);
      let payloads = [first, ...replies.map((r) => r.payload)];
      const values = [local.values, ...replies.map((r) => r.values)];
      for (let k = 0;; k++) {
        count(payloads);
        const combined = this.#coordinator.combine(k, payloads);
        if (!("broadcast" in combined)) {
          return {
            grads: combined.grads,
            values,
            skip: combined.skip,
            metrics: combined.metrics ?? {},
            bytesSent: sent / this.shards,
            elementsSent: elements / this.shards,
            totals,
          };
        }
        const { broadcast } = combined;
        const next = this.#pool
          ? shards.slice(1).map((_, i) => this.#pool!.round(i, k + 1, broadcast))
          : [];
        payloads = [this.#local.round(k + 1, broadcast), ...await Promise.all(next)];
      }
    } catch (err) {
      // A step that failed anywhere leaves no worker mid-request behind.
      this.#pool?.close();
      throw err;
    }
  }

  /**
   * The reducers' state (coordinator and every shard), for a checkpoint.
   *
   * @returns Arrays by name: `coordinator.<name>`, `shard<i>.<name>`.
   */
  async state(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    const add = (prefix: string, state: Record<string, Float32Array>) => {
      for (const [k, v] of Object.entries(state)) out[`${prefix}.${k}`] = v;
    };
    add("coordinator", this.#coordinator.state());
    add("shard0", this.#local.state());
    for (let i = 0; i < (this.#pool?.size ?? 0); i++) {
      add(`shard${i + 1}`, await this.#pool!.state(i));
    }
    return out;
  }

  /**
   * Restores {@link state}'s output (from a run with the same number of shards).
   *
   * @param state Arrays by name.
   */
  async restore(state: Record<string, Float32Array>): Promise<void> {
    const part = (prefix: string) =>
      Object.fromEntries(
        Object.entries(state).filter(([k]) => k.startsWith(prefix + ".")).map((
          [k, v],
        ) => [k.slice(prefix.length + 1), v]),
      );
    const foreign = Object.keys(state).find((k) => {
      const m = /^shard(\d+)\./.exec(k);
      return m !== null && Number(m[1]) >= this.shards;
    });
    if (foreign) {
      throw new RangeError(
        `the checkpoint's reducer state has "${foreign}", but this run has ${this.shards} ` +
          `shards: resume with the same number of workers`,
      );
    }
    this.#coordinator.restore(part("coordinator"));
    this.#local.restore(part("shard0"));
    for (let i = 0; i < (this.#pool?.size ?? 0); i++) {
      await this.#pool!.restore(i, part(`shard${i + 1}`));
    }
  }

  /** Stops the workers and frees the reducers. */
  close(): void {
    this.#pool?.close();
    this.#local.dispose();
    this.#coordinator.dispose();
  }
}

/**
 * Splits `n` examples over `count` shards as evenly as possible (the first ones get the extra).
 *
 * @param n Examples in the batch.
 * @param count Shards.
 * @returns The shard sizes.
 * @example
 * ```ts
 * import { shardSizes } from "./parallel.ts";
 * console.log(shardSizes(7, 2)); // [4, 3]
 * ```
 */
export function shardSizes(n: number, count: number): number[] {
  if (!Number.isInteger(n) || !Number.isInteger(count) || count < 1 || n < count) {
    throw new RangeError(`a batch of ${n} cannot be split over ${count} shards`);
  }
  return Array.from({ length: count }, (_, i) => Math.floor(n / count) + (i < n % count ? 1 : 0));
}

/**
 * A batch's items in `count` contiguous parts of {@link shardSizes}' sizes: what a task's `split`
 * hands each shard when its batch is a list of example indices.
 *
 * @param items The batch (e.g. example indices).
 * @param count Shards.
 * @returns The parts, in order.
 * @example
 * ```ts
 * import { shardSlices } from "./parallel.ts";
 * console.log(shardSlices([10, 11, 12, 13, 14], 2)); // [[10, 11, 12], [13, 14]]
 * ```
 */
export function shardSlices<T>(items: readonly T[], count: number): T[][] {
  let start = 0;
  return shardSizes(items.length, count).map((size) => items.slice(start, start += size));
}
