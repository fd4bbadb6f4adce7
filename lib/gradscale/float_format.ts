/**
 * Emulating narrow floating-point formats (IEEE float16, DALL-E's 1-6-9) on float32 data.
 *
 * A format is `1` sign bit, `exponentBits` and `mantissaBits`, laid out as IEEE 754 binary
 * formats are: exponent bias `2^(e−1) − 1`, subnormals below `2^(1−bias)`, the all-ones exponent
 * reserved for ∞/NaN. Rounding is to nearest, ties to even, as hardware does it; a value whose
 * magnitude rounds above the largest finite number becomes ±∞. For float16 that means:
 * largest finite 65504, |x| ≥ 65520 → ∞, smallest subnormal 2⁻²⁴ ≈ 5.96e-8, |x| ≤ 2⁻²⁵ → 0.
 *
 * The paper (App. E) only names its 16-bit format "1-6-9"; that it has subnormals and ∞ like
 * IEEE is our assumption.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** A binary floating-point format with one sign bit. */
export interface FloatFormat {
  /** Short name used in configs and logs, e.g. "float16". */
  name: string;
  /** Width of the exponent field in bits. */
  exponentBits: number;
  /** Width of the stored mantissa (fraction) field in bits; precision is this + 1. */
  mantissaBits: number;
}

/** IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits. */
export const FLOAT16: FloatFormat = Object.freeze({
  name: "float16",
  exponentBits: 5,
  mantissaBits: 10,
});

/** DALL-E's 16-bit format for PowerSGD error buffers and communication: 1-6-9. */
export const FLOAT_1_6_9: FloatFormat = Object.freeze({
  name: "1-6-9",
  exponentBits: 6,
  mantissaBits: 9,
});

/** IEEE 754 binary32, for "no rounding" in configs that take a format. */
export const FLOAT32: FloatFormat = Object.freeze({
  name: "float32",
  exponentBits: 8,
  mantissaBits: 23,
});

/** Name of a format that configs accept. */
export type FloatFormatName = "float32" | "float16" | "1-6-9";

/** Thresholds of a format, all as plain numbers. */
export interface FormatLimits {
  /** Exponent bias: 2^(exponentBits − 1) − 1. */
  bias: number;
  /** Largest finite value, (2 − 2^−m)·2^bias. */
  maxFinite: number;
  /** Magnitudes at or above this round to ∞ (half an ulp above maxFinite; the tie goes to ∞). */
  overflowFrom: number;
  /** Smallest positive normal value, 2^(1 − bias). */
  minNormal: number;
  /** Smallest positive subnormal value, 2^(1 − bias − m). */
  minSubnormal: number;
  /** Magnitudes at or below this round to 0 (half the smallest subnormal; the tie goes to 0). */
  flushAtOrBelow: number;
}

/**
 * Looks up a format by the name configs use.
 *
 * @param name "float32", "float16" or "1-6-9".
 * @returns The format.
 * @example
 * ```ts
 * import { formatByName } from "./float_format.ts";
 * console.log(formatByName("1-6-9").exponentBits); // 6
 * ```
 */
export function formatByName(name: FloatFormatName): FloatFormat {
  switch (name) {
    case "float32":
      return FLOAT32;
    case "float16":
      return FLOAT16;
    case "1-6-9":
      return FLOAT_1_6_9;
    default:
      throw new RangeError(
        `unknown float format "${name}": expected "float32", "float16" or "1-6-9"`,
      );
  }
}

/**
 * The thresholds of a format: largest finite value, overflow and flush-to-zero boundaries.
 *
 * @param format The format.
 * @returns Its limits.
 * @example
 * ```ts
 * import { FLOAT16, formatLimits } from "./float_format.ts";
 * const l = formatLimits(FLOAT16);
 * console.log(l.maxFinite, l.overflowFrom, l.minSubnormal === 2 ** -24); // 65504 65520 true
 * ```
 */
export function formatLimits(format: FloatFormat): FormatLimits {
  const m = format.mantissaBits;
  const bias = 2 ** (format.exponentBits - 1) - 1;
  const maxFinite = (2 - 2 ** -m) * 2 ** bias;
  const minNormal = 2 ** (1 - bias);
  const minSubnormal = 2 ** (1 - bias - m);
  return {
    bias,
    maxFinite,
    overflowFrom: maxFinite + 2 ** (bias - m - 1),
    minNormal,
    minSubnormal,
    flushAtOrBelow: minSubnormal / 2,
  };
}

function checkFormat(format: FloatFormat): void {
  const { exponentBits: e, mantissaBits: m } = format;
  if (!Number.isInteger(e) || e < 2 || e > 8 || !Number.isInteger(m) || m < 1 || m > 23) {
    throw new RangeError(
      `float format "${format.name}" must have 2..8 exponent and 1..23 mantissa bits ` +
        `(it is emulated inside float32), got ${e} and ${m}`,
    );
  }
}

/**
 * Rounds one number to the nearest value of a format (ties to even), with subnormals,
 * overflow to ±∞ and signed zero; NaN and ±∞ pass through.
 *
 * @param x The value (any float64).
 * @param format The target format.
 * @returns The rounded value, as a number.
 * @example
 * ```ts
 * import { FLOAT16, roundToFormat } from "./float_format.ts";
 * console.log(roundToFormat(1 + 2 ** -11, FLOAT16)); // 1 (tie, to even)
 * console.log(roundToFormat(65520, FLOAT16)); // Infinity
 * console.log(roundToFormat(2 ** -25, FLOAT16)); // 0
 * ```
 */
export function roundToFormat(x: number, format: FloatFormat): number {
  checkFormat(format);
  return roundWith(x, format.mantissaBits, formatLimits(format));
}

function roundWith(x: number, mantissaBits: number, limits: FormatLimits): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let exponent = Math.floor(Math.log2(a));
  // log2 can be off by one next to a power of two.
  if (2 ** exponent > a) exponent--;
  else if (2 ** (exponent + 1) <= a) exponent++;
  // Spacing of representable values around a: below minNormal the subnormal spacing is fixed.
  const minExponent = 1 - limits.bias;
  const ulp = 2 ** (Math.max(exponent, minExponent) - mantissaBits);
  const units = a / ulp; // exact: division by a power of two
  let whole = Math.floor(units);
  const fraction = units - whole;
  if (fraction > 0.5 || (fraction === 0.5 && whole % 2 === 1)) whole++;
  const rounded = whole * ulp;
  const magnitude = rounded > limits.maxFinite ? Infinity : rounded;
  return x < 0 ? -magnitude : magnitude;
}

const f16round: ((x: number) => number) | undefined = (Math as unknown as {
  f16round?: (x: number) => number;
}).f16round;

/**
 * Rounds every entry of an array to a format, into a new Float32Array (or into `out`).
 * float16 uses the engine's `Math.f16round` where it exists (identical results, faster).
 *
 * @param values The values.
 * @param format The target format.
 * @param out Where to write; may be `values` itself. @default a new Float32Array
 * @returns The rounded values.
 * @example
 * ```ts
 * import { FLOAT16, roundArrayToFormat } from "./float_format.ts";
 * console.log(roundArrayToFormat(new Float32Array([0.1, 1e5, 1e-8]), FLOAT16));
 * // Float32Array [0.0999755859375, Infinity, 0]
 * ```
 */
export function roundArrayToFormat(
  values: ArrayLike<number>,
  format: FloatFormat,
  out: Float32Array = new Float32Array(values.length),
): Float32Array {
  checkFormat(format);
  if (out.length !== values.length) {
    throw new RangeError(`out has ${out.length} entries, values has ${values.length}`);
  }
  if (format.exponentBits === 8 && format.mantissaBits === 23) {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return out;
  }
  if (f16round && format.exponentBits === 5 && format.mantissaBits === 10) {
    for (let i = 0; i < values.length; i++) out[i] = f16round(values[i]);
    return out;
  }
  const limits = formatLimits(format);
  for (let i = 0; i < values.length; i++) {
    out[i] = roundWith(values[i], format.mantissaBits, limits);
  }
  return out;
}

/**
 * Rounds a tensor's entries to a format and returns them as a new float32 tensor, as if the
 * tensor had been stored in (or sent as) that format and read back.
 *
 * @param x The tensor (not disposed).
 * @param format The target format; float32 returns a clone.
 * @returns A new tensor of the same shape.
 * @example
 * ```ts
 * import { tf } from "../backend/mod.ts";
 * import { FLOAT16, roundTensorToFormat } from "./float_format.ts";
 * const y = roundTensorToFormat(tf.tensor1d([3.14159]), FLOAT16);
 * console.log(y.dataSync()[0]); // 3.140625
 * ```
 */
export function roundTensorToFormat(x: tf.Tensor, format: FloatFormat): tf.Tensor {
  if (format.exponentBits === 8 && format.mantissaBits === 23) return x.clone();
  const rounded = roundArrayToFormat(x.dataSync() as Float32Array, format);
  return tf.tensor(rounded, x.shape, "float32");
}
