/**
 * `ImageBatch`: the one image type every loader of lib/data returns, and the conversions between
 * it and tensors.
 *
 * A batch is `count` images of `height × width × channels` bytes stored back to back, NHWC and
 * row-major, so pixel (n, y, x, c) is `data[((n * height + y) * width + x) * channels + c]`. It is
 * plain bytes (no tensors), so datasets cost no tensor memory until a batch iterator makes one.
 *
 * @module
 */
import { loadSharp } from "./_sharp.ts";
import { tf } from "../backend/mod.ts";

/** Images stored as bytes, NHWC. */
export interface ImageBatch {
  /** Pixels, `count × height × width × channels` bytes, NHWC row-major. */
  data: Uint8Array;
  /** Number of images. */
  count: number;
  /** Rows per image. */
  height: number;
  /** Columns per image. */
  width: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
}

/** A dataset: images and one caption per image. */
export interface CaptionedImages {
  /** The images. */
  images: ImageBatch;
  /** `captions[i]` describes image i. */
  captions: string[];
}

/**
 * Wraps bytes as an `ImageBatch`, checking that the length matches the shape.
 *
 * @param data Pixels, NHWC.
 * @param shape `{ count, height, width, channels }`.
 * @returns The batch (sharing `data`).
 * @example
 * ```ts
 * import { imageBatch } from "./image_batch.ts";
 * const two = imageBatch(new Uint8Array(2 * 4 * 4 * 3), { count: 2, height: 4, width: 4, channels: 3 });
 * console.log(two.count); // 2
 * ```
 */
export function imageBatch(
  data: Uint8Array,
  shape: { count: number; height: number; width: number; channels: 1 | 3 },
): ImageBatch {
  const { count, height, width, channels } = shape;
  for (const [name, v] of Object.entries({ count, height, width })) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`ImageBatch ${name} must be a non-negative integer, got ${v}`);
    }
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`ImageBatch channels must be 1 or 3, got ${channels}`);
  }
  const expected = count * height * width * channels;
  if (data.length !== expected) {
    throw new RangeError(
      `ImageBatch data has ${data.length} bytes, expected ${count}×${height}×${width}×${channels} = ${expected}`,
    );
  }
  return { data, count, height, width, channels };
}

/** Bytes per image of a batch. */
function imageBytes(batch: ImageBatch): number {
  return batch.height * batch.width * batch.channels;
}

/**
 * One image of a batch as a batch of one (a view: no copy).
 *
 * @param batch The batch.
 * @param index Which image, 0-based.
 * @returns A batch with `count` 1 sharing `batch.data`.
 * @example
 * ```ts
 * import { imageAt, imageBatch } from "./image_batch.ts";
 * const b = imageBatch(new Uint8Array([1, 2, 3, 4]), { count: 4, height: 1, width: 1, channels: 1 });
 * console.log(imageAt(b, 2).data[0]); // 3
 * ```
 */
export function imageAt(batch: ImageBatch, index: number): ImageBatch {
  if (!Number.isInteger(index) || index < 0 || index >= batch.count) {
    throw new RangeError(`image index must be an integer in [0, ${batch.count}), got ${index}`);
  }
  const n = imageBytes(batch);
  return { ...batch, count: 1, data: batch.data.subarray(index * n, (index + 1) * n) };
}

/**
 * The images at the given indices, copied into a new batch in that order.
 *
 * @param batch The batch.
 * @param indices Which images, 0-based; repeats allowed.
 * @returns A new batch with `indices.length` images.
 * @example
 * ```ts
 * import { imageBatch, selectImages } from "./image_batch.ts";
 * const b = imageBatch(new Uint8Array([10, 20, 30]), { count: 3, height: 1, width: 1, channels: 1 });
 * console.log(Array.from(selectImages(b, [2, 0]).data)); // [30, 10]
 * ```
 */
export function selectImages(batch: ImageBatch, indices: readonly number[]): ImageBatch {
  const n = imageBytes(batch);
  const out = new Uint8Array(indices.length * n);
  indices.forEach((index, k) => {
    if (!Number.isInteger(index) || index < 0 || index >= batch.count) {
      throw new RangeError(`image index must be an integer in [0, ${batch.count}), got ${index}`);
    }
    out.set(batch.data.subarray(index * n, (index + 1) * n), k * n);
  });
  return { ...batch, count: indices.length, data: out };
}

/**
 * Several batches of the same image shape joined into one.
 *
 * @param batches The batches, in order.
 * @returns Their images back to back.
 * @example
 * ```ts
 * import { concatImages, imageBatch } from "./image_batch.ts";
 * const a = imageBatch(new Uint8Array([1]), { count: 1, height: 1, width: 1, channels: 1 });
 * console.log(concatImages([a, a]).count); // 2
 * ```
 */
export function concatImages(batches: readonly ImageBatch[]): ImageBatch {
  if (batches.length === 0) throw new RangeError("concatImages needs at least one batch");
  const [first] = batches;
  for (const b of batches) {
    if (b.height !== first.height || b.width !== first.width || b.channels !== first.channels) {
      throw new RangeError(
        `concatImages: every batch must be ${first.height}×${first.width}×${first.channels}, ` +
          `got ${b.height}×${b.width}×${b.channels}`,
      );
    }
  }
  const data = new Uint8Array(batches.reduce((n, b) => n + b.data.length, 0));
  let offset = 0;
  for (const b of batches) {
    data.set(b.data, offset);
    offset += b.data.length;
  }
  return { ...first, count: batches.reduce((n, b) => n + b.count, 0), data };
}

/**
 * Grey images as RGB (each grey value copied to R, G and B); RGB batches are returned as they are.
 *
 * @param batch The batch.
 * @returns A 3-channel batch.
 * @example
 * ```ts
 * import { imageBatch, toRgb } from "./image_batch.ts";
 * const grey = imageBatch(new Uint8Array([7]), { count: 1, height: 1, width: 1, channels: 1 });
 * console.log(Array.from(toRgb(grey).data)); // [7, 7, 7]
 * ```
 */
export function toRgb(batch: ImageBatch): ImageBatch {
  if (batch.channels === 3) return batch;
  const data = new Uint8Array(batch.data.length * 3);
  for (let i = 0; i < batch.data.length; i++) {
    const v = batch.data[i];
    data[3 * i] = v;
    data[3 * i + 1] = v;
    data[3 * i + 2] = v;
  }
  return { ...batch, channels: 3, data };
}

/**
 * Adds a border of `pad` pixels of one value around every image.
 *
 * @param batch The batch.
 * @param pad Border width in pixels on each side.
 * @param value The border's byte value (Fashion-MNIST's background is 0). @default 0
 * @returns A batch of `(height + 2·pad) × (width + 2·pad)` images.
 * @example
 * ```ts
 * import { imageBatch, padImages } from "./image_batch.ts";
 * const one = imageBatch(new Uint8Array([9]), { count: 1, height: 1, width: 1, channels: 1 });
 * console.log(Array.from(padImages(one, 1).data)); // [0, 0, 0, 0, 9, 0, 0, 0, 0]
 * ```
 */
export function padImages(batch: ImageBatch, pad: number, value = 0): ImageBatch {
  if (!Number.isInteger(pad) || pad < 0) {
    throw new RangeError(`pad must be a non-negative integer, got ${pad}`);
  }
  const { count, height, width, channels } = batch;
  const h = height + 2 * pad, w = width + 2 * pad;
  const data = new Uint8Array(count * h * w * channels).fill(value);
  const rowBytes = width * channels;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < height; y++) {
      const src = ((n * height + y) * width) * channels;
      const dst = ((n * h + y + pad) * w + pad) * channels;
      data.set(batch.data.subarray(src, src + rowBytes), dst);
    }
  }
  return { count, height: h, width: w, channels, data };
}

/**
 * 32×32 RGB images, the dVAE's input: 28×28 images (Fashion-MNIST) get a 2-pixel black border,
 * grey becomes RGB, and 32×32 images pass through. Other sizes: use `resizeImages` first.
 *
 * @param batch A batch of 28×28 or 32×32 images.
 * @returns A 32×32×3 batch.
 * @example
 * ```ts
 * import { imageBatch, toRgb32 } from "./image_batch.ts";
 * const digit = imageBatch(new Uint8Array(28 * 28), { count: 1, height: 28, width: 28, channels: 1 });
 * const rgb = toRgb32(digit);
 * console.log(rgb.height, rgb.width, rgb.channels); // 32 32 3
 * ```
 */
export function toRgb32(batch: ImageBatch): ImageBatch {
  if (batch.height !== batch.width || (batch.height !== 28 && batch.height !== 32)) {
    throw new RangeError(
      `toRgb32 takes 28×28 or 32×32 images, got ${batch.height}×${batch.width}; ` +
        "use resizeImages(batch, 32) for other sizes",
    );
  }
  const padded = batch.height === 28 ? padImages(batch, 2, 0) : batch;
  return toRgb(padded);
}

/**
 * Resizes every image to `size × size` with sharp (Lanczos for photographs; `nearest` keeps
 * hard pixel edges).
 *
 * @param batch The batch.
 * @param size Output side in pixels.
 * @param options `kernel`: sharp's resampling kernel. @default "lanczos3"
 * @returns The resized batch, same channel count.
 * @example
 * ```ts
 * import { imageBatch, resizeImages } from "./image_batch.ts";
 * const b = imageBatch(new Uint8Array(8 * 8 * 3), { count: 1, height: 8, width: 8, channels: 3 });
 * console.log((await resizeImages(b, 4)).height); // 4
 * ```
 */
export async function resizeImages(
  batch: ImageBatch,
  size: number,
  options: { kernel?: "nearest" | "linear" | "cubic" | "lanczos3" } = {},
): Promise<ImageBatch> {
  const sharp = await loadSharp();
  const outBytes = size * size * batch.channels;
  const data = new Uint8Array(batch.count * outBytes);
  for (let n = 0; n < batch.count; n++) {
    const one = imageAt(batch, n);
    const out = await sharp(one.data, {
      raw: { width: batch.width, height: batch.height, channels: batch.channels },
    }).resize(size, size, { fit: "fill", kernel: options.kernel ?? "lanczos3" }).raw()
      .toBuffer();
    data.set(out.subarray(0, outBytes), n * outBytes);
  }
  return { count: batch.count, height: size, width: size, channels: batch.channels, data };
}

/**
 * Images as a float tensor in [0, 1], NHWC (bytes / 255).
 *
 * @param batch The batch.
 * @param indices Which images (all of them when omitted).
 * @returns A `[n, height, width, channels]` float32 tensor the caller disposes.
 * @example
 * ```ts
 * import { imageBatch, imagesToTensor } from "./image_batch.ts";
 * import { ensureBackend } from "../backend/mod.ts";
 * await ensureBackend();
 * const b = imageBatch(new Uint8Array([0, 255]), { count: 2, height: 1, width: 1, channels: 1 });
 * const t = imagesToTensor(b);
 * console.log(t.shape, Array.from(t.dataSync())); // [2, 1, 1, 1] [0, 1]
 * t.dispose();
 * ```
 */
export function imagesToTensor(batch: ImageBatch, indices?: readonly number[]): tf.Tensor4D {
  const n = imageBytes(batch);
  if (batch.data.length !== batch.count * n) {
    // A hand-built batch whose bytes do not match its shape would read as NaN pixels.
    throw new RangeError(
      `ImageBatch of ${batch.count} images of ${batch.height}×${batch.width}×${batch.channels} ` +
        `needs ${batch.count * n} bytes, holds ${batch.data.length}`,
    );
  }
  const count = indices ? indices.length : batch.count;
  const values = new Float32Array(count * n);
  for (let k = 0; k < count; k++) {
    const index = indices ? indices[k] : k;
    if (!Number.isInteger(index) || index < 0 || index >= batch.count) {
      throw new RangeError(`image index must be an integer in [0, ${batch.count}), got ${index}`);
    }
    const src = batch.data.subarray(index * n, (index + 1) * n);
    const off = k * n;
    for (let i = 0; i < n; i++) values[off + i] = src[i] / 255;
  }
  return tf.tensor4d(values, [count, batch.height, batch.width, batch.channels], "float32");
}

/**
 * A tensor of images as bytes: float tensors are read as [0, 1] (×255, rounded, clipped), int
 * tensors as 0…255 (clipped). Does not dispose the tensor.
 *
 * @param images `[n, h, w, c]` or `[h, w, c]` with c = 1 or 3.
 * @returns The batch.
 * @example
 * ```ts
 * import { tensorToImages } from "./image_batch.ts";
 * import { ensureBackend, tf } from "../backend/mod.ts";
 * await ensureBackend();
 * const t = tf.tensor3d([0, 0.5, 1], [1, 3, 1]);
 * console.log(Array.from(tensorToImages(t).data)); // [0, 128, 255]
 * t.dispose();
 * ```
 */
export function tensorToImages(images: tf.Tensor): ImageBatch {
  const shape = images.rank === 3 ? [1, ...images.shape] : images.shape;
  if (shape.length !== 4 || (shape[3] !== 1 && shape[3] !== 3)) {
    throw new RangeError(
      `expected an image tensor [n, h, w, 1|3] or [h, w, 1|3], got shape [${images.shape}]`,
    );
  }
  const values = images.dataSync();
  const scale = images.dtype === "float32" ? 255 : 1;
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i] * scale);
    data[i] = Number.isNaN(v) ? 0 : Math.min(255, Math.max(0, v));
  }
  const [count, height, width, channels] = shape;
  return { data, count, height, width, channels: channels as 1 | 3 };
}
