/**
 * The key/value cache that makes sampling cost O(position) per token instead of a full forward
 * pass: every layer's keys and values of the positions seen so far.
 *
 * Two layouts, chosen per sampling call:
 * - "concat": each layer's (B, H, p, hd) tensors grow by one position per step (`tf.concat`);
 *   a step attends p keys.
 * - "preallocated": each layer holds (B, H, L, hd) from the start and a step writes its position
 *   with slice + concat; a step attends all L keys, the unwritten future ones masked off.
 * - "compiled": the preallocated layout, with each image position's step one TensorFlow call
 *   (lib/backend's TracedFunction): the position is an input and the write a one-hot blend, so
 *   one graph serves every position (the values are the preallocated layout's).
 *
 * tfjs has no in-place writes, so both copy the cache each step; "concat" copies less and runs
 * fewer ops, and measured ~3× faster on wasm at the benchmark config (B 16, L 96: ~8–10 ms
 * against ~50 ms per token), nearly flat from the first image position to the last.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { KvCacheMode, LayerKv } from "../nn/mod.ts";

export type { KvCacheMode } from "../nn/mod.ts";

/**
 * Per-layer keys and values of a batch of partial streams, and how many positions they hold.
 * The cache owns its tensors; {@link Prior.extend} replaces them step by step.
 *
 * @example
 * ```ts
 * import { createPrior } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * const cache = prior.emptyCache(3);
 * console.log(cache.length, cache.batch); // 0 3
 * cache.dispose(); prior.dispose();
 * ```
 */
export class KvCache {
  /** Positions held (the next position to feed is `length`). */
  length = 0;

  /** A cache for a batch of streams. */
  constructor(
    /** Streams in the batch. */
    readonly batch: number,
    /** Storage layout. */
    readonly mode: KvCacheMode,
    /** One entry per layer. */
    public layers: LayerKv[],
  ) {}

  /**
   * A cache whose rows are this cache's rows, each repeated `times` times in a row
   * (row r → rows r·times … r·times + times − 1), e.g. one prefix per caption shared by all its
   * samples.
   *
   * @param times Copies of each row (≥ 1).
   * @returns A new cache (this one is left as it is).
   */
  repeatRows(times: number): KvCache {
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError(`repeatRows expects a positive integer, got ${times}`);
    }
    const rows = new Int32Array(this.batch * times);
    for (let i = 0; i < rows.length; i++) rows[i] = Math.floor(i / times);
    const layers = tf.tidy(() => {
      const index = tf.tensor1d(rows, "int32");
      return this.layers.map(({ k, v }) => ({
        k: tf.gather(k, index) as tf.Tensor4D,
        v: tf.gather(v, index) as tf.Tensor4D,
      }));
    });
    const out = new KvCache(this.batch * times, this.mode, layers);
    out.length = this.length;
    return out;
  }

  /** Frees every layer's keys and values. */
  dispose(): void {
    for (const { k, v } of this.layers) tf.dispose([k, v]);
    this.layers = [];
  }
}
