/**
 * PowerSGD's coordinator side: sums the shards' factors, orthogonalises P, and forms the update.
 * The algorithm is in `reducer.ts`'s module comment. It keeps no state between steps: Q and the
 * error buffers live on the shards.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import {
  type Combined,
  type Coordinator,
  type Payload,
  type ReducerContext,
  sumEntry,
} from "../nn/reduce.ts";
import { type PowerSgdSettings, receive, send } from "./_config.ts";
import { fromMatrix } from "./matrix_view.ts";
import { orthogonalize } from "./orthogonalize.ts";
import { type CompressionPlanEntry, planCompression } from "./plan.ts";

/** Σ over shards of payload entry `j`, after checking every shard sent the expected size. */
function sum(payloads: Payload[], j: number, shape: number[], what: string): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  payloads.forEach((p, s) => {
    if (p[j].length !== size) {
      throw new RangeError(
        `PowerSGD expected ${what} of ${size} values ([${shape}]) from shard ${s}, got ` +
          `${p[j].length}`,
      );
    }
  });
  return sumEntry(payloads, j, shape);
}

/** The coordinator of one PowerSGD all-reduce. */
export class PowerSgdCoordinator implements Coordinator {
  /** What is compressed and how. */
  readonly plan: CompressionPlanEntry[];
  readonly #s: PowerSgdSettings;
  readonly #context: ReducerContext;
  readonly #compressed: number[];
  // The step in flight: P̂ as the shards received it, and the finished gradients.
  #pHats: (tf.Tensor2D | null)[];
  #results: (tf.Tensor | null)[];
  #round = -1;

  /**
   * A PowerSGD coordinator for the given settings.
   * @param settings Complete settings.
   * @param context The gradients' shapes and names and the number of shards.
   */
  constructor(settings: PowerSgdSettings, context: ReducerContext) {
    this.#s = settings;
    this.#context = context;
    this.plan = planCompression(context.shapes, settings.rank, settings.minCompressionRate);
    this.#compressed = this.plan.flatMap((e, i) => e.compressed ? [i] : []);
    this.#pHats = this.plan.map(() => null);
    this.#results = this.plan.map(() => null);
  }

  /** PowerSGD sends nothing with the step. */
  info(): unknown {
    return null;
  }

  /** Round 0: Σ P_w → P̂; round 1: Σ P̂ᵀM_w → Q'ᵀ and out = P̂·Q'ᵀ; round 2: the gradients. */
  combine(k: number, payloads: Payload[]): Combined {
    if (payloads.length !== this.#context.shards) {
      throw new RangeError(
        `PowerSGD expected payloads of ${this.#context.shards} shards, got ${payloads.length}`,
      );
    }
    if (k !== 0 && k !== this.#round + 1) {
      throw new RangeError(`PowerSGD expected round ${this.#round + 1}, got round ${k}`);
    }
    this.#round = k;
    const expected = [this.plan.length, this.#compressed.length, 0][k];
    payloads.forEach((p, s) => {
      if (p.length !== expected) {
        throw new RangeError(
          `PowerSGD round ${k}: shard ${s} sent ${p.length} entries, expected ${expected}`,
        );
      }
    });
    switch (k) {
      case 0:
        return this.#orthogonalize(payloads);
      case 1:
        return this.#reconstruct(payloads);
      case 2:
        return this.#finish();
      default:
        throw new RangeError(`PowerSGD has rounds 0 to 2, got round ${k}`);
    }
  }

  #orthogonalize(payloads: Payload[]): Combined {
    this.#clear();
    const broadcast: Payload = [];
    this.plan.forEach((entry, i) => {
      if (!entry.compressed) {
        this.#results[i] = sum(payloads, i, entry.shape, `gradient ${i}`);
        return;
      }
      const p = sum(payloads, i, [entry.n, entry.rank], `P of parameter ${i}`);
      const pHat = orthogonalize(p, this.#s.orthogonalize, {
        epsilon: this.#s.epsilon,
        shift: this.#s.householderShift,
      });
      p.dispose();
      const values = send(pHat, this.#s);
      pHat.dispose();
      // Go on with P̂ as the shards get it (rounded to 16 bits, say), so that both sides agree.
      this.#pHats[i] = receive(values, [entry.n, entry.rank], "P̂");
      broadcast.push(values);
    });
    return this.#compressed.length === 0 ? this.#finish() : { broadcast };
  }

  #reconstruct(payloads: Payload[]): Combined {
    const broadcast = this.#compressed.map((i, j) => {
      const entry = this.plan[i];
      const qSumT = sum(payloads, j, [entry.rank, entry.m], `P̂ᵀM of parameter ${i}`);
      const values = send(qSumT, this.#s);
      qSumT.dispose();
      const pHat = this.#pHats[i]!;
      this.#results[i] = tf.tidy(() =>
        fromMatrix(pHat.matMul(receive(values, [entry.rank, entry.m], "Q'ᵀ")), entry.shape)
      );
      return values;
    });
    return { broadcast };
  }

  #finish(): Combined {
    const grads = this.#results.map((g, i) => {
      if (g === null) throw new RangeError(`PowerSGD has no result for parameter ${i} yet`);
      return g;
    });
    this.#results = this.plan.map(() => null);
    this.#clear();
    return { grads };
  }

  #clear(): void {
    tf.dispose([...this.#pHats, ...this.#results].filter((t) => t !== null) as tf.Tensor[]);
    this.#pHats = this.plan.map(() => null);
    this.#results = this.plan.map(() => null);
  }

  /** Nothing: the coordinator keeps no state between steps. */
  state(): Record<string, Float32Array> {
    return {};
  }

  /** Accepts only the empty state. */
  restore(state: Record<string, Float32Array>): void {
    const keys = Object.keys(state);
    if (keys.length > 0) {
      throw new RangeError(`the PowerSGD coordinator keeps no state, got "${keys[0]}"`);
    }
  }

  /** Frees the step in flight. */
  dispose(): void {
    this.#clear();
  }
}
