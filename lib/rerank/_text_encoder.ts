/**
 * The reranker's text encoder: a small pre-LayerNorm transformer with causal self-attention over
 * BPE ids (CLIP's text tower, scaled down), read out at each caption's last real token (the
 * `<|eot|>` when the ids end with one, as CLIP reads its EOT position). The attention is causal,
 * so that token has seen the whole caption and nothing after it: pads never reach the feature.
 *
 * The block is a plain GPT-2 block; lib/prior has its own (with masks and a KV cache for sampling)
 * in a private file, so this one stays separate and minimal.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Embedding, LayerNorm, Linear, Module } from "../nn/mod.ts";

/** Exact GELU, x·Φ(x). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5));
}

/** Pre-LN block: x + causal attention(LN(x)), then x + MLP(LN(x)). */
class TextBlock extends Module {
  readonly ln1: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly ln2: LayerNorm;
  readonly fc: Linear;
  readonly fcOut: Linear;

  constructor(
    readonly width: number,
    readonly heads: number,
    mlpRatio: number,
    layers: number,
    seeds: () => number,
  ) {
    super();
    // GPT-2's init: residual projections shrink with depth so the stream's variance stays put.
    const residualStd = 0.02 / Math.sqrt(2 * layers);
    this.ln1 = this.module("ln1", new LayerNorm(width));
    this.qkv = this.module("qkv", new Linear(width, 3 * width, { seed: seeds(), std: 0.02 }));
    this.proj = this.module("proj", new Linear(width, width, { seed: seeds(), std: residualStd }));
    this.ln2 = this.module("ln2", new LayerNorm(width));
    const hidden = Math.round(mlpRatio * width);
    this.fc = this.module("fc", new Linear(width, hidden, { seed: seeds(), std: 0.02 }));
    this.fcOut = this.module(
      "fcOut",
      new Linear(hidden, width, { seed: seeds(), std: residualStd }),
    );
  }

  /** (B, L, width) → (B, L, width); `causal` is the (L, L) additive mask. */
  apply(x: tf.Tensor3D, causal: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, L] = x.shape;
      const hd = this.width / this.heads;
      const [q, k, v] = tf.split(this.qkv.apply(this.ln1.apply(x)), 3, 2).map((part) =>
        part.reshape([B, L, this.heads, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D
      ); // each (B, H, L, hd)
      const scores = tf.matMul(q.mul(1 / Math.sqrt(hd)), k, false, true).add(causal);
      const attended = tf.matMul(tf.softmax(scores), v).transpose([0, 2, 1, 3]); // (B, L, H, hd)
      const h = x.add(this.proj.apply(attended.reshape([B, L, this.width])));
      const mlp = this.fcOut.apply(gelu(this.fc.apply(this.ln2.apply(h))));
      return h.add(mlp) as tf.Tensor3D;
    });
  }
}

/** Token + position embeddings, causal blocks, a final LayerNorm, read out at the last real token. */
export class TextEncoder extends Module {
  readonly token: Embedding;
  readonly position: Embedding;
  readonly blocks: TextBlock[];
  readonly lnFinal: LayerNorm;

  constructor(
    readonly config: {
      textLen: number;
      textVocab: number;
      padId: number;
      textWidth: number;
      textLayers: number;
      textHeads: number;
      mlpRatio: number;
    },
    seeds: () => number,
  ) {
    super();
    const { textLen, textVocab, textWidth, textLayers, textHeads, mlpRatio } = config;
    this.token = this.module("token", new Embedding(textVocab, textWidth, { seed: seeds() }));
    this.position = this.module(
      "position",
      new Embedding(textLen, textWidth, { seed: seeds(), std: 0.01 }),
    );
    this.blocks = Array.from(
      { length: textLayers },
      (_, i) =>
        this.module(`block${i}`, new TextBlock(textWidth, textHeads, mlpRatio, textLayers, seeds)),
    );
    this.lnFinal = this.module("lnFinal", new LayerNorm(textWidth));
  }

  /**
   * Features of each caption at its last real token.
   *
   * @param ids int32 (B, textLen), checked by the caller.
   * @returns (B, textWidth).
   */
  apply(ids: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const L = ids.shape[1];
      const positions = tf.range(0, L, 1, "int32");
      let h = this.token.apply(ids).add(this.position.apply(positions)) as tf.Tensor3D;
      const causal = tf.linalg.bandPart(tf.ones([L, L]), -1, 0).sub(1).mul(1e9) as tf.Tensor2D;
      for (const block of this.blocks) h = block.apply(h, causal);
      h = this.lnFinal.apply(h) as tf.Tensor3D;
      // The last position not holding a pad (pads only trail a caption in encodeBatch's rows).
      const real = ids.notEqual(this.config.padId).cast("int32");
      const last = real.mul(positions.add(1)).max(1).sub(1).maximum(0).cast("int32"); // (B,)
      const pick = tf.oneHot(last as tf.Tensor1D, L, 1, 0, "float32").expandDims(2); // (B, L, 1)
      return h.mul(pick).sum(1) as tf.Tensor2D;
    });
  }
}
