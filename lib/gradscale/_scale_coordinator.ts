/**
 * The `gradScale` reducer's coordinator: hands out the block scales, unscales the inner reducer's
 * result, skips a step with a non-finite block and applies App. D's scale rules (a
 * {@linkcode GradScaler}'s).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { Combined, Coordinator, Payload } from "../nn/reduce.ts";
import type { GradScaler } from "./grad_scaler.ts";
import { type ScaleInfo, TAG_DISCARD, TAG_INNER } from "./_scale_shard.ts";

const SCALER_PREFIX = "grad_scale/";
const INNER_PREFIX = "inner/";

/** A metric key for a block id: snake_case characters only. */
function metricKey(block: string): string {
  return block.replace(/[^A-Za-z0-9_]+/g, "_");
}

/** The coordinator of the `gradScale` wrapper. */
export class GradScaleCoordinator implements Coordinator {
  readonly #inner: Coordinator;
  readonly #scaler: GradScaler;
  readonly #paramBlock: readonly number[];
  readonly #shards: number;
  // The step in flight.
  #scales: number[] = [];
  #counts: number[] = []; // per block: non-zero, underflowed, overflowed entries (all shards)
  #shardsKeepState = false;
  #innerSnapshot: Record<string, Float32Array> = {};
  #pending: Combined | null = null;
  #discardRound = -1;

  /**
   * Wraps a coordinator with per-block gradient scaling.
   * @param inner The inner coordinator (owned from now on).
   * @param scaler The scales and their rules (owned).
   * @param paramBlock Block index of each parameter (scaler.blockIds order).
   * @param shards Number of shards.
   */
  constructor(
    inner: Coordinator,
    scaler: GradScaler,
    paramBlock: readonly number[],
    shards: number,
  ) {
    this.#inner = inner;
    this.#scaler = scaler;
    this.#paramBlock = paramBlock;
    this.#shards = shards;
  }

  #blockScales(): number[] {
    const scales = this.#scaler.scales();
    return this.#scaler.blockIds.map((b) => scales[b]);
  }

  /** The current block scales, and the inner coordinator's info. */
  info(): ScaleInfo {
    return { scales: this.#blockScales(), inner: this.#inner.info() };
  }

  /** Passes rounds to the inner coordinator; unscales and checks its result. */
  combine(k: number, payloads: Payload[]): Combined {
    if (payloads.length !== this.#shards) {
      throw new RangeError(
        `gradScale expected payloads of ${this.#shards} shards, got ${payloads.length}`,
      );
    }
    if (k === 0) return this.#begin(payloads);
    if (k === this.#discardRound) {
      const pending = this.#pending!;
      this.#pending = null;
      this.#discardRound = -1;
      return pending;
    }
    return this.#forward(k, this.#inner.combine(k, payloads));
  }

  #begin(payloads: Payload[]): Combined {
    this.#dropPending();
    const blocks = this.#scaler.blockIds.length;
    this.#scales = this.#blockScales();
    this.#counts = new Array(3 * blocks).fill(0);
    this.#shardsKeepState = false;
    const inner = payloads.map((p, s) => {
      const summary = p[p.length - 1];
      if (!(summary instanceof Int32Array) || summary.length !== 1 + 3 * blocks) {
        throw new RangeError(`gradScale: shard ${s}'s round 0 payload lacks its block counts`);
      }
      if (summary[0] === 1) this.#shardsKeepState = true;
      for (let i = 0; i < 3 * blocks; i++) this.#counts[i] += summary[1 + i];
      return p.slice(0, -1);
    });
    this.#innerSnapshot = this.#inner.state();
    return this.#forward(0, this.#inner.combine(0, inner));
  }

  #forward(k: number, combined: Combined): Combined {
    if ("broadcast" in combined) {
      return { broadcast: [Int32Array.of(TAG_INNER), ...combined.broadcast] };
    }
    const ids = this.#scaler.blockIds;
    if (combined.grads.length !== this.#paramBlock.length) {
      tf.dispose(combined.grads);
      throw new RangeError(
        `gradScale: the inner reducer gave ${combined.grads.length} gradients, expected ` +
          `${this.#paramBlock.length}`,
      );
    }
    const finite = ids.map((_, b) => this.#counts[3 * b + 2] === 0);
    const grads = combined.grads.map((g, p) => {
      const b = this.#paramBlock[p];
      const scale = this.#scales[b];
      const values = g.dataSync();
      const out = new Float32Array(values.length);
      for (let i = 0; i < values.length; i++) {
        out[i] = values[i] / scale;
        if (!Number.isFinite(out[i])) finite[b] = false;
      }
      return tf.tensor(out, g.shape, "float32");
    });
    tf.dispose(combined.grads);
    const metrics: Record<string, number> = { ...combined.metrics };
    ids.forEach((id, b) => {
      const [nonzero, underflow] = [this.#counts[3 * b], this.#counts[3 * b + 1]];
      metrics[`grad_scale_log2_${metricKey(id)}`] = Math.log2(this.#scales[b]);
      metrics[`grad_underflow_${metricKey(id)}`] = nonzero === 0 ? 0 : underflow / nonzero;
    });
    const skip = this.#scaler.update(finite);
    metrics.grad_scale_skipped = skip ? 1 : 0;
    if (!skip) return { grads, skip: combined.skip, metrics };
    const after = this.#blockScales();
    const reasons = ids.flatMap((id, b) =>
      finite[b] ? [] : [
        `non-finite 16-bit gradients in block "${id}" (scale ${+this.#scales[b].toPrecision(
          6,
        )} → ` +
        `${+after[b].toPrecision(6)})`,
      ]
    );
    if (combined.skip) reasons.push(combined.skip);
    // A skipped step leaves no trace in the inner reducer, here and on the shards.
    this.#inner.restore(this.#innerSnapshot);
    const result = { grads, skip: reasons.join("; "), metrics };
    if (!this.#shardsKeepState) return result;
    this.#pending = result;
    this.#discardRound = k + 1;
    return { broadcast: [Int32Array.of(TAG_DISCARD)] };
  }

  #dropPending(): void {
    if (this.#pending && "grads" in this.#pending) tf.dispose(this.#pending.grads);
    this.#pending = null;
    this.#discardRound = -1;
  }

  /** `grad_scale/…` (the scaler's) and `inner/…` (the inner coordinator's). */
  state(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(this.#scaler.state())) out[SCALER_PREFIX + k] = v;
    for (const [k, v] of Object.entries(this.#inner.state())) out[INNER_PREFIX + k] = v;
    return out;
  }

  /** Restores {@link state}'s output. */
  restore(state: Record<string, Float32Array>): void {
    const scaler: Record<string, Float32Array> = {};
    const inner: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(state)) {
      if (k.startsWith(SCALER_PREFIX)) scaler[k.slice(SCALER_PREFIX.length)] = v;
      else if (k.startsWith(INNER_PREFIX)) inner[k.slice(INNER_PREFIX.length)] = v;
      else throw new RangeError(`gradScale state has "${k}", expected grad_scale/… or inner/…`);
    }
    this.#scaler.restore(scaler);
    this.#inner.restore(inner);
  }

  /** Frees the inner coordinator and a step in flight. */
  dispose(): void {
    this.#dropPending();
    this.#inner.dispose();
  }
}
