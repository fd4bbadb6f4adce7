/**
 * The gradient workers behind `parallel.ts`'s sharded step: a pool of Deno Workers, each with its
 * own backend, a replica of the model built by the task module, and its shard's reducer; requests
 * with time limits, and failures that name the worker and what happened.
 *
 * @module
 */
import type { tf } from "../backend/mod.ts";
import type { Module } from "./module.ts";
import type { Payload, ReducerContext, ReducerSpec } from "./reduce.ts";

/** Values a task sends back besides its gradients (loss parts, tokens…), as typed arrays. */
export type TaskValues = Record<string, Float32Array | Int32Array>;

/** What a task's `gradients` returns: gradients in `params` order, and anything else to send back. */
export interface TaskGradients {
  /** The shard's gradients, one per parameter, in parameter order. */
  grads: tf.Tensor[];
  /** Scalar values (loss parts) of the shard, by name. */
  values: TaskValues;
}

/**
 * What the sharded step adds to a task's options for one shard: its seed, its index, and the
 * batch's target counts (the shard's loss is its sum over its targets divided by these totals, so
 * the shards' gradients add up to the batch's exactly, padding or not).
 */
export interface ShardContext {
  /** Seed of the shard's randomness (dropout, noise), derived from the step's seed. */
  seed: number;
  /** This shard's index. */
  shard: number;
  /** Number of shards. */
  shards: number;
  /** Targets of the whole batch per loss term (sums of the task's `targets` over the shards). */
  totals: Record<string, number>;
  /** Run the task's traceable part as one TensorFlow call (lib/nn's traced_task.ts). @default false */
  compile?: boolean;
}

/**
 * The shape of a task module: `createModel(config)` builds a replica, `targets(shard)` counts the
 * shard's loss targets per term, `gradients(model, params, shard, options)` computes the shard's
 * weighted gradients. The trainer's process runs shard 0 through the same module.
 */
export interface GradientTask<M extends Module = Module, S = unknown, O = unknown> {
  /** Builds the model a worker computes with from its config. */
  createModel(config: unknown): M;
  /** The counts a shard's values are averaged over, by value name. */
  targets(shard: S): Record<string, number>;
  /** A shard's gradients and values for the model's parameters. */
  gradients(model: M, params: tf.Variable[], shard: S, options: O & ShardContext): TaskGradients;
}

/** Messages to a worker. */
export type GradientRequest =
  | {
    type: "init";
    taskUrl: string;
    config: unknown;
    backend: string;
    reducer: ReducerSpec;
    context: ReducerContext;
  }
  | { type: "step"; weights: Float32Array[]; batch: unknown; options: unknown; info: unknown }
  | { type: "round"; k: number; broadcast: Payload }
  | { type: "state" }
  | { type: "restore"; state: Record<string, Float32Array> };

/** Messages from a worker. */
export type GradientReply =
  | { type: "ready" }
  | { type: "payload"; payload: Payload; values: TaskValues }
  | { type: "state"; state: Record<string, Float32Array> }
  | { type: "error"; message: string };

/** A remote shard's answer to one round. */
export interface RemotePayload {
  /** What the worker sends back. */
  payload: Payload;
  /** Scalar values of the shard, by name. */
  values: TaskValues;
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
   * Starts the workers.
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

/**
 * Where a pool starts: the task module, its model config, the backend each worker starts, and the
 * reducer with the context of the pool's first shard (worker i serves shard `firstShard + i`).
 */
export interface PoolSetup extends PoolTimeouts {
  /** URL of the module exporting the task, loaded in each worker. */
  taskUrl: string;
  /** The model config each worker builds its model from. */
  config: unknown;
  /** The backend each worker starts. */
  backend: string;
  /** The gradient reducer each worker and the coordinator load. */
  reducer: ReducerSpec;
  /** The reducer's context, less the shard index each worker adds. */
  context: Omit<ReducerContext, "shard">;
  /** The shard worker 0 serves. @default 1 (shard 0 runs in the trainer's process) */
  firstShard?: number;
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
 * Trainers do not use it directly: `parallel.ts`'s `ShardedStep` runs the step over it.
 *
 * @example
 * ```ts
 * import { GradientWorkers } from "./_pool.ts";
 * import { meanReducer } from "./reduce.ts";
 * import { ensureBackend } from "../backend/mod.ts";
 * // my_task.ts exports createModel(config), targets(shard) and gradients(model, params, shard, options).
 * const pool = await GradientWorkers.start(1, {
 *   taskUrl: new URL("./testdata/faulty_task.ts", import.meta.url).href,
 *   config: {},
 *   backend: await ensureBackend(), // the workers run what this process runs
 *   reducer: meanReducer(),
 *   context: { shapes: [[2]], names: ["w"], shards: 2 },
 * });
 * const { payload } = await pool.step(0, [new Float32Array(2)], new Float32Array([1, 2]), { mode: "ok" });
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
    const { taskUrl, config, backend, reducer } = setup;
    const firstShard = setup.firstShard ?? 1;
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
        pool.#workers.map((_, i) =>
          pool.#request(i, {
            type: "init",
            taskUrl,
            config,
            backend,
            reducer,
            context: { ...setup.context, shard: firstShard + i },
          })
        ),
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
   * Round 0 of a step on worker `index`: its shard's gradients with the model's current weights,
   * handed to its reducer.
   *
   * @param index Which worker.
   * @param weights The weights in parameter order (see {@link readWeights}).
   * @param batch The shard (structured-cloneable).
   * @param options The task's options for this shard (with its {@link ShardContext}).
   * @param info The coordinator's info for this step. @default null
   * @returns The reducer's payload and the task's other values.
   * @throws {WorkerFailure} When the worker fails (see the class docs).
   */
  async step(
    index: number,
    weights: Float32Array[],
    batch: unknown,
    options: unknown,
    info: unknown = null,
  ): Promise<RemotePayload> {
    const reply = await this.#request(index, { type: "step", weights, batch, options, info });
    return reply as Extract<GradientReply, { type: "payload" }>;
  }

  /**
   * Round k ≥ 1 of a step on worker `index`: the coordinator's broadcast to its reducer.
   *
   * @param index Which worker.
   * @param k The round.
   * @param broadcast What the coordinator sends.
   * @returns The reducer's payload.
   * @throws {WorkerFailure} When the worker fails.
   */
  async round(index: number, k: number, broadcast: Payload): Promise<Payload> {
    const reply = await this.#request(index, { type: "round", k, broadcast });
    return (reply as Extract<GradientReply, { type: "payload" }>).payload;
  }

  /**
   * Worker `index`'s reducer state, for a checkpoint.
   *
   * @param index Which worker.
   * @returns Arrays by name.
   */
  async state(index: number): Promise<Record<string, Float32Array>> {
    const reply = await this.#request(index, { type: "state" });
    return (reply as Extract<GradientReply, { type: "state" }>).state;
  }

  /**
   * Restores worker `index`'s reducer state from a checkpoint.
   *
   * @param index Which worker.
   * @param state What {@link state} returned.
   */
  async restore(index: number, state: Record<string, Float32Array>): Promise<void> {
    await this.#request(index, { type: "restore", state });
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
  if (kind === "init" || kind === "restore") return reply.type === "ready" ? null : describe(data);
  if (kind === "state") {
    const state = reply.state;
    return reply.type === "state" && typeof state === "object" && state !== null &&
        Object.values(state).every((v) => v instanceof Float32Array)
      ? null
      : "a state that is not Float32Arrays by name";
  }
  if (reply.type !== "payload") return describe(data);
  if (
    !Array.isArray(reply.payload) ||
    !reply.payload.every((g) =>
      g instanceof Float32Array || g instanceof Uint16Array || g instanceof Int32Array
    )
  ) {
    return "a payload that is not typed arrays";
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
