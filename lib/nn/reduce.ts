/**
 * Gradient reducers: how the shards of one training step turn their gradients into the one update.
 *
 * A step's batch is split into shards (see `parallel.ts`); each shard's gradients are already
 * weighted by its share of the batch's targets, so the exact combination is their **sum**. A
 * reducer decides what each shard sends and what the coordinator (the training process) does with
 * it, in rounds:
 *
 *     round 0: every shard   begin(grads, info) → payload      (info: the coordinator's, per step)
 *              coordinator   combine(0, payloads) → broadcast | done
 *     round k: every shard   round(k, broadcast) → payload
 *              coordinator   combine(k, payloads) → broadcast | done
 *
 * Payloads are lists of typed arrays, posted between Deno Workers as they are: what a step's stats
 * call "bytes sent" is their byte length, so a reducer that sends 16-bit halves sends half the
 * bytes. Shard reducers live where their shard computes (a gradient worker, or the training
 * process for shard 0) and may keep state between steps (PowerSGD's error feedback); both sides
 * save and restore it for checkpoints. Two rules keep the sides independent: a reducer must not
 * keep `begin`'s gradient tensors (they are freed after the call), and must not modify a
 * broadcast it receives (shard 0 gets the very arrays the coordinator holds).
 *
 * A reducer is a module, named by URL so that workers can load it, exporting
 * `createShardReducer(config, context)` and `createCoordinator(config, context)`
 * ({@link ReducerModule}); a {@link ReducerSpec} names the module and its configuration. This
 * module is itself the plain reducer: {@link meanReducer}.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { decodeHalf, encodeHalf } from "./_half.ts";

/** What a shard or the coordinator sends in one round. */
export type Payload = (Float32Array | Uint16Array | Int32Array)[];

/** A reducer by name: its module's URL, its configuration, and a label for logs. */
export interface ReducerSpec {
  /** Module exporting {@link ReducerModule}'s functions. */
  url: string;
  /** Its configuration (structured-cloneable). */
  config: unknown;
  /** Short description for config.json and logs, e.g. `"mean"`, `"powerSgd(rank 4)"`. */
  label: string;
}

/** What a reducer knows of the step it serves. */
export interface ReducerContext {
  /** Gradient shapes, in parameter order. */
  shapes: number[][];
  /** Parameter names, same order. */
  names: string[];
  /** This shard's index (shard reducers), or -1 (the coordinator). */
  shard: number;
  /** Number of shards. */
  shards: number;
}

/** The shard's side of a reducer. */
export interface ShardReducer {
  /** Round 0: this shard's weighted gradients (not to be disposed) and the step's info → message. */
  begin(grads: tf.Tensor[], info: unknown): Payload;
  /** Round k ≥ 1: the coordinator's broadcast → this shard's message. */
  round(k: number, broadcast: Payload): Payload;
  /** State to checkpoint (arrays by name); `{}` when it keeps none. */
  state(): Record<string, Float32Array>;
  /** Restores {@link state}'s output. */
  restore(state: Record<string, Float32Array>): void;
  /** Frees tensors. */
  dispose(): void;
}

/** The coordinator's answer to one round. */
export type Combined =
  | { broadcast: Payload }
  | {
    /** The update's gradients (new tensors; the trainer disposes them). */
    grads: tf.Tensor[];
    /** Why the update must be skipped (e.g. a 16-bit overflow), or absent. */
    skip?: string;
    /** Extra per-step metrics (snake_case). */
    metrics?: Record<string, number>;
  };

/** The coordinator's side of a reducer. */
export interface Coordinator {
  /** Sent to every shard's `begin` with the step (e.g. gradient scales). */
  info(): unknown;
  /** Combines one round's payloads (shard order). */
  combine(k: number, payloads: Payload[]): Combined;
  /** State to checkpoint. */
  state(): Record<string, Float32Array>;
  /** Restores {@link state}'s output. */
  restore(state: Record<string, Float32Array>): void;
  /** Frees tensors. */
  dispose(): void;
}

/** The shape of a reducer module. */
export interface ReducerModule {
  /** Makes a worker's shard reducer. */
  createShardReducer(
    config: unknown,
    context: ReducerContext,
  ): ShardReducer | Promise<ShardReducer>;
  /** Makes the coordinator that combines the shards' messages. */
  createCoordinator(config: unknown, context: ReducerContext): Coordinator | Promise<Coordinator>;
}

/** Options of {@link meanReducer}. */
export interface MeanReducerOptions {
  /** Bits per value sent: 32 (float32) or 16 (IEEE half, rounded to nearest). @default 32 */
  bits?: 32 | 16;
}

/**
 * The exact all-reduce: every shard sends its gradients, the coordinator sums them (the shards'
 * gradients are already weighted by their share of the targets).
 *
 * @param options `bits`: 32 or 16 per value sent.
 * @returns The reducer's spec.
 * @example
 * ```ts
 * import { meanReducer } from "./reduce.ts";
 * console.log(meanReducer({ bits: 16 }).label); // "mean (16-bit)"
 * ```
 */
export function meanReducer(options: MeanReducerOptions = {}): ReducerSpec {
  const bits = options.bits ?? 32;
  if (bits !== 32 && bits !== 16) throw new RangeError(`bits must be 32 or 16, got ${bits}`);
  return {
    url: import.meta.url,
    config: { bits },
    label: bits === 32 ? "mean" : "mean (16-bit)",
  };
}

/**
 * Loads a reducer's module.
 *
 * @param spec The reducer.
 * @returns Its module.
 */
export async function loadReducer(spec: ReducerSpec): Promise<ReducerModule> {
  const module = await import(spec.url) as Partial<ReducerModule>;
  if (
    typeof module.createShardReducer !== "function" ||
    typeof module.createCoordinator !== "function"
  ) {
    throw new TypeError(
      `${spec.url} is not a reducer module (it must export createShardReducer and ` +
        `createCoordinator)`,
    );
  }
  return module as ReducerModule;
}

/**
 * A tensor's values as a payload entry: float32, or IEEE halves.
 *
 * @param x The tensor.
 * @param bits 32 or 16.
 * @returns The values.
 */
export function encodeValues(x: tf.Tensor, bits: 32 | 16): Float32Array | Uint16Array {
  const values = x.dataSync() as Float32Array;
  // A copy: on the cpu backend dataSync hands out the tensor's own buffer, and payloads are
  // transferred (detached) when a worker posts them.
  return bits === 32 ? values.slice() : encodeHalf(values);
}

/**
 * A payload entry back as float32 values.
 *
 * @param values Float32 values or IEEE halves.
 * @returns Float32 values.
 */
export function decodeValues(values: Float32Array | Uint16Array | Int32Array): Float32Array {
  if (values instanceof Float32Array) return values;
  if (values instanceof Uint16Array) return decodeHalf(values);
  throw new TypeError("expected float32 values or IEEE halves, got an Int32Array");
}

/**
 * The sum over shards of payload entry `i` of each payload, as a tensor of `shape`.
 *
 * @param payloads One payload per shard.
 * @param i Which entry.
 * @param shape Its shape.
 * @returns A new tensor.
 */
export function sumEntry(payloads: Payload[], i: number, shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  payloads.forEach((p, s) => {
    if (p[i]?.length !== size) {
      throw new RangeError(
        `shard ${s} sent ${p[i]?.length ?? "no"} values for entry ${i}, of shape [${shape}] ` +
          `(${size} values)`,
      );
    }
  });
  const sum = new Float32Array(decodeValues(payloads[0][i]));
  for (let s = 1; s < payloads.length; s++) {
    const values = decodeValues(payloads[s][i]);
    for (let k = 0; k < sum.length; k++) sum[k] += values[k];
  }
  return tf.tensor(sum, shape);
}

function bitsOf(config: unknown): 32 | 16 {
  return (config as MeanReducerOptions | undefined)?.bits === 16 ? 16 : 32;
}

/** {@link ReducerModule}: the mean reducer's shard side. */
export function createShardReducer(config: unknown, _context: ReducerContext): ShardReducer {
  const bits = bitsOf(config);
  return {
    begin: (grads) => grads.map((g) => encodeValues(g, bits)),
    round: (k) => {
      throw new RangeError(`the mean reducer has one round, got round ${k}`);
    },
    state: () => ({}),
    restore: () => {},
    dispose: () => {},
  };
}

/** {@link ReducerModule}: the mean reducer's coordinator. */
export function createCoordinator(_config: unknown, context: ReducerContext): Coordinator {
  return {
    info: () => null,
    combine: (k, payloads) => {
      if (k !== 0) throw new RangeError(`the mean reducer has one round, got round ${k}`);
      return { grads: context.shapes.map((shape, i) => sumEntry(payloads, i, shape)) };
    },
    state: () => ({}),
    restore: () => {},
    dispose: () => {},
  };
}
