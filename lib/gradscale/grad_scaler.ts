/**
 * Per-residual-block gradient scaling for 16-bit training (paper App. D), emulated in float32.
 *
 * DALL-E's 16-bit gradients underflowed with one loss scale, because gradient magnitudes differ
 * by orders of magnitude between residual blocks: a scale small enough not to overflow the largest
 * block flushes the smallest blocks' gradients to zero. So each block b keeps its own scale s_b:
 *
 * - start at 2¹³·M (M = data-parallel workers);
 * - after a step where all of b's gradients are finite: s_b ← s_b·2^(1/1000);
 * - otherwise: s_b ← s_b/√2 (but not twice within 125 updates) and the update is skipped;
 * - clamp to [2⁷·M, 2²⁴·M].
 *
 * Emulation: gradients computed in float32 (g) are multiplied by their block's scale, rounded to
 * the 16-bit format (flush to zero below half the smallest subnormal, ∞ above the largest finite
 * value) and divided by the scale again. This models the rounding of the parameter gradients only,
 * not of every activation gradient of a real fp16 backward pass.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type FloatFormat, type FloatFormatName, formatByName } from "./float_format.ts";
import { packFloat64, unpackFloat64 } from "./_exact.ts";
import { scaleToFormat } from "./scale_to_format.ts";

export { type RoundingCounts, scaleToFormat } from "./scale_to_format.ts";

/** Options of a {@linkcode GradScaler}. */
export interface GradScalerConfig {
  /** Residual block of each parameter, in the order `step` receives gradients. */
  blocks: string[];
  /** One scale per block (App. D) or one scale for all (a global loss scale). @default "per-block" */
  mode?: "per-block" | "global";
  /** Data-parallel workers M; the default scales and bounds are multiples of it. @default 1 */
  workers?: number;
  /** 16-bit format the scaled gradients are rounded to. @default "float16" */
  format?: FloatFormatName | FloatFormat;
  /** Starting scale. @default 2 ** 13 * workers */
  initScale?: number;
  /** Lower clamp of every scale. @default 2 ** 7 * workers */
  minScale?: number;
  /** Upper clamp of every scale. @default 2 ** 24 * workers */
  maxScale?: number;
  /** Factor after a step with finite gradients. @default 2 ** (1 / 1000) */
  growthFactor?: number;
  /** Factor after a step with a non-finite gradient. @default 1 / Math.SQRT2 */
  backoffFactor?: number;
  /** A scale is not divided again within this many updates of its last division. @default 125 */
  backoffCooldownSteps?: number;
}

/** What happened to one residual block's gradients in one step. */
export interface BlockReport {
  /** Block id, as given in the config. */
  block: string;
  /** The scale its gradients were multiplied by in this step. */
  scale: number;
  /** Gradient entries in the block. */
  entries: number;
  /** Entries that were non-zero in float32. */
  nonzeroEntries: number;
  /** Entries non-zero in float32 that became 0 in 16 bits. */
  underflowEntries: number;
  /** Entries that became ±∞ or NaN in 16 bits. */
  overflowEntries: number;
  /** underflowEntries / nonzeroEntries (0 when the block has no non-zero entry). */
  underflowFraction: number;
  /** Whether all its 16-bit gradients were finite. */
  finite: boolean;
}

/** The outcome of {@linkcode GradScaler.step}. */
export interface GradScaleResult {
  /** Gradients as a 16-bit backward pass would give them, unscaled, in float32 (new tensors). */
  grads: tf.Tensor[];
  /** True when some gradient was non-finite: the caller must not apply this update. */
  skip: boolean;
  /** One report per block, in order of first appearance in `blocks`. */
  blocks: BlockReport[];
}

/**
 * Dynamic gradient scales, one per residual block (or one global), with 16-bit emulation.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/mod.ts";
 * import { GradScaler } from "./grad_scaler.ts";
 * const scaler = new GradScaler({ blocks: ["block0", "block1"] });
 * const grads = [tf.tensor1d([1e-3, 1e-12]), tf.tensor1d([1e-9])];
 * const { grads: unscaled, skip, blocks } = scaler.step(grads);
 * console.log(skip, blocks[0].underflowEntries); // false 1 (1e-12·8192 < 2⁻²⁵)
 * tf.dispose([...grads, ...unscaled]);
 * ```
 */
export class GradScaler {
  /** Distinct block ids, in order of first appearance. */
  readonly blockIds: string[];
  /** The 16-bit format gradients are rounded to. */
  readonly format: FloatFormat;
  /** "per-block" or "global". */
  readonly mode: "per-block" | "global";
  /** Number of `step` calls so far. */
  stepCount = 0;
  /** Number of steps that were skipped for non-finite gradients. */
  skippedSteps = 0;

  #paramBlock: number[]; // block index of each parameter
  #blockGroup: number[]; // scale index of each block
  #scales: number[];
  #lastBackoff: number[];
  #growth: number;
  #backoff: number;
  #cooldown: number;
  #min: number;
  #max: number;

  /**
   * Creates the scales.
   *
   * @param config See {@linkcode GradScalerConfig}.
   */
  constructor(config: GradScalerConfig) {
    const {
      blocks,
      mode = "per-block",
      workers = 1,
      format = "float16",
      growthFactor = 2 ** (1 / 1000),
      backoffFactor = 1 / Math.SQRT2,
      backoffCooldownSteps = 125,
    } = config;
    if (!Array.isArray(blocks) || blocks.length === 0) {
      throw new TypeError("GradScaler needs a non-empty `blocks` array (one block id per param)");
    }
    if (mode !== "per-block" && mode !== "global") {
      throw new RangeError(`mode must be "per-block" or "global", got "${mode}"`);
    }
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${workers}`);
    }
    const initScale = config.initScale ?? 2 ** 13 * workers;
    this.#min = config.minScale ?? 2 ** 7 * workers;
    this.#max = config.maxScale ?? 2 ** 24 * workers;
    if (!(this.#min > 0 && this.#min <= this.#max)) {
      throw new RangeError(`need 0 < minScale ≤ maxScale, got ${this.#min} and ${this.#max}`);
    }
    if (!(growthFactor >= 1) || !(backoffFactor > 0 && backoffFactor < 1)) {
      throw new RangeError(
        `need growthFactor ≥ 1 and 0 < backoffFactor < 1, got ${growthFactor} and ${backoffFactor}`,
      );
    }
    this.mode = mode;
    this.format = typeof format === "string" ? formatByName(format) : format;
    this.blockIds = [...new Set(blocks)];
    this.#paramBlock = blocks.map((b) => this.blockIds.indexOf(b));
    this.#blockGroup = this.blockIds.map((_, i) => mode === "global" ? 0 : i);
    const groups = mode === "global" ? 1 : this.blockIds.length;
    const start = Math.min(this.#max, Math.max(this.#min, initScale));
    this.#scales = new Array(groups).fill(start);
    this.#lastBackoff = new Array(groups).fill(-Infinity);
    this.#growth = growthFactor;
    this.#backoff = backoffFactor;
    this.#cooldown = backoffCooldownSteps;
  }

  /**
   * The current scale of each block (in global mode all blocks share one value).
   *
   * @returns Block id → scale.
   * @example
   * ```ts
   * import { GradScaler } from "./grad_scaler.ts";
   * console.log(new GradScaler({ blocks: ["a"], workers: 2 }).scales()); // { a: 16384 }
   * ```
   */
  scales(): Record<string, number> {
    return Object.fromEntries(
      this.blockIds.map((b, i) => [b, this.#scales[this.#blockGroup[i]]]),
    );
  }

  /**
   * Emulates one 16-bit backward pass on float32 gradients, then updates the scales.
   *
   * @param grads One float32 gradient per parameter, in the order of `blocks` (not disposed).
   * @returns The unscaled 16-bit gradients (owned by the caller), whether to skip the update,
   *   and a report per block.
   * @example
   * ```ts
   * import { tf } from "../backend/mod.ts";
   * import { GradScaler } from "./grad_scaler.ts";
   * const scaler = new GradScaler({ blocks: ["b0"] });
   * const g = [tf.tensor1d([100])]; // 100·8192 > 65504: overflow
   * const r = scaler.step(g);
   * console.log(r.skip, scaler.scales().b0); // true 5792.6…
   * tf.dispose([...g, ...r.grads]);
   * ```
   */
  step(grads: tf.Tensor[]): GradScaleResult {
    if (grads.length !== this.#paramBlock.length) {
      throw new RangeError(
        `GradScaler was built for ${this.#paramBlock.length} parameters, got ${grads.length} grads`,
      );
    }
    const reports: BlockReport[] = this.blockIds.map((block, i) => ({
      block,
      scale: this.#scales[this.#blockGroup[i]],
      entries: 0,
      nonzeroEntries: 0,
      underflowEntries: 0,
      overflowEntries: 0,
      underflowFraction: 0,
      finite: true,
    }));
    const out: tf.Tensor[] = [];
    for (let p = 0; p < grads.length; p++) {
      const report = reports[this.#paramBlock[p]];
      const scale = report.scale;
      const counts = { entries: 0, nonzero: 0, underflow: 0, overflow: 0 };
      const values = scaleToFormat(grads[p].dataSync(), scale, this.format, counts);
      for (let i = 0; i < values.length; i++) values[i] = values[i] / scale;
      report.entries += counts.entries;
      report.nonzeroEntries += counts.nonzero;
      report.underflowEntries += counts.underflow;
      report.overflowEntries += counts.overflow;
      out.push(tf.tensor(values, grads[p].shape, "float32"));
    }
    for (const r of reports) {
      r.finite = r.overflowEntries === 0;
      r.underflowFraction = r.nonzeroEntries === 0 ? 0 : r.underflowEntries / r.nonzeroEntries;
    }
    const skip = this.update(reports.map((r) => r.finite));
    return { grads: out, skip, blocks: reports };
  }

  /**
   * The scale rules of App. D after one step (what {@linkcode step} does after rounding, for
   * callers that round elsewhere, e.g. the `gradScale` reducer): finite blocks grow, a scale
   * with a non-finite block backs off (once per cooldown), all clamped.
   *
   * @param finite Per block (in {@linkcode blockIds} order): whether all its gradients were finite.
   * @returns Whether the update must be skipped (some block was not finite).
   * @example
   * ```ts
   * import { GradScaler } from "./grad_scaler.ts";
   * const scaler = new GradScaler({ blocks: ["a", "b"] });
   * console.log(scaler.update([true, false]), scaler.scales().b); // true 5792.6…
   * ```
   */
  update(finite: readonly boolean[]): boolean {
    if (finite.length !== this.blockIds.length) {
      throw new RangeError(
        `GradScaler has ${this.blockIds.length} blocks, got ${finite.length} finite flags`,
      );
    }
    const groupFinite = new Array(this.#scales.length).fill(true);
    finite.forEach((f, b) => {
      if (!f) groupFinite[this.#blockGroup[b]] = false;
    });
    for (let g = 0; g < this.#scales.length; g++) {
      let s = this.#scales[g];
      if (groupFinite[g]) {
        s *= this.#growth;
      } else if (this.stepCount - this.#lastBackoff[g] >= this.#cooldown) {
        s *= this.#backoff;
        this.#lastBackoff[g] = this.stepCount;
      }
      this.#scales[g] = Math.min(this.#max, Math.max(this.#min, s));
    }
    const skip = groupFinite.includes(false);
    if (skip) this.skippedSteps++;
    this.stepCount++;
    return skip;
  }

  /**
   * The scales, cooldowns and counters, exactly (float64 values as float32 triples), for a
   * checkpoint.
   *
   * @returns `scales`, `last_backoff` (one per scale), `steps` (stepCount, skippedSteps).
   * @example
   * ```ts
   * import { GradScaler } from "./grad_scaler.ts";
   * const a = new GradScaler({ blocks: ["x"] });
   * a.update([false]);
   * const b = new GradScaler({ blocks: ["x"] });
   * b.restore(a.state());
   * console.log(b.scales().x === a.scales().x, b.stepCount); // true 1
   * ```
   */
  state(): Record<string, Float32Array> {
    return {
      scales: packFloat64(this.#scales),
      last_backoff: packFloat64(this.#lastBackoff),
      steps: packFloat64([this.stepCount, this.skippedSteps]),
    };
  }

  /**
   * Restores {@linkcode state}'s output (of a scaler with as many scales).
   *
   * @param state The arrays.
   */
  restore(state: Record<string, Float32Array>): void {
    const read = (key: string, length: number) => {
      const values = state[key] === undefined ? undefined : unpackFloat64(state[key]);
      if (values === undefined || values.length !== length) {
        throw new RangeError(
          `GradScaler state "${key}" should hold ${length} numbers, got ` +
            `${values?.length ?? "none"}`,
        );
      }
      return values;
    };
    const scales = read("scales", this.#scales.length);
    const lastBackoff = read("last_backoff", this.#scales.length);
    const [stepCount, skippedSteps] = read("steps", 2);
    this.#scales = scales;
    this.#lastBackoff = lastBackoff;
    this.stepCount = stepCount;
    this.skippedSteps = skippedSteps;
  }
}
