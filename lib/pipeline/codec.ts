/**
 * The glue between the stages: captions to fixed-length id rows with a tokenizer, images to dVAE
 * tokens and tokens back to images. The tokenizer and the dVAE are taken structurally (anything
 * with `encodeBatch`, or `encode` and `decode`), so tests can use tiny fakes; lib/tokenizer's
 * `BpeTokenizer` and lib/dvae's `Dvae` fit.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { concatInt32 } from "../io/mod.ts";

/** What the pipeline needs of a tokenizer (lib/tokenizer's `BpeTokenizer` fits). */
export interface CaptionEncoder {
  /** Encodes captions into a padded (B, textLen) id batch. */
  encodeBatch(
    texts: readonly string[],
    options: { textLen?: number; dropout?: number; seed?: number },
  ): { ids: Int32Array; lengths: Int32Array };
}

/** What the pipeline needs of a dVAE (lib/dvae's `Dvae` fits). */
export interface ImageCodec {
  /** Images (B, H, W, 3) in [0, 1] → int32 tokens (B, n, n). */
  encode(images: tf.Tensor4D): tf.Tensor3D;
  /** int32 tokens (B, n, n) → images (B, H, W, 3) in [0, 1]. */
  decode(tokens: tf.Tensor3D): tf.Tensor4D;
}

/**
 * Captions as fixed-length rows of ids, one `Int32Array` per caption (what `sample` takes).
 *
 * @param tokenizer The tokenizer.
 * @param captions The captions.
 * @param textLen Ids per row (truncated or padded with the tokenizer's pad id).
 * @returns One row per caption.
 * @example
 * ```ts
 * import { captionRows } from "./codec.ts";
 * const tokenizer = {
 *   encodeBatch: (texts: readonly string[], o: { textLen?: number }) => ({
 *     ids: new Int32Array(texts.length * o.textLen!).fill(7),
 *     lengths: new Int32Array(texts.length),
 *   }),
 * };
 * console.log(captionRows(tokenizer, ["a red star"], 4)); // [Int32Array [7, 7, 7, 7]]
 * ```
 */
export function captionRows(
  tokenizer: CaptionEncoder,
  captions: readonly string[],
  textLen: number,
): Int32Array[] {
  const { ids } = tokenizer.encodeBatch(captions, { textLen });
  return captions.map((_, i) => ids.slice(i * textLen, (i + 1) * textLen));
}

/**
 * Encodes images to dVAE tokens in chunks (bounded memory), returning them as one array.
 *
 * @param codec The dVAE.
 * @param images (N, H, W, 3) in [0, 1] (not disposed).
 * @param chunk Images per encoder pass. @default 256
 * @returns int32 tokens (N, n²) row-major, raster order.
 * @example
 * ```ts
 * import { imageTokens } from "./codec.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const codec = {
 *   encode: (x: tf.Tensor4D) => tf.tidy(() => x.mean(3).greater(0.5).cast("int32")) as tf.Tensor3D,
 *   decode: (t: tf.Tensor3D) => tf.tidy(() => t.cast("float32").expandDims(3).tile([1, 1, 1, 3])) as tf.Tensor4D,
 * };
 * const images = tf.ones([3, 2, 2, 3]) as tf.Tensor4D;
 * console.log(imageTokens(codec, images).length); // 12
 * images.dispose();
 * ```
 */
export function imageTokens(codec: ImageCodec, images: tf.Tensor4D, chunk = 256): Int32Array {
  const count = images.shape[0];
  const parts: Int32Array[] = [];
  for (let start = 0; start < count; start += chunk) {
    const size = Math.min(chunk, count - start);
    const tokens = tf.tidy(() => {
      const slice = images.slice([start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D;
      return codec.encode(slice);
    });
    parts.push(tokens.dataSync() as Int32Array);
    tokens.dispose();
  }
  return concatInt32(parts);
}

/**
 * Decodes sampled token rows to images with the dVAE.
 *
 * @param codec The dVAE.
 * @param tokens (B, n²) row-major ids, as `sample` returns them.
 * @param imageGrid n.
 * @returns Images (B, H, W, 3) in [0, 1] (caller disposes).
 * @example
 * ```ts
 * import { tokensToImages } from "./codec.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const codec = {
 *   encode: (x: tf.Tensor4D) => tf.tidy(() => x.mean(3).cast("int32")) as tf.Tensor3D,
 *   decode: (t: tf.Tensor3D) => tf.tidy(() => t.cast("float32").expandDims(3).tile([1, 1, 1, 3])) as tf.Tensor4D,
 * };
 * const images = tokensToImages(codec, new Int32Array([0, 1, 1, 0]), 2);
 * console.log(images.shape); // [1, 2, 2, 3]
 * images.dispose();
 * ```
 */
export function tokensToImages(
  codec: ImageCodec,
  tokens: Int32Array,
  imageGrid: number,
): tf.Tensor4D {
  const perImage = imageGrid * imageGrid;
  if (tokens.length % perImage !== 0) {
    throw new RangeError(`tokens must hold B·${perImage} ids, got ${tokens.length}`);
  }
  return tf.tidy(() => {
    const grid = tf.tensor3d(tokens, [tokens.length / perImage, imageGrid, imageGrid], "int32");
    return codec.decode(grid);
  });
}
