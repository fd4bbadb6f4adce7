/**
 * Gradient kernels written as plain loops, for backends whose own kernel is wrong: tfjs-backend-wasm
 * 4.22's `MaxPoolGrad` misplaces the gradient of some pooling windows, tfjs-backend-cpu 4.22's
 * `ResizeNearestNeighborGrad` is wrong for 2× upsampling at batch > 1, and both backends'
 * `AvgPoolGrad` divide by the full window where their forward op divides by the window's cells
 * inside the image (padded "same" pools). Each is the adjoint of its forward op, so a scatter-add
 * over the forward op's index map; each backend's registration reads its inputs and writes its
 * output in the backend's own memory.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The pooling geometry both the forward op and its gradient use. */
export type PoolInfo = ReturnType<typeof tf.backend_util.computePool2DInfo>;

/**
 * The pooling geometry of a `MaxPoolGrad` or `AvgPoolGrad` kernel call, from its input's shape
 * and its attributes.
 */
export function poolInfo(inputShape: readonly number[], attrs: unknown): PoolInfo {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: "valid" | "same" | number;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  return tf.backend_util.computePool2DInfo(
    inputShape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/**
 * dx of a max pool: each output cell's gradient goes to the first maximum of its window (the
 * position tfjs's and TensorFlow's forward ops pick), and windows that overlap add up.
 *
 * @param x The pooled input, NHWC, `info.inShape` elements.
 * @param dy The gradient of the output, NHWC.
 * @param info From `computePool2DInfo` with the op's attributes.
 * @param dx Zero-filled output, the size of x.
 */
export function maxPoolGradInto(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  info: PoolInfo,
  dx: Float32Array,
): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { effectiveFilterHeight, effectiveFilterWidth } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          let best = -Infinity, at = -1;
          for (let kh = 0; kh < effectiveFilterHeight; kh += dilationHeight) {
            const h = h0 + kh;
            if (h < 0 || h >= inHeight) continue;
            for (let kw = 0; kw < effectiveFilterWidth; kw += dilationWidth) {
              const w = w0 + kw;
              if (w < 0 || w >= inWidth) continue;
              const i = xBase + (h * inWidth + w) * channels + c;
              // `>` keeps the first maximum; NaN never wins, as in the forward op.
              if (x[i] > best || at < 0) {
                best = x[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += dy[dyBase + c];
        }
      }
    }
  }
}

/**
 * dx of an average pool: each output cell's gradient is shared equally by the input cells of its
 * window that lie inside the image, as the forward op (on every tfjs backend and in TensorFlow)
 * averages over those cells only, and windows that overlap add up.
 *
 * @param dy The gradient of the output, NHWC.
 * @param info From `computePool2DInfo` with the op's attributes.
 * @param dx Zero-filled output, `info.inShape` elements.
 */
export function avgPoolGradInto(dy: ArrayLike<number>, info: PoolInfo, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { effectiveFilterHeight, effectiveFilterWidth } = info;
  const { top, left } = info.padInfo;
  const rows: number[] = [], cols: number[] = [];
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      rows.length = 0;
      for (let kh = 0; kh < effectiveFilterHeight; kh += dilationHeight) {
        if (h0 + kh >= 0 && h0 + kh < inHeight) rows.push(h0 + kh);
      }
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        cols.length = 0;
        for (let kw = 0; kw < effectiveFilterWidth; kw += dilationWidth) {
          if (w0 + kw >= 0 && w0 + kw < inWidth) cols.push(w0 + kw);
        }
        const count = rows.length * cols.length;
        if (count === 0) continue;
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (const h of rows) {
          for (const w of cols) {
            const xAt = xBase + (h * inWidth + w) * channels;
            for (let c = 0; c < channels; c++) dx[xAt + c] += dy[dyBase + c] / count;
          }
        }
      }
    }
  }
}

/** Whether every window of a pool lies inside the image, so that every window is full. */
export function windowsInside(info: PoolInfo): boolean {
  const { top, left } = info.padInfo;
  const { outHeight, outWidth, strideHeight, strideWidth, inHeight, inWidth } = info;
  return top === 0 && left === 0 &&
    (outHeight - 1) * strideHeight + info.effectiveFilterHeight <= inHeight &&
    (outWidth - 1) * strideWidth + info.effectiveFilterWidth <= inWidth;
}

/** Attributes of `ResizeNearestNeighbor` (and of its gradient). */
export interface ResizeAttrs {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/** The source index that nearest-neighbour resizing reads for output index `out` along one axis. */
function nearestSource(
  out: number,
  inSize: number,
  outSize: number,
  { alignCorners, halfPixelCenters }: ResizeAttrs,
): number {
  const scale = (alignCorners && outSize > 1) ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  const frac = halfPixelCenters ? scale * (out + 0.5) : scale * out;
  const nearest = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  return halfPixelCenters ? Math.max(0, nearest) : nearest;
}

/**
 * dx of nearest-neighbour resizing: every output cell's gradient is added to the input cell it
 * was copied from.
 *
 * @param dy The gradient of the resized images, (B, outH, outW, C).
 * @param dyShape Its shape.
 * @param inShape The shape of the images that were resized, (B, inH, inW, C).
 * @param attrs The resize's attributes.
 * @returns dx, inShape's size.
 */
export function resizeNearestGrad(
  dy: ArrayLike<number>,
  dyShape: readonly number[],
  inShape: readonly number[],
  attrs: ResizeAttrs,
): Float32Array {
  const [batch, outHeight, outWidth, channels] = dyShape;
  const [, inHeight, inWidth] = inShape;
  const dx = new Float32Array(batch * inHeight * inWidth * channels);
  const rows = Array.from(
    { length: outHeight },
    (_, r) => nearestSource(r, inHeight, outHeight, attrs),
  );
  const cols = Array.from(
    { length: outWidth },
    (_, c) => nearestSource(c, inWidth, outWidth, attrs),
  );
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outHeight; r++) {
      for (let c = 0; c < outWidth; c++) {
        const base = ((b * inHeight + rows[r]) * inWidth + cols[c]) * channels;
        for (let ch = 0; ch < channels; ch++) dx[base + ch] += dy[o++];
      }
    }
  }
  return dx;
}
