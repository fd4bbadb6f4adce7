/**
 * The one transformer block of the toolkit (GPT-2's pre-LayerNorm block): masked multi-head
 * self-attention and a GELU MLP, each on a residual branch, initialised as GPT-2 is. The prior
 * uses it with its attention masks (an additive bias, optionally over permuted states) and a
 * key/value cache for sampling; the reranker's text encoder with a causal bias.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { tidyObject } from "./_tidy.ts";
import { LayerNorm, Linear, Module } from "./module.ts";

/** How a key/value cache stores past positions. */
export type KvCacheMode = "concat" | "preallocated" | "compiled";

/** One layer's cached keys and values, each (B, H, positions, hd). */
export interface LayerKv {
  /** Keys (B, H, positions, hd). */
  k: tf.Tensor4D;
  /** Values (B, H, positions, hd). */
  v: tf.Tensor4D;
}

/** Exact GELU, x·Φ(x), as torch's nn.GELU() computes it. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5));
}

/** Masked multi-head self-attention with a fused q/k/v projection. */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;

  constructor(
    readonly dModel: number,
    readonly heads: number,
    seeds: () => number,
    residualStd: number,
  ) {
    super();
    this.headDim = dModel / heads;
    this.qkv = this.module("qkv", new Linear(dModel, 3 * dModel, { seed: seeds(), std: 0.02 }));
    this.proj = this.module(
      "proj",
      new Linear(dModel, dModel, { seed: seeds(), std: residualStd }),
    );
  }

  /** (B, t, d) → q (pre-scaled by 1/√hd), k, v, each (B, H, t, hd), from one fused product. */
  #split(h: tf.Tensor3D): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
    const [B, t] = h.shape;
    // Three 4-D transposes rather than one 5-D one: wasm's 5-D transpose is ~20× slower.
    const [q, k, v] = tf.split(this.qkv.apply(h), 3, 2).map((part) =>
      part.reshape([B, t, this.heads, this.headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D
    ); // each (B, H, t, hd)
    return [q.mul(1 / Math.sqrt(this.headDim)), k, v];
  }

  /** softmax(q·kᵀ + bias)·v, then the output projection; (B, H, t, hd) → (B, t, d). */
  #attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor2D): tf.Tensor3D {
    const [B, , t] = q.shape;
    const probs = tf.softmax(tf.matMul(q, k, false, true).add(bias)); // (B, H, t, keys)
    const y = tf.matMul(probs, v); // (B, H, t, hd)
    return this.proj.apply(y.transpose([0, 2, 1, 3]).reshape([B, t, this.dModel])) as tf.Tensor3D;
  }

  /**
   * Attention over a whole stream. With `perm`, the states are first gathered into permuted
   * order (the paper's transposed image states for column layers), attended with a bias in that
   * order, and gathered back; `perm` must be its own inverse.
   */
  full(h: tf.Tensor3D, bias: tf.Tensor2D, perm: tf.Tensor1D | null): tf.Tensor3D {
    return tf.tidy(() => {
      const states = perm ? (tf.gather(h, perm, 1) as tf.Tensor3D) : h;
      const [q, k, v] = this.#split(states);
      const out = this.#attend(q, k, v, bias);
      return perm ? (tf.gather(out, perm, 1) as tf.Tensor3D) : out;
    });
  }

  /**
   * Attention of t new positions, starting at stream position `start`, against the cache plus
   * themselves. Returns the output and the updated cache (the old one is not disposed).
   */
  cached(
    h: tf.Tensor3D,
    bias: tf.Tensor2D,
    past: LayerKv,
    start: number | tf.Tensor4D,
    mode: KvCacheMode,
  ): { out: tf.Tensor3D; kv: LayerKv } {
    return tidyObject(() => {
      const [q, k, v] = this.#split(h);
      const kv = mode === "concat"
        ? { k: appendAt(past.k, k), v: appendAt(past.v, v) }
        : typeof start === "number"
        ? { k: writeAt(past.k, k, start), v: writeAt(past.v, v, start) }
        : { k: writeWhere(past.k, k, start), v: writeWhere(past.v, v, start) };
      return { out: this.#attend(q, kv.k, kv.v, bias), kv };
    });
  }
}

/** Cache growth by concatenation: (B, H, p, hd) + (B, H, t, hd) → (B, H, p + t, hd). */
function appendAt(past: tf.Tensor4D, fresh: tf.Tensor4D): tf.Tensor4D {
  return past.shape[2] === 0 ? fresh : tf.concat([past, fresh], 2);
}

/** Writes `fresh` into a preallocated (B, H, L, hd) cache at positions start … start + t − 1. */
function writeAt(cache: tf.Tensor4D, fresh: tf.Tensor4D, start: number): tf.Tensor4D {
  const [B, H, L, hd] = cache.shape;
  const end = start + fresh.shape[2];
  const parts: tf.Tensor4D[] = [];
  if (start > 0) parts.push(cache.slice([0, 0, 0, 0], [B, H, start, hd]));
  parts.push(fresh);
  if (end < L) parts.push(cache.slice([0, 0, end, 0], [B, H, L - end, hd]));
  return parts.length === 1 ? parts[0] : tf.concat(parts, 2);
}

/**
 * Writes one position into a preallocated (B, H, L, hd) cache where `mask` (1, 1, L, 1) is 1:
 * the same values as {@link writeAt}, with the position a tensor, so one traced graph serves every
 * position (`fresh` is (B, H, 1, hd)).
 */
function writeWhere(cache: tf.Tensor4D, fresh: tf.Tensor4D, mask: tf.Tensor4D): tf.Tensor4D {
  return cache.mul(tf.sub(1, mask)).add(fresh.mul(mask));
}

/**
 * Pre-LN block: x + attention(LN(x)), then x + MLP(LN(x)), each branch with optional dropout.
 *
 * @example
 * ```ts
 * import { TransformerBlock } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * let seed = 0;
 * const block = new TransformerBlock(16, 2, 4, () => ++seed, 1);
 * const x = tf.randomNormal([2, 5, 16], 0, 1, "float32", 1) as tf.Tensor3D;
 * const causal = tf.linalg.bandPart(tf.ones([5, 5]), -1, 0).sub(1).mul(1e9) as tf.Tensor2D;
 * const y = block.full(x, causal, null, null);
 * console.log(y.shape); // [2, 5, 16]
 * tf.dispose([x, causal, y]);
 * block.dispose();
 * ```
 */
export class TransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attention: Attention;
  readonly ln2: LayerNorm;
  readonly fc: Linear;
  readonly fcOut: Linear;

  constructor(
    dModel: number,
    heads: number,
    mlpRatio: number,
    seeds: () => number,
    layers: number,
  ) {
    super();
    // GPT-2's init: residual projections shrink with depth so the stream's variance stays put.
    const residualStd = 0.02 / Math.sqrt(2 * layers);
    this.ln1 = this.module("ln1", new LayerNorm(dModel));
    this.attention = this.module("attention", new Attention(dModel, heads, seeds, residualStd));
    this.ln2 = this.module("ln2", new LayerNorm(dModel));
    const hidden = Math.round(mlpRatio * dModel);
    this.fc = this.module("fc", new Linear(dModel, hidden, { seed: seeds(), std: 0.02 }));
    this.fcOut = this.module(
      "fcOut",
      new Linear(hidden, dModel, { seed: seeds(), std: residualStd }),
    );
  }

  #mlp(x: tf.Tensor3D): tf.Tensor3D {
    return this.fcOut.apply(gelu(this.fc.apply(this.ln2.apply(x)))) as tf.Tensor3D;
  }

  /**
   * The block over a whole stream (B, L, d); `dropout` is [rate, seed, seed], or the two branches'
   * multipliers as tf.dropout draws them (see the prior's `dropoutMultipliers`), or null.
   */
  full(
    x: tf.Tensor3D,
    bias: tf.Tensor2D,
    perm: tf.Tensor1D | null,
    dropout: [number, number, number] | [tf.Tensor, tf.Tensor] | null,
  ): tf.Tensor3D {
    return tf.tidy(() => {
      const drop = (branch: tf.Tensor3D, which: 1 | 2) => {
        if (!dropout) return branch;
        const [rate, a, b] = dropout;
        if (typeof rate !== "number") return branch.mul(which === 1 ? rate : a as tf.Tensor);
        return tf.dropout(branch, rate, undefined, (which === 1 ? a : b) as number) as tf.Tensor3D;
      };
      const h = x.add(
        drop(this.attention.full(this.ln1.apply(x) as tf.Tensor3D, bias, perm), 1),
      ) as tf.Tensor3D;
      return h.add(drop(this.#mlp(h), 2)) as tf.Tensor3D;
    });
  }

  /**
   * The block over t new positions against a cache (inference: no dropout); `start` is the first
   * new position, or for one position a (1, 1, L, 1) one-hot mask of it (see `writeWhere`).
   */
  cached(
    x: tf.Tensor3D,
    bias: tf.Tensor2D,
    past: LayerKv,
    start: number | tf.Tensor4D,
    mode: KvCacheMode,
  ): { out: tf.Tensor3D; kv: LayerKv } {
    return tidyObject(() => {
      const { out, kv } = this.attention.cached(
        this.ln1.apply(x) as tf.Tensor3D,
        bias,
        past,
        start,
        mode,
      );
      const h = x.add(out) as tf.Tensor3D;
      return { out: h.add(this.#mlp(h)) as tf.Tensor3D, kv };
    });
  }
}
