/**
 * The reranker's training data: a captioned shapes set with its captions as fixed-length id rows
 * (each ending in `<|eot|>`, where the text encoder reads its feature), and the guard that keeps
 * held-out compositions out of training. The reranker scores the prior's samples for zero-shot
 * captions too, so a reranker that had seen those colour–shape pairs would flatter the zero-shot
 * results: it trains on the "train" split only, never on the judge's outputs or generated images,
 * and refuses any caption or scene holding one of lib/data's `ZERO_SHOT_PAIRS`.
 *
 * Optionally each image also gets K near-miss captions of its own (hard negatives, drawn once
 * from its scene with a seed); they are training captions too, so none names a held-out pair.
 *
 * @module
 */
import { Rng } from "../io/mod.ts";
import {
  type Colour,
  drawNearMisses,
  type ImageBatch,
  isZeroShotPair,
  parseCaption,
  type Scene,
  type Shape,
  ZERO_SHOT_PAIRS,
} from "../data/mod.ts";

/** What the reranker needs of a tokenizer (lib/tokenizer's `BpeTokenizer` fits). */
export interface RerankTokenizer {
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** The padding token id. */
  readonly padId: number;
  /** Encodes one text into ids. */
  encode(text: string): number[];
  /** Encodes texts into a padded id batch. */
  encodeBatch(
    texts: readonly string[],
    options: { textLen?: number; appendEot?: boolean },
  ): { ids: Int32Array; lengths: Int32Array };
}

/** What {@link rerankData} takes: a shapes set (`makeShapes`' result fits) and a tokenizer. */
export interface RerankDataOptions {
  /** The images, (count, S, S, 3) bytes. */
  images: ImageBatch;
  /** One caption per image. */
  captions: string[];
  /** What each image shows (checked for held-out pairs when present). @default none */
  attributes?: Scene[];
  /** The split the set was drawn from ("train", "test", "zero-shot"). @default none */
  split?: string;
  /**
   * What the captions are: "shapes" (lib/data's grammar, whose held-out compositions training data
   * must not hold, and which near misses are drawn from) or "free" (your own captions, e.g. a
   * folder's train part: nothing of their content is checked, no near miss can be drawn).
   * @default "shapes"
   */
  grammar?: CaptionGrammar;
  /** Tokenizer trained on train-split captions. */
  tokenizer: RerankTokenizer;
  /**
   * Ids per caption; longer captions are cut.
   * @default the longest caption's (or near miss's) ids + `<|eot|>`
   */
  textLen?: number;
  /**
   * Near-miss captions drawn per image (lib/data's `drawNearMisses`: kinds in turn, never naming
   * a held-out pair), for `trainReranker`'s `nearMissWeight`. Needs `attributes`.
   * @default 0
   */
  nearMisses?: number;
  /** Seed of the near-miss draws (image i draws from its own stream). @default 0 */
  nearMissSeed?: number;
}

/** What a set's captions are (see {@link RerankDataOptions.grammar}). */
export type CaptionGrammar = "shapes" | "free";

/** Captioned images with their captions as id rows. */
export interface RerankData {
  /** The images. */
  images: ImageBatch;
  /** One caption per image. */
  captions: string[];
  /** Each image's scene, when known. */
  attributes: Scene[] | null;
  /** The split the data came from, when known. */
  split: string | null;
  /** What the captions are. */
  grammar: CaptionGrammar;
  /** (count, textLen) ids, row-major, each caption then `<|eot|>`, then pads. */
  ids: Int32Array;
  /** Text length (tokens). */
  textLen: number;
  /** The tokenizer's vocabulary size and pad id (a reranker trained on it must share them). */
  textVocab: number;
  /** The padding token id. */
  padId: number;
  /** Near misses per image (K; 0 when none were drawn). */
  nearMisses: number;
  /** Each image's K near-miss captions, or null when K = 0. */
  nearMissCaptions: string[][] | null;
  /** (count, K, textLen) ids of the near misses, row-major, as `ids`; null when K = 0. */
  nearMissIds: Int32Array | null;
}

/**
 * Encodes a captioned set for the reranker.
 *
 * @param options See {@link RerankDataOptions}.
 * @returns The data (sharing the images' bytes).
 * @throws {RangeError} Images that are not RGB, or a caption count that differs from the images'.
 * @example
 * ```ts
 * import { rerankData } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * import { BpeTokenizer } from "../tokenizer/mod.ts";
 * const set = await makeShapes({ count: 8, seed: 0, split: "train", cache: false });
 * const tokenizer = BpeTokenizer.train(set.captions, { vocabSize: 300 });
 * const data = rerankData({ ...set, tokenizer });
 * console.log(data.ids.length === 8 * data.textLen, data.split); // true "train"
 * ```
 */
export function rerankData(options: RerankDataOptions): RerankData {
  const { images, captions, tokenizer } = options;
  if (images.channels !== 3 || images.height !== images.width) {
    throw new RangeError(
      `rerankData needs square RGB images, got ${images.height}×${images.width}×${images.channels}`,
    );
  }
  if (captions.length !== images.count) {
    throw new RangeError(
      `rerankData needs one caption per image: ${images.count} images, ${captions.length} captions`,
    );
  }
  if (options.attributes && options.attributes.length !== images.count) {
    throw new RangeError(
      `rerankData needs one scene per image: ${images.count} images, ` +
        `${options.attributes.length} scenes`,
    );
  }
  const K = options.nearMisses ?? 0;
  if (!Number.isInteger(K) || K < 0) {
    throw new RangeError(`rerankData's nearMisses must be an integer ≥ 0, got ${K}`);
  }
  const grammar = options.grammar ?? "shapes";
  if (grammar !== "shapes" && grammar !== "free") {
    throw new RangeError(`rerankData's grammar must be "shapes" or "free", got ${grammar}`);
  }
  if (grammar === "free" && K > 0) {
    throw new RangeError(
      `rerankData draws near misses by the shapes grammar: with grammar "free" pass nearMisses 0`,
    );
  }
  const near = K > 0 ? drawAllNearMisses(captions, options.attributes, K, options) : null;
  // A loop, not Math.max(...spread): 12,000 captions × K near misses passes V8's argument limit.
  const longest = (texts: readonly string[], from: number) =>
    texts.reduce((most, c) => Math.max(most, tokenizer.encode(c).length + 1), from);
  const textLen = options.textLen ?? longest(near?.flat() ?? [], longest(captions, 1));
  const { ids } = tokenizer.encodeBatch(captions, { textLen, appendEot: true });
  return {
    images,
    captions,
    attributes: options.attributes ?? null,
    split: options.split ?? null,
    grammar,
    ids,
    textLen,
    textVocab: tokenizer.vocabSize,
    padId: tokenizer.padId,
    nearMisses: K,
    nearMissCaptions: near,
    nearMissIds: near ? tokenizer.encodeBatch(near.flat(), { textLen, appendEot: true }).ids : null,
  };
}

/** K near misses of every caption, each image from its own stream, never a held-out pair. */
function drawAllNearMisses(
  captions: readonly string[],
  scenes: readonly Scene[] | undefined,
  K: number,
  options: RerankDataOptions,
): string[][] {
  if (!scenes) {
    throw new RangeError(
      `rerankData draws near misses from each image's scene: pass attributes (makeShapes' ` +
        `result has them) or nearMisses 0`,
    );
  }
  const seed = options.nearMissSeed ?? 0;
  return captions.map((caption, i) => {
    // Held-out pairs never: the near misses are training captions too.
    const rng = Rng.stream("rerank/near-miss-train", seed, i);
    const near = drawNearMisses(caption, scenes[i], K, rng, { avoidZeroShot: true });
    if (near.length === 0) {
      throw new RangeError(`caption ${i} "${caption}" has no near miss without a held-out pair`);
    }
    return near.map((n) => n.caption);
  });
}

/** A row of a set that names or shows a held-out colour–shape pair, and which. */
export interface HeldOutRow {
  /** Row of the held-out data. */
  row: number;
  /** Its caption. */
  caption: string;
  /** e.g. "green triangle"; for an unreadable caption, why it cannot be checked. */
  pair: string;
}

/**
 * Rows whose caption names, or whose scene shows, a held-out pair (lib/data's `ZERO_SHOT_PAIRS`),
 * and captions that are not sentences of the shapes grammar (they cannot be checked).
 *
 * @param data Captions and, optionally, scenes.
 * @returns The offending rows (empty for a clean train split).
 * @example
 * ```ts
 * import { heldOutRows } from "./mod.ts";
 * const rows = heldOutRows({ captions: ["a red circle", "a green triangle above a red star"] });
 * console.log(rows); // [{ row: 1, caption: "a green triangle above …", pair: "green triangle" }]
 * ```
 */
export function heldOutRows(
  data: { captions: readonly string[]; attributes?: readonly Scene[] | null },
): HeldOutRow[] {
  const out: HeldOutRow[] = [];
  data.captions.forEach((caption, row) => {
    let objects: { colour: Colour; shape: Shape }[];
    try {
      objects = parseCaption(caption).objects;
    } catch {
      out.push({ row, caption, pair: "unreadable: not a caption of the shapes grammar" });
      return;
    }
    const seen = data.attributes?.[row]?.objects ?? [];
    const held = [...objects, ...seen].find((o) => isZeroShotPair(o.colour, o.shape));
    if (held) out.push({ row, caption, pair: `${held.colour} ${held.shape}` });
  });
  return out;
}

/**
 * Throws unless the data may train a reranker: the "train" split, and, for shapes captions, no
 * caption or scene holding a held-out pair (free captions, `grammar: "free"`, are not read).
 *
 * @param data The training data.
 * @throws {RangeError} Another split (or none), or a held-out pair, named with its row.
 * @example
 * ```ts
 * import { assertTrainable } from "./mod.ts";
 * try {
 *   assertTrainable({ split: "zero-shot", captions: ["a green triangle"], attributes: null });
 * } catch (e) { console.log((e as Error).message); } // "the reranker trains on the train split …"
 * ```
 */
export function assertTrainable(
  data: {
    split: string | null;
    captions: readonly string[];
    attributes: readonly Scene[] | null;
    nearMissCaptions?: readonly (readonly string[])[] | null;
    grammar?: CaptionGrammar;
  },
): void {
  if (data.split !== "train") {
    throw new RangeError(
      `the reranker trains on a "train" split only (never test, zero-shot or generated ` +
        `images), got split ${JSON.stringify(data.split)}`,
    );
  }
  if (data.grammar === "free") return;
  const bad = heldOutRows(data);
  if (bad.length > 0) {
    const first = bad[0];
    throw new RangeError(
      `the reranker's training data must hold no held-out composition ` +
        `(${ZERO_SHOT_PAIRS.map((p) => p.join(" ")).join(", ")}): ${bad.length} row(s) do, ` +
        `first row ${first.row} "${first.caption}" (${first.pair})`,
    );
  }
  // rerankData never draws such near misses; data built by hand is checked all the same.
  const near = data.nearMissCaptions ?? [];
  const badNear = heldOutRows({ captions: near.flat() });
  if (badNear.length > 0) {
    const K = near[0].length;
    const first = badNear[0];
    throw new RangeError(
      `the reranker's near-miss captions must hold no held-out composition: image ` +
        `${Math.floor(first.row / K)}'s near miss "${first.caption}" does (${first.pair})`,
    );
  }
}
