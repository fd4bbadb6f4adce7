/**
 * PowerSGD gradient compression (Vogels et al., 2019) with DALL-E's variants (paper §2.5, App. E),
 * simulating W data-parallel workers in one process.
 *
 * One step, per gradient matrix, with M_w = worker w's gradient (+ its error buffer):
 *
 *     P = Σ_w M_w·Q          (n × r; all-reduce, sum)
 *     P̂ = orthogonalise(P)
 *     Q' = (1/W) Σ_w M_wᵀ·P̂  (m × r; all-reduce, mean)
 *     out = P̂·Q'ᵀ            (the same on every worker: P̂P̂ᵀ·mean_w M_w)
 *     error_w = M_w − out    (error feedback)
 *
 * Vectors, and matrices too small to be worth it ((n + m)·r·minCompressionRate ≥ n·m), are
 * all-reduced (mean) uncompressed, as in torch's powerSGD_hook.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import {
  type FloatFormat,
  type FloatFormatName,
  formatByName,
  roundTensorToFormat,
} from "../gradscale/mod.ts";
import { fromMatrix, matrixShape, toMatrix } from "./matrix_view.ts";
import { type Orthogonalization, orthogonalize } from "./orthogonalize.ts";

/**
 * How Q is chosen each step: "warm" reuses the last Q' (Vogels et al.), "fixed" keeps one seeded
 * Gaussian Q for ever (DALL-E), "fresh" draws a new Gaussian Q every step (torch's
 * `warm_start=False`).
 */
export type QMode = "warm" | "fixed" | "fresh";

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
  /** Format of everything sent (P, Q, uncompressed tensors), to study 16-bit all-reduce. @default "float32" */
  communication?: FloatFormatName;
  /** Format the error buffers are stored in (DALL-E kept them in 16 bits). @default "float32" */
  errorPrecision?: FloatFormatName;
  /** Gram-Schmidt's ε added to each column norm. @default 1e-8 */
  epsilon?: number;
  /** Householder's shift: P + shift·I is factorised. @default 1e-6 */
  householderShift?: number;
}

/** Cumulative communication counts, as torch's powerSGD_hook logs them. */
export interface CompressionStats {
  /** Elements an uncompressed all-reduce would have sent, per worker, summed over steps. */
  elementsUncompressed: number;
  /** Elements actually sent (P and Q, or the uncompressed tensor), per worker, over steps. */
  elementsSent: number;
  /** elementsUncompressed / elementsSent (torch's "compress_rate"); 1 before any step. */
  ratio: number;
  /** 1 − elementsSent / elementsUncompressed (the paper's "compression rate"); 0 before any step. */
  savedFraction: number;
}

/** What PowerSGD does with one gradient tensor. */
export interface CompressionPlanEntry {
  /** The gradient's shape. */
  shape: number[];
  /** Its matrix view: "vector", "matrix" or "conv" (HWIO kernel). */
  view: "vector" | "matrix" | "conv";
  /** Rows of the matrix view. */
  n: number;
  /** Columns of the matrix view. */
  m: number;
  /** Rank used: min(rank, n, m) when compressed, else 0. */
  rank: number;
  /** Whether it is compressed. */
  compressed: boolean;
  /** Elements per step without compression: n·m. */
  elementsUncompressed: number;
  /** Elements sent per step: (n + m)·rank if compressed, else n·m. */
  elementsSent: number;
}

/**
 * Decides, for each gradient shape, whether and with which rank PowerSGD compresses it.
 *
 * @param shapes The gradient shapes.
 * @param rank The requested rank r.
 * @param minCompressionRate Compress only if n·m > (n + m)·r·minCompressionRate. @default 2
 * @returns One entry per shape.
 * @example
 * ```ts
 * import { planCompression } from "./powersgd.ts";
 * const plan = planCompression([[256, 1024], [1024], [8, 8]], 4);
 * console.log(plan.map((e) => [e.compressed, e.elementsSent])); // [[true, 5120], [false, 1024], [false, 64]]
 * ```
 */
export function planCompression(
  shapes: readonly (readonly number[])[],
  rank: number,
  minCompressionRate = 2,
): CompressionPlanEntry[] {
  if (!Number.isInteger(rank) || rank < 1) {
    throw new RangeError(`rank must be a positive integer, got ${rank}`);
  }
  if (!(minCompressionRate >= 0)) {
    throw new RangeError(`minCompressionRate must be ≥ 0, got ${minCompressionRate}`);
  }
  return shapes.map((shape) => {
    const { view, n, m } = matrixShape(shape);
    const r = Math.min(rank, n, m);
    const compressed = view !== "vector" && (n + m) * r * minCompressionRate < n * m;
    return {
      shape: [...shape],
      view,
      n,
      m,
      rank: compressed ? r : 0,
      compressed,
      elementsUncompressed: n * m,
      elementsSent: compressed ? (n + m) * r : n * m,
    };
  });
}

// Distinct, reproducible tf seeds per (config seed, parameter, step).
function mixSeed(seed: number, param: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (param + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (step + 1), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
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

  #plan: CompressionPlanEntry[] | null = null;
  #q: (tf.Tensor2D | null)[] = []; // per parameter; m × r
  #errors: (tf.Tensor2D[] | null)[] = []; // per parameter, per worker; n × m
  #elementsUncompressed = 0;
  #elementsSent = 0;
  #sendFormat: FloatFormat;
  #errorFormat: FloatFormat;

  /**
   * Creates the compressor; state is allocated on the first step, from the gradient shapes.
   *
   * @param config See {@linkcode PowerSgdConfig}.
   */
  constructor(config: PowerSgdConfig) {
    const full: Required<PowerSgdConfig> = {
      errorFeedback: true,
      q: "warm",
      orthogonalize: "gram-schmidt",
      minCompressionRate: 2,
      seed: 0,
      communication: "float32",
      errorPrecision: "float32",
      epsilon: 1e-8,
      householderShift: 1e-6,
      ...config,
    };
    if (!Number.isInteger(full.rank) || full.rank < 1) {
      throw new RangeError(`rank must be a positive integer, got ${full.rank}`);
    }
    if (!Number.isInteger(full.workers) || full.workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${full.workers}`);
    }
    if (!["warm", "fixed", "fresh"].includes(full.q)) {
      throw new RangeError(`q must be "warm", "fixed" or "fresh", got "${full.q}"`);
    }
    if (!["gram-schmidt", "householder"].includes(full.orthogonalize)) {
      throw new RangeError(
        `orthogonalize must be "gram-schmidt" or "householder", got "${full.orthogonalize}"`,
      );
    }
    if (!(full.minCompressionRate >= 0)) {
      throw new RangeError(`minCompressionRate must be ≥ 0, got ${full.minCompressionRate}`);
    }
    this.#sendFormat = formatByName(full.communication);
    this.#errorFormat = formatByName(full.errorPrecision);
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
    for (let w = 1; w < workers; w++) {
      const grads = workerGrads[w];
      if (grads.length !== shapes.length) {
        throw new RangeError(
          `worker ${w} gave ${grads.length} gradients, worker 0 gave ${shapes.length}`,
        );
      }
      grads.forEach((g, i) => {
        if (!tf.util.arraysEqual(g.shape, shapes[i])) {
          throw new RangeError(
            `gradient ${i} of worker ${w} has shape [${g.shape}], worker 0's has [${shapes[i]}]`,
          );
        }
      });
    }
    if (this.#plan === null) {
      this.#plan = planCompression(shapes, this.config.rank, this.config.minCompressionRate);
      this.#q = this.#plan.map(() => null);
      this.#errors = this.#plan.map(() => null);
    } else if (
      this.#plan.length !== shapes.length ||
      this.#plan.some((e, i) => !tf.util.arraysEqual(e.shape, shapes[i]))
    ) {
      throw new RangeError(
        `gradient shapes changed since the first step: expected ` +
          `${this.#plan.map((e) => `[${e.shape}]`).join(" ")}, got ` +
          `${shapes.map((s) => `[${s}]`).join(" ")}`,
      );
    }
    const outputs = this.#plan.map((entry, i) => {
      this.#elementsUncompressed += entry.elementsUncompressed;
      this.#elementsSent += entry.elementsSent;
      const grads = workerGrads.map((g) => g[i]);
      return entry.compressed ? this.#compress(i, entry, grads) : this.#allReduceMean(grads);
    });
    this.stepCount++;
    return outputs;
  }

  #send(x: tf.Tensor): tf.Tensor {
    return this.#sendFormat.name === "float32" ? x : roundTensorToFormat(x, this.#sendFormat);
  }

  #allReduceMean(grads: tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const sum = grads.map((g) => this.#send(g)).reduce((a, b) => a.add(b));
      return this.#send(sum).div(grads.length);
    });
  }

  #gaussianQ(i: number, entry: CompressionPlanEntry, step: number): tf.Tensor2D {
    return tf.randomNormal(
      [entry.m, entry.rank],
      0,
      1,
      "float32",
      mixSeed(this.config.seed, i, step),
    ) as tf.Tensor2D;
  }

  #compress(i: number, entry: CompressionPlanEntry, grads: tf.Tensor[]): tf.Tensor {
    const { q: qMode, errorFeedback, workers } = this.config;
    // "fresh" draws Q from the step number, so its first Q equals warm's and fixed's.
    if (this.#q[i] === null || qMode === "fresh") {
      this.#q[i]?.dispose();
      this.#q[i] = this.#gaussianQ(i, entry, qMode === "fresh" ? this.stepCount : 0);
    }
    const q = this.#q[i]!;
    const oldErrors = this.#errors[i];
    const { out, errors, qNext } = tf.tidy(() => {
      const ms = grads.map((g, w) => {
        const m = toMatrix(g); // n × m
        return oldErrors ? m.add(oldErrors[w]) as tf.Tensor2D : m;
      });
      const p = this.#send(ms.map((m) => this.#send(m.matMul(q))).reduce((a, b) => a.add(b)));
      const pHat = orthogonalize(p, this.config.orthogonalize, {
        epsilon: this.config.epsilon,
        shift: this.config.householderShift,
      }); // n × r
      // Q_w = M_wᵀ·P̂ is formed as (P̂ᵀ·M_w)ᵀ: tfjs-wasm's matMul with a transpose flag on the
      // big n × m operand is ~20× slower than transposing the small n × r factor first.
      const pHatT = pHat.transpose(); // r × n
      const qSumT = ms.map((m) => this.#send(pHatT.matMul(m))).reduce((a, b) => a.add(b)); // r × m
      const qNextT = this.#send(qSumT.div(workers)); // r × m, = Q'ᵀ
      const outMatrix = pHat.matMul(qNextT); // n × m
      const qNext = qNextT.transpose() as tf.Tensor2D; // m × r
      const errors = errorFeedback
        ? ms.map((m) => this.#storeError(m.sub(outMatrix)) as tf.Tensor2D)
        : [];
      return { out: fromMatrix(outMatrix, entry.shape), errors, qNext };
    });
    oldErrors?.forEach((e) => e.dispose());
    this.#errors[i] = errorFeedback ? errors : null;
    if (qMode === "warm") {
      q.dispose();
      this.#q[i] = qNext;
    } else {
      qNext.dispose();
    }
    return out;
  }

  #storeError(e: tf.Tensor): tf.Tensor {
    return this.#errorFormat.name === "float32" ? e : roundTensorToFormat(e, this.#errorFormat);
  }

  /**
   * Cumulative communication since construction.
   *
   * @returns Elements sent and saved, summed over steps (per worker).
   * @example
   * ```ts
   * import { PowerSGD } from "./powersgd.ts";
   * console.log(new PowerSGD({ rank: 4, workers: 2 }).stats().ratio); // 1
   * ```
   */
  stats(): CompressionStats {
    const u = this.#elementsUncompressed;
    const s = this.#elementsSent;
    return {
      elementsUncompressed: u,
      elementsSent: s,
      ratio: s === 0 ? 1 : u / s,
      savedFraction: u === 0 ? 0 : 1 - s / u,
    };
  }

  /**
   * The error buffers' summed squared norm over workers and parameters (0 without feedback).
   *
   * @returns Σ_w Σ_i ‖error_{w,i}‖².
   * @example
   * ```ts
   * import { PowerSGD } from "./powersgd.ts";
   * console.log(new PowerSGD({ rank: 4, workers: 2 }).errorSquaredNorm()); // 0
   * ```
   */
  errorSquaredNorm(): number {
    let total = 0;
    for (const errors of this.#errors) {
      for (const e of errors ?? []) total += tf.tidy(() => e.square().sum().dataSync()[0]);
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
    const errors = this.#errors[i];
    if (!errors) return tf.zeros(entry.shape);
    return tf.tidy(() =>
      fromMatrix(errors.reduce((a, b) => a.add(b)).div(errors.length), entry.shape)
    );
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
    for (const q of this.#q) q?.dispose();
    for (const errors of this.#errors) errors?.forEach((e) => e.dispose());
    this.#q = [];
    this.#errors = [];
    this.#plan = null;
  }
}
