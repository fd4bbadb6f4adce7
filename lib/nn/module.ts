/**
 * Modules with named parameters: the building blocks every dalle-lab model is made of.
 *
 * A module owns `tf.Variable`s registered under names and child modules registered under names;
 * `namedParameters()` walks them as `"encoder.block1.conv.weight"`-style paths, which is what
 * checkpoints store. Layouts follow tfjs: Linear weights are `[in, out]`, conv kernels are
 * `[kh, kw, in, out]` (HWIO) and images are NHWC.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Rng } from "../io/mod.ts";

/**
 * Base class: registers parameters and children, lists them by name, disposes them.
 *
 * @example
 * ```ts
 * import { Module, Linear } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * class Mlp extends Module {
 *   fc1 = this.module("fc1", new Linear(4, 8, { seed: 1 }));
 *   fc2 = this.module("fc2", new Linear(8, 2, { seed: 2 }));
 *   apply(x: tf.Tensor): tf.Tensor {
 *     return this.fc2.apply(tf.relu(this.fc1.apply(x)));
 *   }
 * }
 * const mlp = new Mlp();
 * console.log(mlp.namedParameters().map(([name]) => name)); // fc1.weight, fc1.bias, ...
 * mlp.dispose();
 * ```
 */
export abstract class Module {
  #params = new Map<string, tf.Variable>();
  #children = new Map<string, Module>();

  /**
   * Registers a trainable parameter, taking ownership of `init` (it is disposed).
   *
   * @param name Local name, unique within this module.
   * @param init Initial value.
   * @returns The variable.
   */
  protected param(name: string, init: tf.Tensor): tf.Variable {
    if (this.#params.has(name) || this.#children.has(name)) {
      throw new Error(`duplicate parameter or module name "${name}"`);
    }
    const v = tf.variable(init, true);
    init.dispose();
    this.#params.set(name, v);
    return v;
  }

  /**
   * Registers a child module.
   *
   * @param name Local name, unique within this module.
   * @param child The module.
   * @returns The child, for `field = this.module("name", new X())`.
   */
  protected module<M extends Module>(name: string, child: M): M {
    if (this.#params.has(name) || this.#children.has(name)) {
      throw new Error(`duplicate parameter or module name "${name}"`);
    }
    this.#children.set(name, child);
    return child;
  }

  /**
   * Every parameter with its dotted path, parameters of this module before its children's.
   *
   * @param prefix Prepended to each name. @default ""
   * @returns `[name, variable]` pairs in a stable order.
   */
  namedParameters(prefix = ""): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [name, v] of this.#params) out.push([prefix + name, v]);
    for (const [name, child] of this.#children) {
      out.push(...child.namedParameters(`${prefix}${name}.`));
    }
    return out;
  }

  /**
   * Every parameter, in `namedParameters` order.
   *
   * @returns The variables.
   */
  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  /** Frees every parameter of this module and its children. */
  dispose(): void {
    for (const v of this.#params.values()) v.dispose();
    for (const child of this.#children.values()) child.dispose();
    this.#params.clear();
    this.#children.clear();
  }
}

/**
 * The number of scalar parameters of a module.
 *
 * @param module The module.
 * @returns Σ size of its parameters.
 * @example
 * ```ts
 * import { Linear, paramCount } from "./mod.ts";
 * const fc = new Linear(3, 2);
 * console.log(paramCount(fc)); // 8
 * fc.dispose();
 * ```
 */
export function paramCount(module: Module): number {
  return module.parameters().reduce((n, v) => n + v.size, 0);
}

/** Options shared by layers with random weights. */
export interface InitOptions {
  /** Seed for the weights (biases start at 0). @default 0 */
  seed?: number;
  /** Standard deviation of the normal init; each layer documents its own default. */
  std?: number;
}

function normal(shape: number[], std: number, seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, std, "float32", seed);
}

/**
 * y = x·W + b over the last axis; W is `[in, out]`, any leading dims are kept.
 *
 * @example
 * ```ts
 * import { Linear } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const fc = new Linear(3, 2, { seed: 0 });
 * const y = fc.apply(tf.ones([5, 7, 3])); // (5, 7, 2)
 * y.dispose(); fc.dispose();
 * ```
 */
export class Linear extends Module {
  /** Weight matrix (inFeatures, outFeatures). */
  readonly weight: tf.Variable;
  /** Bias (outFeatures), or null without one. */
  readonly bias: tf.Variable | null;
  /**
   * A dense layer with normal-initialised weights.
   * @param inFeatures Input width.
   * @param outFeatures Output width.
   * @param options `bias` @default true; `std` @default 1/√inFeatures; `seed` @default 0.
   */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    const std = options.std ?? 1 / Math.sqrt(inFeatures);
    this.weight = this.param("weight", normal([inFeatures, outFeatures], std, options.seed ?? 0));
    this.bias = (options.bias ?? true) ? this.param("bias", tf.zeros([outFeatures])) : null;
  }

  /**
   * Applies the layer to the last axis.
   * @param x `(..., inFeatures)`.
   * @returns `(..., outFeatures)`.
   */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const flat = x.reshape([-1, this.inFeatures]) as tf.Tensor2D; // (N, in)
      // One fused kernel for the product and the bias (TensorFlow's _FusedMatMul).
      const y = tf.fused.matMul({
        a: flat,
        b: this.weight as tf.Tensor2D,
        bias: this.bias ?? undefined,
      });
      return y.reshape([...lead, this.outFeatures]);
    });
  }
}

/**
 * 2-D convolution over NHWC images with an HWIO kernel.
 *
 * @example
 * ```ts
 * import { Conv2d } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const conv = new Conv2d(3, 8, 3, { seed: 1 });
 * const y = conv.apply(tf.zeros([2, 16, 16, 3])); // (2, 16, 16, 8)
 * y.dispose(); conv.dispose();
 * ```
 */
export class Conv2d extends Module {
  /** Kernel (k, k, inChannels, outChannels). */
  readonly weight: tf.Variable;
  /** Bias (outChannels), or null without one. */
  readonly bias: tf.Variable | null;
  /** Stride in pixels. */
  readonly stride: number;
  /** Padding mode. */
  readonly padding: "same" | "valid";
  /**
   * A 2D convolution with normal-initialised weights.
   * @param inChannels Input channels.
   * @param outChannels Output channels.
   * @param kernel Square kernel size.
   * @param options `stride` @default 1; `padding` @default "same"; `bias` @default true;
   *   `std` @default 1/√(inChannels·kernel²) (the DALL-E dVAE's init); `seed` @default 0.
   */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    options: InitOptions & { stride?: number; padding?: "same" | "valid"; bias?: boolean } = {},
  ) {
    super();
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? "same";
    const std = options.std ?? 1 / Math.sqrt(inChannels * kernel * kernel);
    this.weight = this.param(
      "weight",
      normal([kernel, kernel, inChannels, outChannels], std, options.seed ?? 0),
    );
    this.bias = (options.bias ?? true) ? this.param("bias", tf.zeros([outChannels])) : null;
  }

  /**
   * Convolves an NHWC batch.
   * @param x `(B, H, W, inChannels)`.
   * @returns `(B, H', W', outChannels)`.
   */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = tf.conv2d(x, this.weight as tf.Tensor4D, this.stride, this.padding);
      return this.bias ? y.add(this.bias) : y;
    });
  }
}

/**
 * Layer normalisation over the last axis with a learned gain and bias.
 *
 * @example
 * ```ts
 * import { LayerNorm } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const ln = new LayerNorm(4);
 * const y = ln.apply(tf.tensor2d([[1, 2, 3, 4]])); // mean 0, variance ≈ 1
 * y.dispose(); ln.dispose();
 * ```
 */
export class LayerNorm extends Module {
  /** Gain (dim), initialised to ones. */
  readonly gain: tf.Variable;
  /** Bias (dim), initialised to zeros. */
  readonly bias: tf.Variable;
  /** Added to the variance before the square root. */
  readonly eps: number;
  /**
   * A layer norm over the last axis.
   * @param dim Width of the last axis.
   * @param options `eps` @default 1e-5.
   */
  constructor(readonly dim: number, options: { eps?: number } = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.gain = this.param("gain", tf.ones([dim]));
    this.bias = this.param("bias", tf.zeros([dim]));
  }

  /**
   * Normalises the last axis, then scales and shifts.
   * @param x `(..., dim)`.
   * @returns Normalised `(..., dim)`.
   */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // Not tf.moments: it adds three casts and a reshape, and each op costs ~50 µs on tensorflow.
      const centred = x.sub(x.mean(-1, true));
      const variance = centred.square().mean(-1, true);
      return centred.mul(tf.rsqrt(variance.add(this.eps))).mul(this.gain).add(this.bias);
    });
  }
}

/**
 * A lookup table of learned vectors; trains on wasm through the registered UnsortedSegmentSum.
 *
 * @example
 * ```ts
 * import { Embedding } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const emb = new Embedding(10, 4, { seed: 3 });
 * const v = emb.apply(tf.tensor2d([[1, 2], [3, 9]], [2, 2], "int32")); // (2, 2, 4)
 * v.dispose(); emb.dispose();
 * ```
 */
export class Embedding extends Module {
  /** Embedding table (count, dim). */
  readonly weight: tf.Variable;
  /**
   * An embedding table with normal-initialised rows.
   * @param count Number of rows (vocabulary size).
   * @param dim Vector width.
   * @param options `std` @default 0.02; `seed` @default 0.
   */
  constructor(readonly count: number, readonly dim: number, options: InitOptions = {}) {
    super();
    this.weight = this.param(
      "weight",
      normal([count, dim], options.std ?? 0.02, options.seed ?? 0),
    );
  }

  /**
   * Looks up the rows of integer ids.
   * @param ids int32 ids of any shape, each in [0, count).
   * @returns `(...ids.shape, dim)`.
   */
  apply(ids: tf.Tensor): tf.Tensor {
    if (ids.dtype !== "int32") {
      throw new TypeError(`Embedding ids must be int32, got ${ids.dtype}`);
    }
    return tf.tidy(() => {
      const flat = tf.gather(this.weight, ids.reshape([-1])); // (N, dim)
      return flat.reshape([...ids.shape, this.dim]);
    });
  }
}

/**
 * Seeds for the layers of a model from one model seed, so each layer gets its own stream.
 *
 * @param seed The model's seed.
 * @returns A function returning a fresh seed on each call.
 * @example
 * ```ts
 * import { seedStream } from "./mod.ts";
 * const next = seedStream(0);
 * console.log(next() !== next()); // true
 * ```
 */
export function seedStream(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.nextSeed();
}
