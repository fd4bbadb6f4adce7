/**
 * PowerSGD's shard side: what one data-parallel worker computes and sends, and the state it keeps
 * (its error buffers and Q). The algorithm is in `reducer.ts`'s module comment.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { Payload, ReducerContext, ShardReducer } from "../nn/reduce.ts";
import { formatByName, roundTensorToFormat } from "../gradscale/mod.ts";
import { gaussianQ, type PowerSgdSettings, receive, send } from "./_config.ts";
import { fromMatrix, toMatrix } from "./matrix_view.ts";
import { type CompressionPlanEntry, planCompression } from "./plan.ts";

const STEP_KEY = "step";
const errorKey = (name: string) => `error/${name}`;
const qKey = (name: string) => `q/${name}`;

/** One shard's PowerSGD: round 0 sends P_w, round 1 sends P̂ᵀ·M_w, round 2 updates its state. */
export class PowerSgdShard implements ShardReducer {
  /** What is compressed and how. */
  readonly plan: CompressionPlanEntry[];
  readonly #s: PowerSgdSettings;
  readonly #context: ReducerContext;
  readonly #compressed: number[]; // parameter indices, in the order of the compressed entries
  #q: (tf.Tensor2D | null)[]; // m × r
  #errors: (tf.Tensor2D | null)[]; // n × m, weighted as the gradients are
  #step = 0;
  // The step in flight, between rounds.
  #ms: (tf.Tensor2D | null)[];
  #pHats: (tf.Tensor2D | null)[];

  /**
   * A PowerSGD shard reducer for the given settings.
   * @param settings Complete settings.
   * @param context The gradients' shapes and names, this shard and the number of shards.
   */
  constructor(settings: PowerSgdSettings, context: ReducerContext) {
    this.#s = settings;
    this.#context = context;
    this.plan = planCompression(context.shapes, settings.rank, settings.minCompressionRate);
    this.#compressed = this.plan.flatMap((e, i) => e.compressed ? [i] : []);
    const none = () => this.plan.map(() => null);
    [this.#q, this.#errors, this.#ms, this.#pHats] = [none(), none(), none(), none()];
  }

  /** Round 0: P_w = M_w·Q for compressed matrices (M_w = gradient + error), others whole. */
  begin(grads: tf.Tensor[], _info: unknown): Payload {
    const { shapes } = this.#context;
    if (grads.length !== shapes.length) {
      throw new RangeError(`PowerSGD expected ${shapes.length} gradients, got ${grads.length}`);
    }
    grads.forEach((g, i) => {
      if (!tf.util.arraysEqual(g.shape, shapes[i])) {
        throw new RangeError(
          `gradient ${i} ("${this.#context.names[i]}") has shape [${g.shape}], expected ` +
            `[${shapes[i]}]`,
        );
      }
    });
    this.#endStep();
    const step = this.#step++;
    return this.plan.map((entry, i) => {
      if (!entry.compressed) return send(grads[i], this.#s);
      const q = this.#qFor(i, entry, step);
      const error = this.#errors[i];
      const { m, p } = tf.tidy(() => {
        const g = toMatrix(grads[i]);
        const m = error ? g.add(error) as tf.Tensor2D : g;
        return { m, p: m.matMul(q) };
      });
      this.#ms[i] = m;
      const values = send(p, this.#s);
      p.dispose();
      return values;
    });
  }

  /** Round 1: P̂ → P̂ᵀ·M_w (r × m); round 2: Q'ᵀ → new error buffer and Q, empty answer. */
  round(k: number, broadcast: Payload): Payload {
    if (k !== 1 && k !== 2) throw new RangeError(`PowerSGD has rounds 0 to 2, got round ${k}`);
    if (broadcast.length !== this.#compressed.length) {
      throw new RangeError(
        `PowerSGD round ${k} expected ${this.#compressed.length} broadcast entries, got ` +
          `${broadcast.length}`,
      );
    }
    if (this.#compressed.some((i) => this.#ms[i] === null)) {
      throw new RangeError(`PowerSGD round ${k} came without a step in flight`);
    }
    return k === 1 ? this.#sendQ(broadcast) : this.#update(broadcast);
  }

  #sendQ(broadcast: Payload): Payload {
    return this.#compressed.map((i, j) => {
      const { n, rank } = this.plan[i];
      this.#pHats[i]?.dispose();
      const pHat = receive(broadcast[j], [n, rank], `P̂ of "${this.#context.names[i]}"`);
      this.#pHats[i] = pHat;
      // M_wᵀ·P̂ is formed as P̂ᵀ·M_w: tfjs-wasm's matMul with a transpose flag on the big n × m
      // operand is ~20× slower than transposing the small n × r factor first.
      const qT = tf.tidy(() => pHat.transpose().matMul(this.#ms[i]!));
      const values = send(qT, this.#s);
      qT.dispose();
      return values;
    });
  }

  #update(broadcast: Payload): Payload {
    const { errorFeedback, errorPrecision, q: qMode } = this.#s;
    const errorFormat = formatByName(errorPrecision);
    this.#compressed.forEach((i, j) => {
      const { m, rank } = this.plan[i];
      const pHat = this.#pHats[i];
      if (pHat === null) throw new RangeError("PowerSGD round 2 came before round 1");
      const qT = receive(broadcast[j], [rank, m], `Q'ᵀ of "${this.#context.names[i]}"`);
      if (errorFeedback) {
        const mw = this.#ms[i]!;
        // e_w = M_w − out/W: the shards' errors sum to Σ_w M_w − out, whatever their weights.
        // 1/W goes on the small r × m factor, not on the n × m product.
        const error = tf.tidy(() => {
          const e = mw.sub(pHat.matMul(qT.div(this.#context.shards)));
          return (errorFormat.name === "float32" ? e : roundTensorToFormat(e, errorFormat));
        }) as tf.Tensor2D;
        this.#errors[i]?.dispose();
        this.#errors[i] = error;
      }
      if (qMode === "warm") {
        this.#q[i]?.dispose();
        this.#q[i] = tf.tidy(() => qT.transpose());
      }
      qT.dispose();
    });
    this.#endStep();
    return [];
  }

  #qFor(i: number, entry: CompressionPlanEntry, step: number): tf.Tensor2D {
    // "fresh" draws Q from the step number, so its first Q equals warm's and fixed's.
    if (this.#q[i] === null || this.#s.q === "fresh") {
      this.#q[i]?.dispose();
      this.#q[i] = gaussianQ(
        this.#s.seed,
        i,
        this.#s.q === "fresh" ? step : 0,
        entry.m,
        entry.rank,
      );
    }
    return this.#q[i]!;
  }

  #endStep(): void {
    for (let i = 0; i < this.plan.length; i++) {
      this.#ms[i]?.dispose();
      this.#pHats[i]?.dispose();
      this.#ms[i] = this.#pHats[i] = null;
    }
  }

  /**
   * This shard's error buffer of parameter i as stored (n × m, weighted like its gradients), or
   * null. Owned by the shard.
   */
  errorMatrix(i: number): tf.Tensor2D | null {
    return this.#errors[i] ?? null;
  }

  /**
   * The error buffer of parameter i in the parameter's shape, or null.
   *
   * @returns A new tensor.
   */
  error(i: number): tf.Tensor | null {
    const e = this.#errors[i];
    return e ? fromMatrix(e, this.plan[i].shape) : null;
  }

  /** `step` (two float32 words: high, low 24 bits), `error/<name>` and, for warm Q, `q/<name>`. */
  state(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {
      [STEP_KEY]: Float32Array.of(Math.floor(this.#step / 2 ** 24), this.#step % 2 ** 24),
    };
    for (const i of this.#compressed) {
      const name = this.#context.names[i];
      const e = this.#errors[i];
      if (e) out[errorKey(name)] = (e.dataSync() as Float32Array).slice();
      const q = this.#q[i];
      if (q && this.#s.q === "warm") out[qKey(name)] = (q.dataSync() as Float32Array).slice();
    }
    return out;
  }

  /** Restores {@link state}'s output; entries it lacks start afresh. */
  restore(state: Record<string, Float32Array>): void {
    const known = new Set([STEP_KEY]);
    const tensors: [number, "error" | "q", tf.Tensor2D][] = [];
    const take = (key: string, shape: number[]) => {
      known.add(key);
      const values = state[key];
      if (values === undefined) return null;
      if (values.length !== shape[0] * shape[1]) {
        throw new RangeError(
          `PowerSGD state "${key}" has ${values.length} values, expected [${shape}]`,
        );
      }
      return tf.tensor2d(values.slice(), shape as [number, number]);
    };
    try {
      for (const i of this.#compressed) {
        const { n, m, rank } = this.plan[i];
        const name = this.#context.names[i];
        const e = take(errorKey(name), [n, m]);
        if (e) tensors.push([i, "error", e]);
        const q = this.#s.q === "warm" ? take(qKey(name), [m, rank]) : null;
        if (q) tensors.push([i, "q", q]);
      }
      const unknown = Object.keys(state).find((k) => !known.has(k));
      if (unknown !== undefined) {
        throw new RangeError(
          `PowerSGD state has "${unknown}", which no compressed parameter of this shard has ` +
            `(a checkpoint of other parameters, rank or settings?)`,
        );
      }
    } catch (err) {
      tf.dispose(tensors.map((t) => t[2]));
      throw err;
    }
    this.dispose();
    for (const [i, kind, t] of tensors) (kind === "error" ? this.#errors : this.#q)[i] = t;
    const step = state[STEP_KEY];
    this.#step = step ? step[0] * 2 ** 24 + step[1] : 0;
  }

  /** Frees the error buffers, Q and the step in flight. */
  dispose(): void {
    this.#endStep();
    for (let i = 0; i < this.plan.length; i++) {
      this.#errors[i]?.dispose();
      this.#q[i]?.dispose();
      this.#errors[i] = this.#q[i] = null;
    }
  }
}
