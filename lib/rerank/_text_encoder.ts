/**
 * The reranker's text encoder: a small pre-LayerNorm transformer with causal self-attention over
 * BPE ids (CLIP's text tower, scaled down), read out at each caption's last real token (the
 * `<|eot|>` when the ids end with one, as CLIP reads its EOT position). The attention is causal,
 * so that token has seen the whole caption and nothing after it: pads never reach the feature.
 *
 * Its blocks are lib/nn's `TransformerBlock`, the prior's block, here with a causal bias. Files
 * written before the block was shared name the attention's projections `text.blockN.qkv` and
 * `text.blockN.proj`, not `text.blockN.attention.…`: {@link legacyTextBlockName} maps them.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Embedding, LayerNorm, Module, TransformerBlock } from "../nn/mod.ts";

/** Token + position embeddings, causal blocks, a final LayerNorm, read out at the last real token. */
export class TextEncoder extends Module {
  readonly token: Embedding;
  readonly position: Embedding;
  readonly blocks: TransformerBlock[];
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
        this.module(
          `block${i}`,
          new TransformerBlock(textWidth, textHeads, mlpRatio, seeds, textLayers),
        ),
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
      for (const block of this.blocks) h = block.full(h, causal, null, null);
      h = this.lnFinal.apply(h) as tf.Tensor3D;
      // The last position not holding a pad (pads only trail a caption in encodeBatch's rows).
      const real = ids.notEqual(this.config.padId).cast("int32");
      const last = real.mul(positions.add(1)).max(1).sub(1).maximum(0).cast("int32"); // (B,)
      const pick = tf.oneHot(last as tf.Tensor1D, L, 1, 0, "float32").expandDims(2); // (B, L, 1)
      return h.mul(pick).sum(1) as tf.Tensor2D;
    });
  }
}

/**
 * A weight's name as this encoder holds it, from its name in a reranker file written before the
 * text blocks were lib/nn's `TransformerBlock` (`text.block0.qkv.weight` →
 * `text.block0.attention.qkv.weight`); other names are unchanged.
 *
 * @param name A tensor's name in a reranker file.
 * @returns Its name in today's model.
 */
export function legacyTextBlockName(name: string): string {
  return name.replace(/^(text\.block\d+)\.(qkv|proj)\./, "$1.attention.$2.");
}
