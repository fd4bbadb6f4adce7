/**
 * Gradients and the optimiser: loss + gradients in one call, global-norm clipping, and AdamW with
 * decoupled weight decay and an optional exponential moving average (EMA) of the weights.
 *
 * tfjs has Adam but no AdamW (Loshchilov & Hutter's decoupled decay), which both the dVAE and the
 * prior of the paper use, hence this file.
 *
 * @module
 */
import { tf, TracedFunction } from "../backend/mod.ts";

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
 * The factor that scales gradients to a global norm of at most `maxNorm` (GPT-2/nanoGPT style),
 * with the norm before clipping, so a caller can skip a step whose gradients are not finite. One
 * read from the device; pass `scale` to {@link AdamW.step} rather than scaling every gradient.
 *
 * @param grads Gradients (not modified).
 * @param maxNorm Largest allowed global norm (`Infinity` disables clipping).
 * @param normOf Computes the global norm (e.g. a traced {@link globalNorm}). @default globalNorm
 * @returns `{ scale, norm, finite }` (scale 1 when the norm is within bounds or not finite).
 * @example
 * ```ts
 * import { clipScale } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const g = tf.tensor1d([3, 4]);
 * console.log(clipScale([g], 1)); // { scale: ≈0.2, norm: 5, finite: true }
 * g.dispose();
 * ```
 */
export function clipScale(
  grads: tf.Tensor[],
  maxNorm: number,
  normOf: (grads: tf.Tensor[]) => tf.Scalar = globalNorm,
): { scale: number; norm: number; finite: boolean } {
  const normT = normOf(grads);
  const norm = normT.dataSync()[0];
  normT.dispose();
  const finite = Number.isFinite(norm);
  return { scale: finite && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1, norm, finite };
}

/**
 * Scales gradients so their global norm is at most `maxNorm` (see {@link clipScale}).
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
  const { scale, norm, finite } = clipScale(grads, maxNorm);
  const out = tf.tidy(() => grads.map((g) => (scale === 1 ? g.clone() : g.mul(scale))));
  return { grads: out, norm, finite };
}

/** AdamW settings. */
export interface AdamWOptions {
  /** Step size (can be overridden per step, for schedules). @default 1e-3 */
  lr?: number;
  /**
   * Decay of the first moment.
   * @default 0.9
   */
  beta1?: number;
  /**
   * Decay of the second moment.
   * @default 0.999
   */
  beta2?: number;
  /**
   * Added to the second moment's root.
   * @default 1e-8
   */
  eps?: number;
  /** Decoupled weight decay λ: p ← p − lr·λ·p. @default 0 */
  weightDecay?: number;
  /** Which parameters decay. @default rank ≥ 2 (weights, not biases, gains or 1-D tables) */
  decays?: (param: tf.Variable) => boolean;
  /** Decay of an EMA of the weights (e.g. 0.999); unset = no EMA. */
  emaDecay?: number;
  /**
   * Run each update as one TensorFlow call (lib/backend's TracedFunction; eager where the backend
   * cannot trace). @default false
   */
  compile?: boolean;
}

/**
 * Throws unless AdamW's settings are usable; settings left undefined take AdamW's defaults and are
 * not checked. Each bad value would otherwise run without a word: a negative step size ascends
 * the loss (and a warm-up from 0 hides it at step 0), a zero one trains nothing, β or an EMA decay
 * ≥ 1 freezes its average, ε ≤ 0 divides by zero where a second moment is 0, and a negative
 * weight decay grows the weights. Every trainer checks through this one function.
 *
 * @param options The settings to check.
 * @throws {TypeError} A setting that is not a number.
 * @throws {RangeError} `lr` not a finite number > 0; `beta1`, `beta2` or `emaDecay` outside
 *   [0, 1); `eps` not a finite number > 0; `weightDecay` not a finite number ≥ 0.
 * @example
 * ```ts
 * import { checkAdamWOptions } from "./optim.ts";
 * try {
 *   checkAdamWOptions({ lr: -1e-3 });
 * } catch (e) {
 *   console.log((e as Error).message); // "AdamW lr must be a finite number > 0, got -0.001"
 * }
 * ```
 */
export function checkAdamWOptions(options: AdamWOptions): void {
  const rules: [
    Exclude<keyof AdamWOptions, "decays" | "compile">,
    string,
    (x: number) => boolean,
  ][] = [
    ["lr", "a finite number > 0", (x) => x > 0 && Number.isFinite(x)],
    ["beta1", "in [0, 1)", (x) => x >= 0 && x < 1],
    ["beta2", "in [0, 1)", (x) => x >= 0 && x < 1],
    ["eps", "a finite number > 0", (x) => x > 0 && Number.isFinite(x)],
    ["weightDecay", "a finite number ≥ 0", (x) => x >= 0 && Number.isFinite(x)],
    ["emaDecay", "in [0, 1)", (x) => x >= 0 && x < 1],
  ];
  for (const [name, accepted, ok] of rules) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== "number") {
      throw new TypeError(`AdamW ${name} must be a number, got ${typeof value}`);
    }
    if (!ok(value)) throw new RangeError(`AdamW ${name} must be ${accepted}, got ${value}`);
  }
}

/**
 * The optimiser's state over all parameters as flat vectors, in the order of `params`: on
 * TensorFlow each op costs ~40 µs whatever its size, so one update of a 100-tensor model as a
 * dozen ops over one vector is far cheaper than a dozen ops per tensor.
 */
interface FlatState {
  params: tf.Variable[];
  sizes: number[];
  index: Map<tf.Variable, number>;
  m: tf.Variable;
  v: tf.Variable;
  ema: tf.Variable | null;
  /** 1 where the parameter decays, else 0; and its complement (null without decay). */
  decayMask: [tf.Tensor1D, tf.Tensor1D] | null;
}

/**
 * AdamW (decoupled weight decay) with bias correction and an optional EMA of the weights.
 *
 * The moments (and the EMA) are held as one flat vector each over the parameters of the first
 * call, so every later call must pass the same parameters (in any order).
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
  /** Learning rate. */
  readonly lr: number;
  /** Decay of the first moment. */
  readonly beta1: number;
  /** Decay of the second moment. */
  readonly beta2: number;
  /** Added to the second moment's root. */
  readonly eps: number;
  /** Decoupled weight decay per step, times the learning rate. */
  readonly weightDecay: number;
  /** Decay of the parameters' exponential moving average, or null for none. */
  readonly emaDecay: number | null;
  /** Whether a parameter gets weight decay. */
  readonly decays: (param: tf.Variable) => boolean;
  #state: FlatState | null = null;
  #step = 0;
  /** The update as one TensorFlow call, when compiled. */
  #traced: TracedFunction | null = null;

  /**
   * An AdamW optimiser with the given settings.
   * @param options See {@link AdamWOptions}.
   * @throws {TypeError} A setting that is not a number.
   * @throws {RangeError} A setting out of range (see {@link checkAdamWOptions}).
   */
  constructor(options: AdamWOptions = {}) {
    checkAdamWOptions(options);
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.emaDecay = options.emaDecay ?? null;
    this.decays = options.decays ?? ((p) => p.rank >= 2);
    if (options.compile) {
      this.#traced = new TracedFunction("adamw", ([factors, ...g]) => this.#update(factors, g));
    }
  }

  /** Updates taken so far (used for bias correction). */
  get stepCount(): number {
    return this.#step;
  }

  /** The flat state, made on first use for `params`; later calls must name the same ones. */
  #stateFor(params: tf.Variable[]): FlatState {
    if (this.#state) {
      const { index } = this.#state;
      if (params.length !== index.size || !params.every((p) => index.has(p))) {
        throw new RangeError(
          `AdamW: got ${params.length} parameters that are not the ${index.size} of its first ` +
            "call; use one optimiser per set of parameters",
        );
      }
      return this.#state;
    }
    const sizes = params.map((p) => p.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const decaying = params.map((p) => this.weightDecay > 0 && this.decays(p));
    const mask = new Float32Array(total);
    let offset = 0;
    params.forEach((p, i) => {
      if (decaying[i]) mask.fill(1, offset, offset + p.size);
      offset += p.size;
    });
    const variable = (init: tf.Tensor) => {
      const out = tf.variable(init, false);
      init.dispose();
      return out;
    };
    this.#state = {
      params: [...params],
      sizes,
      index: new Map(params.map((p, i) => [p, i])),
      m: variable(tf.zeros([total])),
      v: variable(tf.zeros([total])),
      ema: this.emaDecay === null ? null : variable(tf.tidy(() => flatten(params))),
      decayMask: decaying.some(Boolean)
        ? [tf.tensor1d(mask), tf.tensor1d(mask.map((x) => 1 - x))]
        : null,
    };
    return this.#state;
  }

  /** Tensors in the state's order from ones given in `params` order. */
  #ordered<T>(state: FlatState, params: tf.Variable[], values: T[]): T[] {
    const out = new Array<T>(values.length);
    params.forEach((p, i) => (out[state.index.get(p)!] = values[i]));
    return out;
  }

  /**
   * One update of every parameter from its gradient.
   *
   * @param params Variables, in the same order as `grads` (the same set at every call).
   * @param grads Gradients (not disposed here).
   * @param lr Step size for this update. @default this.lr
   * @param gradScale A factor on every gradient, e.g. from global-norm clipping (folded into the
   *   moment updates, so it costs nothing). @default 1
   * @throws {RangeError} `lr` not a finite number ≥ 0 (0: a warm-up's first step), or gradients
   *   that do not match `params`.
   */
  step(params: tf.Variable[], grads: tf.Tensor[], lr = this.lr, gradScale = 1): void {
    if (!(lr >= 0 && Number.isFinite(lr))) {
      throw new RangeError(`AdamW.step: lr must be a finite number ≥ 0, got ${lr}`);
    }
    if (params.length !== grads.length) {
      throw new RangeError(`AdamW.step: ${params.length} params but ${grads.length} gradients`);
    }
    const state = this.#stateFor(params);
    this.#step++;
    const t = this.#step;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    // The step's numbers as one input, so a traced update serves every step.
    // (m/c1)/(√(v/c2) + ε) = m·(√c2/c1)/(√v + ε√c2): the bias corrections fold into two scalars.
    const factors = tf.tensor1d([
      (1 - this.beta1) * gradScale,
      (1 - this.beta2) * gradScale ** 2,
      (lr * Math.sqrt(c2)) / c1,
      this.eps * Math.sqrt(c2),
      1 - lr * this.weightDecay,
    ]);
    const g = this.#ordered(state, params, grads);
    const out = this.#traced
      ? this.#traced.call([factors, ...g])
      : tf.tidy(() => this.#update(factors, g));
    factors.dispose();
    const [m, v, ...rest] = out;
    state.m.assign(m);
    state.v.assign(v);
    state.params.forEach((p, i) => p.assign(rest[i]));
    if (state.ema) state.ema.assign(rest[state.params.length]);
    tf.dispose(out); // each variable holds its own reference
  }

  /**
   * New [m, v, ...parameters, ema?] from the step's factors and the gradients in the state's
   * order (reads the state; assigns nothing, so it can be traced).
   */
  #update(factors: tf.Tensor, grads: tf.Tensor[]): tf.Tensor[] {
    const state = this.#state!;
    const [gm, gv, stepSize, epsilon, decay] = tf.split(factors, 5) as tf.Scalar[];
    const g = flatten(grads);
    const m = state.m.mul(this.beta1).add(g.mul(gm));
    const v = state.v.mul(this.beta2).add(g.square().mul(gv));
    const update = m.mul(stepSize).div(v.sqrt().add(epsilon));
    let next = flatten(state.params);
    if (state.decayMask) {
      const [on, off] = state.decayMask;
      next = next.mul(on.mul(decay).add(off)); // decaying entries only
    }
    next = next.sub(update);
    const pieces = tf.split(next, state.sizes).map((x, i) => x.reshape(state.params[i].shape));
    const ema = state.ema ? [state.ema.mul(this.emaDecay!).add(next.mul(1 - this.emaDecay!))] : [];
    return [m, v, ...pieces, ...ema];
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
    const state = this.#state;
    if (!state?.ema) return await fn();
    this.#stateFor(params); // the same parameters, or a clear error
    const trained = tf.tidy(() => flatten(state.params));
    tf.tidy(() => unflattenInto(state, state.ema!));
    try {
      return await fn();
    } finally {
      tf.tidy(() => unflattenInto(state, trained));
      trained.dispose();
    }
  }

  /**
   * The optimiser's state as named tensors (`m.<name>`, `v.<name>`, `ema.<name>`), for checkpoints.
   *
   * @param named The model's `namedParameters()`.
   * @returns New tensors, one per parameter and kind (the caller disposes them).
   */
  stateTensors(named: [string, tf.Variable][]): [string, tf.Tensor][] {
    const state = this.#state;
    if (!state) return [];
    return tf.tidy(() => {
      const kinds: [string, tf.Tensor][] = [["m", state.m], ["v", state.v]];
      if (state.ema) kinds.push(["ema", state.ema]);
      const parts = kinds.map(([kind, flat]) => [kind, tf.split(flat, state.sizes)] as const);
      const out: [string, tf.Tensor][] = [];
      for (const [name, p] of named) {
        const i = state.index.get(p);
        if (i === undefined) continue;
        for (const [kind, pieces] of parts) {
          out.push([`${kind}.${name}`, pieces[i].reshape(p.shape)]);
        }
      }
      return out;
    });
  }

  /**
   * Restores state saved by {@link stateTensors}. Parameters the state has no moments for start
   * from zero (and, with an EMA, from their current weights).
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
    const flat = this.#stateFor(named.map(([, p]) => p));
    const nameOf = new Map(named.map(([name, p]) => [p, name]));
    tf.tidy(() => {
      const gather = (kind: string, fallback: (p: tf.Variable) => tf.Tensor) =>
        tf.concat(flat.params.map((p) => {
          const saved = state.get(`${kind}.${nameOf.get(p)}`);
          return (saved && saved.size === p.size ? saved : fallback(p)).reshape([-1]);
        }));
      flat.m.assign(gather("m", (p) => tf.zeros([p.size])));
      flat.v.assign(gather("v", (p) => tf.zeros([p.size])));
      if (flat.ema) flat.ema.assign(gather("ema", (p) => p));
    });
    this.#step = stepCount;
  }

  /** Frees the moment estimates and EMA copies. */
  dispose(): void {
    this.#traced?.dispose();
    const state = this.#state;
    if (!state) return;
    tf.dispose([state.m, state.v, ...(state.ema ? [state.ema] : [])]);
    if (state.decayMask) tf.dispose(state.decayMask);
    this.#state = null;
  }
}

/** The tensors' elements one after another, as one vector. */
function flatten(tensors: tf.Tensor[]): tf.Tensor1D {
  return tf.concat(tensors.map((x) => x.reshape([-1]))) as tf.Tensor1D;
}

/** Writes consecutive pieces of `flat` into the state's parameters. */
function unflattenInto(state: FlatState, flat: tf.Tensor): void {
  const pieces = tf.split(flat, state.sizes);
  state.params.forEach((p, i) => p.assign(pieces[i].reshape(p.shape)));
}
