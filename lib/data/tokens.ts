/**
 * A synthetic, learnable token dataset for the prior's training studies (PowerSGD, gradient
 * scaling): captions that name a colour, a shape and an offset, and an image-token grid that draws
 * it. Plain typed arrays (no tensors); batches are pure functions of (seed, step), so a resumed
 * run, or a run with another reducer, sees the same batches.
 *
 * @module
 */
import { Rng } from "../io/mod.ts";
import { batchIndicesAt } from "./batches.ts";

/** Sizes of the token streams: caption tokens then an image-token grid. */
export interface TokenSpec {
  /** Caption positions. */
  textLen: number;
  /** Caption vocabulary (the last two ids are pad and end, as lib/tokenizer lays them out). */
  textVocab: number;
  /** Side of the image-token grid. */
  imageGrid: number;
  /** Image-token vocabulary. */
  imageVocab: number;
}

/** The default stream: 6 caption tokens, a 4×4 grid of image tokens, vocabularies of 32. */
export const TINY_TOKENS: Readonly<TokenSpec> = Object.freeze({
  textLen: 6,
  textVocab: 32,
  imageGrid: 4,
  imageVocab: 32,
});

/** A token dataset: `count` examples, row-major. */
export interface TokenDataset {
  /** Stream sizes. */
  spec: TokenSpec;
  /** (count, textLen) caption ids. */
  text: Int32Array;
  /** (count, imageGrid²) image ids, raster order. */
  image: Int32Array;
  /** Number of examples. */
  count: number;
}

/** One batch of token streams, the shape lib/prior's `trainPrior` takes. */
export interface TokenBatch {
  /** (B, textLen) caption ids. */
  text: Int32Array;
  /** (B, imageGrid²) image ids. */
  image: Int32Array;
}

/** Options of {@link tokenBatchAt}. */
export interface TokenBatchOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Seed of the per-epoch orders. @default 0 */
  seed?: number;
}

// 3×3 stencils of the four "shapes" the captions name.
const STENCILS = [
  [0, 1, 0, 1, 1, 1, 0, 1, 0], // plus
  [1, 1, 1, 1, 0, 1, 1, 1, 1], // ring
  [1, 0, 0, 0, 1, 0, 0, 0, 1], // diagonal
  [1, 1, 1, 0, 0, 0, 1, 1, 1], // bars
];
const COLOURS = 6;

/**
 * Random but structured token streams: the caption names a colour, a shape and an offset
 * ("colour shape dx dy pad …"); the image grid holds that shape's 3×3 stencil in that colour's
 * token at that offset, background token 0 elsewhere, and a random noise token in 10% of cells.
 * A model can learn the image from the caption, so losses fall well below ln(vocab).
 *
 * @param count Examples.
 * @param seed Seed of the draws (`new Rng(seed)`: the same data as the experiments made before
 *   this moved to lib/data).
 * @param spec Stream sizes. @default TINY_TOKENS
 * @returns The dataset.
 * @throws {RangeError} When the vocabularies or lengths cannot hold the captions or images.
 * @example
 * ```ts
 * import { makeTokenDataset } from "./tokens.ts";
 * const data = makeTokenDataset(256, 0);
 * console.log(data.count, data.text.length, data.image.length); // 256 1536 4096
 * ```
 */
export function makeTokenDataset(
  count: number,
  seed: number,
  spec: TokenSpec = TINY_TOKENS,
): TokenDataset {
  const { textLen, textVocab, imageGrid: n, imageVocab } = spec;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`count must be a positive integer, got ${count}`);
  }
  const offsets = n - 2; // positions of a 3×3 stencil along one side
  if (textLen < 5 || textVocab < 3 + COLOURS + STENCILS.length + 2 * offsets) {
    throw new RangeError(`token spec too small for captions: ${JSON.stringify(spec)}`);
  }
  if (n < 3 || imageVocab < COLOURS + 2) {
    throw new RangeError(`token spec too small for images: ${JSON.stringify(spec)}`);
  }
  const rng = new Rng(seed);
  const pad = textVocab - 2;
  const text = new Int32Array(count * textLen).fill(pad);
  const image = new Int32Array(count * n * n);
  for (let e = 0; e < count; e++) {
    const colour = rng.int(COLOURS);
    const shape = rng.int(STENCILS.length);
    const [dx, dy] = [rng.int(offsets), rng.int(offsets)];
    const caption = [
      1 + colour,
      1 + COLOURS + shape,
      1 + COLOURS + STENCILS.length + dx,
      1 + COLOURS + STENCILS.length + offsets + dy,
    ];
    text.set(caption, e * textLen);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const [sx, sy] = [x - dx, y - dy];
        const inside = sx >= 0 && sx < 3 && sy >= 0 && sy < 3 && STENCILS[shape][sy * 3 + sx];
        let token = inside ? 1 + colour : 0;
        if (rng.next() < 0.1) token = 1 + COLOURS + rng.int(imageVocab - 1 - COLOURS);
        image[e * n * n + y * n + x] = token;
      }
    }
  }
  return { spec, text, image, count };
}

/**
 * The batch of step `step`: the examples lib/data's `batchIndicesAt` picks (per-epoch seeded
 * permutations, ⌊count / B⌋ full batches an epoch), as token arrays. A pure function of
 * (data, seed, step), so a resumed run, or a run with another reducer, sees the same batches.
 *
 * @param data The dataset.
 * @param options `batchSize` (≤ the dataset's size) and `seed`.
 * @param step The step (≥ 0).
 * @returns New arrays: (B, textLen) caption ids and (B, imageGrid²) image ids.
 * @throws {RangeError} For a batch larger than the dataset or a negative step.
 * @example
 * ```ts
 * import { makeTokenDataset, tokenBatchAt } from "./tokens.ts";
 * const data = makeTokenDataset(64, 0);
 * const batch = tokenBatchAt(data, { batchSize: 8, seed: 0 }, 3);
 * console.log(batch.text.length, batch.image.length); // 48 128
 * ```
 */
export function tokenBatchAt(
  data: TokenDataset,
  options: TokenBatchOptions,
  step: number,
): TokenBatch {
  const picked = batchIndicesAt(data.count, options, step);
  const { textLen: T, imageGrid: n } = data.spec;
  const text = new Int32Array(picked.length * T);
  const image = new Int32Array(picked.length * n * n);
  picked.forEach((e, b) => {
    text.set(data.text.subarray(e * T, (e + 1) * T), b * T);
    image.set(data.image.subarray(e * n * n, (e + 1) * n * n), b * n * n);
  });
  return { text, image };
}
