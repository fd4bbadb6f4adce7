/**
 * The PowerSGD reducer's settings, shared by its shard and coordinator sides (and by the
 * `PowerSGD` simulation), and the helpers both sides use to put tensors on the wire.
 *
 * Settings travel to gradient workers by `structuredClone`, so they are plain data.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { decodeValues, encodeValues } from "../nn/reduce.ts";
import { type FloatFormatName, formatByName, roundArrayToFormat } from "../gradscale/mod.ts";
import type { Orthogonalization } from "./orthogonalize.ts";

/**
 * How Q is chosen each step: "warm" reuses the last Q' (Vogels et al.), "fixed" keeps one seeded
 * Gaussian Q for ever (DALL-E), "fresh" draws a new Gaussian Q every step (torch's
 * `warm_start=False`).
 */
export type QMode = "warm" | "fixed" | "fresh";

/** Every setting of the PowerSGD reducer, defaults filled in. */
export interface PowerSgdSettings {
  /** Rank r. */
  rank: number;
  /** Choice of Q. */
  q: QMode;
  /** Orthogonalisation of P. */
  orthogonalize: Orthogonalization;
  /** Keep each shard's compression error and add it to its next gradient. */
  errorFeedback: boolean;
  /** Format the error buffers are stored in (emulated: rounded, kept as float32). */
  errorPrecision: FloatFormatName;
  /** Bits per value on the wire: 32 (float32) or 16 (IEEE halves, really half the bytes). */
  bits: 32 | 16;
  /** Emulated format of values sent as float32 (study only; needs bits 32). */
  communication: FloatFormatName;
  /** Compress a matrix only if n·m > (n + m)·r·minCompressionRate. */
  minCompressionRate: number;
  /** Seed of the Gaussian Q matrices. */
  seed: number;
  /** Gram-Schmidt's ε added to each column norm. */
  epsilon: number;
  /** Householder's shift: P + shift·I is factorised. */
  householderShift: number;
  /** Reject a rank no matrix is compressed at in full (`plan.ts`), instead of clamping. */
  strictRank: boolean;
}

/** Defaults of everything but the rank (Vogels et al.'s PowerSGD, float32). */
export const DEFAULT_SETTINGS: Omit<PowerSgdSettings, "rank"> = Object.freeze({
  q: "warm",
  orthogonalize: "gram-schmidt",
  errorFeedback: true,
  errorPrecision: "float32",
  bits: 32,
  communication: "float32",
  minCompressionRate: 2,
  seed: 0,
  epsilon: 1e-8,
  householderShift: 1e-6,
  strictRank: true,
});

/**
 * Fills in defaults and validates, with errors that say what was expected.
 *
 * @param config Partial settings with a rank (e.g. a spec's config after `structuredClone`).
 * @returns Complete settings.
 */
export function resolveSettings(config: unknown): PowerSgdSettings {
  if (typeof config !== "object" || config === null) {
    throw new TypeError(`PowerSGD settings must be an object, got ${config}`);
  }
  const s = { ...DEFAULT_SETTINGS, ...config } as PowerSgdSettings;
  if (!Number.isInteger(s.rank) || s.rank < 1) {
    throw new RangeError(`rank must be a positive integer, got ${s.rank}`);
  }
  if (!["warm", "fixed", "fresh"].includes(s.q)) {
    throw new RangeError(`q must be "warm", "fixed" or "fresh", got "${s.q}"`);
  }
  if (!["gram-schmidt", "householder"].includes(s.orthogonalize)) {
    throw new RangeError(
      `orthogonalize must be "gram-schmidt" or "householder", got "${s.orthogonalize}"`,
    );
  }
  if (s.bits !== 32 && s.bits !== 16) throw new RangeError(`bits must be 32 or 16, got ${s.bits}`);
  formatByName(s.communication); // throws on an unknown name
  formatByName(s.errorPrecision);
  if (s.bits === 16 && s.communication !== "float32") {
    throw new RangeError(
      `bits 16 sends IEEE halves; an emulated communication format ("${s.communication}") ` +
        `needs bits 32`,
    );
  }
  if (!(s.minCompressionRate >= 0)) {
    throw new RangeError(`minCompressionRate must be ≥ 0, got ${s.minCompressionRate}`);
  }
  if (!Number.isFinite(s.seed)) throw new RangeError(`seed must be a number, got ${s.seed}`);
  return s;
}

/**
 * A tensor's values as one payload entry, in the settings' wire format.
 *
 * @param x The tensor (not disposed).
 * @param s The settings.
 * @returns Values in their own buffer (never a view of backend memory), so that a sender may
 *   transfer them.
 */
export function send(x: tf.Tensor, s: PowerSgdSettings): Float32Array | Uint16Array {
  if (s.communication !== "float32") {
    return roundArrayToFormat(x.dataSync() as Float32Array, formatByName(s.communication));
  }
  const values = encodeValues(x, s.bits);
  return values instanceof Float32Array ? values.slice() : values;
}

/**
 * A received payload entry as a tensor.
 *
 * @param entry The values (float32 or halves).
 * @param shape Their shape.
 * @param what What it is, for the error message.
 * @returns A new tensor.
 */
export function receive(
  entry: Float32Array | Uint16Array | Int32Array | undefined,
  shape: number[],
  what: string,
): tf.Tensor2D {
  const size = shape.reduce((a, b) => a * b, 1);
  if (entry === undefined || entry.length !== size) {
    throw new RangeError(
      `PowerSGD expected ${what} of ${size} values ([${shape}]), got ${entry?.length ?? "none"}`,
    );
  }
  const t: tf.Tensor = tf.tensor(decodeValues(entry), shape, "float32");
  return t as tf.Tensor2D;
}

// Distinct, reproducible tf seeds per (config seed, parameter, step).
function mixSeed(seed: number, param: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (param + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (step + 1), 0xc2b2ae35) >>> 0;
  // tf treats seed 0 as "no seed" (Math.random): never hand it one.
  return ((h ^ (h >>> 16)) >>> 0) || 1;
}

/**
 * The seeded Gaussian Q of a parameter at a step: the same on every shard, without sending it.
 *
 * @param seed The settings' seed.
 * @param param Parameter index.
 * @param step Step index (0 for warm and fixed Q).
 * @param m Columns of the parameter's matrix view.
 * @param rank Its rank.
 * @returns A new m × rank tensor.
 */
export function gaussianQ(
  seed: number,
  param: number,
  step: number,
  m: number,
  rank: number,
): tf.Tensor2D {
  return tf.randomNormal([m, rank], 0, 1, "float32", mixSeed(seed, param, step)) as tf.Tensor2D;
}
