/**
 * What the dVAE's entry points check before any layer runs. A wrong size or channel count would
 * otherwise fail deep inside a conv with a kernel's message (or, for a size that still divides,
 * give a wrong-sized token grid); bytes passed as floats would saturate every pixel; and
 * `tf.oneHot` turns a token id ≥ K into an all-zero code instead of failing.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** Pixels may stray this far outside [0, 1] (float rounding) before images are rejected. */
const PIXEL_SLACK = 1e-5;

/**
 * Throws unless `images` is a non-empty float32 batch `(B, S, S, C)` of the configured size with
 * every value in [0, 1] (the value check reads back three numbers).
 *
 * @param images What the caller passed.
 * @param config The dVAE's `imageSize` S and `channels` C.
 * @param options `allowNaN`: let NaN pixels through (the objective does, so that a trainer's
 *   non-finite-step guard counts and skips such a step as it does any other). @default false
 * @throws {TypeError} Not a tensor, or not float32.
 * @throws {RangeError} Wrong rank, size or channels; no images; values outside [0, 1] or NaN.
 * @example
 * ```ts
 * import { checkImages } from "./_checks.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const grey = tf.zeros([2, 28, 28, 1]);
 * try {
 *   checkImages(grey, { imageSize: 32, channels: 3 });
 * } catch (e) {
 *   console.log((e as Error).message); // "dVAE expects images of 32×32×3, got 28×28×1"
 * }
 * grey.dispose();
 * ```
 */
export function checkImages(
  images: tf.Tensor,
  config: { imageSize: number; channels: number },
  options: { allowNaN?: boolean } = {},
): void {
  const { imageSize: s, channels: c } = config;
  const want = `${s}×${s}×${c}`;
  if (!(images instanceof tf.Tensor)) {
    throw new TypeError(`dVAE expects images as a (B, ${s}, ${s}, ${c}) tensor, got ${images}`);
  }
  if (images.rank !== 4) {
    throw new RangeError(
      `dVAE expects a batch of images (B, ${s}, ${s}, ${c}), got shape [${images.shape}]`,
    );
  }
  const [b, h, w, ch] = images.shape;
  if (h !== s || w !== s || ch !== c) {
    throw new RangeError(`dVAE expects images of ${want}, got ${h}×${w}×${ch}`);
  }
  if (b === 0) throw new RangeError(`dVAE expects at least one ${want} image, got none`);
  if (images.dtype !== "float32") {
    throw new TypeError(
      `dVAE expects float32 images in [0, 1], got ${images.dtype} (bytes? divide by 255)`,
    );
  }
  const stats = tf.tidy(() =>
    tf.stack([images.min(), images.max(), images.isNaN().any().cast("float32")])
  );
  let [lo, hi, nan] = stats.dataSync();
  stats.dispose();
  if (nan > 0 && options.allowNaN) {
    // min and max skip or propagate NaN depending on the backend: judge the rest without it.
    const rest = tf.tidy(() => {
      const x = tf.where(images.isNaN(), tf.onesLike(images).mul(0.5), images);
      return tf.stack([x.min(), x.max()]);
    });
    [lo, hi] = rest.dataSync();
    rest.dispose();
    nan = 0;
  }
  if (nan > 0 || !(lo >= -PIXEL_SLACK && hi <= 1 + PIXEL_SLACK)) {
    const got = nan > 0 ? "NaN values" : `values in [${lo}, ${hi}]`;
    const hint = hi > 1.5 && hi <= 255 ? " (bytes? divide by 255)" : "";
    throw new RangeError(`dVAE expects pixel values in [0, 1], got ${got}${hint}`);
  }
}

/**
 * Throws unless `tokens` is an int32 grid `(B, g, g)` of ids in [0, K), naming the first bad id
 * by batch row and cell (reads the ids back).
 *
 * @param tokens What the caller passed.
 * @param grid The side g of the token grid.
 * @param vocab The codebook size K.
 * @throws {TypeError} Not an int32 tensor.
 * @throws {RangeError} Wrong shape, or an id outside [0, K).
 * @example
 * ```ts
 * import { checkTokens } from "./_checks.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const ids = tf.tensor3d([0, 1, 2, 600], [1, 2, 2], "int32");
 * try {
 *   checkTokens(ids, 2, 512);
 * } catch (e) {
 *   console.log((e as Error).message); // "dVAE: token id 600 at batch row 0, cell (1, 1) is outside [0, 512)"
 * }
 * ids.dispose();
 * ```
 */
export function checkTokens(tokens: tf.Tensor, grid: number, vocab: number): void {
  if (!(tokens instanceof tf.Tensor) || tokens.dtype !== "int32") {
    const got = tokens instanceof tf.Tensor ? tokens.dtype : String(tokens);
    throw new TypeError(`dVAE decode expects int32 tokens, got ${got}`);
  }
  if (tokens.rank !== 3 || tokens.shape[1] !== grid || tokens.shape[2] !== grid) {
    throw new RangeError(
      `dVAE decode expects tokens (B, ${grid}, ${grid}), got shape [${tokens.shape}]`,
    );
  }
  const ids = tokens.dataSync();
  const cells = grid * grid;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] >= 0 && ids[i] < vocab) continue;
    const cell = i % cells;
    throw new RangeError(
      `dVAE: token id ${ids[i]} at batch row ${Math.floor(i / cells)}, cell ` +
        `(${Math.floor(cell / grid)}, ${cell % grid}) is outside [0, ${vocab})`,
    );
  }
}
