/**
 * A small seeded random number generator for everything that is not a tensor op: shuffles,
 * Gumbel noise on the JS side, seeds handed to tf's seeded ops.
 *
 * @module
 */

/**
 * Seeded PRNG (sfc32 seeded through splitmix32). Same seed → same sequence, on every platform.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const a = new Rng(42), b = new Rng(42);
 * console.log(a.next() === b.next()); // true
 * ```
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;

  /** @param seed Any integer (or float; it is hashed). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(`Rng seed must be a finite number, got ${seed}`);
    }
    let s = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    for (let i = 0; i < 12; i++) this.#u32();
  }

  #u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /**
   * A uniform number in [0, 1).
   *
   * @returns The next draw.
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const x = new Rng(1).next(); // 0 <= x < 1
   * ```
   */
  next(): number {
    return this.#u32() / 4294967296;
  }

  /**
   * A uniform integer in [0, n).
   *
   * @param n Exclusive upper bound, a positive integer.
   * @returns The draw.
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const die = new Rng(3).int(6) + 1; // 1..6
   * ```
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`Rng.int needs a positive integer, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /**
   * A standard normal draw (Box–Muller, the spare kept for the next call).
   *
   * @returns The draw.
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const z = new Rng(5).normal();
   * ```
   */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * An integer seed for tf's seeded ops (`tf.randomNormal(shape, 0, 1, "float32", seed)`).
   *
   * @returns An integer in [0, 2³¹).
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const seed = new Rng(0).nextSeed();
   * ```
   */
  nextSeed(): number {
    return this.#u32() >>> 1;
  }

  /**
   * Shuffles an array in place (Fisher–Yates) and returns it.
   *
   * @param items The array.
   * @returns The same array, shuffled.
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const order = new Rng(7).shuffle([0, 1, 2, 3]);
   * ```
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
