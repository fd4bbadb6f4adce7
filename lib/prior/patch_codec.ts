/**
 * A stand-in for the dVAE: a k-means codebook of image patches. Each p×p patch of an image
 * becomes the index of its nearest centroid (a token), and a token decodes to its centroid.
 *
 * It is not the paper's stage one (nothing is learned by gradient descent, and there is no
 * bound), but it is a discrete image tokenizer with the same interface (`ImageCodec`), so the
 * prior can be trained, sampled and judged without a trained dVAE: a baseline for what the prior
 * does when its tokens are faithful.
 *
 * Patches are cut with a strided identity convolution and put back with `depthToSpace`, whose
 * channel order (row i, column j, channel c) ↦ (i·p + j)·C + c both sides share.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Rng, writeFileAtomic } from "../io/mod.ts";
import { decodeSafetensors, encodeSafetensors } from "../nn/mod.ts";
import type { ImageCodec } from "./pipeline.ts";

/** Options of {@link PatchCodec.fit}. */
export interface PatchCodecOptions {
  /** Patch side p in pixels; the token grid is (H/p)×(W/p). @default 4 */
  patch?: number;
  /** Codebook size K. @default 512 */
  vocabSize?: number;
  /** Lloyd iterations after the k-means++ start. @default 12 */
  iterations?: number;
  /** Patches drawn (without replacement) to fit on. @default 40000 */
  samplePatches?: number;
  /** Seed of the draws. @default 0 */
  seed?: number;
}

const FORMAT = "dalle-lab/patch-codec@1";

/** The identity kernel (p, p, C, p·p·C) that moves patch pixel (i, j, c) to channel (i·p + j)·C + c. */
function patchKernel(patch: number, channels: number): tf.Tensor4D {
  const depth = patch * patch * channels;
  const values = new Float32Array(patch * patch * channels * depth);
  for (let i = 0; i < patch; i++) {
    for (let j = 0; j < patch; j++) {
      for (let c = 0; c < channels; c++) {
        const out = (i * patch + j) * channels + c;
        values[((i * patch + j) * channels + c) * depth + out] = 1;
      }
    }
  }
  return tf.tensor4d(values, [patch, patch, channels, depth]);
}

/**
 * A k-means patch codebook with the dVAE's token interface.
 *
 * @example
 * ```ts
 * import { PatchCodec } from "./patch_codec.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const images = tf.randomUniform([8, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
 * const codec = PatchCodec.fit(images, { patch: 4, vocabSize: 16, iterations: 3 });
 * const tokens = codec.encode(images); // int32 (8, 2, 2)
 * const back = codec.decode(tokens); // (8, 8, 8, 3)
 * console.log(tokens.shape, back.shape);
 * tf.dispose([images, tokens, back]); codec.dispose();
 * ```
 */
export class PatchCodec implements ImageCodec {
  /** (K, p·p·C) centroids. */
  readonly centroids: tf.Tensor2D;
  readonly #centroidsT: tf.Tensor2D;
  readonly #kernel: tf.Tensor4D;
  readonly #halfNorms: tf.Tensor1D;

  /**
   * @param centroids K × (p·p·C) values, row-major.
   * @param patch p.
   * @param channels C.
   */
  constructor(centroids: Float32Array, readonly patch: number, readonly channels: number) {
    const depth = patch * patch * channels;
    if (centroids.length === 0 || centroids.length % depth !== 0) {
      throw new RangeError(`centroids must hold K·${depth} values, got ${centroids.length}`);
    }
    this.centroids = tf.tensor2d(centroids, [centroids.length / depth, depth]);
    // Kept transposed: wasm's matMul with transposeB misses XNNPACK's fast path.
    this.#centroidsT = this.centroids.transpose() as tf.Tensor2D;
    this.#kernel = patchKernel(patch, channels);
    this.#halfNorms = tf.tidy(() => this.centroids.square().sum(1).mul(0.5)) as tf.Tensor1D;
  }

  /** K, the number of tokens. */
  get vocabSize(): number {
    return this.centroids.shape[0];
  }

  /** (N, p·p·C) patch rows of images (B, H, W, C). */
  #patches(images: tf.Tensor4D): tf.Tensor2D {
    const [, H, W, C] = images.shape;
    if (C !== this.channels || H % this.patch !== 0 || W % this.patch !== 0) {
      throw new RangeError(
        `images must be (B, H, W, ${this.channels}) with H and W multiples of ${this.patch}, ` +
          `got [${images.shape}]`,
      );
    }
    return tf.tidy(() =>
      tf.conv2d(images, this.#kernel, this.patch, "valid").reshape([-1, this.#kernel.shape[3]])
    ) as tf.Tensor2D;
  }

  /** Nearest centroid of each row: argmax of x·c − |c|²/2. */
  #nearest(rows: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() =>
      tf.matMul(rows, this.#centroidsT).sub(this.#halfNorms).argMax(1)
    ) as tf.Tensor1D;
  }

  /**
   * Images → tokens: the nearest centroid of each patch.
   *
   * @param images (B, H, W, C) in [0, 1].
   * @returns int32 (B, H/p, W/p).
   */
  encode(images: tf.Tensor4D): tf.Tensor3D {
    const [B, H, W] = images.shape;
    return tf.tidy(() =>
      this.#nearest(this.#patches(images)).reshape([B, H / this.patch, W / this.patch])
    ) as tf.Tensor3D;
  }

  /**
   * Tokens → images: each token's centroid pasted as its patch.
   *
   * @param tokens int32 (B, g, g).
   * @returns (B, g·p, g·p, C).
   */
  decode(tokens: tf.Tensor3D): tf.Tensor4D {
    if (tokens.dtype !== "int32") {
      throw new TypeError(`decode expects int32 tokens, got ${tokens.dtype}`);
    }
    const [B, gh, gw] = tokens.shape;
    return tf.tidy(() => {
      const cells = tf.gather(this.centroids, tokens.reshape([-1])); // (B·g·g, p·p·C)
      const packed = cells.reshape([B, gh, gw, this.#kernel.shape[3]]) as tf.Tensor4D;
      return tf.depthToSpace(packed, this.patch).clipByValue(0, 1) as tf.Tensor4D;
    });
  }

  /**
   * Fits the codebook with k-means++ seeding and Lloyd iterations on sampled patches.
   *
   * @param images (N, H, W, C) in [0, 1] (not disposed).
   * @param options Patch size, K, iterations, sample size, seed.
   * @returns The codec (caller disposes).
   */
  static fit(images: tf.Tensor4D, options: PatchCodecOptions = {}): PatchCodec {
    const patch = options.patch ?? 4;
    const K = options.vocabSize ?? 512;
    const channels = images.shape[3];
    const depth = patch * patch * channels;
    const rng = new Rng(options.seed ?? 0);
    const probe = new PatchCodec(new Float32Array(depth), patch, channels);
    let all: tf.Tensor2D;
    try {
      all = probe.#patches(images);
    } finally {
      probe.dispose();
    }
    const total = all.shape[0];
    const take = Math.min(total, options.samplePatches ?? 40000);
    if (take < K) {
      all.dispose();
      throw new RangeError(`need at least ${K} patches to fit ${K} centroids, got ${take}`);
    }
    const order = rng.shuffle(Array.from({ length: total }, (_, i) => i)).slice(0, take);
    const picked = tf.tidy(() => tf.gather(all, tf.tensor1d(order, "int32"))) as tf.Tensor2D;
    all.dispose();
    const data = picked.dataSync() as Float32Array;

    // k-means++: each next centroid drawn with probability ∝ squared distance to the nearest.
    const centroids = new Float32Array(K * depth);
    const nearest = new Float64Array(take).fill(Infinity);
    let chosen = rng.int(take);
    for (let k = 0; k < K; k++) {
      centroids.set(data.subarray(chosen * depth, (chosen + 1) * depth), k * depth);
      let sum = 0;
      for (let i = 0; i < take; i++) {
        let d = 0;
        for (let e = 0; e < depth; e++) {
          const diff = data[i * depth + e] - centroids[k * depth + e];
          d += diff * diff;
        }
        if (d < nearest[i]) nearest[i] = d;
        sum += nearest[i];
      }
      if (sum === 0) { // fewer distinct patches than K: repeat one (an unused token)
        chosen = rng.int(take);
        continue;
      }
      let r = rng.next() * sum;
      chosen = take - 1;
      for (let i = 0; i < take; i++) {
        r -= nearest[i];
        if (r <= 0) {
          chosen = i;
          break;
        }
      }
    }
    // Lloyd iterations: assign on the device, average in JS.
    let codec = new PatchCodec(centroids, patch, channels);
    for (let it = 0; it < (options.iterations ?? 12); it++) {
      const assign = codec.#nearest(picked);
      const labels = assign.dataSync();
      assign.dispose();
      const sums = new Float64Array(K * depth);
      const counts = new Int32Array(K);
      for (let i = 0; i < take; i++) {
        const k = labels[i];
        counts[k]++;
        for (let e = 0; e < depth; e++) sums[k * depth + e] += data[i * depth + e];
      }
      const next = new Float32Array(K * depth);
      for (let k = 0; k < K; k++) {
        // An empty cluster keeps its centroid (it stays a valid, if unused, token).
        for (let e = 0; e < depth; e++) {
          next[k * depth + e] = counts[k] > 0
            ? sums[k * depth + e] / counts[k]
            : centroids[k * depth + e];
        }
      }
      centroids.set(next);
      codec.dispose();
      codec = new PatchCodec(centroids, patch, channels);
    }
    picked.dispose();
    return codec;
  }

  /**
   * Saves the codebook to a safetensors file (atomically).
   *
   * @param path Target file.
   */
  async save(path: string): Promise<void> {
    await writeFileAtomic(
      path,
      encodeSafetensors([["centroids", this.centroids]], {
        format: FORMAT,
        patch: String(this.patch),
        channels: String(this.channels),
      }),
    );
  }

  /**
   * Loads a codebook saved by {@link PatchCodec.save}.
   *
   * @param path The file.
   * @returns The codec (caller disposes).
   */
  static async load(path: string): Promise<PatchCodec> {
    const { tensors, metadata } = decodeSafetensors(await Deno.readFile(path), path);
    const centroids = tensors.get("centroids");
    if (metadata.format !== FORMAT || !centroids) {
      throw new Error(`${path} is not a patch codec (format "${metadata.format}")`);
    }
    return new PatchCodec(
      Float32Array.from(centroids.data),
      Number(metadata.patch),
      Number(metadata.channels),
    );
  }

  /** Frees the codebook tensors. */
  dispose(): void {
    tf.dispose([this.centroids, this.#centroidsT, this.#kernel, this.#halfNorms]);
  }
}
