/**
 * Float64 numbers (gradient scales, step counts) stored exactly in Float32Arrays, which is what
 * reducer state and checkpoints hold: each number as three float32 words hi + mid + lo.
 *
 * A float64 has 53 significant bits and a float32 24, so hi = fround(x), mid = fround(x − hi) and
 * lo = fround(x − hi − mid) carry all of them for the magnitudes this is used for (the remainders
 * are exact float64 differences); packing checks that the sum gives x back, and refuses otherwise.
 * ±∞ and NaN are kept as hi.
 *
 * @module
 */

/**
 * Numbers as float32 triples.
 *
 * @param values The numbers.
 * @returns 3 words per number.
 * @example
 * ```ts
 * import { packFloat64, unpackFloat64 } from "./_exact.ts";
 * console.log(unpackFloat64(packFloat64([8192 * 2 ** (1 / 1000), -Infinity]))); // exactly back
 * ```
 */
export function packFloat64(values: readonly number[]): Float32Array {
  const out = new Float32Array(3 * values.length);
  values.forEach((x, i) => {
    const hi = Math.fround(x);
    if (!Number.isFinite(x)) {
      out[3 * i] = x;
      return;
    }
    const mid = Math.fround(x - hi);
    const lo = Math.fround(x - hi - mid);
    if (!Number.isFinite(hi) || hi + mid + lo !== x) {
      throw new RangeError(`${x} cannot be stored exactly as three float32 words`);
    }
    out.set([hi, mid, lo], 3 * i);
  });
  return out;
}

/**
 * Undoes {@linkcode packFloat64}.
 *
 * @param words 3 words per number.
 * @returns The numbers.
 */
export function unpackFloat64(words: Float32Array): number[] {
  if (words.length % 3 !== 0) {
    throw new RangeError(`expected 3 float32 words per number, got ${words.length} words`);
  }
  const out: number[] = [];
  for (let i = 0; i < words.length; i += 3) {
    const hi = words[i];
    out.push(Number.isFinite(hi) ? hi + words[i + 1] + words[i + 2] : hi);
  }
  return out;
}
