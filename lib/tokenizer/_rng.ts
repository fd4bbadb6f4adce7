/**
 * The tokenizer's own seeded random stream for BPE dropout.
 *
 * A private copy rather than lib/nn's `Rng` so that the tokenizer stays free of TensorFlow.js
 * (lib/nn imports it) and so that a dropout split, once published, never changes because the
 * toolkit's general-purpose generator did.
 *
 * @module
 */

/**
 * mulberry32: a tiny 32-bit PRNG. Same seed → same sequence.
 *
 * @example
 * ```ts
 * import { DropoutRng } from "./_rng.ts";
 * const a = new DropoutRng(7), b = new DropoutRng(7);
 * console.log(a.next() === b.next()); // true
 * ```
 */
export class DropoutRng {
  #state: number;

  /** @param seed Any finite number; it is hashed to 32 bits. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(`dropout seed must be a finite number, got ${seed}`);
    }
    // Mix the seed so that nearby seeds (step 0, 1, 2, ...) start far apart.
    let h = Math.floor(seed) ^ 0x9e3779b9;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    this.#state = (h ^ (h >>> 16)) >>> 0;
  }

  /**
   * A uniform number in [0, 1).
   *
   * @returns The next draw.
   * @example
   * ```ts
   * import { DropoutRng } from "./_rng.ts";
   * const u = new DropoutRng(1).next(); // 0 <= u < 1
   * ```
   */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
