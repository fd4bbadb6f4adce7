/**
 * The `gradScale` reducer's shard side: scales and rounds this shard's gradients to 16 bits, hands
 * them to the inner reducer, and undoes the inner reducer's step when the coordinator skips it.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { Payload, ShardReducer } from "../nn/reduce.ts";
import type { FloatFormat } from "./float_format.ts";
import { type RoundingCounts, scaleToFormat } from "./scale_to_format.ts";

/** What the coordinator sends with every step. */
export interface ScaleInfo {
  /** Scale of each block, in the order of the scaler's block ids. */
  scales: number[];
  /** The inner coordinator's info. */
  inner: unknown;
}

/** First entry of every broadcast: the inner reducer's round goes on. */
export const TAG_INNER = 0;
/** First entry of a broadcast: the step is skipped, restore the inner reducer's state. */
export const TAG_DISCARD = 1;

/**
 * Round 0 payload: the inner reducer's, then one Int32Array of counts: [whether this shard's inner
 * reducer keeps state (1/0), then per block: non-zero, underflowed, overflowed entries].
 */
export class GradScaleShard implements ShardReducer {
  readonly #inner: ShardReducer;
  readonly #paramBlock: readonly number[];
  readonly #blocks: number;
  readonly #format: FloatFormat;
  #snapshot: Record<string, Float32Array> | null = null;

  /**
   * Wraps a shard reducer with per-block gradient scaling.
   * @param inner The inner shard reducer (owned from now on).
   * @param paramBlock Block index of each parameter.
   * @param blocks Number of blocks.
   * @param format The 16-bit format.
   */
  constructor(
    inner: ShardReducer,
    paramBlock: readonly number[],
    blocks: number,
    format: FloatFormat,
  ) {
    this.#inner = inner;
    this.#paramBlock = paramBlock;
    this.#blocks = blocks;
    this.#format = format;
  }

  /** Multiplies each gradient by its block's scale, rounds to 16 bits, runs the inner round 0. */
  begin(grads: tf.Tensor[], info: unknown): Payload {
    const { scales, inner } = (info ?? {}) as Partial<ScaleInfo>;
    if (!Array.isArray(scales) || scales.length !== this.#blocks) {
      throw new RangeError(
        `gradScale expected the step's info to carry ${this.#blocks} block scales, got ` +
          `${Array.isArray(scales) ? scales.length : typeof scales}`,
      );
    }
    if (grads.length !== this.#paramBlock.length) {
      throw new RangeError(
        `gradScale expected ${this.#paramBlock.length} gradients, got ${grads.length}`,
      );
    }
    // Kept to undo the inner reducer's state changes (error feedback, warm Q) if this step is
    // skipped: a skipped step must leave no trace.
    this.#snapshot = this.#inner.state();
    const counts: RoundingCounts[] = Array.from(
      { length: this.#blocks },
      () => ({ entries: 0, nonzero: 0, underflow: 0, overflow: 0 }),
    );
    const scaled = grads.map((g, p) => {
      const b = this.#paramBlock[p];
      const values = scaleToFormat(g.dataSync(), scales[b], this.#format, counts[b]);
      return tf.tensor(values, g.shape, "float32");
    });
    let payload: Payload;
    try {
      payload = this.#inner.begin(scaled, inner);
    } finally {
      tf.dispose(scaled);
    }
    const summary = new Int32Array(1 + 3 * this.#blocks);
    summary[0] = Object.keys(this.#snapshot).length > 0 ? 1 : 0;
    counts.forEach((c, b) => summary.set([c.nonzero, c.underflow, c.overflow], 1 + 3 * b));
    return [...payload, summary];
  }

  /** The inner reducer's round k, or, for a skipped step, its state restored and no answer. */
  round(k: number, broadcast: Payload): Payload {
    const tag = broadcast[0];
    if (!(tag instanceof Int32Array) || tag.length !== 1) {
      throw new RangeError(`gradScale round ${k}: the broadcast lacks its tag`);
    }
    if (tag[0] === TAG_DISCARD) {
      if (this.#snapshot) this.#inner.restore(this.#snapshot);
      this.#snapshot = null;
      return [];
    }
    return this.#inner.round(k, broadcast.slice(1));
  }

  /** The inner reducer's state (the scales live in the coordinator). */
  state(): Record<string, Float32Array> {
    return this.#inner.state();
  }

  /** Restores the inner reducer's state. */
  restore(state: Record<string, Float32Array>): void {
    this.#snapshot = null;
    this.#inner.restore(state);
  }

  /** Frees the inner reducer. */
  dispose(): void {
    this.#snapshot = null;
    this.#inner.dispose();
  }
}
