/**
 * The data generator's own seeded random stream.
 *
 * The shapes generator keeps a private copy rather than lib/nn's `Rng` on purpose: its stream is
 * part of what `SHAPES_GENERATOR_VERSION` freezes (cached sets on disk, figures in notes), so a
 * change to the toolkit's general-purpose generator must not silently change every dataset.
 *
 * @module
 */

/** Something that draws uniform numbers in [0, 1): this module's `DataRng` or lib/nn's `Rng`. */
export interface RandomSource {
  /** A uniform draw in [0, 1). */
  next(): number;
}

/**
 * Mixes integers into one 32-bit seed (murmur3 finaliser per word), so per-image streams such as
 * (seed, split, index) are independent of each other.
 *
 * @param words Integers to mix, in order.
 * @returns An unsigned 32-bit integer.
 * @example
 * ```ts
 * import { mixSeed } from "./_rng.ts";
 * console.log(mixSeed(1, 2) !== mixSeed(2, 1)); // true
 * ```
 */
export function mixSeed(...words: number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    let k = Math.floor(w) >>> 0;
    k = Math.imul(k ^ (k >>> 16), 0x85ebca6b) >>> 0;
    k = Math.imul(k ^ (k >>> 13), 0xc2b2ae35) >>> 0;
    k = (k ^ (k >>> 16)) >>> 0;
    h = Math.imul(h ^ k, 0x01000193) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  return h;
}

/**
 * mulberry32: tiny, fast, and good enough for sampling scene attributes and jitter.
 *
 * @example
 * ```ts
 * import { DataRng } from "./_rng.ts";
 * const rng = new DataRng(7);
 * console.log(rng.next() === new DataRng(7).next()); // true
 * ```
 */
export class DataRng implements RandomSource {
  #state: number;

  /** @param seed Any integer; floats are floored. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new TypeError(`seed must be a finite number, got ${seed}`);
    this.#state = mixSeed(seed) >>> 0;
  }

  /** @returns A uniform draw in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * @param n Exclusive upper bound, a positive integer.
   * @returns A uniform integer in [0, n).
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * @param lo Lower bound.
   * @param hi Upper bound.
   * @returns A uniform number in [lo, hi).
   */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * @param items A non-empty array.
   * @returns One of its items, uniformly.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/**
 * A uniform integer in [0, n) from any random source.
 *
 * @param rng The source.
 * @param n Exclusive upper bound.
 * @returns The draw.
 */
export function drawInt(rng: RandomSource, n: number): number {
  return Math.min(n - 1, Math.floor(rng.next() * n));
}
