/**
 * The reranker's configuration: one plain object of sizes with documented defaults (sized for a
 * 2-core CPU), resolved once and checked.
 *
 * @module
 */

/** ln(1/0.07): CLIP's initial logit scale (a softmax temperature of 0.07). */
export const LOGIT_SCALE_INIT: number = Math.log(1 / 0.07);

/** ln 100: CLIP's clamp on the logit scale, so the similarity logits stay within ±100. */
export const LOGIT_SCALE_MAX: number = Math.log(100);

/** What {@link createReranker} takes; every optional field documents its default. */
export interface RerankerConfig {
  /** Caption positions (ids are padded or truncated to it by the tokenizer). */
  textLen: number;
  /** Size of the BPE vocabulary, special tokens included. */
  textVocab: number;
  /** The tokenizer's pad id. @default textVocab − 2 (lib/tokenizer puts `<|pad|>`, `<|eot|>` last) */
  padId?: number;
  /** Width of the text transformer's residual stream. @default 64 */
  textWidth?: number;
  /** Text transformer blocks. @default 2 */
  textLayers?: number;
  /** Attention heads; must divide textWidth. @default 4 */
  textHeads?: number;
  /** MLP hidden width as a multiple of textWidth. @default 4 */
  mlpRatio?: number;
  /** Side of the square RGB images. @default 32 */
  imageSize?: number;
  /** Output channels of the image encoder's stride-2 convolutions, one per halving. @default [32, 64, 128] */
  imageChannels?: number[];
  /** Kernel side of those convolutions. @default 3 */
  imageKernel?: number;
  /**
   * Stride-1 convolutions (same width, ReLU) before each halving: 0 halves at once (3 layers at
   * the default channels, a 15-pixel receptive field); 1 doubles the depth and reads each scale
   * before halving it. Weights saved before this option existed load as 0. @default 0
   */
  imageStageDepth?: number;
  /**
   * How the last feature map becomes one vector: "flatten" keeps where things are (captions say
   * "left of", "above"; CLIP's attention pool keeps it through positional embeddings), "mean"
   * averages it away. @default "flatten"
   */
  imagePool?: "flatten" | "mean";
  /** Width of the shared embedding space. @default 64 */
  embedDim?: number;
  /** Initial value of the learned log logit scale. @default ln(1/0.07) (CLIP) */
  logitScaleInit?: number;
  /** The log logit scale is clamped to at most this wherever it is used. @default ln 100 (CLIP) */
  logitScaleMax?: number;
  /** Seed of the initial weights. @default 0 */
  seed?: number;
}

/** A configuration with every default filled in (each field as {@link RerankerConfig} documents it). */
export type ResolvedRerankerConfig = Required<RerankerConfig>;

function positiveInt(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`reranker config ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Fills defaults and checks every field.
 *
 * @param config The configuration.
 * @returns The resolved configuration (a new object).
 * @throws {RangeError} A size that is not a positive integer, heads that do not divide the width,
 *   an image size the convolutions cannot halve, a pad id outside the vocabulary.
 * @throws {TypeError} An unknown pooling.
 * @example
 * ```ts
 * import { resolveRerankerConfig } from "./config.ts";
 * const cfg = resolveRerankerConfig({ textLen: 16, textVocab: 300 });
 * console.log(cfg.padId, cfg.embedDim, cfg.imageChannels); // 298 64 [32, 64, 128]
 * ```
 */
export function resolveRerankerConfig(config: RerankerConfig): ResolvedRerankerConfig {
  const textLen = positiveInt("textLen", config.textLen);
  const textVocab = positiveInt("textVocab", config.textVocab);
  const textWidth = positiveInt("textWidth", config.textWidth ?? 64);
  const textLayers = positiveInt("textLayers", config.textLayers ?? 2);
  const textHeads = positiveInt("textHeads", config.textHeads ?? 4);
  if (textWidth % textHeads !== 0) {
    throw new RangeError(
      `reranker config textHeads (${textHeads}) must divide textWidth (${textWidth})`,
    );
  }
  const mlpRatio = config.mlpRatio ?? 4;
  if (!(mlpRatio > 0) || !Number.isInteger(mlpRatio * textWidth)) {
    throw new RangeError(`reranker config mlpRatio must make an integer width, got ${mlpRatio}`);
  }
  const imageSize = positiveInt("imageSize", config.imageSize ?? 32);
  const imageChannels = config.imageChannels ?? [32, 64, 128];
  if (!Array.isArray(imageChannels) || imageChannels.length === 0) {
    throw new RangeError(
      `reranker config imageChannels must list at least one width, got ${imageChannels}`,
    );
  }
  imageChannels.forEach((c, i) => positiveInt(`imageChannels[${i}]`, c));
  const halvings = 2 ** imageChannels.length;
  if (imageSize % halvings !== 0) {
    throw new RangeError(
      `reranker config imageSize (${imageSize}) must be divisible by 2^${imageChannels.length} ` +
        `(one halving per entry of imageChannels)`,
    );
  }
  const imageKernel = positiveInt("imageKernel", config.imageKernel ?? 3);
  const imageStageDepth = config.imageStageDepth ?? 0;
  if (!Number.isInteger(imageStageDepth) || imageStageDepth < 0) {
    throw new RangeError(
      `reranker config imageStageDepth must be an integer ≥ 0, got ${imageStageDepth}`,
    );
  }
  const imagePool = config.imagePool ?? "flatten";
  if (imagePool !== "flatten" && imagePool !== "mean") {
    throw new TypeError(`reranker config imagePool must be "flatten" or "mean", got ${imagePool}`);
  }
  const embedDim = positiveInt("embedDim", config.embedDim ?? 64);
  const padId = config.padId ?? textVocab - 2;
  if (!Number.isInteger(padId) || padId < 0 || padId >= textVocab) {
    throw new RangeError(`reranker config padId must be in [0, ${textVocab}), got ${padId}`);
  }
  const logitScaleInit = config.logitScaleInit ?? LOGIT_SCALE_INIT;
  const logitScaleMax = config.logitScaleMax ?? LOGIT_SCALE_MAX;
  if (!Number.isFinite(logitScaleInit) || !Number.isFinite(logitScaleMax)) {
    throw new RangeError(
      `reranker config logitScaleInit and logitScaleMax must be finite, got ${logitScaleInit} ` +
        `and ${logitScaleMax}`,
    );
  }
  return {
    textLen,
    textVocab,
    padId,
    textWidth,
    textLayers,
    textHeads,
    mlpRatio,
    imageSize,
    imageChannels: [...imageChannels],
    imageKernel,
    imageStageDepth,
    imagePool,
    embedDim,
    logitScaleInit,
    logitScaleMax,
    seed: config.seed ?? 0,
  };
}
