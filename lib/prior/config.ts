/**
 * The prior's configuration: one plain object of sizes and options with documented defaults,
 * resolved once (defaults filled, the mask schedule expanded to one kind per layer) and checked.
 *
 * @module
 */
import { layerMaskKinds } from "../masks/mod.ts";

/** The image→image attention pattern of one layer ("dense" is plain causal attention). */
export type PriorLayerMask = "row" | "column" | "conv" | "dense";

/** Every layer kind a schedule may name. */
export const PRIOR_LAYER_MASKS: readonly PriorLayerMask[] = ["row", "column", "conv", "dense"];

/** How the loss weighs its two parts (paper §2.2: 1/8 text, 7/8 image). */
export interface LossWeights {
  /** Weight of the mean cross-entropy over text targets. */
  text: number;
  /** Weight of the mean cross-entropy over image targets. */
  image: number;
}

/** What {@link createPrior} takes; every optional field documents its default. */
export interface PriorConfig {
  /** T, text positions in the stream (captions are padded or truncated to it). Paper: 256. */
  textLen: number;
  /** Size of the BPE vocabulary, special tokens included. Paper: 16384. */
  textVocab: number;
  /** n, the side of the image token grid; the stream holds n² image tokens. Paper: 32. */
  imageGrid: number;
  /** Size of the dVAE codebook. Paper: 8192. */
  imageVocab: number;
  /** Width of the residual stream. */
  dModel: number;
  /** Transformer blocks. */
  layers: number;
  /** Attention heads; must divide dModel. */
  heads: number;
  /** MLP hidden width as a multiple of dModel. @default 4 */
  mlpRatio?: number;
  /** Dropout on each residual branch during training. @default 0 */
  dropout?: number;
  /**
   * Attention masks: "paper" (row, column, row, row, …, last layer conv; App. B.1), "dense"
   * (causal everywhere) or one kind per layer. @default "paper"
   */
  masks?: "paper" | "dense" | PriorLayerMask[];
  /** Kernel width k of the conv layers' k×k causal neighbourhood. @default 11 */
  convKernel?: number;
  /**
   * How column layers attend in the full forward pass: "transposed" gathers the image states
   * into column-major order and uses the block-diagonal mask, as the paper does; "plain" uses
   * the column mask on raster order. Both give the same numbers. @default "transposed"
   */
  columnAttention?: "transposed" | "plain";
  /** Loss weights. @default { text: 1/8, image: 7/8 } */
  lossWeights?: LossWeights;
  /**
   * The tokenizer's pad id: text positions holding it get that position's learned pad
   * embedding instead of a token embedding. @default textVocab − 2 (lib/tokenizer puts
   * `<|pad|>`, `<|eot|>` last)
   */
  padId?: number;
  /**
   * Whether pad positions count as text targets. Counting them teaches the model where captions
   * end (the paper learns pad tokens rather than masking them). @default true
   */
  countPadTargets?: boolean;
  /** Seed of the initial weights. @default 0 */
  seed?: number;
}

/**
 * A configuration with every default filled in (each field as {@link PriorConfig} documents it) and
 * the mask schedule expanded to one kind per layer, first layer first.
 */
export type ResolvedPriorConfig = Required<Omit<PriorConfig, "masks">> & {
  masks: PriorLayerMask[];
};

function positiveInt(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`prior config ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Fills defaults, expands the mask schedule and checks every field.
 *
 * @param config The configuration.
 * @returns The resolved configuration (a new object).
 * @example
 * ```ts
 * import { resolvePriorConfig } from "./config.ts";
 * const cfg = resolvePriorConfig({
 *   textLen: 8, textVocab: 64, imageGrid: 4, imageVocab: 32, dModel: 32, layers: 4, heads: 4,
 * });
 * console.log(cfg.masks.join(" ")); // "row column row conv"
 * ```
 */
export function resolvePriorConfig(config: PriorConfig): ResolvedPriorConfig {
  const textLen = positiveInt("textLen", config.textLen);
  const textVocab = positiveInt("textVocab", config.textVocab);
  const imageGrid = positiveInt("imageGrid", config.imageGrid);
  const imageVocab = positiveInt("imageVocab", config.imageVocab);
  const dModel = positiveInt("dModel", config.dModel);
  const layers = positiveInt("layers", config.layers);
  const heads = positiveInt("heads", config.heads);
  if (dModel % heads !== 0) {
    throw new RangeError(`prior config heads (${heads}) must divide dModel (${dModel})`);
  }
  const mlpRatio = config.mlpRatio ?? 4;
  if (!(mlpRatio > 0) || !Number.isInteger(mlpRatio * dModel)) {
    throw new RangeError(`prior config mlpRatio must make an integer width, got ${mlpRatio}`);
  }
  const dropout = config.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) {
    throw new RangeError(`prior config dropout must be in [0, 1), got ${dropout}`);
  }
  const spec = config.masks ?? "paper";
  let masks: PriorLayerMask[];
  if (spec === "paper") masks = layerMaskKinds(layers);
  else if (spec === "dense") masks = new Array(layers).fill("dense");
  else if (Array.isArray(spec)) {
    if (spec.length !== layers) {
      throw new RangeError(`prior config masks must name ${layers} layers, got ${spec.length}`);
    }
    for (const kind of spec) {
      if (!PRIOR_LAYER_MASKS.includes(kind)) {
        throw new TypeError(
          `prior config masks entries must be one of ${PRIOR_LAYER_MASKS.join(", ")}, got ${kind}`,
        );
      }
    }
    masks = [...spec];
  } else {
    throw new TypeError(`prior config masks must be "paper", "dense" or an array, got ${spec}`);
  }
  const convKernel = config.convKernel ?? 11;
  if (!Number.isInteger(convKernel) || convKernel < 1 || convKernel % 2 === 0) {
    throw new RangeError(`prior config convKernel must be an odd integer ≥ 1, got ${convKernel}`);
  }
  const columnAttention = config.columnAttention ?? "transposed";
  if (columnAttention !== "transposed" && columnAttention !== "plain") {
    throw new TypeError(
      `prior config columnAttention must be "transposed" or "plain", got ${columnAttention}`,
    );
  }
  const lossWeights = config.lossWeights ?? { text: 1 / 8, image: 7 / 8 };
  if (!(lossWeights.text >= 0) || !(lossWeights.image >= 0)) {
    throw new RangeError(
      `prior config lossWeights must be ≥ 0, got text ${lossWeights.text}, image ${lossWeights.image}`,
    );
  }
  const padId = config.padId ?? textVocab - 2;
  if (!Number.isInteger(padId) || padId < 0 || padId >= textVocab) {
    throw new RangeError(`prior config padId must be in [0, ${textVocab}), got ${padId}`);
  }
  return {
    textLen,
    textVocab,
    imageGrid,
    imageVocab,
    dModel,
    layers,
    heads,
    mlpRatio,
    dropout,
    masks,
    convKernel,
    columnAttention,
    lossWeights: { text: lossWeights.text, image: lossWeights.image },
    padId,
    countPadTargets: config.countPadTargets ?? true,
    seed: config.seed ?? 0,
  };
}
