/**
 * PowerSGD gradient compression (Vogels et al., 2019) with DALL-E's variants (paper §2.5, App. E),
 * over W simulated data-parallel workers, for studies: a thin wrapper over the reducer the trainer
 * runs (`reducer.ts`, whose module comment has the algorithm) and its simulation (`simulate.ts`).
 *
 * Every worker's gradient gets weight 1/W, so the output is the mean over workers' gradients as
 * PowerSGD sees it: out = P̂P̂ᵀ·mean_w M_w. The shards keep their error buffers in weighted units
 * (e_w/W); {@linkcode PowerSGD.meanError} and {@linkcode PowerSGD.errorSquaredNorm} report them in
 * units of a worker's unweighted gradient.
 *
 * Vectors, and matrices too small to be worth it ((n + m)·r·minCompressionRate ≥ n·m), are
 * all-reduced uncompressed, as in torch's powerSGD_hook. Unlike the reducer, a rank larger than a
 * matrix allows is clamped here (min(r, n, m) per matrix), so that rank sweeps may overshoot.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { FloatFormatName } from "../gradscale/mod.ts";
import { DEFAULT_SETTINGS, type PowerSgdSettings, type QMode, resolveSettings } from "./_config.ts";
import { PowerSgdCoordinator } from "./_coordinator.ts";
import { PowerSgdShard } from "./_shard.ts";
import { fromMatrix } from "./matrix_view.ts";
import type { Orthogonalization } from "./orthogonalize.ts";
import type { CompressionPlanEntry } from "./plan.ts";
import { SimulatedAllReduce } from "./simulate.ts";

export { type CompressionPlanEntry, planCompression } from "./plan.ts";
export type { QMode } from "./_config.ts";

/** Options of {@linkcode PowerSGD}. */
export interface PowerSgdConfig {
  /** Rank r of the approximation (clamped to min(n, m) per matrix). */
  rank: number;
  /** Number of simulated data-parallel workers W. */
  workers: number;
  /** Keep each worker's compression error and add it to its next gradient. @default true */
  errorFeedback?: boolean;
  /** Choice of Q (see {@linkcode QMode}). @default "warm" */
  q?: QMode;
  /** Orthogonalisation of P. @default "gram-schmidt" */
  orthogonalize?: Orthogonalization;
  /** Compress a matrix only if n·m > (n + m)·r·minCompressionRate; 0 compresses all. @default 2 */
  minCompressionRate?: number;
  /** Seed of the Gaussian Q matrices. @default 0 */
  seed?: number;
  /**
   * Format of everything sent (P, P̂, Q, Q', uncompressed tensors). "float16" is sent as IEEE
   * halves (half the bytes); "1-6-9" is emulated (rounded, sent as float32). @default "float32"
   */
  communication?: FloatFormatName;
  /** Format the error buffers are stored in (DALL-E kept them in 16 bits). @default "float32" */
  errorPrecision?: FloatFormatName;
  /** Gram-Schmidt's ε added to each column norm. @default 1e-8 */
  epsilon?: number;
  /** Householder's shift: P + shift·I is factorised. @default 1e-6 */
  householderShift?: number;
}

/** Cumulative communication counts per worker, as torch's powerSGD_hook logs them, and bytes. */
export interface CompressionStats {
  /** Elements an uncompressed all-reduce would have sent, per worker, summed over steps. */
  elementsUncompressed: number;
  /** Elements actually sent (P and Q, or the uncompressed tensor), per worker, over steps. */
  elementsSent: number;
  /** Bytes a float32 all-reduce would have sent (4 per element), per worker, over steps. */
  bytesUncompressed: number;
  /** Bytes actually sent (2 per element in float16 communication), per worker, over steps. */
  bytesSent: number;
  /** elementsUncompressed / elementsSent (torch's "compress_rate"); 1 before any step. */
  ratio: number;
  /** 1 − elementsSent / elementsUncompressed (the paper's "compression rate"); 0 before any step. */
  savedFraction: number;
}

/**
 * PowerSGD over simulated data-parallel workers: compresses each worker's gradients, all-reduces
 * the factors, and returns the averaged decompressed gradients; keeps Q and the error buffers.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/mod.ts";
 * import { PowerSGD } from "./powersgd.ts";
 * const psgd = new PowerSGD({ rank: 2, workers: 2 });
 * const grads = [[tf.randomNormal([64, 32]), tf.zeros([32])], [tf.randomNormal([64, 32]), tf.ones([32])]];
 * const averaged = psgd.step(grads); // [64×32 rank-2 approximation of the mean, mean bias]
 * console.log(psgd.stats().ratio.toFixed(2)); // (64·32 + 32) / ((64 + 32)·2 + 32) = "9.29"
 * tf.dispose([...grads.flat(), ...averaged]);
 * psgd.dispose();
 * ```
 */
export class PowerSGD {
  /** The configuration with defaults filled in. */
  readonly config: Readonly<Required<PowerSgdConfig>>;
  /** Number of `step` calls so far. */
  stepCount = 0;

  #settings: PowerSgdSettings;
  #sim: SimulatedAllReduce | null = null;
  #shards: PowerSgdShard[] = [];
  #plan: CompressionPlanEntry[] | null = null;
  #totals = { elementsUncompressed: 0, elementsSent: 0, bytesUncompressed: 0, bytesSent: 0 };

  /**
   * Creates the compressor; state is allocated on the first step, from the gradient shapes.
   *
   * @param config See {@linkcode PowerSgdConfig}.
   */
  constructor(config: PowerSgdConfig) {
    const full: Required<PowerSgdConfig> = {
      errorFeedback: DEFAULT_SETTINGS.errorFeedback,
      q: DEFAULT_SETTINGS.q,
      orthogonalize: DEFAULT_SETTINGS.orthogonalize,
      minCompressionRate: DEFAULT_SETTINGS.minCompressionRate,
      seed: DEFAULT_SETTINGS.seed,
      communication: "float32",
      errorPrecision: DEFAULT_SETTINGS.errorPrecision,
      epsilon: DEFAULT_SETTINGS.epsilon,
      householderShift: DEFAULT_SETTINGS.householderShift,
      ...config,
    };
    if (!Number.isInteger(full.workers) || full.workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${full.workers}`);
    }
    const { workers: _, communication, ...rest } = full;
    this.#settings = resolveSettings({
      ...rest,
      // float16 travels as real IEEE halves; other formats are emulated on float32 values.
      bits: communication === "float16" ? 16 : 32,
      communication: communication === "float16" ? "float32" : communication,
      strictRank: false,
    });
    this.config = Object.freeze(full);
  }

  /**
   * What is compressed and how (available after the first step).
   *
   * @returns One entry per gradient, or null before the first step.
   * @example
   * ```ts
   * import { PowerSGD } from "./powersgd.ts";
   * console.log(new PowerSGD({ rank: 4, workers: 1 }).plan()); // null
   * ```
   */
  plan(): CompressionPlanEntry[] | null {
    return this.#plan ? this.#plan.map((e) => ({ ...e, shape: [...e.shape] })) : null;
  }

  /**
   * One data-parallel step: compresses and all-reduces every worker's gradients.
   *
   * @param workerGrads workerGrads[w][i]: worker w's gradient of parameter i (not disposed).
   *   Every worker gives the same shapes, and every step the same shapes as the first.
   * @returns The averaged decompressed gradient of each parameter (new tensors, caller owns).
   * @example
   * ```ts
   * import { tf } from "../backend/mod.ts";
   * import { PowerSGD } from "./powersgd.ts";
   * const psgd = new PowerSGD({ rank: 1, workers: 1, minCompressionRate: 0 });
   * const g = tf.tensor2d([[1, -1], [2, -2], [3, -3]]); // rank 1
   * const [out] = psgd.step([[g]]);
   * console.log(out.arraySync()); // ≈ [[1, -1], [2, -2], [3, -3]]
   * tf.dispose([g, out]);
   * psgd.dispose();
   * ```
   */
  step(workerGrads: tf.Tensor[][]): tf.Tensor[] {
    const { workers } = this.config;
    if (workerGrads.length !== workers) {
      throw new RangeError(`expected gradients of ${workers} workers, got ${workerGrads.length}`);
    }
    const shapes = workerGrads[0].map((g) => g.shape);
    if (this.#sim === null) {
      this.#sim = this.#create(shapes);
    } else if (
      this.#plan!.length !== shapes.length ||
      this.#plan!.some((e, i) => !tf.util.arraysEqual(e.shape, shapes[i]))
    ) {
      throw new RangeError(
        `gradient shapes changed since the first step: expected ` +
          `${this.#plan!.map((e) => `[${e.shape}]`).join(" ")}, got ` +
          `${shapes.map((s) => `[${s}]`).join(" ")}`,
      );
    }
    const result = this.#sim.step(workerGrads);
    const size = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    this.#totals.elementsUncompressed += size;
    this.#totals.bytesUncompressed += 4 * size;
    this.#totals.elementsSent += result.elementsSent;
    this.#totals.bytesSent += result.bytesSent;
    this.stepCount++;
    return result.grads;
  }

  #create(shapes: number[][]): SimulatedAllReduce {
    const { workers } = this.config;
    const names = shapes.map((_, i) => `param${i}`);
    const context = (shard: number) => ({ shapes, names, shard, shards: workers });
    this.#shards = Array.from(
      { length: workers },
      (_, w) => new PowerSgdShard(this.#settings, context(w)),
    );
    const coordinator = new PowerSgdCoordinator(this.#settings, context(-1));
    this.#plan = coordinator.plan;
    return new SimulatedAllReduce(this.#shards, coordinator, shapes, { workers, names });
  }

  /**
   * Cumulative communication since construction.
   *
   * @returns Elements and bytes sent and saved, summed over steps (per worker).
   * @example
   * ```ts
   * import { PowerSGD } from "./powersgd.ts";
   * console.log(new PowerSGD({ rank: 4, workers: 2 }).stats().ratio); // 1
   * ```
   */
  stats(): CompressionStats {
    const { elementsUncompressed: u, elementsSent: s } = this.#totals;
    return {
      ...this.#totals,
      ratio: s === 0 ? 1 : u / s,
      savedFraction: u === 0 ? 0 : 1 - s / u,
    };
  }

  /**
   * The error buffers' summed squared norm over workers and parameters (0 without feedback), in
   * units of a worker's unweighted gradient.
   *
   * @returns Σ_w Σ_i ‖error_{w,i}‖².
   * @example
   * ```ts
   * import { PowerSGD } from "./powersgd.ts";
   * console.log(new PowerSGD({ rank: 4, workers: 2 }).errorSquaredNorm()); // 0
   * ```
   */
  errorSquaredNorm(): number {
    const w = this.config.workers;
    let total = 0;
    for (const shard of this.#shards) {
      for (let i = 0; i < shard.plan.length; i++) {
        const e = shard.errorMatrix(i);
        // The shards keep e_w/W; a worker's own error is W times that.
        if (e) total += tf.tidy(() => e.square().sum().dataSync()[0]) * w * w;
      }
    }
    return total;
  }

  /**
   * The mean over workers of the error buffer of parameter i, in the parameter's shape (zeros
   * when there is none), for checking the error-feedback invariant.
   *
   * @param i Parameter index.
   * @returns A new tensor (caller owns).
   * @example
   * ```ts
   * import { tf } from "../backend/mod.ts";
   * import { PowerSGD } from "./powersgd.ts";
   * const psgd = new PowerSGD({ rank: 1, workers: 1 });
   * const g = tf.ones([4]);
   * tf.dispose(psgd.step([[g]]));
   * console.log(psgd.meanError(0).shape); // [4]
   * ```
   */
  meanError(i: number): tf.Tensor {
    if (this.#plan === null || i < 0 || i >= this.#plan.length) {
      throw new RangeError(
        `parameter index ${i} out of range (have ${this.#plan?.length ?? 0} parameters)`,
      );
    }
    const entry = this.#plan[i];
    const errors = this.#shards.map((s) => s.errorMatrix(i)).filter((e) => e !== null);
    if (errors.length === 0) return tf.zeros(entry.shape);
    // mean_w e_w = Σ_w e_w/W: the sum of what the shards keep.
    return tf.tidy(() => fromMatrix(tf.addN(errors), entry.shape));
  }

  /**
   * Frees Q and the error buffers; the next step starts afresh (stats are kept).
   *
   * @example
   * ```ts
   * import { PowerSGD } from "./powersgd.ts";
   * new PowerSGD({ rank: 4, workers: 2 }).dispose();
   * ```
   */
  dispose(): void {
    this.#sim?.dispose();
    this.#sim = null;
    this.#shards = [];
    this.#plan = null;
  }
}
