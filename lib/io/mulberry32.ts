/**
 * mulberry32, the small generator behind streams that were published before the toolkit had one
 * generator: the shapes dataset's scenes (frozen by `SHAPES_GENERATOR_VERSION`: cached sets on
 * disk and figures in notes must not change) and the tokenizer's BPE-dropout splits.
 *
 * **Frozen.** Each named seeding below stands for its exact outputs, pinned by
 * lib/io/random_test.ts. New code draws from `Rng` (see ./random.ts); a frozen stream that needs
 * new behaviour gets a new name and a version bump of what it freezes, never an edit here.
 *
 * @module
 */
import { mixSeed, type RandomSource } from "./random.ts";

/**
 * The mulberry32 generator with a raw 32-bit state; use the named seedings
 * ({@link Mulberry32.data}, {@link Mulberry32.dropout}) rather than the constructor, whose
 * nearby seeds start with correlated draws.
 *
 * @example
 * ```ts
 * import { Mulberry32 } from "./mulberry32.ts";
 * const rng = Mulberry32.data(7);
 * console.log(rng.next() === Mulberry32.data(7).next()); // true
 * ```
 */
export class Mulberry32 implements RandomSource {
  #state: number;

  /**
   * Starts the generator from a raw state.
   * @param state The raw state; floored and taken modulo 2³², not hashed.
   */
  constructor(state: number) {
    if (!Number.isFinite(state)) {
      throw new TypeError(`seed must be a finite number, got ${state}`);
    }
    this.#state = Math.floor(state) >>> 0;
  }

  /**
   * Stream `"mulberry32/data"`: lib/data's scene sampler (shapes, captions, batches), state
   * `mixSeed(seed)`. Frozen with `SHAPES_GENERATOR_VERSION`.
   *
   * @param seed Any finite number; floats are floored.
   * @returns A fresh generator.
   * @example
   * ```ts
   * import { mixSeed, Mulberry32 } from "./mod.ts";
   * const perImage = Mulberry32.data(mixSeed(0, 1, 42)); // (seed, split, index)
   * ```
   */
  static data(seed: number): Mulberry32 {
    if (!Number.isFinite(seed)) throw new TypeError(`seed must be a finite number, got ${seed}`);
    return new Mulberry32(mixSeed(seed));
  }

  /**
   * Stream `"mulberry32/dropout"`: lib/tokenizer's BPE-dropout draws, state the murmur3 finaliser
   * of `seed ^ 0x9e3779b9` (so that step seeds 0, 1, 2, … start far apart). Frozen: a published
   * dropout split never changes.
   *
   * @param seed Any finite number; floats are floored.
   * @returns A fresh generator.
   * @example
   * ```ts
   * import { Mulberry32 } from "./mod.ts";
   * const keep = Mulberry32.dropout(3).next() >= 0.1;
   * ```
   */
  static dropout(seed: number): Mulberry32 {
    if (!Number.isFinite(seed)) {
      throw new TypeError(`dropout seed must be a finite number, got ${seed}`);
    }
    let h = Math.floor(seed) ^ 0x9e3779b9;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return new Mulberry32((h ^ (h >>> 16)) >>> 0);
  }

  /**
   * A uniform number in [0, 1).
   *
   * @returns The next draw.
   * @example
   * ```ts
   * import { Mulberry32 } from "./mulberry32.ts";
   * const u = new Mulberry32(1).next(); // 0 <= u < 1
   * ```
   */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * A uniform integer in [0, n) (no range check: the frozen sampler never had one).
   *
   * @param n Exclusive upper bound, a positive integer.
   * @returns The draw.
   * @example
   * ```ts
   * import { Mulberry32 } from "./mulberry32.ts";
   * const die = Mulberry32.data(3).int(6) + 1; // 1..6
   * ```
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * A uniform number in [lo, hi).
   *
   * @param lo Lower bound.
   * @param hi Upper bound.
   * @returns The draw.
   * @example
   * ```ts
   * import { Mulberry32 } from "./mulberry32.ts";
   * const angleRad = Mulberry32.data(5).uniform(0, Math.PI);
   * ```
   */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * One item of a non-empty array, uniformly.
   *
   * @param items The array.
   * @returns One of its items.
   * @example
   * ```ts
   * import { Mulberry32 } from "./mulberry32.ts";
   * const colour = Mulberry32.data(9).pick(["red", "green", "blue"]);
   * ```
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}
