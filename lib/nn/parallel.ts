/**
 * Data-parallel gradients across CPU cores. tfjs-wasm runs one thread per process (its threads
 * build does not start under Deno), so a trainer splits each batch into shards, computes the first
 * here and the others in Deno Workers, each with its own backend and a replica of the model whose
 * weights are overwritten from this process at every step (so replicas never drift), and averages
 * the gradients weighted by shard size.
 *
 * What a worker computes is a **task**: a module, named by URL, exporting
 * `createModel(config)` (returning a {@link Module}) and `gradients(model, params, batch, options)`
 * (returning {@link TaskGradients}). Batches, options and the returned values must survive
 * `structuredClone` (numbers, strings, typed arrays).
 *
 * @module
 */
import type { tf } from "../backend/mod.ts";
import { tf as tfjs } from "../backend/mod.ts";
import type { Module } from "./module.ts";

/** What a task's `gradients` returns: gradients in `params` order, and anything else to send back. */
export interface TaskGradients {
  grads: tf.Tensor[];
  values: Record<string, Float32Array | Int32Array>;
}

/** The shape of a task module (see the module docs). */
export interface GradientTask<M extends Module = Module, B = unknown, O = unknown> {
  createModel(config: unknown): M;
  gradients(model: M, params: tf.Variable[], batch: B, options: O): TaskGradients;
}

/** Messages to a worker. */
export type GradientRequest =
  | { type: "init"; taskUrl: string; config: unknown; backend: string }
  | { type: "step"; weights: Float32Array[]; batch: unknown; options: unknown };

/** Messages from a worker. */
export type GradientReply =
  | { type: "ready" }
  | { type: "grads"; grads: Float32Array[]; values: Record<string, Float32Array | Int32Array> }
  | { type: "error"; message: string };

/** A remote shard's result. */
export interface RemoteGradients {
  grads: Float32Array[];
  values: Record<string, Float32Array | Int32Array>;
}

/**
 * A pool of gradient workers, each holding a replica of one model.
 *
 * @example
 * ```ts
 * import { GradientWorkers, readWeights } from "./parallel.ts";
 * import { ensureBackend } from "../backend/mod.ts";
 * // my_task.ts exports createModel(config) and gradients(model, params, batch, options).
 * const pool = await GradientWorkers.start(1, {
 *   taskUrl: new URL("./my_task.ts", import.meta.url).href,
 *   config: { width: 8 },
 *   backend: await ensureBackend(), // the workers run what this process runs
 * });
 * // const { grads, values } = await pool.gradients(0, readWeights(params), batch, options);
 * pool.close();
 * ```
 */
export class GradientWorkers {
  readonly #workers: Worker[];
  readonly #pending: (((reply: GradientReply) => void) | null)[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
    this.#pending = workers.map(() => null);
    workers.forEach((worker, i) => {
      worker.onmessage = (event: MessageEvent<GradientReply>) => this.#settle(i, event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#settle(i, { type: "error", message: event.message });
      };
    });
  }

  /**
   * Starts `count` workers, each building a replica from `config` with the task's `createModel`.
   *
   * @param count Workers to start (≥ 1).
   * @param setup `taskUrl` (the task module), `config`, and the `backend` each worker starts.
   * @returns The pool, ready (a failing start is an error, and stops every worker).
   */
  static async start(
    count: number,
    setup: { taskUrl: string; config: unknown; backend: string },
  ): Promise<GradientWorkers> {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`a gradient pool needs ≥ 1 workers, got ${count}`);
    }
    const url = new URL("./_gradient_worker.ts", import.meta.url).href;
    const pool = new GradientWorkers(
      Array.from({ length: count }, () => new Worker(url, { type: "module" })),
    );
    try {
      await Promise.all(
        pool.#workers.map((_, i) => pool.#request(i, { type: "init", ...setup })),
      );
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  /**
   * The task's gradients of one shard on worker `index`, with the model's current weights.
   *
   * @param index Which worker.
   * @param weights The weights in parameter order (see {@link readWeights}).
   * @param batch The shard (structured-cloneable).
   * @param options The task's options for this step.
   * @returns The gradients as arrays, and the task's other values.
   */
  async gradients(
    index: number,
    weights: Float32Array[],
    batch: unknown,
    options: unknown,
  ): Promise<RemoteGradients> {
    const reply = await this.#request(index, { type: "step", weights, batch, options });
    if (reply.type !== "grads") throw new Error(`gradient worker ${index} replied ${reply.type}`);
    return reply;
  }

  #settle(index: number, reply: GradientReply): void {
    const resolve = this.#pending[index];
    this.#pending[index] = null;
    resolve?.(reply);
  }

  #request(index: number, request: GradientRequest): Promise<GradientReply> {
    if (this.#pending[index]) throw new Error(`gradient worker ${index} is busy`);
    return new Promise((resolve, reject) => {
      this.#pending[index] = (reply) => {
        if (reply.type === "error") reject(new Error(`gradient worker ${index}: ${reply.message}`));
        else resolve(reply);
      };
      this.#workers[index].postMessage(request);
    });
  }

  /** Stops every worker. */
  close(): void {
    for (const worker of this.#workers) worker.terminate();
  }
}

/**
 * The current weights as arrays, in `params` order (what {@link GradientWorkers.gradients} sends).
 *
 * @param params Parameters.
 * @returns One array per parameter.
 * @example
 * ```ts
 * import { readWeights } from "./parallel.ts";
 * import { Linear } from "./module.ts";
 * const fc = new Linear(2, 3, { seed: 0 });
 * console.log(readWeights(fc.parameters()).map((w) => w.length)); // [6, 3]
 * fc.dispose();
 * ```
 */
export function readWeights(params: tf.Variable[]): Float32Array[] {
  return params.map((p) => p.dataSync() as Float32Array);
}

/**
 * Splits `n` examples over `count` processes as evenly as possible (the first ones get the extra).
 *
 * @param n Examples in the batch.
 * @param count Processes.
 * @returns The shard sizes.
 * @example
 * ```ts
 * import { shardSizes } from "./parallel.ts";
 * console.log(shardSizes(7, 2)); // [4, 3]
 * ```
 */
export function shardSizes(n: number, count: number): number[] {
  if (!Number.isInteger(n) || !Number.isInteger(count) || count < 1 || n < count) {
    throw new RangeError(`a batch of ${n} cannot be split over ${count} processes`);
  }
  return Array.from({ length: count }, (_, i) => Math.floor(n / count) + (i < n % count ? 1 : 0));
}

/**
 * The size-weighted mean of the local shard's gradients and the remote ones.
 *
 * @param params Parameters (for shapes).
 * @param local Gradients of shard 0 (not disposed here).
 * @param remote Gradients of shards 1…, as arrays.
 * @param sizes Shard sizes, local first.
 * @returns New gradient tensors (the caller disposes them).
 * @example
 * ```ts
 * import { meanGradients } from "./parallel.ts";
 * import { tf } from "../backend/mod.ts";
 * const p = tf.variable(tf.zeros([2]));
 * const g = tf.tensor1d([1, 1]);
 * const [mean] = meanGradients([p], [g], [[new Float32Array([4, 4])]], [1, 2]); // [3, 3]
 * tf.dispose([p, g, mean]);
 * ```
 */
export function meanGradients(
  params: tf.Variable[],
  local: tf.Tensor[],
  remote: Float32Array[][],
  sizes: number[],
): tf.Tensor[] {
  const n = sizes.reduce((a, b) => a + b, 0);
  return tfjs.tidy(() =>
    params.map((p, j) => {
      let sum = local[j].mul(sizes[0] / n);
      remote.forEach((grads, i) => {
        sum = sum.add(tfjs.tensor(grads[j], p.shape).mul(sizes[i + 1] / n));
      });
      return sum;
    })
  );
}
