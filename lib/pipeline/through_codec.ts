/**
 * Images as the pipeline's dVAE gives them back: a reranker ranks decoded draws, not rendered
 * scenes, so training it on some images passed through the same dVAE (encode, then decode) shows
 * it the blur and the code-book artefacts it must read through. The rows are chosen by a seeded
 * stream, so the same seed replaces the same rows on any machine.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { type ImageBatch, imagesToTensor } from "../data/mod.ts";
import { Rng, streamSeed } from "../io/mod.ts";
import type { ImageCodec } from "./codec.ts";

/** Options of {@link throughCodec}. */
export interface ThroughCodecOptions {
  /** Share of the rows replaced by their reconstruction, in [0, 1]. */
  fraction: number;
  /** Seed of which rows are replaced. @default 0 */
  seed?: number;
  /** Images per encode–decode call (bounds memory). @default 256 */
  chunk?: number;
}

/** What {@link throughCodec} returns. */
export interface ThroughCodecResult {
  /** A new batch: the replaced rows hold their reconstructions, the rest are copied. */
  images: ImageBatch;
  /** The replaced rows, ascending. */
  rows: number[];
}

/**
 * Replaces a seeded share of a batch's images by `decode(encode(image))`.
 *
 * @param codec The dVAE (lib/dvae's `Dvae` fits) whose decoded images will be ranked.
 * @param images RGB bytes (lib/data's `ImageBatch`).
 * @param options The share replaced, the seed and the chunk size.
 * @returns The new batch and the rows replaced.
 * @throws {RangeError} A share outside [0, 1], a chunk that is not a positive integer, images
 *   that are not RGB, or a codec that gives back another size.
 * @example
 * ```ts
 * import { throughCodec } from "./through_codec.ts";
 * import { tf } from "../backend/mod.ts";
 * const dim = { encode: (x: tf.Tensor4D) => x.mean(3).toInt() as tf.Tensor3D,
 *   decode: (t: tf.Tensor3D) => tf.zeros([...t.shape, 3]) as tf.Tensor4D };
 * const images = { data: new Uint8Array(4 * 2 * 2 * 3).fill(200), count: 4, height: 2, width: 2,
 *   channels: 3 as const };
 * const { rows, images: out } = throughCodec(dim, images, { fraction: 0.5 });
 * console.log(rows.length, out.data[rows[0] * 12]); // 2 0
 * ```
 */
export function throughCodec(
  codec: ImageCodec,
  images: ImageBatch,
  options: ThroughCodecOptions,
): ThroughCodecResult {
  const { fraction } = options;
  const chunk = options.chunk ?? 256;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
  }
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
  }
  const { count, height, width, channels } = images;
  if (channels !== 3) {
    throw new RangeError(`throughCodec takes RGB images, got ${channels} channels`);
  }
  // A seeded shuffle's first rows: exactly round(fraction × count) of them.
  const order = new Rng(streamSeed("through-codec", options.seed ?? 0))
    .shuffle(Array.from({ length: count }, (_, i) => i));
  const rows = order.slice(0, Math.round(fraction * count)).sort((a, b) => a - b);
  const pixels = height * width * 3;
  const data = images.data.slice(0, count * pixels);
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk);
    const back = tf.tidy(() => {
      const x = imagesToTensor(images, part); // the caller's bytes: these rows are not yet replaced
      const y = codec.decode(codec.encode(x));
      if (y.shape[1] !== height || y.shape[2] !== width || y.shape[3] !== 3) {
        throw new RangeError(
          `the codec gave back ${y.shape.slice(1).join("×")} images for ${height}×${width}×3`,
        );
      }
      return y.clipByValue(0, 1).mul(255).round().dataSync();
    });
    part.forEach((row, k) => data.set(back.subarray(k * pixels, (k + 1) * pixels), row * pixels));
  }
  return { images: { data, count, height, width, channels: 3 }, rows };
}
