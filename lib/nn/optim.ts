/**
 * Gradients and the optimiser: loss + gradients in one call, global-norm clipping, and AdamW with
 * decoupled weight decay and an optional exponential moving average (EMA) of the weights.
 *
 * tfjs has Adam but no AdamW (Loshchilov & Hutter's decoupled decay), which both the dVAE and the
 * prior of the paper use, hence this file.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/**
 * The loss and its gradient with respect to each parameter, in `params` order.
 * Parameters the loss does not touch get a zero gradient.
 *
 * @param params Trainable variables.
 * @param lossFn Builds the scalar loss (runs inside a tape; intermediates are freed).
 * @returns `{ loss, grads }`; the caller disposes both.
 * @example
 * ```ts
 * import { valueAndGrads } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const w = tf.variable(tf.scalar(3));
 * const { loss, grads } = valueAndGrads([w], () => w.square() as tf.Scalar);
 * console.log(loss.dataSync()[0], grads[0].dataSync()[0]); // 9 6
 * tf.dispose([loss, ...grads, w]);
 * ```
 */
export function valueAndGrads(
  params: tf.Variable[],
  lossFn: () => tf.Scalar,
): { loss: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(lossFn, params);
  const out = params.map((p) => grads[p.name] ?? tf.zerosLike(p));
  // variableGrads keys by variable name; free any gradient we did not hand out.
  const kept = new Set(out.map((g) => g.id));
  for (const g of Object.values(grads)) if (!kept.has(g.id)) g.dispose();
  return { loss: value, grads: out };
}

/**
 * The L2 norm of all gradients together.
 *
 * @param grads Tensors.
 * @returns A scalar tensor (caller disposes).
 * @example
 * ```ts
 * import { globalNorm } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const n = globalNorm([tf.tensor1d([3]), tf.tensor1d([4])]);
 * console.log(n.dataSync()[0]); // 5
 * ```
 */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => g.square().sum()))) as tf.Scalar);
}

/**
 * Scales gradients so their global norm is at most `maxNorm` (GPT-2/nanoGPT style), and reports
 * the norm before clipping, so a caller can skip a step whose gradients are not finite.
 *
 * @param grads Gradients (not modified).
 * @param maxNorm Largest allowed global norm (`Infinity` disables clipping).
 * @returns `{ grads: new tensors (caller disposes), norm, finite }`.
 * @example
 * ```ts
 * import { clipGradNorm } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const { grads, norm } = clipGradNorm([tf.tensor1d([3, 4])], 1);
 * console.log(norm, grads[0].dataSync()); // 5 [0.6, 0.8]
 * tf.dispose(grads);
 * ```
 */
export function clipGradNorm(
  grads: tf.Tensor[],
  maxNorm: number,
): { grads: tf.Tensor[]; norm: number; finite: boolean } {
  const normT = globalNorm(grads);
  const norm = normT.dataSync()[0];
  normT.dispose();
  const finite = Number.isFinite(norm);
  const scale = finite && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  const out = tf.tidy(() => grads.map((g) => (scale === 1 ? g.clone() : g.mul(scale))));
  return { grads: out, norm, finite };
}

/** AdamW settings. */
export interface AdamWOptions {
  /** Step size (can be overridden per step, for schedules). @default 1e-3 */
  lr?: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.999 */
  beta2?: number;
  /** @default 1e-8 */
  eps?: number;
  /** Decoupled weight decay λ: p ← p − lr·λ·p. @default 0 */
  weightDecay?: number;
  /** Which parameters decay. @default rank ≥ 2 (weights, not biases, gains or 1-D tables) */
  decays?: (param: tf.Variable) => boolean;
  /** Decay of an EMA of the weights (e.g. 0.999); unset = no EMA. */
  emaDecay?: number;
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  ema: tf.Variable | null;
}

/**
 * AdamW (decoupled weight decay) with bias correction and an optional EMA of the weights.
 *
 * @example
 * ```ts
 * import { AdamW, valueAndGrads } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const w = tf.variable(tf.tensor1d([1, -2]));
 * const opt = new AdamW({ lr: 0.1, weightDecay: 0.01, emaDecay: 0.9 });
 * for (let i = 0; i < 10; i++) {
 *   const { loss, grads } = valueAndGrads([w], () => w.square().sum() as tf.Scalar);
 *   opt.step([w], grads);
 *   tf.dispose([loss, ...grads]);
 * }
 * opt.dispose(); w.dispose();
 * ```
 */
export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly emaDecay: number | null;
  readonly decays: (param: tf.Variable) => boolean;
  #slots = new Map<tf.Variable, Slot>();
  #step = 0;

  /** @param options See {@link AdamWOptions}. */
  constructor(options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.emaDecay = options.emaDecay ?? null;
    this.decays = options.decays ?? ((p) => p.rank >= 2);
    for (
      const [name, value] of Object.entries({ lr: this.lr, beta1: this.beta1, beta2: this.beta2 })
    ) {
      if (!(value >= 0) || (name !== "lr" && value >= 1)) {
        throw new RangeError(`AdamW ${name} out of range: ${value}`);
      }
    }
  }

  /** Updates taken so far (used for bias correction). */
  get stepCount(): number {
    return this.#step;
  }

  #slot(p: tf.Variable): Slot {
    let slot = this.#slots.get(p);
    if (!slot) {
      slot = {
        m: tf.variable(tf.zerosLike(p), false),
        v: tf.variable(tf.zerosLike(p), false),
        ema: this.emaDecay === null ? null : tf.variable(p.clone(), false),
      };
      this.#slots.set(p, slot);
    }
    return slot;
  }

  /**
   * One update of every parameter from its gradient.
   *
   * @param params Variables, in the same order as `grads`.
   * @param grads Gradients (not disposed here).
   * @param lr Step size for this update. @default this.lr
   */
  step(params: tf.Variable[], grads: tf.Tensor[], lr = this.lr): void {
    if (params.length !== grads.length) {
      throw new RangeError(`AdamW.step: ${params.length} params but ${grads.length} gradients`);
    }
    this.#step++;
    const t = this.#step;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    tf.tidy(() => {
      // The step's constants are uploaded once, not once per parameter (each upload is a tensor).
      // (m/c1)/(√(v/c2) + ε) = m·(√c2/c1)/(√v + ε√c2): the bias corrections fold into two scalars.
      const b1 = tf.scalar(this.beta1), g1 = tf.scalar(1 - this.beta1);
      const b2 = tf.scalar(this.beta2), g2 = tf.scalar(1 - this.beta2);
      const stepSize = tf.scalar((lr * Math.sqrt(c2)) / c1);
      const epsHat = tf.scalar(this.eps * Math.sqrt(c2));
      const decay = tf.scalar(1 - lr * this.weightDecay);
      const ema = this.emaDecay === null
        ? null
        : [tf.scalar(this.emaDecay), tf.scalar(1 - this.emaDecay)];
      params.forEach((p, i) => {
        const g = grads[i];
        const slot = this.#slot(p);
        const m = slot.m.mul(b1).add(g.mul(g1));
        const v = slot.v.mul(b2).add(g.square().mul(g2));
        slot.m.assign(m);
        slot.v.assign(v);
        const update = m.mul(stepSize).div(v.sqrt().add(epsHat));
        const decays = this.weightDecay > 0 && this.decays(p);
        const next = (decays ? p.mul(decay) : p).sub(update);
        p.assign(next);
        if (slot.ema && ema) slot.ema.assign(slot.ema.mul(ema[0]).add(next.mul(ema[1])));
      });
    });
  }

  /**
   * Runs `fn` with the EMA weights swapped into `params`, then swaps the trained weights back.
   * Without an EMA it just runs `fn`.
   *
   * @param params The parameters the EMA tracks.
   * @param fn Evaluation code.
   * @returns What `fn` returns.
   */
  async withEma<T>(params: tf.Variable[], fn: () => T | Promise<T>): Promise<T> {
    const swap = () =>
      tf.tidy(() => {
        for (const p of params) {
          const ema = this.#slots.get(p)?.ema;
          if (!ema) continue;
          const keep = p.clone();
          p.assign(ema);
          ema.assign(keep);
        }
      });
    swap();
    try {
      return await fn();
    } finally {
      swap();
    }
  }

  /**
   * The optimiser's state as named tensors (`m.<name>`, `v.<name>`, `ema.<name>`), for checkpoints.
   *
   * @param named The model's `namedParameters()`.
   * @returns Views of the live state (do not dispose).
   */
  stateTensors(named: [string, tf.Variable][]): [string, tf.Tensor][] {
    const out: [string, tf.Tensor][] = [];
    for (const [name, p] of named) {
      const slot = this.#slots.get(p);
      if (!slot) continue;
      out.push([`m.${name}`, slot.m], [`v.${name}`, slot.v]);
      if (slot.ema) out.push([`ema.${name}`, slot.ema]);
    }
    return out;
  }

  /**
   * Restores state saved by {@link stateTensors}.
   *
   * @param named The model's `namedParameters()`.
   * @param state Named tensors as read from a checkpoint (copied, not taken).
   * @param stepCount Updates already taken.
   */
  loadState(
    named: [string, tf.Variable][],
    state: Map<string, tf.Tensor>,
    stepCount: number,
  ): void {
    for (const [name, p] of named) {
      const m = state.get(`m.${name}`);
      const v = state.get(`v.${name}`);
      if (!m || !v) continue;
      const slot = this.#slot(p);
      slot.m.assign(m);
      slot.v.assign(v);
      const ema = state.get(`ema.${name}`);
      if (slot.ema && ema) slot.ema.assign(ema);
    }
    this.#step = stepCount;
  }

  /** Frees the moment estimates and EMA copies. */
  dispose(): void {
    for (const slot of this.#slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
      slot.ema?.dispose();
    }
    this.#slots.clear();
  }
}
