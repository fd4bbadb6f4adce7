/**
 * The reranker's image encoder: a small conv net on pixels (per stage, `imageStageDepth`
 * stride-1 convolutions then a stride-2 one, each with ReLU; one stage per halving of the image),
 * its last feature map flattened or averaged into one vector.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { Conv2d, Module } from "../nn/mod.ts";

/** Pixels in [0, 1] → a feature vector per image. */
export class ImageEncoder extends Module {
  /** The convolutions in the order they apply. */
  readonly convs: Conv2d[];
  /** Width of the features `apply` returns. */
  readonly features: number;

  constructor(
    readonly config: {
      imageSize: number;
      imageChannels: number[];
      imageKernel: number;
      imagePool: "flatten" | "mean";
      imageStageDepth: number;
    },
    seeds: () => number,
  ) {
    super();
    const { imageSize, imageChannels, imageKernel, imagePool, imageStageDepth } = config;
    // He init: ReLU halves the variance, so the default 1/√fan-in would shrink it layer by layer.
    const conv = (name: string, inChannels: number, out: number, stride: number) => {
      const std = Math.sqrt(2 / (inChannels * imageKernel * imageKernel));
      return this.module(
        name,
        new Conv2d(inChannels, out, imageKernel, { stride, seed: seeds(), std }),
      );
    };
    this.convs = imageChannels.flatMap((out, i) => {
      const inChannels = i === 0 ? 3 : imageChannels[i - 1];
      // The stride-1 convolutions see the stage's full resolution (a star's points, a cross's
      // arms) before it is halved; their names keep depth-0 files' `conv${i}` for the halvings.
      const same = Array.from(
        { length: imageStageDepth },
        (_, d) => conv(`stage${i}_conv${d}`, d === 0 ? inChannels : out, out, 1),
      );
      return [...same, conv(`conv${i}`, imageStageDepth > 0 ? out : inChannels, out, 2)];
    });
    const last = imageChannels[imageChannels.length - 1];
    const side = imageSize / 2 ** imageChannels.length;
    this.features = imagePool === "flatten" ? side * side * last : last;
  }

  /**
   * @param images (B, S, S, 3) in [0, 1], checked by the caller.
   * @returns (B, features).
   */
  apply(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let h = images.mul(2).sub(1) as tf.Tensor4D; // centred: the white page is +1, ink below
      for (const conv of this.convs) h = tf.relu(conv.apply(h));
      const B = images.shape[0];
      return (this.config.imagePool === "flatten"
        ? h.reshape([B, this.features])
        : h.mean([1, 2])) as tf.Tensor2D;
    });
  }
}
