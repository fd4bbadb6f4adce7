/**
 * What the reranker checks of its inputs before any layer runs. An id outside the vocabulary does
 * not fail by itself (some backends' gathers read past the table), a wrong image size fails deep
 * inside a reshape with a kernel's message, and bytes passed as floats saturate every pixel.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** Pixels may stray this far outside [0, 1] (float rounding) before images are rejected. */
const PIXEL_SLACK = 1e-5;

/**
 * Throws unless `images` is a non-empty float32 batch (B, S, S, 3) with values in [0, 1].
 *
 * @param images What the caller passed.
 * @param size S.
 * @throws {TypeError} Not a tensor, or not float32.
 * @throws {RangeError} Wrong rank, size or channels; no images; values outside [0, 1] or NaN.
 */
export function checkImages(images: tf.Tensor, size: number): void {
  const want = `${size}×${size}×3`;
  if (!(images instanceof tf.Tensor)) {
    throw new TypeError(
      `reranker: images must be a (B, ${size}, ${size}, 3) tensor, got ${images}`,
    );
  }
  if (images.rank !== 4) {
    throw new RangeError(
      `reranker: images must be a batch (B, ${size}, ${size}, 3), got shape [${images.shape}]`,
    );
  }
  const [b, h, w, c] = images.shape;
  if (h !== size || w !== size || c !== 3) {
    throw new RangeError(`reranker: images must be ${want} RGB, got ${h}×${w}×${c}`);
  }
  if (b === 0) throw new RangeError(`reranker: expected at least one ${want} image, got none`);
  if (images.dtype !== "float32") {
    throw new TypeError(
      `reranker: images must be float32 in [0, 1], got ${images.dtype} (bytes? divide by 255)`,
    );
  }
  const stats = tf.tidy(() =>
    tf.stack([images.min(), images.max(), images.isNaN().any().cast("float32")])
  );
  const [lo, hi, nan] = stats.dataSync();
  stats.dispose();
  if (nan > 0 || !(lo >= -PIXEL_SLACK && hi <= 1 + PIXEL_SLACK)) {
    const got = nan > 0 ? "NaN values" : `values in [${lo}, ${hi}]`;
    const hint = hi > 1.5 && hi <= 255 ? " (bytes? divide by 255)" : "";
    throw new RangeError(`reranker: images must hold values in [0, 1], got ${got}${hint}`);
  }
}

/**
 * Throws unless `ids` is an int32 (B, textLen) tensor, B ≥ 1, every id in [0, vocab) and every
 * row holding at least one id that is not the pad (reads the ids back: B·textLen integers).
 *
 * @param ids What the caller passed.
 * @param config `textLen`, `textVocab`, `padId`.
 * @throws {TypeError} Not an int32 tensor.
 * @throws {RangeError} Another shape, no rows, an id out of range (named by row and position),
 *   or a row of nothing but pads.
 */
export function checkTextIds(
  ids: tf.Tensor,
  config: { textLen: number; textVocab: number; padId: number },
): void {
  const { textLen, textVocab, padId } = config;
  if (!(ids instanceof tf.Tensor)) {
    throw new TypeError(`reranker: text ids must be an int32 (B, ${textLen}) tensor, got ${ids}`);
  }
  if (ids.dtype !== "int32") {
    throw new TypeError(`reranker: text ids must be int32, got ${ids.dtype}`);
  }
  if (ids.rank !== 2 || ids.shape[1] !== textLen) {
    throw new RangeError(
      `reranker: text ids must have shape [B,${textLen}] (the config's textLen), got [${ids.shape}]`,
    );
  }
  if (ids.shape[0] === 0) throw new RangeError("reranker: text ids must hold at least one row");
  const values = ids.dataSync();
  for (let i = 0; i < values.length; i++) {
    if (values[i] >= 0 && values[i] < textVocab) continue;
    throw new RangeError(
      `reranker: text id ${values[i]} at row ${Math.floor(i / textLen)}, position ` +
        `${i % textLen} is outside [0, ${textVocab})`,
    );
  }
  for (let row = 0; row < values.length / textLen; row++) {
    const start = row * textLen;
    if (values.subarray(start, start + textLen).every((id) => id === padId)) {
      throw new RangeError(
        `reranker: text row ${row} holds nothing but pads (id ${padId}): an empty caption`,
      );
    }
  }
}
