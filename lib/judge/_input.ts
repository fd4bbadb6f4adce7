/**
 * What the shapes judge accepts, checked before it reads a pixel: a tensor is checked by its
 * shape and dtype first (so a wrong one is not copied back from the device) and then by its
 * values, because `tensorToImages` would clip a 0…255 float tensor into an all-white image and
 * the judge would answer confidently about it.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type ImageBatch, tensorToImages } from "../data/mod.ts";

/** The judge's input side, in pixels. */
const SIZE = 32;

/** Half a byte step: float values that still round to a byte in 0…255 pass. */
const SLACK = 0.5 / 255;

/**
 * The judge's images as a checked `ImageBatch`.
 *
 * @param images A batch of bytes, or a `[n, 32, 32, 3]` (or `[32, 32, 3]`) tensor: float32 in
 *   [0, 1] or int32 in 0…255.
 * @returns The images as bytes (the batch itself when one was given).
 * @throws {TypeError} Neither a tensor nor an `ImageBatch`; a tensor of another dtype.
 * @throws {RangeError} Another size or channel count (`the judge reads 32×32×3 images, got
 *   28×28×1`), another rank, a batch whose bytes do not match its shape, values out of range.
 * @example
 * ```ts
 * import { judgeInput } from "./_input.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const bytes = tf.fill([1, 32, 32, 3], 255);
 * try { judgeInput(bytes); } catch (e) { console.log((e as Error).message); } // values in [255, 255]
 * bytes.dispose();
 * ```
 */
export function judgeInput(images: ImageBatch | tf.Tensor): ImageBatch {
  if (images instanceof tf.Tensor) return fromTensor(images);
  const batch = images as Partial<ImageBatch> | null;
  if (typeof batch !== "object" || batch === null || !(batch.data instanceof Uint8Array)) {
    throw new TypeError(
      `the judge reads an ImageBatch or an image tensor, got ${describe(images)}`,
    );
  }
  const { count, height, width, channels, data } = batch as ImageBatch;
  checkSize(height, width, channels);
  if (!Number.isInteger(count) || count < 0 || data.length !== count * height * width * channels) {
    throw new RangeError(
      `the judge got an ImageBatch of ${count} images of ${height}×${width}×${channels} ` +
        `(${Number(count) * height * width * channels} bytes) holding ${data.length} bytes`,
    );
  }
  return batch as ImageBatch;
}

function fromTensor(images: tf.Tensor): ImageBatch {
  if (images.rank !== 4 && images.rank !== 3) {
    throw new RangeError(
      `the judge reads image tensors [n, ${SIZE}, ${SIZE}, 3] or [${SIZE}, ${SIZE}, 3], got shape ` +
        `[${images.shape}]`,
    );
  }
  const [h, w, c] = images.shape.slice(-3);
  checkSize(h, w, c);
  if (images.dtype !== "float32" && images.dtype !== "int32") {
    throw new TypeError(
      `the judge reads float32 images in [0, 1] or int32 bytes, got ${images.dtype}`,
    );
  }
  const float = images.dtype === "float32";
  const [lo, hi] = float ? [-SLACK, 1 + SLACK] : [0, 255];
  const stats = tf.tidy(() =>
    tf.stack([images.min(), images.max(), images.isNaN().any().cast(images.dtype)])
  );
  const [min, max, nan] = stats.dataSync();
  stats.dispose();
  if (images.size > 0 && (nan > 0 || !(min >= lo && max <= hi))) {
    const range = float ? "[0, 1]" : "0…255";
    const got = nan > 0 ? "NaN values" : `values in [${min}, ${max}]`;
    const hint = float && max > 1.5 && max <= 255 ? " (bytes? divide by 255)" : "";
    throw new RangeError(`the judge reads ${images.dtype} pixels in ${range}, got ${got}${hint}`);
  }
  return tensorToImages(images);
}

function checkSize(height: number, width: number, channels: number): void {
  if (height !== SIZE || width !== SIZE || channels !== 3) {
    throw new RangeError(
      `the judge reads ${SIZE}×${SIZE}×3 images, got ${height}×${width}×${channels}`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  return value.constructor?.name ?? "an object";
}
