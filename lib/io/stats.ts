/**
 * The few statistics every figure of the toolkit rests on, written once: the median of timings,
 * a proportion's 95% interval (Wilson's score interval) and the mean of per-caption values with
 * its 95% interval.
 *
 * @module
 */

/**
 * The median: the middle value, or the mean of the two middle values for an even count.
 *
 * @param values Numbers.
 * @returns Their median (NaN for none).
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.log(median([3, 1, 2]), median([3, 1, 2, 10])); // 2 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The Wilson score interval of a binomial proportion (better than ±1.96·√(p(1−p)/n) near 0 and 1).
 *
 * @param successes k.
 * @param trials n ≥ 1.
 * @param z The normal quantile. @default 1.96 (95%)
 * @returns `[low, high]`.
 * @throws {RangeError} Unless 0 ≤ successes ≤ trials and trials ≥ 1.
 * @example
 * ```ts
 * import { wilsonInterval } from "./stats.ts";
 * const [low, high] = wilsonInterval(80, 100);
 * console.log(low.toFixed(3), high.toFixed(3)); // "0.711" "0.867"
 * ```
 */
export function wilsonInterval(successes: number, trials: number, z = 1.96): [number, number] {
  if (!(trials >= 1) || !(successes >= 0 && successes <= trials)) {
    throw new RangeError(`wilsonInterval needs 0 ≤ successes ≤ trials, trials ≥ 1`);
  }
  const p = successes / trials, z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt(p * (1 - p) / trials + z2 / (4 * trials ** 2));
  // At p = 0 or 1 the interval's end is p itself; computed, it can round to just inside it.
  return [
    successes === 0 ? 0 : Math.max(0, centre - half),
    successes === trials ? 1 : Math.min(1, centre + half),
  ];
}

/** A mean with its 95% interval. */
export interface Interval {
  /** The mean. */
  mean: number;
  /** Lower end of the interval. */
  low: number;
  /** Upper end of the interval. */
  high: number;
}

/**
 * The mean of per-caption values with a 95% interval: Wilson's for 0/1 values, else the normal
 * approximation (mean ± 1.96 standard errors), clamped to [0, 1].
 *
 * @param values One value in [0, 1] per caption.
 * @returns The mean and interval (NaN for none).
 * @example
 * ```ts
 * import { interval95 } from "./stats.ts";
 * const { mean, low, high } = interval95([1, 1, 0, 1]);
 * console.log(mean, low < mean && mean < high); // 0.75 true
 * ```
 */
export function interval95(values: readonly number[]): Interval {
  const m = values.length;
  if (m === 0) return { mean: NaN, low: NaN, high: NaN };
  const sum = values.reduce((a, b) => a + b, 0);
  const mean = sum / m;
  if (values.every((v) => v === 0 || v === 1)) {
    const [low, high] = wilsonInterval(sum, m);
    return { mean, low, high };
  }
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, m - 1);
  const half = 1.96 * Math.sqrt(variance / m);
  return { mean, low: Math.max(0, mean - half), high: Math.min(1, mean + half) };
}

/**
 * Rows of token ids end to end, as one array.
 *
 * @param rows The rows.
 * @returns A new array of their total length.
 * @example
 * ```ts
 * import { concatInt32 } from "./stats.ts";
 * console.log(concatInt32([Int32Array.of(1, 2), Int32Array.of(3)])); // Int32Array [1, 2, 3]
 * ```
 */
export function concatInt32(rows: readonly Int32Array[]): Int32Array {
  return concatInto(new Int32Array(rows.reduce((n, r) => n + r.length, 0)), rows);
}

/**
 * Float32 rows joined end to end (feature vectors of several batches, say).
 *
 * @param rows The rows.
 * @returns A new array of their total length.
 * @example
 * ```ts
 * import { concatFloat32 } from "./stats.ts";
 * console.log(concatFloat32([Float32Array.of(0.5), Float32Array.of(1, 2)])); // Float32Array [0.5, 1, 2]
 * ```
 */
export function concatFloat32(rows: readonly Float32Array[]): Float32Array {
  return concatInto(new Float32Array(rows.reduce((n, r) => n + r.length, 0)), rows);
}

function concatInto<T extends Int32Array | Float32Array>(out: T, rows: readonly T[]): T {
  let offset = 0;
  for (const row of rows) {
    out.set(row, offset);
    offset += row.length;
  }
  return out;
}
