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
 * How a gradient worker failed: `timeout` (no reply within the limit; a worker that died or hangs),
 * `error` (the worker reported an error, or an uncaught one escaped it), `messageerror` (a reply
 * that could not be deserialized), `malformed` (a reply of the wrong shape), `closed` (the pool was
 * closed, by {@link GradientWorkers.close} or after another failure).
 */
export type WorkerFailureReason = "timeout" | "error" | "messageerror" | "malformed" | "closed";

/** A gradient worker's failure: which worker, and what happened. */
export class WorkerFailure extends Error {
  /** The worker that failed (for `closed` after a failure: the worker whose failure closed it). */
  readonly worker: number;
  /** What happened. */
  readonly reason: WorkerFailureReason;

  /**
   * @param worker The worker's index.
   * @param reason What happened.
   * @param message The full message.
   * @param options `cause`: the failure that closed the pool, for `closed`.
   */
  constructor(
    worker: number,
    reason: WorkerFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "WorkerFailure";
    this.worker = worker;
    this.reason = reason;
  }
}

/**
 * Time limits of a pool. Every request has one: a worker that dies (Deno reports nothing when it
 * does) or hangs is a `timeout` failure, never a hang.
 */
export interface PoolTimeouts {
  /** Limit on each worker's start-up (backend, task import, model), ms. Default 120 000. */
  startTimeoutMs?: number;
  /** Limit on a worker's first step (compilation, warm-up), ms. Default: `startTimeoutMs`. */
  firstStepTimeoutMs?: number;
  /**
   * A fixed limit on every later step, ms. Default: derived, `max(minStepTimeoutMs,
   * stepTimeoutFactor × the slowest step seen)`.
   */
  stepTimeoutMs?: number;
  /** Floor of the derived step limit, ms. Default 60 000. */
  minStepTimeoutMs?: number;
  /** Multiple of the slowest step seen in the derived step limit. Default 10. */
  stepTimeoutFactor?: number;
}

/** Where a pool starts: the task module, its model config, the backend each worker starts. */
export interface PoolSetup extends PoolTimeouts {
  taskUrl: string;
  config: unknown;
  backend: string;
}

interface Pending {
  kind: GradientRequest["type"];
  resolve: (reply: GradientReply) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  started: number;
}

/**
 * A pool of gradient workers, each holding a replica of one model.
 *
 * A worker that reports an error (its task threw) rejects that request with a
 * {@link WorkerFailure} (`error`) and keeps serving. Any other failure — an uncaught error, a reply
 * that cannot be deserialized or has the wrong shape, no reply within the time limit (see
 * {@link PoolTimeouts}) — rejects every pending request with a {@link WorkerFailure} naming the
 * worker and what happened, terminates every worker, and makes every later request reject at
 * once (`closed`).
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
  readonly #pending: (Pending | null)[];
  readonly #stepsDone: boolean[];
  readonly #timeouts: Required<Omit<PoolTimeouts, "stepTimeoutMs">> & { stepTimeoutMs?: number };
  #slowestStepMs = 0;
  #closed: WorkerFailure | null = null;

  private constructor(workers: Worker[], timeouts: PoolTimeouts) {
    const startTimeoutMs = timeouts.startTimeoutMs ?? 120_000;
    this.#timeouts = {
      startTimeoutMs,
      firstStepTimeoutMs: timeouts.firstStepTimeoutMs ?? startTimeoutMs,
      stepTimeoutMs: timeouts.stepTimeoutMs,
      minStepTimeoutMs: timeouts.minStepTimeoutMs ?? 60_000,
      stepTimeoutFactor: timeouts.stepTimeoutFactor ?? 10,
    };
    for (const [name, value] of Object.entries(this.#timeouts)) {
      if (value !== undefined && !(value > 0)) {
        throw new RangeError(`${name} must be positive, got ${value}`);
      }
    }
    this.#workers = workers;
    this.#pending = workers.map(() => null);
    this.#stepsDone = workers.map(() => false);
    workers.forEach((worker, i) => {
      worker.onmessage = (event: MessageEvent<unknown>) => this.#receive(i, event.data);
      worker.onmessageerror = () => {
        this.#fail(i, "messageerror", "sent a reply that could not be deserialized");
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#fail(i, "error", `died of an uncaught error: ${event.message}`);
      };
    });
  }

  /**
   * Starts `count` workers, each building a replica from `config` with the task's `createModel`.
   *
   * @param count Workers to start (≥ 1).
   * @param setup `taskUrl` (the task module), `config`, the `backend` each worker starts, and
   *   the pool's time limits ({@link PoolTimeouts}).
   * @returns The pool, ready (a failing start is an error, and stops every worker).
   */
  static async start(count: number, setup: PoolSetup): Promise<GradientWorkers> {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`a gradient pool needs ≥ 1 workers, got ${count}`);
    }
    const { taskUrl, config, backend } = setup;
    const url = new URL("./_gradient_worker.ts", import.meta.url).href;
    const workers = Array.from({ length: count }, () => new Worker(url, { type: "module" }));
    let pool: GradientWorkers;
    try {
      pool = new GradientWorkers(workers, setup);
    } catch (err) {
      workers.forEach((w) => w.terminate());
      throw err;
    }
    try {
      await Promise.all(
        pool.#workers.map((_, i) => pool.#request(i, { type: "init", taskUrl, config, backend })),
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

  /** Whether the pool is closed (by {@link close}, or after a worker failed). */
  get closed(): boolean {
    return this.#closed !== null;
  }

  /** The limit on worker `index`'s next step, ms (see {@link PoolTimeouts}). */
  stepTimeoutMs(index = 0): number {
    const t = this.#timeouts;
    if (!this.#stepsDone[index]) return t.firstStepTimeoutMs;
    if (t.stepTimeoutMs !== undefined) return t.stepTimeoutMs;
    return Math.max(t.minStepTimeoutMs, t.stepTimeoutFactor * this.#slowestStepMs);
  }

  /**
   * The task's gradients of one shard on worker `index`, with the model's current weights.
   *
   * @param index Which worker.
   * @param weights The weights in parameter order (see {@link readWeights}).
   * @param batch The shard (structured-cloneable).
   * @param options The task's options for this step.
   * @returns The gradients as arrays, and the task's other values.
   * @throws {WorkerFailure} When the worker fails (see the class docs).
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

  #receive(index: number, data: unknown): void {
    const pending = this.#pending[index];
    if (!pending) {
      if (!this.#closed) this.#fail(index, "malformed", `sent ${describe(data)} unasked`);
      return;
    }
    const problem = malformed(pending.kind, data);
    if (problem) {
      this.#fail(index, "malformed", `replied to "${pending.kind}" with ${problem}`);
      return;
    }
    const reply = data as GradientReply;
    this.#pending[index] = null;
    clearTimeout(pending.timer);
    if (reply.type === "error") {
      pending.reject(
        new WorkerFailure(index, "error", `gradient worker ${index} failed: ${reply.message}`),
      );
      return;
    }
    if (pending.kind === "step") {
      this.#stepsDone[index] = true;
      this.#slowestStepMs = Math.max(this.#slowestStepMs, performance.now() - pending.started);
    }
    pending.resolve(reply);
  }

  #request(index: number, request: GradientRequest): Promise<GradientReply> {
    if (!Number.isInteger(index) || index < 0 || index >= this.#workers.length) {
      return Promise.reject(
        new RangeError(`no gradient worker ${index} in a pool of ${this.#workers.length}`),
      );
    }
    if (this.#closed) return Promise.reject(this.#closedError(index));
    if (this.#pending[index]) {
      return Promise.reject(new Error(`gradient worker ${index} is busy`));
    }
    const limit = request.type === "init"
      ? this.#timeouts.startTimeoutMs
      : this.stepTimeoutMs(index);
    const promise = new Promise<GradientReply>((resolve, reject) => {
      const started = performance.now();
      const timer = setTimeout(() => {
        const waited = Math.round(performance.now() - started);
        const rule = request.type === "init"
          ? "the start-up limit"
          : !this.#stepsDone[index]
          ? "the first-step limit"
          : this.#timeouts.stepTimeoutMs !== undefined
          ? "the fixed step limit"
          : `max(${this.#timeouts.minStepTimeoutMs} ms, ${this.#timeouts.stepTimeoutFactor} × ` +
            `slowest step ${Math.round(this.#slowestStepMs)} ms)`;
        this.#fail(
          index,
          "timeout",
          `did not answer "${request.type}" within ${Math.round(limit)} ms (${rule}; ` +
            `waited ${waited} ms): it died or hangs`,
        );
      }, limit);
      this.#pending[index] = { kind: request.type, resolve, reject, timer, started };
    });
    // Rejections reach whoever awaits this; one left unawaited (its step failed elsewhere, and
    // the pool was closed) is no unhandled rejection.
    promise.catch(() => {});
    try {
      this.#workers[index].postMessage(request);
    } catch (err) {
      this.#fail(index, "error", `could not be sent a request: ${(err as Error).message}`);
    }
    return promise;
  }

  /** Worker `index` failed: reject everything pending, stop every worker. */
  #fail(index: number, reason: WorkerFailureReason, what: string): void {
    if (this.#closed) return;
    const failure = new WorkerFailure(
      index,
      reason,
      `gradient worker ${index} ${reasonWords[reason]}: ${what}; the pool is closed`,
    );
    this.#shutDown(failure);
  }

  #closedError(index: number): WorkerFailure {
    const why = this.#closed!;
    if (why.reason === "closed") {
      return new WorkerFailure(index, "closed", `gradient worker ${index}: the pool is closed`);
    }
    return new WorkerFailure(
      why.worker,
      "closed",
      `gradient pool closed after worker ${why.worker} failed: ${why.message}`,
      { cause: why },
    );
  }

  #shutDown(failure: WorkerFailure): void {
    this.#closed = failure;
    for (const worker of this.#workers) worker.terminate();
    // The failed worker's request first, so Promise.all over a step reports the failure itself.
    const order = this.#pending.map((_, i) => i).sort((a, b) =>
      (b === failure.worker ? 1 : 0) - (a === failure.worker ? 1 : 0)
    );
    for (const i of order) {
      const pending = this.#pending[i];
      if (!pending) continue;
      this.#pending[i] = null;
      clearTimeout(pending.timer);
      pending.reject(
        failure.reason === "closed" || i === failure.worker ? failure : this.#closedError(i),
      );
    }
  }

  /** Stops every worker; pending requests reject (`closed`). Calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#shutDown(new WorkerFailure(-1, "closed", "the gradient pool is closed"));
  }
}

const reasonWords: Record<WorkerFailureReason, string> = {
  timeout: "timed out",
  error: "failed",
  messageerror: "sent an unreadable reply",
  malformed: "sent a malformed reply",
  closed: "was closed",
};

/** Why `data` is not a reply to a `kind` request, or null. */
function malformed(kind: GradientRequest["type"], data: unknown): string | null {
  if (typeof data !== "object" || data === null) return describe(data);
  const reply = data as Record<string, unknown>;
  if (reply.type === "error") {
    return typeof reply.message === "string" ? null : "an error without a message";
  }
  if (kind === "init") return reply.type === "ready" ? null : describe(data);
  if (reply.type !== "grads") return describe(data);
  if (!Array.isArray(reply.grads) || !reply.grads.every((g) => g instanceof Float32Array)) {
    return "gradients that are not Float32Arrays";
  }
  const values = reply.values;
  if (
    typeof values !== "object" || values === null ||
    !Object.values(values).every((v) => v instanceof Float32Array || v instanceof Int32Array)
  ) {
    return "values that are not typed arrays";
  }
  return null;
}

function describe(data: unknown): string {
  if (typeof data === "object" && data !== null && "type" in data) {
    return `a message of type ${JSON.stringify(String((data as { type: unknown }).type))}`;
  }
  const text = typeof data === "string" ? JSON.stringify(data) : String(data);
  return `${typeof data} ${text.length > 40 ? text.slice(0, 40) + "…" : text}`;
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
