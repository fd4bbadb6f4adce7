/**
 * A data-parallel all-reduce over W simulated workers in one process, running a reducer of
 * lib/nn's protocol (`lib/nn/reduce.ts`: the mean, {@linkcode powerSgd}, lib/gradscale's
 * `gradScale` wrapper, …) through the same rounds as the trainer's real workers, so that studies
 * measure the code that trains.
 *
 * Each worker's gradients are multiplied by its weight (default 1/W: the result is then the
 * mean) before its shard reducer sees them, as the trainer weights shards by their share of the
 * batch. Traffic is counted as the trainer counts it: per worker (the mean over workers), the
 * values and the bytes of every payload a shard sends, in every round; broadcasts are not counted.
 * Payloads are handed over as they are, not copied: reducers must not modify what they receive.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import {
  type Coordinator,
  loadReducer,
  type Payload,
  type ReducerContext,
  type ReducerSpec,
  type ShardReducer,
} from "../nn/reduce.ts";

/** Options of a {@linkcode SimulatedAllReduce}. */
export interface SimulationOptions {
  /** Number of simulated workers W. */
  workers: number;
  /** Weight of each worker's gradients. @default 1/W each */
  weights?: number[];
  /** Parameter names (for reducer messages and state keys). @default "param<i>" */
  names?: string[];
  /** Rounds after which a step that has not finished is an error. @default 16 */
  maxRounds?: number;
}

/** One simulated step's outcome. */
export interface SimulatedStep {
  /** The combined gradients (new tensors, caller owns). */
  grads: tf.Tensor[];
  /** Why the reducer says to skip the update, or undefined. */
  skip?: string;
  /** The reducer's metrics. */
  metrics: Record<string, number>;
  /** Rounds the step took. */
  rounds: number;
  /** Values sent per worker in this step. */
  elementsSent: number;
  /** Bytes sent per worker in this step. */
  bytesSent: number;
}

/** Cumulative traffic per worker. */
export interface TrafficStats {
  /** Steps run. */
  steps: number;
  /** Values a float32 all-reduce of every gradient would have sent. */
  elementsUncompressed: number;
  /** Values actually sent. */
  elementsSent: number;
  /** Bytes a float32 all-reduce would have sent (4 per value). */
  bytesUncompressed: number;
  /** Bytes actually sent (2 per value sent as IEEE halves). */
  bytesSent: number;
}

/** Every side's reducer state, for exact resumption. */
export interface SimulationState {
  /** The coordinator's. */
  coordinator: Record<string, Float32Array>;
  /** Each worker's shard reducer's. */
  shards: Record<string, Float32Array>[];
}

/**
 * W simulated workers and a coordinator running one reducer.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/mod.ts";
 * import { meanReducer } from "../nn/reduce.ts";
 * import { SimulatedAllReduce } from "./simulate.ts";
 * const sim = await SimulatedAllReduce.create(meanReducer({ bits: 16 }), [[3]], { workers: 2 });
 * const grads = [[tf.tensor1d([1, 2, 3])], [tf.tensor1d([3, 2, 1])]];
 * const { grads: [mean], bytesSent } = sim.step(grads);
 * console.log(mean.arraySync(), bytesSent); // [2, 2, 2] 6
 * tf.dispose([...grads.flat(), mean]);
 * sim.dispose();
 * ```
 */
export class SimulatedAllReduce {
  /** Gradient shapes. */
  readonly shapes: number[][];
  /** Parameter names. */
  readonly names: string[];
  /** Number of workers. */
  readonly workers: number;
  /** Each worker's weight. */
  readonly weights: readonly number[];
  readonly #shards: ShardReducer[];
  readonly #coordinator: Coordinator;
  readonly #maxRounds: number;
  #stats: TrafficStats = {
    steps: 0,
    elementsUncompressed: 0,
    elementsSent: 0,
    bytesUncompressed: 0,
    bytesSent: 0,
  };

  /**
   * Loads a reducer and creates its W shard sides and its coordinator.
   *
   * @param spec The reducer.
   * @param shapes Gradient shapes, in parameter order.
   * @param options Workers, weights, names.
   * @returns The simulation.
   */
  static async create(
    spec: ReducerSpec,
    shapes: readonly (readonly number[])[],
    options: SimulationOptions,
  ): Promise<SimulatedAllReduce> {
    const { names } = checkOptions(shapes, options);
    const module = await loadReducer(spec);
    // Each side gets its own copy of the config, as a worker would (and non-cloneable configs
    // fail here, not in the trainer).
    const config = () => structuredClone(spec.config);
    const context = (shard: number): ReducerContext => ({
      shapes: shapes.map((s) => [...s]),
      names: [...names],
      shard,
      shards: options.workers,
    });
    const coordinator = await module.createCoordinator(config(), context(-1));
    const shards: ShardReducer[] = [];
    try {
      for (let w = 0; w < options.workers; w++) {
        shards.push(await module.createShardReducer(config(), context(w)));
      }
    } catch (err) {
      coordinator.dispose();
      for (const s of shards) s.dispose();
      throw err;
    }
    return new SimulatedAllReduce(shards, coordinator, shapes, options);
  }

  /**
   * Wraps reducers created by the caller (synchronously, e.g. by a module's own functions).
   *
   * @param shards One shard reducer per worker, in worker order.
   * @param coordinator The coordinator.
   * @param shapes Gradient shapes, in parameter order.
   * @param options Workers (= shards.length), weights, names.
   */
  constructor(
    shards: ShardReducer[],
    coordinator: Coordinator,
    shapes: readonly (readonly number[])[],
    options: SimulationOptions,
  ) {
    const { names, weights } = checkOptions(shapes, options);
    if (shards.length !== options.workers) {
      throw new RangeError(`expected ${options.workers} shard reducers, got ${shards.length}`);
    }
    this.shapes = shapes.map((s) => [...s]);
    this.names = names;
    this.workers = options.workers;
    this.weights = Object.freeze(weights);
    this.#shards = shards;
    this.#coordinator = coordinator;
    this.#maxRounds = options.maxRounds ?? 16;
  }

  /**
   * One data-parallel step: weights every worker's gradients and runs the reducer's rounds.
   *
   * @param workerGrads workerGrads[w][i]: worker w's gradient of parameter i (not disposed).
   * @returns The combined gradients, skip and metrics, and this step's traffic per worker.
   */
  step(workerGrads: tf.Tensor[][]): SimulatedStep {
    this.#check(workerGrads);
    const info = this.#coordinator.info();
    let elements = 0;
    let bytes = 0;
    const count = (payloads: Payload[]) => {
      for (const payload of payloads) {
        for (const entry of payload) {
          elements += entry.length;
          bytes += entry.byteLength;
        }
      }
    };
    let payloads = workerGrads.map((grads, w) => {
      const weight = this.weights[w];
      const weighted = tf.tidy(() => grads.map((g) => weight === 1 ? g.clone() : g.mul(weight)));
      try {
        return this.#shards[w].begin(weighted, info);
      } finally {
        tf.dispose(weighted); // as the trainer does: shard reducers must not keep them
      }
    });
    for (let k = 0;; k++) {
      count(payloads);
      const combined = this.#coordinator.combine(k, payloads);
      if (!("broadcast" in combined)) {
        const size = this.shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
        const s = this.#stats;
        s.steps++;
        s.elementsUncompressed += size;
        s.bytesUncompressed += 4 * size;
        s.elementsSent += elements / this.workers;
        s.bytesSent += bytes / this.workers;
        return {
          grads: combined.grads,
          skip: combined.skip,
          metrics: combined.metrics ?? {},
          rounds: k + 1,
          elementsSent: elements / this.workers,
          bytesSent: bytes / this.workers,
        };
      }
      if (k + 1 >= this.#maxRounds) {
        throw new RangeError(`the reducer did not finish within ${this.#maxRounds} rounds`);
      }
      const { broadcast } = combined;
      payloads = this.#shards.map((shard) => shard.round(k + 1, broadcast));
    }
  }

  #check(workerGrads: tf.Tensor[][]): void {
    if (workerGrads.length !== this.workers) {
      throw new RangeError(
        `expected gradients of ${this.workers} workers, got ${workerGrads.length}`,
      );
    }
    workerGrads.forEach((grads, w) => {
      if (grads.length !== this.shapes.length) {
        throw new RangeError(
          `worker ${w} gave ${grads.length} gradients, expected ${this.shapes.length}`,
        );
      }
      grads.forEach((g, i) => {
        if (!tf.util.arraysEqual(g.shape, this.shapes[i])) {
          throw new RangeError(
            `gradient ${i} of worker ${w} has shape [${g.shape}], expected [${this.shapes[i]}]`,
          );
        }
      });
    });
  }

  /**
   * Cumulative traffic per worker since creation.
   *
   * @returns Steps, values and bytes, sent and uncompressed.
   */
  stats(): TrafficStats {
    return { ...this.#stats };
  }

  /**
   * The reducers' state, for exact resumption with {@link restore}.
   *
   * @returns The coordinator's and every shard's arrays.
   */
  state(): SimulationState {
    return {
      coordinator: this.#coordinator.state(),
      shards: this.#shards.map((s) => s.state()),
    };
  }

  /**
   * Restores {@link state}'s output (of a simulation with as many workers).
   *
   * @param state The arrays.
   */
  restore(state: SimulationState): void {
    if (state.shards.length !== this.workers) {
      throw new RangeError(
        `the state has ${state.shards.length} shards, this simulation ${this.workers} workers`,
      );
    }
    this.#coordinator.restore(state.coordinator);
    this.#shards.forEach((s, w) => s.restore(state.shards[w]));
  }

  /** Frees the reducers' tensors. */
  dispose(): void {
    this.#coordinator.dispose();
    for (const s of this.#shards) s.dispose();
  }
}

function checkOptions(
  shapes: readonly (readonly number[])[],
  options: SimulationOptions,
): { names: string[]; weights: number[] } {
  const { workers } = options;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  }
  const weights = options.weights ? [...options.weights] : new Array(workers).fill(1 / workers);
  if (weights.length !== workers || weights.some((w) => !Number.isFinite(w))) {
    throw new RangeError(`expected ${workers} finite weights, got [${weights}]`);
  }
  const names = options.names ? [...options.names] : shapes.map((_, i) => `param${i}`);
  if (names.length !== shapes.length) {
    throw new RangeError(`expected ${shapes.length} parameter names, got ${names.length}`);
  }
  return { names, weights };
}
