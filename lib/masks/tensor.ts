/**
 * A mask as the additive attention bias the prior adds to its logits before the softmax.
 *
 * Forbidden pairs get −1e9 rather than −∞. Both give the same attention: every mask here keeps its
 * diagonal, so no softmax row is fully masked, and in float32 exp(x − 1e9 − max) underflows to
 * exactly 0. A finite value is kept because −∞ turns into NaN as soon as the bias meets anything
 * but a plain addition: 0·(−∞) (a bias scaled or gated, or a gradient flowing through it),
 * (−∞) − (−∞) (two biases subtracted, or a max-subtraction over a padded, fully masked row), or
 * (+∞) + (−∞). −1e9 stays finite through all of these and still dwarfs any logit (|logit| ≪ 1e6).
 * Under fp16 emulation, round the logits to fp16 first and add the bias in float32: 1e9 is beyond
 * fp16's range (65504) and would round to −∞.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { sideOf } from "./masks.ts";

/** The bias of a forbidden query→key pair (see the module comment for why not −∞). */
export const MASKED_LOGIT: number = -1e9;

/** Options of {@link maskTensor}. */
export interface MaskTensorOptions {
  /**
   * The bias of forbidden pairs.
   * @default -1e9
   */
  maskedLogit?: number;
}

/**
 * Turns a 0/1 mask into the additive attention bias: 0 where the query may attend the key,
 * −1e9 where it may not. The caller owns (and disposes) the returned tensor.
 *
 * @param mask An L×L mask, row-major [query][key], entries 0 or 1.
 * @param options `maskedLogit`: the bias of forbidden pairs. @default -1e9
 * @returns A float32 tf.Tensor2D of shape [L, L].
 * @example
 * ```ts
 * import { initBackend } from "../backend/mod.ts";
 * import { causalMask } from "./masks.ts";
 * import { maskTensor } from "./tensor.ts";
 * await initBackend();
 * const bias = maskTensor(causalMask(1, 1));
 * console.log(bias.shape, bias.dataSync()); // [2, 2] Float32Array [0, -1e9, 0, 0]
 * bias.dispose();
 * ```
 */
export function maskTensor(mask: Uint8Array, options: MaskTensorOptions = {}): tf.Tensor2D {
  if (!(mask instanceof Uint8Array)) {
    throw new TypeError(`mask must be a Uint8Array, got ${Object.prototype.toString.call(mask)}`);
  }
  const maskedLogit = options.maskedLogit ?? MASKED_LOGIT;
  if (Number.isNaN(maskedLogit) || maskedLogit >= 0) {
    throw new RangeError(`maskedLogit must be negative, got ${maskedLogit}`);
  }
  const streamLength = sideOf(mask);
  const bias = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const entry = mask[i];
    if (entry > 1) throw new RangeError(`mask entries must be 0 or 1, got ${entry} at ${i}`);
    bias[i] = entry === 1 ? 0 : maskedLogit;
  }
  return tf.tensor2d(bias, [streamLength, streamLength], "float32");
}
