/**
 * A gradient as a scaled 16-bit backward pass gives it: multiplied by its scale and rounded to the
 * 16-bit format, with counts of what the rounding flushed to zero or overflowed. Shared by
 * {@linkcode GradScaler} (which unscales at once) and the `gradScale` reducer (whose shards send
 * the scaled values).
 *
 * @module
 */
import { type FloatFormat, roundArrayToFormat } from "./float_format.ts";

/** What one scaled rounding did to its entries (added to by {@linkcode scaleToFormat}). */
export interface RoundingCounts {
  /** Entries. */
  entries: number;
  /** Entries that were non-zero in float32. */
  nonzero: number;
  /** Entries non-zero in float32 that became 0 in 16 bits. */
  underflow: number;
  /** Entries that became ±∞ or NaN in 16 bits. */
  overflow: number;
}

/**
 * One 16-bit gradient as a scaled backward pass would give it: g·scale (in float32, as a scaled
 * fp32 loss would) rounded to the format, still scaled.
 *
 * @param values The float32 gradient.
 * @param scale Its scale.
 * @param format The 16-bit format.
 * @param counts Counts to add this gradient's entries to. @default none
 * @returns The scaled, rounded values (a new array).
 * @example
 * ```ts
 * import { FLOAT16 } from "./float_format.ts";
 * import { scaleToFormat } from "./scale_to_format.ts";
 * const counts = { entries: 0, nonzero: 0, underflow: 0, overflow: 0 };
 * console.log(scaleToFormat([1e-3, 1e-12, 100], 8192, FLOAT16, counts)); // [8.1875, 0, Infinity]
 * console.log(counts); // { entries: 3, nonzero: 3, underflow: 1, overflow: 1 }
 * ```
 */
export function scaleToFormat(
  values: ArrayLike<number>,
  scale: number,
  format: FloatFormat,
  counts?: RoundingCounts,
): Float32Array {
  const scaled = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) scaled[i] = values[i] * scale;
  roundArrayToFormat(scaled, format, scaled);
  if (counts) {
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== 0) {
        counts.nonzero++;
        if (scaled[i] === 0) counts.underflow++;
      }
      if (!Number.isFinite(scaled[i])) counts.overflow++;
    }
    counts.entries += values.length;
  }
  return scaled;
}
