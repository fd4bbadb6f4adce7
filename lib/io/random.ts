/**
 * The toolkit's one seeded generator: `Rng` (sfc32 seeded through splitmix32) for everything that
 * is not a tensor op (shuffles, Gumbel noise on the JS side, seeds handed to tf's seeded ops), plus
 * `mixSeed` and named streams (`streamSeed`, `Rng.stream`) that derive independent seeds from a
 * stream name and integers such as (seed, step, worker).
 *
 * **Version-frozen.** Seeded results (checkpoints, figures, cached datasets, notes) depend on these
 * exact outputs, pinned by lib/io/random_test.ts. Changing the algorithm of `Rng`, `mixSeed` or
 * `streamSeed`, or what an existing stream name is used for, is a breaking change: new behaviour
 * gets a new stream name (e.g. `"dvae/gumbel@2"`), never a new algorithm under an old one.
 *
 * @module
 */

/** Something that draws uniform numbers in [0, 1): `Rng`, `Mulberry32`, or a test stub. */
export interface RandomSource {
  /** A uniform draw in [0, 1). */
  next(): number;
}

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(k: number): number {
  k = Math.imul(k ^ (k >>> 16), 0x85ebca6b) >>> 0;
  k = Math.imul(k ^ (k >>> 13), 0xc2b2ae35) >>> 0;
  return (k ^ (k >>> 16)) >>> 0;
}

/**
 * Mixes integers into one 32-bit seed (murmur3 finaliser per word, FNV-style chaining), so
 * per-item streams such as (seed, split, index) are independent of each other. Floats are
 * floored; words are taken modulo 2³².
 *
 * @param words Integers to mix, in order.
 * @returns An unsigned 32-bit integer.
 * @example
 * ```ts
 * import { mixSeed } from "./random.ts";
 * console.log(mixSeed(1, 2) !== mixSeed(2, 1)); // true
 * ```
 */
export function mixSeed(...words: number[]): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    h = Math.imul(h ^ fmix32(Math.floor(w) >>> 0), 0x01000193) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  return h;
}

const ENCODER = new TextEncoder();

/**
 * The seed of a named stream: FNV-1a of the name's UTF-8 bytes, mixed with `seed` and `ints`
 * through {@link mixSeed}. Two streams with different names (or integers) are independent even
 * when they share the run's seed, so adding a new stream never shifts the draws of another.
 *
 * Names are version-frozen: a stream's name stands for its exact outputs. To change what a stream
 * draws, use a new name (convention: `"piece/purpose"`, `"piece/purpose@2"` for a revision).
 *
 * @param name The stream's name, e.g. `"dvae/gumbel"`; non-empty.
 * @param seed The run's seed.
 * @param ints More integers to mix in, e.g. step and worker.
 * @returns An unsigned 32-bit seed.
 * @example
 * ```ts
 * import { Rng, streamSeed } from "./random.ts";
 * const rng = new Rng(streamSeed("dvae/gumbel", 0, 120)); // run seed 0, step 120
 * console.log(streamSeed("dvae/gumbel", 0, 120) !== streamSeed("prior/dropout", 0, 120)); // true
 * ```
 */
export function streamSeed(name: string, seed: number, ...ints: number[]): number {
  if (name.length === 0) throw new TypeError("a stream needs a non-empty name");
  for (const v of [seed, ...ints]) {
    if (!Number.isFinite(v)) {
      throw new TypeError(`stream "${name}" needs finite integers, got ${v}`);
    }
  }
  let h = 0x811c9dc5;
  for (const byte of ENCODER.encode(name)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return mixSeed(h, seed, ...ints);
}

/**
 * Seeded PRNG (sfc32 seeded through splitmix32). Same seed → same sequence, on every platform.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const a = new Rng(42), b = new Rng(42);
 * console.log(a.next() === b.next()); // true
 * const gumbel = Rng.stream("dvae/gumbel", 42, 7); // the run's seed 42, step 7
 * ```
 */
export class Rng implements RandomSource {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;

  /**
   * Seeds the generator.
   * @param seed Any integer (or float; it is floored).
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(`Rng seed must be a finite number, got ${seed}`);
    }
    let s = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      return fmix32(s);
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    // The first outputs of sfc32 from a fresh state are weak; discarding a few is the usual fix.
    for (let i = 0; i < 12; i++) this.#u32();
  }

  /**
   * A generator for the named stream `name` of a run seeded `seed`: `new Rng(streamSeed(...))`.
   *
   * @param name The stream's name (version-frozen, see {@link streamSeed}).
   * @param seed The run's seed.
   * @param ints More integers, e.g. step and worker.
   * @returns A fresh generator.
   * @example
   * ```ts
   * import { Rng } from "./random.ts";
   * const noise = Rng.stream("prior/sample", 0, 3).normal();
   * ```
   */
  static stream(name: string, seed: number, ...ints: number[]): Rng {
    return new Rng(streamSeed(name, seed, ...ints));
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
   * import { Rng } from "./random.ts";
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
   * import { Rng } from "./random.ts";
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
   * import { Rng } from "./random.ts";
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
   * import { Rng } from "./random.ts";
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
   * import { Rng } from "./random.ts";
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

/**
 * A uniform integer in [0, n) from any random source; the `min` guards a source whose `next()`
 * could return 1 through rounding.
 *
 * @param rng The source.
 * @param n Exclusive upper bound, a positive integer.
 * @returns The draw.
 * @example
 * ```ts
 * import { drawInt, Rng } from "./random.ts";
 * const i = drawInt(new Rng(0), 10); // 0..9
 * ```
 */
export function drawInt(rng: RandomSource, n: number): number {
  return Math.min(n - 1, Math.floor(rng.next() * n));
}
